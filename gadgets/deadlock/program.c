/*
 * deadlock's WASM module: the lock-order graph per process from the "mutex" edges (mutex1 held while mutex2
 * was locked). A new edge a -> b closes a cycle when b already reaches a; each such cycle is reported once on
 * the module's data source "deadlock": pid, comm and the mutexes of the cycle in lock order.
 */
#include <ig.h>

#define MAX_EDGES 8192
#define MAX_DEPTH 16

struct edge { uint32_t pid; uint64_t from, to; };

static struct edge edges[MAX_EDGES];
static uint32_t nedges;
static ig_datasource ds_deadlock;
static ig_field f_pid, f_comm, f_m1, f_m2, o_pid, o_comm, o_mutexes, o_length;

static int has_edge(uint32_t pid, uint64_t a, uint64_t b) {
	for (uint32_t i = 0; i < nedges; i++)
		if (edges[i].pid == pid && edges[i].from == a && edges[i].to == b) return 1;
	return 0;
}

/* Depth-first search from `at` to `goal` over pid's edges; the path (without goal) goes into path[]. */
static int reaches(uint32_t pid, uint64_t at, uint64_t goal, uint64_t *path, int depth) {
	if (depth >= MAX_DEPTH) return 0;
	path[depth] = at;
	if (at == goal) return depth + 1;
	for (uint32_t i = 0; i < nedges; i++) {
		if (edges[i].pid != pid || edges[i].from != at) continue;
		int seen = 0;
		for (int k = 0; k <= depth; k++) if (path[k] == edges[i].to) seen = 1;
		if (seen && edges[i].to != goal) continue;
		int n = reaches(pid, edges[i].to, goal, path, depth + 1);
		if (n) return n;
	}
	return 0;
}

static void on_edge(ig_datasource ds, ig_data d) {
	uint32_t pid = ig_field_get_u32(f_pid, d, 0);
	uint64_t a = ig_field_get_u64(f_m1, d, 0), b = ig_field_get_u64(f_m2, d, 0);
	if (a == b || has_edge(pid, a, b)) return;
	if (nedges == MAX_EDGES) { ig_warnf("deadlock: more than %d lock-order edges; ignoring new ones", MAX_EDGES); return; }
	/* b ->...-> a plus the new a -> b is a cycle. */
	uint64_t path[MAX_DEPTH + 1];
	int n = reaches(pid, b, a, path, 0);
	edges[nedges++] = (struct edge){ pid, a, b };
	if (!n) return;
	char text[MAX_DEPTH * 24 + 32], comm[32] = "";
	size_t len = 0;
	/* In lock order: a, then b and the path back to a. */
	len += snprintf(text + len, sizeof text - len, "0x%llx", (unsigned long long)a);
	for (int k = 0; k < n && len < sizeof text; k++)
		len += snprintf(text + len, sizeof text - len, " -> 0x%llx", (unsigned long long)path[k]);
	ig_field_get_string(f_comm, d, comm, sizeof comm);
	ig_data p = ig_datasource_new_packet_single(ds_deadlock);
	if (!p) return;
	ig_field_set_u32(o_pid, p, pid);
	ig_field_set_string(o_comm, p, comm);
	ig_field_set_string(o_mutexes, p, text);
	ig_field_set_u32(o_length, p, (uint32_t)n);
	ig_datasource_emit_and_release(ds_deadlock, p);
}

IG_EXPORT(gadgetInit) int gadgetInit(void) {
	ig_datasource ds = ig_datasource_get("mutex");
	if (!ds) { ig_errorf("no data source mutex"); return 1; }
	f_pid = ig_datasource_get_field(ds, "proc.pid");
	f_comm = ig_datasource_get_field(ds, "proc.comm");
	f_m1 = ig_datasource_get_field(ds, "mutex1");
	f_m2 = ig_datasource_get_field(ds, "mutex2");
	ds_deadlock = ig_datasource_new("deadlock", IG_DS_SINGLE);
	if (!f_pid || !f_comm || !f_m1 || !f_m2 || !ds_deadlock) { ig_errorf("deadlock: fields missing"); return 1; }
	o_pid = ig_datasource_add_field(ds_deadlock, "pid", IG_KIND_UINT32);
	o_comm = ig_datasource_add_field(ds_deadlock, "comm", IG_KIND_STRING);
	o_mutexes = ig_datasource_add_field(ds_deadlock, "mutexes", IG_KIND_STRING);
	o_length = ig_datasource_add_field(ds_deadlock, "length", IG_KIND_UINT32);
	if (!o_pid || !o_comm || !o_mutexes || !o_length) return 1;
	return ig_datasource_subscribe(ds, on_edge, 0);
}
