/*
 * ig.h: C SDK for gadget WASM modules (upstream Inspektor Gadget's host API, module "ig", API version 1).
 *
 * Include it in exactly one .c file of the module: it defines the exports gadgetAPIVersion and
 * dataSourceCallback (define IG_NO_DEFAULT_EXPORTS to write your own). Build with
 *   clang-16 --target=wasm32-wasi -mexec-model=reactor -O2 -I <ig>/sdk/c/include -o program.wasm program.c
 * or name the .c file as `wasm:` in build.yaml. Export lifecycle functions with IG_EXPORT:
 *   IG_EXPORT(gadgetInit) int gadgetInit(void) { ... return 0; }     (also gadgetPreStart, gadgetStart,
 *   gadgetStop, gadgetPostStop; non-zero means failure)
 *
 * Strings and buffers cross the ABI as one 64-bit value, len << 32 | ptr. Handles are 32-bit; 0 is "none".
 */
#ifndef IG_GADGET_H
#define IG_GADGET_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define IG_API_VERSION 1
#define IG_IMPORT(name) __attribute__((import_module("ig"), import_name(#name)))
#define IG_EXPORT(name) __attribute__((export_name(#name)))

typedef uint32_t ig_datasource;
typedef uint32_t ig_field;
typedef uint32_t ig_data;     /* one record (also a single packet) */
typedef uint32_t ig_array;    /* an array packet */
typedef uint32_t ig_packet;
typedef uint32_t ig_map;
typedef uint32_t ig_perf_reader;

/* Field kinds (upstream's api.Kind). */
enum ig_kind {
	IG_KIND_INVALID = 0, IG_KIND_BOOL = 1, IG_KIND_INT8 = 2, IG_KIND_INT16 = 3, IG_KIND_INT32 = 4, IG_KIND_INT64 = 5,
	IG_KIND_UINT8 = 6, IG_KIND_UINT16 = 7, IG_KIND_UINT32 = 8, IG_KIND_UINT64 = 9, IG_KIND_FLOAT32 = 10,
	IG_KIND_FLOAT64 = 11, IG_KIND_STRING = 12, IG_KIND_CSTRING = 13, IG_KIND_BYTES = 14,
};
enum ig_datasource_type { IG_DS_SINGLE = 1, IG_DS_ARRAY = 2 };
enum ig_log_level { IG_LOG_ERROR = 0, IG_LOG_WARN = 1, IG_LOG_INFO = 2, IG_LOG_DEBUG = 3, IG_LOG_TRACE = 4 };
enum { IG_SUBSCRIBE_DATA = 1, IG_SUBSCRIBE_ARRAY = 2, IG_SUBSCRIBE_PACKET = 3 };

