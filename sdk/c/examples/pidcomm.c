/*
 * Example C module for trace_open: adds "pid_comm" ("<comm>:<pid>") and "fname_len" to every event, and
 * counts events per run (logged at stop). Build: ig image build with build.yaml `wasm: pidcomm.c`.
 */
#include <ig.h>

static ig_field f_pid, f_comm, f_fname, f_pid_comm, f_fname_len;
static uint64_t seen;

static void on_open(ig_datasource ds, ig_data d) {
	char comm[32], fname[512], out[64];
	uint32_t err = 0;
	uint32_t pid = ig_field_get_u32(f_pid, d, &err);
	if (err) return;
	if (ig_field_get_string(f_comm, d, comm, sizeof comm) < 0) return;
	int n = ig_field_get_string(f_fname, d, fname, sizeof fname);
	snprintf(out, sizeof out, "%s:%u", comm, pid);
	ig_field_set_string(f_pid_comm, d, out);
	ig_field_set_u32(f_fname_len, d, n < 0 ? 0 : (uint32_t)n);
	seen++;
}

IG_EXPORT(gadgetInit) int gadgetInit(void) {
	ig_datasource ds = ig_datasource_get("open");
	if (!ds) { ig_errorf("no data source open"); return 1; }
	f_pid = ig_datasource_get_field(ds, "proc.pid");
	f_comm = ig_datasource_get_field(ds, "proc.comm");
	f_fname = ig_datasource_get_field(ds, "fname");
	f_pid_comm = ig_datasource_add_field(ds, "pid_comm", IG_KIND_STRING);
	f_fname_len = ig_datasource_add_field(ds, "fname_len", IG_KIND_UINT32);
	if (!f_pid || !f_comm || !f_fname || !f_pid_comm || !f_fname_len) { ig_errorf("fields missing"); return 1; }
	return ig_datasource_subscribe(ds, on_open, 0);
}

IG_EXPORT(gadgetStop) int gadgetStop(void) {
	ig_infof("pidcomm: %llu events", (unsigned long long)seen);
	return 0;
}
