// Test program: tracepoint -> ring buffer, a pid filter in .rodata, hash maps for dumps.
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct event {
	__u32 pid;
	__u32 tid;
	__u64 ts;
	__u32 ppid;
	__u32 kind;
	char comm[16];
};

const volatile __u32 target_pid = 0;
const volatile __u32 kind = 1;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* counts[0]: events submitted, counts[1]: reserve failures */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u32);
} seen_pc SEC(".maps");

const struct event *unused_event __attribute__((unused));

static __always_inline void bump(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &idx);
	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int igt_rb_getppid(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = id >> 32;

	if (target_pid && pid != target_pid)
		return 0;

	__u64 one = 1, *c = bpf_map_lookup_elem(&seen, &pid);
	if (c)
		__sync_fetch_and_add(c, 1);
	else
		bpf_map_update_elem(&seen, &pid, &one, BPF_NOEXIST);

	__u32 *pc = bpf_map_lookup_elem(&seen_pc, &pid);
	if (pc) {
		*pc += 1;
	} else {
		__u32 first = 1;
		bpf_map_update_elem(&seen_pc, &pid, &first, BPF_NOEXIST);
	}

	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		bump(1);
		return 0;
	}
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	e->pid = pid;
	e->tid = (__u32)id;
	e->ts = bpf_ktime_get_boot_ns();
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->kind = kind;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	bump(0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