/* ---- raw host functions (upstream's names and signatures) ---- */
IG_IMPORT(gadgetLog) void __ig_gadgetLog(uint32_t level, uint64_t msg);
IG_IMPORT(gadgetShouldLog) uint32_t __ig_gadgetShouldLog(uint32_t level);
IG_IMPORT(newDataSource) uint32_t __ig_newDataSource(uint64_t name, uint32_t type);
IG_IMPORT(getDataSource) uint32_t __ig_getDataSource(uint64_t name);
IG_IMPORT(dataSourceSubscribe) uint32_t __ig_dataSourceSubscribe(uint32_t ds, uint32_t type, int32_t prio, uint64_t cb);
IG_IMPORT(dataSourceGetField) uint32_t __ig_dataSourceGetField(uint32_t ds, uint64_t name);
IG_IMPORT(dataSourceAddField) uint32_t __ig_dataSourceAddField(uint32_t ds, uint64_t name, uint32_t kind);
IG_IMPORT(dataSourceNewPacketSingle) uint32_t __ig_dataSourceNewPacketSingle(uint32_t ds);
IG_IMPORT(dataSourceNewPacketArray) uint32_t __ig_dataSourceNewPacketArray(uint32_t ds);
IG_IMPORT(dataSourceEmitAndRelease) uint32_t __ig_dataSourceEmitAndRelease(uint32_t ds, uint32_t packet);
IG_IMPORT(dataSourceRelease) uint32_t __ig_dataSourceRelease(uint32_t ds, uint32_t packet);
IG_IMPORT(dataSourceUnreference) uint32_t __ig_dataSourceUnreference(uint32_t ds);
IG_IMPORT(dataSourceIsReferenced) uint32_t __ig_dataSourceIsReferenced(uint32_t ds);
IG_IMPORT(dataArrayNew) uint32_t __ig_dataArrayNew(uint32_t arr);
IG_IMPORT(dataArrayAppend) uint32_t __ig_dataArrayAppend(uint32_t arr, uint32_t data);
IG_IMPORT(dataArrayRelease) uint32_t __ig_dataArrayRelease(uint32_t arr, uint32_t data);
IG_IMPORT(dataArrayLen) uint32_t __ig_dataArrayLen(uint32_t arr);
IG_IMPORT(dataArrayGet) uint32_t __ig_dataArrayGet(uint32_t arr, uint32_t index);
IG_IMPORT(fieldGetScalar) uint64_t __ig_fieldGetScalar(uint32_t field, uint32_t data, uint32_t kind, uint32_t *err);
IG_IMPORT(fieldGetBuffer) int32_t __ig_fieldGetBuffer(uint32_t field, uint32_t data, uint32_t kind, uint64_t dst);
IG_IMPORT(fieldSet) uint32_t __ig_fieldSet(uint32_t field, uint32_t data, uint32_t kind, uint64_t value);
IG_IMPORT(fieldAddTag) uint32_t __ig_fieldAddTag(uint32_t field, uint64_t tag);
IG_IMPORT(getParamValue) uint32_t __ig_getParamValue(uint64_t key, uint64_t dst);
IG_IMPORT(setConfig) uint32_t __ig_setConfig(uint64_t key, uint64_t value, uint32_t kind);
IG_IMPORT(newMap) uint32_t __ig_newMap(uint64_t name, uint32_t type, uint32_t key_size, uint32_t value_size, uint32_t max_entries);
IG_IMPORT(getMap) uint32_t __ig_getMap(uint64_t name);
IG_IMPORT(mapLookup) uint32_t __ig_mapLookup(uint32_t map, uint64_t key, uint64_t value);
IG_IMPORT(mapUpdate) uint32_t __ig_mapUpdate(uint32_t map, uint64_t key, uint64_t value, uint64_t flags);
IG_IMPORT(mapDelete) uint32_t __ig_mapDelete(uint32_t map, uint64_t key);
IG_IMPORT(mapRelease) uint32_t __ig_mapRelease(uint32_t map);
IG_IMPORT(releaseHandle) uint32_t __ig_releaseHandle(uint32_t handle);
IG_IMPORT(getSyscallName) uint32_t __ig_getSyscallName(uint32_t id, uint64_t dst);
IG_IMPORT(getSyscallID) int32_t __ig_getSyscallID(uint64_t name);
IG_IMPORT(kallsymsSymbolExists) uint32_t __ig_kallsymsSymbolExists(uint64_t name);
IG_IMPORT(shouldDiscardMntnsID) uint32_t __ig_shouldDiscardMntnsID(uint64_t mntns);

/* ---- helpers ---- */
static inline uint64_t ig_buf(const void *p, uint32_t len) { return ((uint64_t)len << 32) | (uint32_t)(uintptr_t)p; }
static inline uint64_t ig_str(const char *s) { return ig_buf(s, (uint32_t)strlen(s)); }

