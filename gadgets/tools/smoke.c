// Smoke-test runner for ig gadget objects: load, attach every program,
// generate activity, decode tracer events and map-iterator maps via BTF.
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/perf_event.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static struct btf *g_btf;
static int g_max_events = 20, g_events, g_total;
static __u32 g_struct_id;
static const char *g_filter_str; // only print events whose dump contains this

static void print_type(__u32 id, const void *data, const char *prefix, FILE *out);

static void print_str(const unsigned char *p, int n, FILE *out)
{
	fputc('"', out);
	for (int i = 0; i < n && p[i]; i++)
		fputc(isprint(p[i]) ? p[i] : '.', out);
	fputc('"', out);
}

static void print_int(const struct btf_type *t, const void *data, FILE *out)
{
	__u32 enc = btf_int_encoding(t);
	int sz = t->size;
	if (sz == 1) {
		if (enc & BTF_INT_BOOL) fprintf(out, "%s", *(__u8 *)data ? "true" : "false");
		else if (enc & BTF_INT_SIGNED) fprintf(out, "%d", *(__s8 *)data);
		else fprintf(out, "%u", *(__u8 *)data);
	} else if (sz == 2) {
		if (enc & BTF_INT_SIGNED) fprintf(out, "%d", *(__s16 *)data);
		else fprintf(out, "%u", *(__u16 *)data);
	} else if (sz == 4) {
		if (enc & BTF_INT_SIGNED) fprintf(out, "%d", *(__s32 *)data);
		else fprintf(out, "%u", *(__u32 *)data);
	} else if (sz == 8) {
		if (enc & BTF_INT_SIGNED) fprintf(out, "%lld", *(long long *)data);
		else fprintf(out, "%llu", *(unsigned long long *)data);
	} else {
		fprintf(out, "0x");
		for (int i = sz - 1; i >= 0; i--) fprintf(out, "%02x", ((__u8 *)data)[i]);
	}
}

static void print_type(__u32 id, const void *data, const char *prefix, FILE *out)
{
	const struct btf_type *t = btf__type_by_id(g_btf, id);
	while (btf_is_typedef(t) || btf_is_const(t) || btf_is_volatile(t)) {
		id = t->type;
		t = btf__type_by_id(g_btf, id);
	}
	if (btf_is_struct(t) || btf_is_union(t)) {
		const struct btf_member *m = btf_members(t);
		for (int i = 0; i < btf_vlen(t); i++, m++) {
			const char *name = btf__name_by_offset(g_btf, m->name_off);
			char np[256];
			if (!name || !*name || !strncmp(name, "__", 2)) continue;
			snprintf(np, sizeof(np), "%s%s", prefix, name);
			const struct btf_type *mt = btf__type_by_id(g_btf, m->type);
			while (btf_is_typedef(mt) || btf_is_const(mt) || btf_is_volatile(mt)) mt = btf__type_by_id(g_btf, mt->type);
			if (btf_is_struct(mt) || btf_is_union(mt)) {
				char np2[260];
				snprintf(np2, sizeof(np2), "%s.", np);
				print_type(m->type, (char *)data + btf_member_bit_offset(t, i) / 8, np2, out);
				continue;
			}
			fprintf(out, " %s=", np);
			print_type(m->type, (char *)data + btf_member_bit_offset(t, i) / 8, "", out);
		}
	} else if (btf_is_int(t)) {
		print_int(t, data, out);
	} else if (btf_is_enum(t)) {
		long long v = t->size == 1 ? *(__u8 *)data : t->size == 2 ? *(__u16 *)data : t->size == 4 ? *(__s32 *)data : *(long long *)data;
		const struct btf_enum *e = btf_enum(t);
		const char *nm = "?";
		for (int i = 0; i < btf_vlen(t); i++)
			if (e[i].val == v) nm = btf__name_by_offset(g_btf, e[i].name_off);
		fprintf(out, "%lld(%s)", v, nm);
	} else if (btf_is_array(t)) {
		const struct btf_array *a = btf_array(t);
		__u32 eid = a->type;
		const struct btf_type *et = btf__type_by_id(g_btf, eid);
		while (btf_is_typedef(et) || btf_is_const(et) || btf_is_volatile(et)) et = btf__type_by_id(g_btf, et->type);
		if (btf_is_int(et) && et->size == 1) {
			print_str(data, a->nelems, out);
		} else {
			__s64 esz = btf__resolve_size(g_btf, eid);
			int n = a->nelems;
			fputc('[', out);
			int last = n - 1;
			// trim trailing zero elements for histograms
			while (last > 0) {
				int zero = 1;
				for (int k = 0; k < esz; k++) if (((char *)data)[last * esz + k]) zero = 0;
				if (!zero) break;
				last--;
			}
			for (int i = 0; i <= last && i < 64; i++) {
				if (i) fputc(',', out);
				print_type(eid, (char *)data + i * esz, "", out);
			}
			if (last < n - 1) fprintf(out, ",...0");
			fputc(']', out);
		}
	} else if (btf_is_ptr(t)) {
		fprintf(out, "0x%llx", *(unsigned long long *)data);
	} else {
		fprintf(out, "?");
	}
}

