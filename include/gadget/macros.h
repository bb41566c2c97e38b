/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ig: marker macros for gadget authors.
 *
 * User space finds what a gadget offers by walking the BTF of the compiled
 * object and looking at the *names* of global variables. Each macro below
 * declares one or more unused `const void *` globals whose names encode the
 * information, separated by triple underscores (`___`). The variables are never
 * read by the eBPF code; they only exist so that their names end up in BTF.
 *
 *   GADGET_TRACER(name, map, struct)   gadget_tracer_<name>___<map>___<struct>
 *   GADGET_MAPITER(name, map)          gadget_mapiter_<name>___<map>
 *   GADGET_ITER(name, type, progs...)  gadget_iter_<name>___<type>___<p1>[___<p2>[___<p3>]]
 *   GADGET_SNAPSHOTTER(...)            same as GADGET_ITER
 *   GADGET_PARAM(var)                  gadget_param_<var>
 *   GADGET_ITER_TARGET_MAP(prog, map)  gadget_mapelem_iter_target_<prog>___<map>
 *   GADGET_SK_TARGET_MAP(prog, map)    gadget_sk_prog_target_<prog>___<map>
 */

#ifndef __GADGET_MACROS_H
#define __GADGET_MACROS_H

/* Attribute shared by every marker: keep the compiler quiet, keep the symbol. */
#define __GADGET_MARKER __attribute__((unused))

/* Two-level concatenation so that macro arguments are expanded first. */
#define __GADGET_CONCAT_INNER(a, b) a##b
#define __GADGET_CONCAT(a, b) __GADGET_CONCAT_INNER(a, b)

/* Number of variadic arguments, 1 to 3. */
#define __GADGET_NARGS_PICK(_1, _2, _3, count, ...) count
#define __GADGET_NARGS(...) __GADGET_NARGS_PICK(__VA_ARGS__, 3, 2, 1, 0)

/* Join 1 to 3 program names with `___`. */
#define __GADGET_JOIN_PROGS_1(p1) p1
#define __GADGET_JOIN_PROGS_2(p1, p2) p1##___##p2
#define __GADGET_JOIN_PROGS_3(p1, p2, p3) p1##___##p2##___##p3
#define __GADGET_JOIN_PROGS(...)                                          \
	__GADGET_CONCAT(__GADGET_JOIN_PROGS_, __GADGET_NARGS(__VA_ARGS__)) \
	(__VA_ARGS__)

/*
 * GADGET_TRACER declares a data source called `name` whose records are
 * `struct struct_name` values sent through the ring buffer (or perf buffer)
 * map `map_name`, usually declared with GADGET_TRACER_MAP (buffer.h).
 * The second, typed pointer keeps `struct struct_name` in BTF even when the
 * programs only handle it through void pointers.
 */
#define GADGET_TRACER(name, map_name, struct_name)                         \
	const void *gadget_tracer_##name##___##map_name##___##struct_name \
		__GADGET_MARKER;                                           \
	const struct struct_name *__gadget_tracer_type_##name __GADGET_MARKER;

/*
 * GADGET_MAPITER declares an array data source `name` built from the entries
 * of the hash map `map_name`. Key and value structs become the fields; user
 * space drains the map periodically (map-fetch-interval / map-fetch-count).
 */
#define GADGET_MAPITER(name, map_name) \
	const void *gadget_mapiter_##name##___##map_name __GADGET_MARKER;

/*
 * GADGET_ITER declares an array data source `name` whose records are
 * `struct type` values written with bpf_seq_write() by one to three
 * `iter/<kind>` programs.
 */
#define GADGET_ITER(name, type, ...)                                        \
	const struct type *unusedevent_##name##___##type __GADGET_MARKER;    \
	const void *__GADGET_CONCAT(gadget_iter_##name##___##type##___,      \
				    __GADGET_JOIN_PROGS(__VA_ARGS__))        \
		__GADGET_MARKER;

/* Older name of GADGET_ITER; emits the same markers. */
#define GADGET_SNAPSHOTTER(name, type, ...) GADGET_ITER(name, type, __VA_ARGS__)

/*
 * GADGET_PARAM exposes the `const volatile` global `name` as a user parameter.
 * Its value is written into .rodata before the object is loaded.
 */
#define GADGET_PARAM(name) const void *gadget_param_##name __GADGET_MARKER;

/* Bind an `iter/bpf_map_elem` program to a (usually pinned) map. */
#define GADGET_ITER_TARGET_MAP(prog_name, map_name)                       \
	const void *gadget_mapelem_iter_target_##prog_name##___##map_name \
		__GADGET_MARKER;

/* Bind an `sk_skb` / `sk_msg` program to a sockmap or sockhash. */
#define GADGET_SK_TARGET_MAP(prog_name, map_name)                    \
	const void *gadget_sk_prog_target_##prog_name##___##map_name \
		__GADGET_MARKER;

#endif /* __GADGET_MACROS_H */