/* Logging: printf-style, formatted in the module (messages longer than 511 bytes are cut). */
static inline void ig_log(enum ig_log_level level, const char *fmt, ...) {
	char msg[512];
	va_list ap;
	if (!__ig_gadgetShouldLog(level)) return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	__ig_gadgetLog(level, ig_str(msg));
}
#define ig_errorf(...) ig_log(IG_LOG_ERROR, __VA_ARGS__)
#define ig_warnf(...) ig_log(IG_LOG_WARN, __VA_ARGS__)
#define ig_infof(...) ig_log(IG_LOG_INFO, __VA_ARGS__)
#define ig_debugf(...) ig_log(IG_LOG_DEBUG, __VA_ARGS__)

/* ---- data sources ---- */
static inline ig_datasource ig_datasource_get(const char *name) { return __ig_getDataSource(ig_str(name)); }
static inline ig_datasource ig_datasource_new(const char *name, enum ig_datasource_type t) { return __ig_newDataSource(ig_str(name), t); }
static inline ig_field ig_datasource_get_field(ig_datasource ds, const char *name) { return __ig_dataSourceGetField(ds, ig_str(name)); }
static inline ig_field ig_datasource_add_field(ig_datasource ds, const char *name, enum ig_kind kind) { return __ig_dataSourceAddField(ds, ig_str(name), kind); }
static inline ig_data ig_datasource_new_packet_single(ig_datasource ds) { return __ig_dataSourceNewPacketSingle(ds); }
static inline ig_array ig_datasource_new_packet_array(ig_datasource ds) { return __ig_dataSourceNewPacketArray(ds); }
static inline int ig_datasource_emit_and_release(ig_datasource ds, ig_packet p) { return (int)__ig_dataSourceEmitAndRelease(ds, p); }
static inline int ig_datasource_release(ig_datasource ds, ig_packet p) { return (int)__ig_dataSourceRelease(ds, p); }
static inline int ig_datasource_unreference(ig_datasource ds) { return (int)__ig_dataSourceUnreference(ds); }

/* Arrays (array data sources): elements are ig_data. */
static inline uint32_t ig_array_len(ig_array a) { return __ig_dataArrayLen(a); }
static inline ig_data ig_array_get(ig_array a, uint32_t i) { return __ig_dataArrayGet(a, i); }
static inline ig_data ig_array_new(ig_array a) { return __ig_dataArrayNew(a); }
static inline int ig_array_append(ig_array a, ig_data d) { return (int)__ig_dataArrayAppend(a, d); }
/* Drops element d from the array (it is not passed on). */
static inline int ig_array_release(ig_array a, ig_data d) { return (int)__ig_dataArrayRelease(a, d); }

/*
 * Subscriptions: cb runs for every record of a single data source (data = that record), or once per
 * array packet (data = the array). At most IG_MAX_SUBSCRIPTIONS per module.
 */
typedef void (*ig_callback)(ig_datasource ds, ig_data data);
#ifndef IG_MAX_SUBSCRIPTIONS
#define IG_MAX_SUBSCRIPTIONS 64
#endif
extern ig_callback __ig_callbacks[IG_MAX_SUBSCRIPTIONS];
extern uint32_t __ig_ncallbacks;
static inline int ig_datasource_subscribe_kind(ig_datasource ds, uint32_t kind, ig_callback cb, int32_t prio) {
	if (__ig_ncallbacks >= IG_MAX_SUBSCRIPTIONS) return 1;
	__ig_callbacks[__ig_ncallbacks] = cb;
	if (__ig_dataSourceSubscribe(ds, kind, prio, __ig_ncallbacks) != 0) return 1;
	__ig_ncallbacks++;
	return 0;
}
static inline int ig_datasource_subscribe(ig_datasource ds, ig_callback cb, int32_t prio) { return ig_datasource_subscribe_kind(ds, IG_SUBSCRIBE_DATA, cb, prio); }
static inline int ig_datasource_subscribe_array(ig_datasource ds, ig_callback cb, int32_t prio) { return ig_datasource_subscribe_kind(ds, IG_SUBSCRIBE_ARRAY, cb, prio); }

