// Packet filter splice points (src/bpf/pcap-filter.test.ts): an unnamed and a named GADGET_PF, each behind its
// own TC program; the programs return 1 when the packet matches, 2 when it does not.
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <gadget/types.h>
#include <gadget/packetfilter.h>

GADGET_PF();
GADGET_PF(second);

SEC("classifier/ingress/pf")
int pf_main(struct __sk_buff *skb)
{
	return gadget_pf_matches((void *)skb, (void *)(long)skb->data, (void *)(long)skb->data_end) ? 1 : 2;
}

SEC("classifier/egress/pf")
int pf_both(struct __sk_buff *skb)
{
	/* both filters in one program: two splices, the later one moved by the earlier */
	if (!gadget_pf_matches((void *)skb, (void *)(long)skb->data, (void *)(long)skb->data_end))
		return 2;
	return gadget_pf_matches(second, (void *)skb, (void *)(long)skb->data, (void *)(long)skb->data_end) ? 1 : 2;
}

char _license[] SEC("license") = "GPL";
