/*
 * deadlock's WASM module: the lock-order graph per process from the "mutex" edges (mutex1 held while mutex2
 * was locked). A new edge a -> b closes a cycle when b already reaches a; each such cycle is reported once on
 * the module's data source "deadlock" with upstream's fields (pid, nodes, stack_ids "[s1, s2], ...", comm,
 * mntns_id) and two of ours: mutexes (the cycle in lock order) and stacks (the symbolised user stacks of each
 * edge's two acquisitions, kept from when the edge was first seen, while the process was alive).
 */
#include <ig.h>

#define MAX_EDGES 8192
#define MAX_DEPTH 16
#define MAX_STACKS 512
#define STACK_TEXT 2048
#define NO_STACK 0xffffffffu

struct edge { uint32_t pid; uint64_t from, to; uint32_t s1, s2; };
struct stack { uint32_t pid, id; char text[STACK_TEXT]; };

static struct edge edges[MAX_EDGES];
static uint32_t nedges;
static struct stack stacks[MAX_STACKS];
static uint32_t nstacks;
static ig_datasource ds_deadlock;
static ig_field f_pid, f_comm, f_mntns, f_m1, f_m2, f_s1, f_s2, f_st1, f_st2;
static ig_field o_pid, o_nodes, o_stack_ids, o_comm, o_mntns, o_mutexes, o_stacks;

static struct edge *find_edge(uint32_t pid, uint64_t a, uint64_t b) {
	for (uint32_t i = 0; i < nedges; i++)
		if (edges[i].pid == pid && edges[i].from == a && edges[i].to == b) return &edges[i];
	return 0;
}

static const char *stack_text(uint32_t pid, uint32_t id) {
	for (uint32_t i = 0; i < nstacks; i++)
		if (stacks[i].pid == pid && stacks[i].id == id) return stacks[i].text;
	return "";
}

/* Keep the symbolised stack `id` of pid, read from field f of this record, unless it is known already. */
static void keep_stack(uint32_t pid, uint32_t id, ig_field f, ig_data d) {
	if (id == NO_STACK || nstacks == MAX_STACKS) return;
	for (uint32_t i = 0; i < nstacks; i++)
		if (stacks[i].pid == pid && stacks[i].id == id) return;
	struct stack *s = &stacks[nstacks];
	if (ig_field_get_string(f, d, s->text, sizeof s->text) <= 0) return; /* not collected, or too long */
	s->pid = pid;
	s->id = id;
	nstacks++;
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
	static char mutexes[MAX_DEPTH * 24 + 32], ids[MAX_DEPTH * 48 + 8], text[MAX_DEPTH * (2 * STACK_TEXT + 96)];
	(void)ds;
	uint32_t pid = ig_field_get_u32(f_pid, d, 0);
	uint64_t a = ig_field_get_u64(f_m1, d, 0), b = ig_field_get_u64(f_m2, d, 0);
	if (a == b || find_edge(pid, a, b)) return;
	if (nedges == MAX_EDGES) { ig_warnf("deadlock: more than %d lock-order edges; ignoring new ones", MAX_EDGES); return; }
	uint32_t s1 = (uint32_t)ig_field_get_u64(f_s1, d, 0), s2 = (uint32_t)ig_field_get_u64(f_s2, d, 0);
	/* Symbolised now, while the process is surely alive: a cycle may close much later. */
	keep_stack(pid, s1, f_st1, d);
	keep_stack(pid, s2, f_st2, d);
	/* b ->...-> a plus the new a -> b is a cycle. */
	uint64_t path[MAX_DEPTH + 1];
	int n = reaches(pid, b, a, path, 0);
	edges[nedges++] = (struct edge){ pid, a, b, s1, s2 };
	if (!n) return;
	char comm[32] = "";
	size_t lm = 0, li = 0, lt = 0;
	/* In lock order: a, then b and the path back to a; edge k goes from node k to node k+1. */
	uint64_t node[MAX_DEPTH + 2];
	node[0] = a;
	for (int k = 0; k < n; k++) node[k + 1] = path[k];
	lm += snprintf(mutexes + lm, sizeof mutexes - lm, "0x%llx", (unsigned long long)a);
	for (int k = 0; k < n; k++) {
		struct edge *e = find_edge(pid, node[k], node[k + 1]);
		uint32_t e1 = e ? e->s1 : NO_STACK, e2 = e ? e->s2 : NO_STACK;
		if (lm < sizeof mutexes) lm += snprintf(mutexes + lm, sizeof mutexes - lm, " -> 0x%llx", (unsigned long long)node[k + 1]);
		if (li < sizeof ids) li += snprintf(ids + li, sizeof ids - li, "%s[%u, %u]", k ? ", " : "", e1, e2);
		if (lt < sizeof text)
			lt += snprintf(text + lt, sizeof text - lt, "%s0x%llx held at: %s| 0x%llx locked at: %s", k ? "|| " : "",
				       (unsigned long long)node[k], stack_text(pid, e1), (unsigned long long)node[k + 1], stack_text(pid, e2));
	}
	ig_field_get_string(f_comm, d, comm, sizeof comm);
	ig_data p = ig_datasource_new_packet_single(ds_deadlock);
	if (!p) return;
	ig_field_set_u32(o_pid, p, pid);
	ig_field_set_u64(o_nodes, p, (uint64_t)n);
	ig_field_set_string(o_stack_ids, p, ids);
	ig_field_set_string(o_comm, p, comm);
	ig_field_set_u64(o_mntns, p, ig_field_get_u64(f_mntns, d, 0));
	ig_field_set_string(o_mutexes, p, mutexes);
	ig_field_set_string(o_stacks, p, text);
	ig_datasource_emit_and_release(ds_deadlock, p);
}

