// Test gadget for TC programs in upstream's section spelling (classifier/<direction>/<name>, tc/<name>),
// which libbpf does not know: each packet on the interface reports its length and direction.
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

struct event {
	__u32 len;
	__u32 ingress;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

const void *gadget_tracer_tc___events___event __attribute__((unused));
const struct event *__gadget_tracer_type_tc __attribute__((unused));

static __always_inline int report(struct __sk_buff *skb, __u32 ingress)
{
	struct event e = { .len = skb->len, .ingress = ingress };

	bpf_ringbuf_output(&events, &e, sizeof(e), 0);
	return 0; /* TC_ACT_OK */
}

SEC("classifier/ingress/count")
int ig_tc_in(struct __sk_buff *skb)
{
	return report(skb, 1);
}

SEC("tc/egress")
int ig_tc_out(struct __sk_buff *skb)
{
	return report(skb, 0);
}

char LICENSE[] SEC("license") = "GPL";
