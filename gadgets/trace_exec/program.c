/*
 * trace_exec's WASM module, as upstream's: the eBPF program sends the captured arguments NUL-separated in `args`
 * (args_size bytes used); this joins them with a non-breaking space (U+00A0, upstream's consts.ArgsSeparator, so
 * arguments that contain spaces stay distinguishable) and writes the result back into `args`.
 */
#include <ig.h>

/* Size of the eBPF struct's args (TOTAL_MAX_ARGS * ARGSIZE in program.bpf.c). */
#define ARGS_MAX (60 * 128)

static ig_field f_args, f_args_size, f_args_count;

static void on_exec(ig_datasource ds, ig_data d) {
	static uint8_t raw[ARGS_MAX];
	static char joined[ARGS_MAX + 1];
	(void)ds;
	int got = ig_field_get_bytes(f_args, d, raw, sizeof raw);
	if (got <= 0) return;
	uint32_t size = ig_field_get_u32(f_args_size, d, 0);
	int32_t count = ig_field_get_i32(f_args_count, d, 0);
	if (size > (uint32_t)got) size = (uint32_t)got;
	/* The joined text must fit the field (its last byte stays NUL); arguments past that are cut. */
	size_t n = 0, cap = ARGS_MAX - 1;
	int32_t seen = 0;
	uint32_t start = 0;
	for (uint32_t i = 0; i < size && seen < count; i++) {
		if (raw[i] != 0) continue;
		uint32_t len = i - start;
		size_t need = (seen ? 2 : 0) + len;
		if (n + need > cap) break;
		if (seen) { joined[n++] = (char)0xc2; joined[n++] = (char)0xa0; }
		memcpy(joined + n, raw + start, len);
		n += len;
		seen++;
		start = i + 1;
	}
	joined[n] = 0;
	ig_field_set_string(f_args, d, joined);
}

IG_EXPORT(gadgetInit) int gadgetInit(void) {
	ig_datasource ds = ig_datasource_get("exec");
	if (!ds) { ig_errorf("trace_exec: no data source exec"); return 1; }
	f_args = ig_datasource_get_field(ds, "args");
	f_args_size = ig_datasource_get_field(ds, "args_size");
	f_args_count = ig_datasource_get_field(ds, "args_count");
	if (!f_args || !f_args_size || !f_args_count) { ig_errorf("trace_exec: fields args, args_size, args_count missing"); return 1; }
	return ig_datasource_subscribe(ds, on_exec, 0);
}
