// Exercises the eBPF operator: typed params, enums (plain and _set), l4 endpoints, a map iterator
// and lost-sample accounting. Triggered from user space by getppid() (tracer) and getpgid() (counter).
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <gadget/buffer.h>
#include <gadget/macros.h>
#include <gadget/types.h>

enum color { COLOR_RED = 1, COLOR_GREEN = 2, COLOR_BLUE = 3 };
enum perm_set { PERM_READ = 1, PERM_WRITE = 2, PERM_EXEC = 4 };

struct event {
	gadget_timestamp timestamp_raw;
	__u32 pid;
	enum color color_raw;
	enum perm_set perms_raw;
	struct gadget_l4endpoint_t dst;
	__u16 port_param;
	bool flag_param;
	char label[16];
	gadget_signal sig_raw;
	gadget_syscall syscall_raw;
	gadget_duration latency_raw;
	gadget_bytes size_raw;
};

struct counter_key {
	__u32 pid;
	char comm[16];
};

struct counter_value {
	__u64 calls;
};

const volatile __u32 targ_pid = 0;
GADGET_PARAM(targ_pid);
const volatile __u16 port = 8080;
GADGET_PARAM(port);
const volatile bool flag = false;
GADGET_PARAM(flag);
const volatile char label[16] = "default";
GADGET_PARAM(label);
const volatile __u32 burst = 1;
GADGET_PARAM(burst);

/* Deliberately tiny so a burst overflows it and lost samples get counted. */
GADGET_TRACER_MAP(events, 4096);
GADGET_TRACER(features, events, event);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct counter_key);
	__type(value, struct counter_value);
} counts SEC(".maps");
GADGET_MAPITER(calls, counts);

SEC("tracepoint/syscalls/sys_enter_getppid")
int ig_getppid(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct event *e;

	if (targ_pid && pid != targ_pid)
		return 0;
	for (int i = 0; i < 64 && i < burst; i++) {
		e = gadget_reserve_buf(&events, sizeof(*e));
		if (!e)
			continue;
		__builtin_memset(e, 0, sizeof(*e));
		e->timestamp_raw = bpf_ktime_get_boot_ns();
		e->pid = pid;
		e->color_raw = COLOR_GREEN;
		e->perms_raw = PERM_READ | PERM_EXEC;
		e->dst.addr_raw.v4 = bpf_htonl(0x7f000001);
		e->dst.port = port;
		e->dst.proto_raw = 6;
		e->dst.version = 4;
		e->port_param = port;
		e->flag_param = flag;
		/* Read through the volatile: a plain memcpy lets clang fold in the initial value. */
		for (int j = 0; j < sizeof(e->label); j++)
			e->label[j] = label[j];
		e->sig_raw = 9;
		e->syscall_raw = 110;
		e->latency_raw = 12340;
		e->size_raw = 4096;
		gadget_submit_buf(ctx, &events, e, sizeof(*e));
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getpgid")
int ig_getpgid(void *ctx)
{
	struct counter_key key = {};
	struct counter_value *v, zero = {};

	key.pid = bpf_get_current_pid_tgid() >> 32;
	if (targ_pid && key.pid != targ_pid)
		return 0;
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	v = bpf_map_lookup_elem(&counts, &key);
	if (!v) {
		bpf_map_update_elem(&counts, &key, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&counts, &key);
		if (!v)
			return 0;
	}
	__sync_fetch_and_add(&v->calls, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
