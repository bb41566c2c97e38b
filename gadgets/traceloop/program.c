/*
 * traceloop's WASM module: upstream's --syscall-filters. At start, the comma-separated syscall names of the
 * param are resolved to this kernel's numbers and put in the eBPF map syscall_filters (at most 16, as the map
 * holds); a non-empty list switches the filter on (syscall_enable_filters[0]), and then only those syscalls are
 * recorded. An unknown name or too many names stop the gadget with one line naming them.
 */
#include <ig.h>

#define MAX_FILTERS 16

IG_EXPORT(gadgetStart) int gadgetStart(void) {
	char list[1024];
	if (ig_param("syscall-filters", list, sizeof list)) { ig_errorf("reading param syscall-filters"); return 1; }
	if (!list[0]) return 0;
	ig_map filters = ig_map_get("syscall_filters");
	ig_map enable = ig_map_get("syscall_enable_filters");
	if (!filters || !enable) { ig_errorf("traceloop: no syscall_filters/syscall_enable_filters map"); return 1; }
	int n = 0;
	for (char *name = list; name && *name;) {
		char *comma = strchr(name, ',');
		if (comma) *comma = 0;
		while (*name == ' ') name++;
		if (*name) {
			if (++n > MAX_FILTERS) { ig_errorf("--syscall-filters: at most %d syscalls, got more", MAX_FILTERS); return 1; }
			int32_t id = ig_syscall_id(name);
			if (id < 0) { ig_errorf("--syscall-filters: unknown syscall %s", name); return 1; }
			uint64_t key = (uint64_t)id;
			uint8_t yes = 1;
			if (ig_map_update(filters, &key, sizeof key, &yes, sizeof yes, 0)) { ig_errorf("--syscall-filters: adding %s", name); return 1; }
		}
		name = comma ? comma + 1 : 0;
	}
	if (n > 0) {
		uint32_t zero = 0;
		uint8_t yes = 1;
		if (ig_map_update(enable, &zero, sizeof zero, &yes, sizeof yes, 0)) { ig_errorf("--syscall-filters: enabling the filter"); return 1; }
	}
	return 0;
}