static void describe(const char *field, const char *key, const char *value) {
	char k[160];
	snprintf(k, sizeof k, "datasources.deadlock.fields.%s.annotations.%s", field, key);
	ig_set_config(k, value);
}

IG_EXPORT(gadgetInit) int gadgetInit(void) {
	ig_datasource ds = ig_datasource_get("mutex");
	if (!ds) { ig_errorf("no data source mutex"); return 1; }
	f_pid = ig_datasource_get_field(ds, "proc.pid");
	f_comm = ig_datasource_get_field(ds, "proc.comm");
	f_mntns = ig_datasource_get_field(ds, "proc.mntns_id");
	f_m1 = ig_datasource_get_field(ds, "mutex1");
	f_m2 = ig_datasource_get_field(ds, "mutex2");
	f_s1 = ig_datasource_get_field(ds, "mutex1_stack_id");
	f_s2 = ig_datasource_get_field(ds, "mutex2_stack_id");
	f_st1 = ig_datasource_get_field(ds, "mutex1_stack");
	f_st2 = ig_datasource_get_field(ds, "mutex2_stack");
	ds_deadlock = ig_datasource_new("deadlock", IG_DS_SINGLE);
	if (!f_pid || !f_comm || !f_mntns || !f_m1 || !f_m2 || !f_s1 || !f_s2 || !f_st1 || !f_st2 || !ds_deadlock) {
		ig_errorf("deadlock: fields missing");
		return 1;
	}
	/* upstream's fields, in upstream's order */
	o_pid = ig_datasource_add_field(ds_deadlock, "pid", IG_KIND_UINT32);
	o_nodes = ig_datasource_add_field(ds_deadlock, "nodes", IG_KIND_UINT64);
	o_stack_ids = ig_datasource_add_field(ds_deadlock, "stack_ids", IG_KIND_STRING);
	o_comm = ig_datasource_add_field(ds_deadlock, "comm", IG_KIND_STRING);
	o_mntns = ig_datasource_add_field(ds_deadlock, "mntns_id", IG_KIND_UINT64);
	/* ours */
	o_mutexes = ig_datasource_add_field(ds_deadlock, "mutexes", IG_KIND_STRING);
	o_stacks = ig_datasource_add_field(ds_deadlock, "stacks", IG_KIND_STRING);
	if (!o_pid || !o_nodes || !o_stack_ids || !o_comm || !o_mntns || !o_mutexes || !o_stacks) return 1;
	ig_field_add_tag(o_mntns, "type:gadget_mntns_id");
	describe("pid", "description", "Process ID");
	describe("nodes", "description", "Number of mutexes involved in the deadlock");
	describe("nodes", "columns.width", "5");
	describe("stack_ids", "description", "Stack ids of each edge's two lock calls ([held, locked], ...) in the user stack map");
	describe("stack_ids", "columns.width", "30");
	describe("comm", "description", "Process name");
	describe("mntns_id", "description", "Mount namespace inode id");
	describe("mntns_id", "columns.hidden", "true");
	describe("mutexes", "description", "The cycle in lock order: 0xA -> 0xB -> 0xA");
	describe("stacks", "description", "Per edge of the cycle: the user stacks that locked the held mutex and the next one");
	describe("stacks", "columns.hidden", "true");
	return ig_datasource_subscribe(ds, on_edge, 0);
}