/* ---- fields: typed getters set *err to non-zero on failure (err may be NULL) ---- */
#define IG_FIELD_GETTER(suffix, type, kind) \
	static inline type ig_field_get_##suffix(ig_field f, ig_data d, uint32_t *err) { \
		uint32_t e = 0; uint64_t v = __ig_fieldGetScalar(f, d, kind, &e); if (err) *err = e; return (type)v; }
IG_FIELD_GETTER(bool, int, IG_KIND_BOOL)
IG_FIELD_GETTER(i8, int8_t, IG_KIND_INT8)
IG_FIELD_GETTER(i16, int16_t, IG_KIND_INT16)
IG_FIELD_GETTER(i32, int32_t, IG_KIND_INT32)
IG_FIELD_GETTER(i64, int64_t, IG_KIND_INT64)
IG_FIELD_GETTER(u8, uint8_t, IG_KIND_UINT8)
IG_FIELD_GETTER(u16, uint16_t, IG_KIND_UINT16)
IG_FIELD_GETTER(u32, uint32_t, IG_KIND_UINT32)
IG_FIELD_GETTER(u64, uint64_t, IG_KIND_UINT64)
static inline float ig_field_get_f32(ig_field f, ig_data d, uint32_t *err) {
	uint32_t e = 0; uint32_t bits = (uint32_t)__ig_fieldGetScalar(f, d, IG_KIND_FLOAT32, &e); float v; memcpy(&v, &bits, 4); if (err) *err = e; return v; }
static inline double ig_field_get_f64(ig_field f, ig_data d, uint32_t *err) {
	uint32_t e = 0; uint64_t bits = __ig_fieldGetScalar(f, d, IG_KIND_FLOAT64, &e); double v; memcpy(&v, &bits, 8); if (err) *err = e; return v; }

/* Copies the string into buf (not NUL-terminated by the host; this adds the NUL). Returns its length, -1 on error. */
static inline int ig_field_get_string(ig_field f, ig_data d, char *buf, uint32_t cap) {
	if (cap == 0) return -1;
	int32_t n = __ig_fieldGetBuffer(f, d, IG_KIND_STRING, ig_buf(buf, cap - 1));
	if (n >= 0) buf[n] = 0;
	return n;
}
static inline int ig_field_get_bytes(ig_field f, ig_data d, void *buf, uint32_t cap) { return __ig_fieldGetBuffer(f, d, IG_KIND_BYTES, ig_buf(buf, cap)); }

static inline int ig_field_set_scalar(ig_field f, ig_data d, enum ig_kind kind, uint64_t v) { return (int)__ig_fieldSet(f, d, kind, v); }
static inline int ig_field_set_bool(ig_field f, ig_data d, int v) { return ig_field_set_scalar(f, d, IG_KIND_BOOL, v ? 1 : 0); }
static inline int ig_field_set_i32(ig_field f, ig_data d, int32_t v) { return ig_field_set_scalar(f, d, IG_KIND_INT32, (uint64_t)(int64_t)v); }
static inline int ig_field_set_i64(ig_field f, ig_data d, int64_t v) { return ig_field_set_scalar(f, d, IG_KIND_INT64, (uint64_t)v); }
static inline int ig_field_set_u8(ig_field f, ig_data d, uint8_t v) { return ig_field_set_scalar(f, d, IG_KIND_UINT8, v); }
static inline int ig_field_set_u16(ig_field f, ig_data d, uint16_t v) { return ig_field_set_scalar(f, d, IG_KIND_UINT16, v); }
static inline int ig_field_set_u32(ig_field f, ig_data d, uint32_t v) { return ig_field_set_scalar(f, d, IG_KIND_UINT32, v); }
static inline int ig_field_set_u64(ig_field f, ig_data d, uint64_t v) { return ig_field_set_scalar(f, d, IG_KIND_UINT64, v); }
static inline int ig_field_set_f64(ig_field f, ig_data d, double v) { uint64_t b; memcpy(&b, &v, 8); return ig_field_set_scalar(f, d, IG_KIND_FLOAT64, b); }
static inline int ig_field_set_string(ig_field f, ig_data d, const char *s) { return (int)__ig_fieldSet(f, d, IG_KIND_STRING, ig_str(s)); }
static inline int ig_field_set_string_n(ig_field f, ig_data d, const char *s, uint32_t n) { return (int)__ig_fieldSet(f, d, IG_KIND_STRING, ig_buf(s, n)); }
static inline int ig_field_set_bytes(ig_field f, ig_data d, const void *p, uint32_t n) { return (int)__ig_fieldSet(f, d, IG_KIND_BYTES, ig_buf(p, n)); }
static inline int ig_field_add_tag(ig_field f, const char *tag) { return (int)__ig_fieldAddTag(f, ig_str(tag)); }