static int on_event(void *ctx, void *data, size_t size)
{
	g_total++;
	if (g_events >= g_max_events) return 0;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	fprintf(m, "EVENT size=%zu", size);
	print_type(g_struct_id, data, "", m);
	fclose(m);
	if (!g_filter_str || strstr(buf, g_filter_str)) {
		puts(buf);
		g_events++;
	}
	free(buf);
	return 0;
}

static void dump_map(struct bpf_map *map, int max)
{
	int fd = bpf_map__fd(map);
	__u32 ks = bpf_map__key_size(map), vs = bpf_map__value_size(map);
	int ncpu = libbpf_num_possible_cpus();
	int percpu = bpf_map__type(map) == BPF_MAP_TYPE_PERCPU_HASH || bpf_map__type(map) == BPF_MAP_TYPE_PERCPU_ARRAY;
	size_t vbuf = percpu ? ((vs + 7) / 8 * 8) * ncpu : vs;
	void *key = calloc(1, ks), *next = calloc(1, ks), *val = calloc(1, vbuf);
	__u32 kid = bpf_map__btf_key_type_id(map), vid = bpf_map__btf_value_type_id(map);
	int n = 0, printed = 0;
	void *prev = NULL;
	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		n++;
		if (bpf_map_lookup_elem(fd, next, val) == 0 && printed < max) {
			printf("ENTRY");
			if (kid) { printf(" key{"); print_type(kid, next, "", stdout); printf(" }"); }
			if (vid) { printf(" val{"); print_type(vid, val, "", stdout); printf(" }"); }
			printf("\n");
			printed++;
		}
		memcpy(key, next, ks);
		prev = key;
	}
	printf("MAP %s: %d entries\n", bpf_map__name(map), n);
}

static int set_rodata(struct bpf_object *obj, const char *assign)
{
	char name[128];
	const char *eq = strchr(assign, '=');
	if (!eq) return -1;
	snprintf(name, sizeof(name), "%.*s", (int)(eq - assign), assign);
	const char *val = eq + 1;
	struct bpf_map *map;
	bpf_object__for_each_map(map, obj) {
		const char *mn = bpf_map__name(map);
		if (!strstr(mn, ".rodata")) continue;
		size_t sz;
		char *data = bpf_map__initial_value(map, &sz);
		struct btf *btf = bpf_object__btf(obj);
		int sec = btf__find_by_name_kind(btf, strchr(mn, '.'), BTF_KIND_DATASEC);
		if (sec < 0) continue;
		const struct btf_type *t = btf__type_by_id(btf, sec);
		const struct btf_var_secinfo *vi = btf_var_secinfos(t);
		for (int i = 0; i < btf_vlen(t); i++, vi++) {
			const struct btf_type *v = btf__type_by_id(btf, vi->type);
			if (strcmp(btf__name_by_offset(btf, v->name_off), name)) continue;
			const struct btf_type *vt = btf__type_by_id(btf, v->type);
			while (btf_is_typedef(vt) || btf_is_const(vt) || btf_is_volatile(vt)) vt = btf__type_by_id(btf, vt->type);
			if (btf_is_array(vt)) {
				memset(data + vi->offset, 0, vi->size);
				strncpy(data + vi->offset, val, vi->size - 1);
			} else {
				long long x = strtoll(val, NULL, 0);
				if (!strcmp(val, "true")) x = 1;
				memcpy(data + vi->offset, &x, vi->size);
			}
			fprintf(stderr, "set %s=%s (%u bytes @%u)\n", name, val, vi->size, vi->offset);
			return 0;
		}
	}
	fprintf(stderr, "rodata var %s not found\n", name);
	return -1;
}

