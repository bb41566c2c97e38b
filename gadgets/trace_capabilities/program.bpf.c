// SPDX-License-Identifier: GPL-2.0
/*
 * trace_capabilities: report capability checks (cap_capable()).
 *
 * Uses the capability/cap_capable tracepoint (Linux >= 6.14), which carries
 * the credentials, the target and capable user namespaces, the capability
 * and the result in the context of the checking task. The syscall being
 * served is read from the task's saved registers.
 */

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/filter.h>
#include <gadget/kernel_stack_map.h>
#include <gadget/macros.h>
#include <gadget/types.h>
#include <gadget/user_stack_map.h>

#define PF_KTHREAD 0x00200000

#define FOR_EACH_CAPABILITY(F)                                                 \
	F(CAP_CHOWN)                                                           \
	F(CAP_DAC_OVERRIDE)                                                    \
	F(CAP_DAC_READ_SEARCH)                                                 \
	F(CAP_FOWNER)                                                          \
	F(CAP_FSETID)                                                          \
	F(CAP_KILL)                                                            \
	F(CAP_SETGID)                                                          \
	F(CAP_SETUID)                                                          \
	F(CAP_SETPCAP)                                                         \
	F(CAP_LINUX_IMMUTABLE)                                                 \
	F(CAP_NET_BIND_SERVICE)                                                \
	F(CAP_NET_BROADCAST)                                                   \
	F(CAP_NET_ADMIN)                                                       \
	F(CAP_NET_RAW)                                                         \
	F(CAP_IPC_LOCK)                                                        \
	F(CAP_IPC_OWNER)                                                       \
	F(CAP_SYS_MODULE)                                                      \
	F(CAP_SYS_RAWIO)                                                       \
	F(CAP_SYS_CHROOT)                                                      \
	F(CAP_SYS_PTRACE)                                                      \
	F(CAP_SYS_PACCT)                                                       \
	F(CAP_SYS_ADMIN)                                                       \
	F(CAP_SYS_BOOT)                                                        \
	F(CAP_SYS_NICE)                                                        \
	F(CAP_SYS_RESOURCE)                                                    \
	F(CAP_SYS_TIME)                                                        \
	F(CAP_SYS_TTY_CONFIG)                                                  \
	F(CAP_MKNOD)                                                           \
	F(CAP_LEASE)                                                           \
	F(CAP_AUDIT_WRITE)                                                     \
	F(CAP_AUDIT_CONTROL)                                                   \
	F(CAP_SETFCAP)                                                         \
	F(CAP_MAC_OVERRIDE)                                                    \
	F(CAP_MAC_ADMIN)                                                       \
	F(CAP_SYSLOG)                                                          \
	F(CAP_WAKE_ALARM)                                                      \
	F(CAP_BLOCK_SUSPEND)                                                   \
	F(CAP_AUDIT_READ)                                                      \
	F(CAP_PERFMON)                                                         \
	F(CAP_BPF)                                                             \
	F(CAP_CHECKPOINT_RESTORE)

/* Capability numbers, in kernel order (CAP_CHOWN = 0 ...). */
enum capability {
#define IG_CAP_ENUM(c) c,
	FOR_EACH_CAPABILITY(IG_CAP_ENUM)
};

/* Effective capability set as a bitmask; printed as CAP_A|CAP_B... */
enum cap_effective_flags_set : __u64 {
#define IG_CAP_FLAG(c) FLAG_##c = 1ULL << c,
	FOR_EACH_CAPABILITY(IG_CAP_FLAG)
};

struct cap_event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;

	__u64 current_userns;
	__u64 target_userns;
	enum cap_effective_flags_set cap_effective_raw;
	enum capability cap_raw;
	bool capable;
	/* Not available from the tracepoint: always -1. */
	int audit;
	int insetid;
	gadget_syscall syscall_raw;
	gadget_kernel_stack kstack_raw;
	struct gadget_user_stack ustack; /* with --collect-ustack */
};

/* Report each (capability, mount namespace) pair only once. */
const volatile bool unique = false;
GADGET_PARAM(unique);

/* Record the kernel stack of each check. */
const volatile bool collect_kstack = true;
GADGET_PARAM(collect_kstack);

/*
 * Only checks that would be audited. The cap_capable tracepoint does not
 * carry the audit option (CAP_OPT_NOAUDIT), so this kernel cannot tell:
 * with the flag set, no check is reported (see README).
 */
const volatile bool audit_only = false;
GADGET_PARAM(audit_only);

struct unique_key {
	__u64 mntns_id;
	int cap;
	int __pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct unique_key);
	__type(value, __u8);
} seen SEC(".maps");

GADGET_TRACER_MAP(events, 1024 * 256);

GADGET_TRACER(capabilities, events, cap_event);

/* Syscall number the current task is serving, or -1. */
static __always_inline __u64 current_syscall(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs;

	if (BPF_CORE_READ(task, flags) & PF_KTHREAD)
		return (__u64)-1;
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (!regs)
		return (__u64)-1;
	return BPF_CORE_READ(regs, orig_ax);
}

SEC("tracepoint/capability/cap_capable")
int ig_trace_cap(struct trace_event_raw_cap_capable *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	const struct cred *cred = ctx->cred;
	struct cap_event *event;
	__u64 mntns_id;

	/*
	 * Skip checks made with overridden credentials (override_creds(),
	 * e.g. overlayfs copy-up): they are not the process' own.
	 */
	if (cred != BPF_CORE_READ(task, real_cred))
		return 0;

	if (audit_only)
		return 0;

	if (gadget_should_discard_data_current())
		return 0;

	mntns_id = gadget_get_task_mntns_id(task);
	if (unique) {
		struct unique_key key = {
			.mntns_id = mntns_id,
			.cap = ctx->cap,
		};
		__u8 one = 1;

		if (bpf_map_lookup_elem(&seen, &key))
			return 0;
		bpf_map_update_elem(&seen, &key, &one, BPF_ANY);
	}

	event = gadget_reserve_buf(&events, sizeof(*event));
	if (!event)
		return 0;

	event->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&event->proc);
	event->current_userns = BPF_CORE_READ(cred, user_ns, ns.inum);
	event->target_userns = BPF_CORE_READ(ctx->target_ns, ns.inum);
	event->cap_effective_raw = 0;
	BPF_CORE_READ_INTO(&event->cap_effective_raw, cred, cap_effective);
	event->cap_raw = ctx->cap;
	event->capable = ctx->ret == 0;
	event->audit = -1;
	event->insetid = -1;
	event->syscall_raw = current_syscall();
	event->kstack_raw = collect_kstack ? gadget_get_kernel_stack(ctx) :
					  (gadget_kernel_stack)-1;

	gadget_get_user_stack_from_tracepoint(ctx, &event->ustack);

	gadget_submit_buf(ctx, &events, event, sizeof(*event));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
