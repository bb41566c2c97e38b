/*
 * Benchmark module (C SDK) for trace_open: per event it reads two fields (proc.pid, fd) and sets one it adds
 * (pid_fd = pid << 32 | fd), the shape of a small post-processing step.
 */
#include <ig.h>

static ig_field f_pid, f_fd, f_out;

static void on_open(ig_datasource ds, ig_data d) {
	uint64_t pid = ig_field_get_u32(f_pid, d, 0);
	uint64_t fd = ig_field_get_u32(f_fd, d, 0);
	ig_field_set_u64(f_out, d, pid << 32 | fd);
}

IG_EXPORT(gadgetInit) int gadgetInit(void) {
	ig_datasource ds = ig_datasource_get("open");
	f_pid = ig_datasource_get_field(ds, "proc.pid");
	f_fd = ig_datasource_get_field(ds, "fd");
	f_out = ig_datasource_add_field(ds, "pid_fd", IG_KIND_UINT64);
	if (!ds || !f_pid || !f_fd || !f_out) return 1;
	return ig_datasource_subscribe(ds, on_open, 0);
}
