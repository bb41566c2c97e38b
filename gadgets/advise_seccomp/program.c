/*
 * advise_seccomp's WASM module: when the gadget stops, the eBPF map of per-mount-namespace syscall bitmaps is
 * fetched once (data source "syscalls"); for every namespace the run selected, this module emits a record on its
 * own data source "advise" whose "text" field is a seccomp profile (JSON, OCI/Docker format) allowing exactly
 * the syscalls seen, preceded by a comment line naming the container.
 */
#include <stdlib.h>
#include <ig.h>

#define SYSCALLS_VALUE_SIZE 501

static ig_datasource ds_advise;
static ig_field f_text, f_syscalls, f_mntns, f_runtime_name, f_k8s_name;

static int cmp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Append to out (capacity cap, length *len), truncating rather than overflowing. */
static void put(char *out, size_t cap, size_t *len, const char *s) {
	size_t n = strlen(s);
	if (*len + n >= cap) n = cap - 1 - *len;
	memcpy(out + *len, s, n);
	*len += n;
	out[*len] = 0;
}

static void on_syscalls(ig_datasource ds, ig_data arr) {
	static unsigned char bitmap[SYSCALLS_VALUE_SIZE];
	static char names[SYSCALLS_VALUE_SIZE][40];
	static const char *sorted[SYSCALLS_VALUE_SIZE];
	static char text[32768];
	uint32_t n = ig_array_len(arr);
	for (uint32_t i = 0; i < n; i++) {
		ig_data d = ig_array_get(arr, i);
		uint32_t err = 0;
		uint64_t mntns = ig_field_get_u64(f_mntns, d, &err);
		if (err || ig_should_discard_mntns_id(mntns)) continue;
		int got = ig_field_get_bytes(f_syscalls, d, bitmap, sizeof bitmap);
		if (got <= 0) continue;
		char container[256] = "";
		if (f_k8s_name) ig_field_get_string(f_k8s_name, d, container, sizeof container);
		if (!container[0] && f_runtime_name) ig_field_get_string(f_runtime_name, d, container, sizeof container);
		uint32_t count = 0;
		for (int id = 0; id < got && id < SYSCALLS_VALUE_SIZE - 1; id++) {
			if (!bitmap[id]) continue;
			if (ig_syscall_name((uint32_t)id, names[count], sizeof names[count]) != 0 || !names[count][0])
				snprintf(names[count], sizeof names[count], "unknown_syscall_%d", id);
			sorted[count] = names[count];
			count++;
		}
		qsort(sorted, count, sizeof sorted[0], cmp);
		size_t len = 0;
		char line[320];
		text[0] = 0;
		if (container[0]) snprintf(line, sizeof line, "// %s\n", container);
		else snprintf(line, sizeof line, "// mntns %llu\n", (unsigned long long)mntns);
		put(text, sizeof text, &len, line);
		put(text, sizeof text, &len, "{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"architectures\": [\n    \"SCMP_ARCH_X86_64\",\n    \"SCMP_ARCH_X86\",\n    \"SCMP_ARCH_X32\"\n  ],\n  \"syscalls\": [\n    {\n      \"names\": [\n");
		for (uint32_t k = 0; k < count; k++) {
			snprintf(line, sizeof line, "        \"%s\"%s\n", sorted[k], k + 1 < count ? "," : "");
			put(text, sizeof text, &len, line);
		}
		put(text, sizeof text, &len, "      ],\n      \"action\": \"SCMP_ACT_ALLOW\"\n    }\n  ]\n}\n");
		ig_data p = ig_datasource_new_packet_single(ds_advise);
		if (!p) continue;
		ig_field_set_string(f_text, p, text);
		ig_datasource_emit_and_release(ds_advise, p);
	}
}

IG_EXPORT(gadgetInit) int gadgetInit(void) {
	ds_advise = ig_datasource_new("advise", IG_DS_SINGLE);
	if (!ds_advise) { ig_errorf("creating data source advise"); return 1; }
	f_text = ig_datasource_add_field(ds_advise, "text", IG_KIND_STRING);
	if (!f_text) { ig_errorf("adding field text"); return 1; }
	return 0;
}

/* Container fields come from the enrichers, which add them after gadgetInit: look fields up here. */
IG_EXPORT(gadgetPreStart) int gadgetPreStart(void) {
	ig_datasource ds = ig_datasource_get("syscalls");
	if (!ds) { ig_errorf("no data source syscalls"); return 1; }
	f_syscalls = ig_datasource_get_field(ds, "syscalls");
	f_mntns = ig_datasource_get_field(ds, "mntns_id_raw");
	f_runtime_name = ig_datasource_get_field(ds, "runtime.containerName");
	f_k8s_name = ig_datasource_get_field(ds, "k8s.containerName");
	if (!f_syscalls || !f_mntns) { ig_errorf("syscalls data source without syscalls/mntns_id_raw fields"); return 1; }
	return ig_datasource_subscribe_array(ds, on_syscalls, 9999);
}
