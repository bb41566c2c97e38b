// Test programs: BPF iterators. One program per iterator target, each writing one 8-byte record per object it
// visits (so the byte count says how many it saw), plus task iterators for the reading tests: odd-sized records,
// an error after some records, no output at all. Load one program at a time (the others' autoload off): a target
// the kernel refuses fails the whole object.
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/* Stop after this many records (igt_it_fail). */
const volatile __u32 fail_after = 0;

/* One record of igt_it_task: 13 bytes, so records straddle any power-of-two read size. */
struct task_rec {
	__u32 tgid;
	__u32 tid;
	char comm[5];
} __attribute__((packed));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} igt_it_elems SEC(".maps");

static __always_inline void one(struct seq_file *seq, __u64 v)
{
	bpf_seq_write(seq, &v, sizeof(v));
}

SEC("iter/task")
int igt_it_task(struct bpf_iter__task *ctx)
{
	struct task_struct *t = ctx->task;
	struct task_rec r = {};

	if (!t || t->tgid != t->pid)
		return 0;
	r.tgid = t->tgid;
	r.tid = t->pid;
	__builtin_memcpy(r.comm, t->comm, sizeof(r.comm));
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

SEC("iter/task")
int igt_it_none(struct bpf_iter__task *ctx)
{
	return 0;
}

__u32 written = 0;

SEC("iter/task")
int igt_it_fail(struct bpf_iter__task *ctx)
{
	struct task_struct *t = ctx->task;

	if (!t)
		return 0;
	if (written >= fail_after)
		return 1; /* the kernel ends the read with EAGAIN */
	written++;
	one(ctx->meta->seq, t->pid);
	return 0;
}

SEC("iter/task_file")
int igt_it_task_file(struct bpf_iter__task_file *ctx)
{
	if (ctx->file)
		one(ctx->meta->seq, ctx->fd);
	return 0;
}

SEC("iter/task_vma")
int igt_it_task_vma(struct bpf_iter__task_vma *ctx)
{
	if (ctx->vma)
		one(ctx->meta->seq, 0);
	return 0;
}

SEC("iter/tcp")
int igt_it_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *sk = ctx->sk_common;

	if (sk)
		one(ctx->meta->seq, BPF_CORE_READ(sk, skc_num));
	return 0;
}

SEC("iter/udp")
int igt_it_udp(struct bpf_iter__udp *ctx)
{
	if (ctx->udp_sk)
		one(ctx->meta->seq, 0);
	return 0;
}

SEC("iter/unix")
int igt_it_unix(struct bpf_iter__unix *ctx)
{
	if (ctx->unix_sk)
		one(ctx->meta->seq, 0);
	return 0;
}

SEC("iter/netlink")
int igt_it_netlink(struct bpf_iter__netlink *ctx)
{
	if (ctx->sk)
		one(ctx->meta->seq, 0);
	return 0;
}

SEC("iter/ipv6_route")
int igt_it_ipv6_route(struct bpf_iter__ipv6_route *ctx)
{
	if (ctx->rt)
		one(ctx->meta->seq, 0);
	return 0;
}

SEC("iter/bpf_map")
int igt_it_bpf_map(struct bpf_iter__bpf_map *ctx)
{
	struct bpf_map *m = ctx->map;

	if (m)
		one(ctx->meta->seq, BPF_CORE_READ(m, id));
	return 0;
}

SEC("iter/bpf_prog")
int igt_it_bpf_prog(struct bpf_iter__bpf_prog *ctx)
{
	if (ctx->prog)
		one(ctx->meta->seq, 0);
	return 0;
}

SEC("iter/bpf_link")
int igt_it_bpf_link(struct bpf_iter__bpf_link *ctx)
{
	if (ctx->link)
		one(ctx->meta->seq, 0);
	return 0;
}

SEC("iter/bpf_map_elem")
int igt_it_bpf_map_elem_count(struct bpf_iter__bpf_map_elem *ctx)
{
	if (ctx->key)
		one(ctx->meta->seq, 1);
	return 0;
}

SEC("iter/ksym")
int igt_it_ksym(struct bpf_iter__ksym *ctx)
{
	if (ctx->ksym)
		one(ctx->meta->seq, 0);
	return 0;
}

SEC("iter/cgroup")
int igt_it_cgroup(struct bpf_iter__cgroup *ctx)
{
	if (ctx->cgroup)
		one(ctx->meta->seq, 0);
	return 0;
}

SEC("iter/kmem_cache")
int igt_it_kmem_cache(struct bpf_iter__kmem_cache *ctx)
{
	if (ctx->s)
		one(ctx->meta->seq, 0);
	return 0;
}

/* No kernel has this target: loading must fail with the kernel's (libbpf's) reason. */
SEC("iter/igt_no_such_target")
int igt_it_unknown(void *ctx)
{
	return 0;
}

char _license[] SEC("license") = "GPL";