/* ---- params, config, maps, misc ---- */
/* The module's param (gadget.yaml params.wasm.<key>) as a NUL-terminated string; 0 on success. */
static inline int ig_param(const char *key, char *buf, uint32_t cap) {
	if (cap == 0) return 1;
	memset(buf, 0, cap);
	return (int)__ig_getParamValue(ig_str(key), ig_buf(buf, cap - 1));
}
static inline int ig_set_config(const char *key, const char *value) { return (int)__ig_setConfig(ig_str(key), ig_str(value), IG_KIND_STRING); }
static inline ig_map ig_map_get(const char *name) { return __ig_getMap(ig_str(name)); }
static inline ig_map ig_map_new(const char *name, uint32_t type, uint32_t ksize, uint32_t vsize, uint32_t max) { return __ig_newMap(ig_str(name), type, ksize, vsize, max); }
static inline int ig_map_lookup(ig_map m, const void *key, uint32_t klen, void *val, uint32_t vlen) { return (int)__ig_mapLookup(m, ig_buf(key, klen), ig_buf(val, vlen)); }
static inline int ig_map_update(ig_map m, const void *key, uint32_t klen, const void *val, uint32_t vlen, uint64_t flags) { return (int)__ig_mapUpdate(m, ig_buf(key, klen), ig_buf(val, vlen), flags); }
static inline int ig_map_delete(ig_map m, const void *key, uint32_t klen) { return (int)__ig_mapDelete(m, ig_buf(key, klen)); }
static inline int ig_map_release(ig_map m) { return (int)__ig_mapRelease(m); }
static inline int ig_syscall_name(uint32_t id, char *buf, uint32_t cap) {
	if (cap == 0) return 1;
	memset(buf, 0, cap);
	return (int)__ig_getSyscallName(id, ig_buf(buf, cap - 1));
}
static inline int32_t ig_syscall_id(const char *name) { return __ig_getSyscallID(ig_str(name)); }
static inline int ig_kallsyms_symbol_exists(const char *name) { return (int)__ig_kallsymsSymbolExists(ig_str(name)); }
static inline int ig_should_discard_mntns_id(uint64_t mntns) { return (int)__ig_shouldDiscardMntnsID(mntns); }

/* ---- the exports every module needs ---- */
#ifndef IG_NO_DEFAULT_EXPORTS
ig_callback __ig_callbacks[IG_MAX_SUBSCRIPTIONS];
uint32_t __ig_ncallbacks;
IG_EXPORT(gadgetAPIVersion) uint64_t gadgetAPIVersion(void) { return IG_API_VERSION; }
IG_EXPORT(dataSourceCallback) void dataSourceCallback(uint64_t cb, uint32_t ds, uint32_t data) {
	if (cb < __ig_ncallbacks) __ig_callbacks[cb](ds, data);
}
#endif

#endif /* IG_GADGET_H */