int main(int argc, char **argv)
{
	const char *objpath = NULL, *cmd = NULL, *iface = NULL, *libc = "/lib/x86_64-linux-gnu/libc.so.6";
	const char *rod[32];
	int nrod = 0, secs = 3, freq = 49, dump_all = 0;
	int opt;
	while ((opt = getopt(argc, argv, "d:r:c:i:l:f:n:mg:")) != -1) {
		switch (opt) {
		case 'd': secs = atoi(optarg); break;
		case 'r': rod[nrod++] = optarg; break;
		case 'c': cmd = optarg; break;
		case 'i': iface = optarg; break;
		case 'l': libc = optarg; break;
		case 'f': freq = atoi(optarg); break;
		case 'n': g_max_events = atoi(optarg); break;
		case 'm': dump_all = 1; break;
		case 'g': g_filter_str = optarg; break;
		}
	}
	objpath = argv[optind];
	if (!objpath) {
		fprintf(stderr,
			"usage: smoke [-d secs] [-r var=value]... [-c cmd] [-i iface] [-l libc-path]\n"
			"             [-f freq] [-n max-events] [-g substring] [-m] obj.o\n");
		return 2;
	}

	struct bpf_object *obj = bpf_object__open_file(objpath, NULL);
	if (!obj) { perror("open"); return 1; }
	for (int i = 0; i < nrod; i++)
		if (set_rodata(obj, rod[i])) return 1;
	g_btf = bpf_object__btf(obj);

	// disable autoload/attach handling for special sections
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, obj) {
		const char *sec = bpf_program__section_name(prog);
		if (!strncmp(sec, "uprobe/", 7) || !strncmp(sec, "uretprobe/", 10) || !strncmp(sec, "socket", 6) || !strncmp(sec, "perf_event", 10) || !strcmp(sec, "raw_tp") || !strcmp(sec, "raw_tracepoint"))
			bpf_program__set_autoattach(prog, false);
		if (!strncmp(sec, "perf_event/", 11) && bpf_program__type(prog) != BPF_PROG_TYPE_PERF_EVENT) {
			bpf_program__set_type(prog, BPF_PROG_TYPE_PERF_EVENT);
			printf("set type PERF_EVENT for section %s\n", sec);
		}
		if (!strncmp(sec, "socket", 6) && bpf_program__type(prog) != BPF_PROG_TYPE_SOCKET_FILTER) {
			bpf_program__set_type(prog, BPF_PROG_TYPE_SOCKET_FILTER);
			printf("set type SOCKET_FILTER for section %s\n", sec);
		}
	}
	if (bpf_object__load(obj)) { fprintf(stderr, "LOAD FAILED: %s\n", strerror(errno)); return 1; }
	printf("LOADED %s\n", objpath);

	struct bpf_link *links[512];
	int nlinks = 0, socks[64], nsocks = 0, pfds[512], npfds = 0;
	int ncpu = libbpf_num_possible_cpus();
	bpf_object__for_each_program(prog, obj) {
		const char *sec = bpf_program__section_name(prog);
		const char *name = bpf_program__name(prog);
		struct bpf_link *l = NULL;
		if (!strncmp(sec, "uprobe/", 7) || !strncmp(sec, "uretprobe/", 10)) {
			int ret = sec[1] == 'r';
			const char *colon = strrchr(sec, ':');
			LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = colon + 1, .retprobe = ret);
			l = bpf_program__attach_uprobe_opts(prog, -1, libc, 0, &uo);
		} else if (!strncmp(sec, "socket", 6)) {
			int s = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
			if (iface) {
				struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = if_nametoindex(iface) };
				if (bind(s, (void *)&sll, sizeof(sll))) perror("bind");
			}
			int pfd = bpf_program__fd(prog);
			if (setsockopt(s, SOL_SOCKET, SO_ATTACH_BPF, &pfd, sizeof(pfd))) { perror("SO_ATTACH_BPF"); return 1; }
			socks[nsocks++] = s;
			printf("ATTACHED %s (%s) to raw socket\n", name, sec);
			continue;
		} else if (!strncmp(sec, "perf_event", 10)) {
			for (int c = 0; c < ncpu; c++) {
				struct perf_event_attr a = { .type = PERF_TYPE_SOFTWARE, .config = PERF_COUNT_SW_CPU_CLOCK, .size = sizeof(a), .freq = 1, .sample_freq = freq };
				int fd = syscall(__NR_perf_event_open, &a, -1, c, -1, PERF_FLAG_FD_CLOEXEC);
				if (fd < 0) continue;
				pfds[npfds++] = fd;
				struct bpf_link *pl = bpf_program__attach_perf_event(prog, fd);
				if (!pl) { fprintf(stderr, "ATTACH FAILED %s cpu %d\n", name, c); return 1; }
				links[nlinks++] = pl;
			}
			printf("ATTACHED %s (%s) on %d cpus\n", name, sec, ncpu);
			continue;
		} else if (!strcmp(sec, "raw_tp") || !strcmp(sec, "raw_tracepoint")) {
			printf("ON-DEMAND %s (%s)\n", name, sec);
			continue;
		} else {
			l = bpf_program__attach(prog);
		}
		if (!l) { fprintf(stderr, "ATTACH FAILED %s (%s): %s\n", name, sec, strerror(errno)); return 1; }
		links[nlinks++] = l;
		printf("ATTACHED %s (%s)\n", name, sec);
	}

	// find tracer / mapiter markers
	struct ring_buffer *rb = NULL;
	struct bpf_map *iters[16];
	int niters = 0;
	char tracer_map[64] = "";
	for (__u32 id = 1; id < btf__type_cnt(g_btf); id++) {
		const struct btf_type *t = btf__type_by_id(g_btf, id);
		if (!btf_is_var(t)) continue;
		const char *n = btf__name_by_offset(g_btf, t->name_off);
		if (!strncmp(n, "gadget_tracer_", 14)) {
			char tmp[256];
			snprintf(tmp, sizeof(tmp), "%s", n + 14);
			char *a = strstr(tmp, "___");
			*a = 0;
			char *mapn = a + 3;
			char *b = strstr(mapn, "___");
			*b = 0;
			char *sn = b + 3;
			int sid = btf__find_by_name_kind(g_btf, sn, BTF_KIND_STRUCT);
			g_struct_id = sid;
			snprintf(tracer_map, sizeof(tracer_map), "%s", mapn);
			struct bpf_map *m = bpf_object__find_map_by_name(obj, mapn);
			printf("TRACER ds=%s map=%s struct=%s (size %lld)\n", tmp, mapn, sn, (long long)btf__resolve_size(g_btf, sid));
			rb = ring_buffer__new(bpf_map__fd(m), on_event, NULL, NULL);
		} else if (!strncmp(n, "unusedevent_", 12)) {
			const char *sn = strstr(n + 12, "___") + 3;
			g_struct_id = btf__find_by_name_kind(g_btf, sn, BTF_KIND_STRUCT);
			printf("SNAPSHOT ds=%.*s struct=%s\n", (int)(strstr(n + 12, "___") - (n + 12)), n + 12, sn);
			struct bpf_map *m = bpf_object__find_map_by_name(obj, "gadget_snapshot_buf");
			if (m) {
				rb = ring_buffer__new(bpf_map__fd(m), on_event, NULL, NULL);
				snprintf(tracer_map, sizeof(tracer_map), "gadget_snapshot_buf");
			}
		} else if (!strncmp(n, "gadget_mapiter_", 15)) {
			const char *mapn = strstr(n + 15, "___") + 3;
			iters[niters++] = bpf_object__find_map_by_name(obj, mapn);
			printf("MAPITER %s\n", n + 15);
		}
	}

	if (cmd) {
		if (fork() == 0) {
			sleep(1);
			execl("/bin/sh", "sh", "-c", cmd, NULL);
			_exit(127);
		}
	}
	bpf_object__for_each_program(prog, obj) {
		const char *sec = bpf_program__section_name(prog);
		if (strcmp(sec, "raw_tp") && strcmp(sec, "raw_tracepoint"))
			continue;
		if (cmd) sleep(2);
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		LIBBPF_OPTS(bpf_test_run_opts, to);
		int err = bpf_prog_test_run_opts(bpf_program__fd(prog), &to);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		printf("TEST_RUN %s: err=%d retval=%u duration=%.3fms\n", bpf_program__name(prog), err, to.retval,
		       (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	}
	time_t end = time(NULL) + secs;
	while (time(NULL) < end) {
		if (rb) ring_buffer__poll(rb, 100);
		else usleep(100000);
	}
	if (rb) ring_buffer__consume(rb);
	printf("TOTAL EVENTS %d\n", g_total);
	if (tracer_map[0]) {
		char ln[128];
		snprintf(ln, sizeof(ln), "%s_lost_samples", tracer_map);
		struct bpf_map *lm = bpf_object__find_map_by_name(obj, ln);
		if (lm) {
			__u32 k = 0;
			__u64 v[256] = {0}, sum = 0;
			bpf_map_lookup_elem(bpf_map__fd(lm), &k, v);
			for (int c = 0; c < ncpu; c++) sum += v[c];
			printf("LOST %llu\n", (unsigned long long)sum);
		}
	}
	for (int i = 0; i < niters; i++) dump_map(iters[i], g_max_events);
	if (dump_all) {
		struct bpf_map *m;
		bpf_object__for_each_map(m, obj) {
			if (bpf_map__type(m) == BPF_MAP_TYPE_HASH || bpf_map__type(m) == BPF_MAP_TYPE_ARRAY)
				if (!strchr(bpf_map__name(m), '.')) dump_map(m, 5);
		}
	}
	for (int i = 0; i < nlinks; i++) bpf_link__destroy(links[i]);
	for (int i = 0; i < nsocks; i++) close(socks[i]);
	for (int i = 0; i < npfds; i++) close(pfds[i]);
	ring_buffer__free(rb);
	bpf_object__close(obj);
	return 0;
}
