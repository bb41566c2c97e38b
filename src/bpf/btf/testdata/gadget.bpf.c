// SPDX-License-Identifier: Apache-2.0
// Test input for src/bpf/btf: hand-written gadget markers and an event struct that exercises
// every flattening rule. It deliberately does not include <gadget/*.h>.
#include <linux/types.h>

#define SEC(name) __attribute__((section(name), used))
#define MARKER __attribute__((unused))

typedef _Bool bool;
typedef __u64 gadget_mntns_id;
typedef __u64 gadget_timestamp;
typedef __u32 gadget_pid;
typedef char gadget_comm[16];
typedef __u32 gadget_counter__u32;

enum color { COLOR_RED = 0, COLOR_GREEN = 1, COLOR_BLUE = 2, COLOR_DEFAULT = 0 };
enum open_flags_set { OF_READ = 1, OF_WRITE = 2, OF_APPEND = 4 };
enum temperature { TEMP_FROZEN = -5, TEMP_HOT = 7 };
enum big_values { BIG_ONE = 1, BIG_HUGE = 0x123456789ULL };
typedef enum color color_t;

union gadget_ip_addr_t {
	__u8 v6[16];
	__u32 v4;
};

struct gadget_l3endpoint_t {
	union gadget_ip_addr_t addr_raw;
	__u8 version;
	__u8 __pad[3];
};

struct inner {
	__u32 x;
	__u16 y;
};

struct not_defined_here;

struct event {
	gadget_mntns_id mntns_id;          /*   0 */
	gadget_timestamp timestamp_raw;    /*   8 */
	gadget_pid pid;                    /*  16 */
	__u32 __pad0;                      /*  20: skipped */
	gadget_comm comm;                  /*  24: CString[16] */
	char path[32];                     /*  40: CString[32] */
	__u32 counts[4];                   /*  72: Uint32 array */
	__u8 raw[6];                       /*  88: Uint8 array */
	bool ok;                           /*  94 */
	__s8 delta;                        /*  95 */
	struct inner in;                   /*  96: parent + in.x, in.y */
	struct {
		struct inner deep;
		__u64 z;
	} outer;                           /* 104: anonymous type, named member */
	union {
		__u32 as_u32;
		float as_f32;
	};                                 /* 120: anonymous union, flattened */
	struct gadget_l3endpoint_t src;    /* 124: 20 bytes */
	enum color color;                  /* 144 */
	enum open_flags_set flags;         /* 148 */
	enum temperature temp;             /* 152: signed */
	enum big_values big;               /* 160: ENUM64 */
	color_t color2;                    /* 168: enum via typedef */
	__u32 bf_a : 3, bf_b : 5, : 0;     /* 172: bitfields, zero-width padding */
	__u32 bf_c : 24, bf_d : 8;         /* 176 */
	void *ptr;                         /* 184: skipped */
	struct inner pairs[2];             /* 192: array of structs, skipped */
	__u32 matrix[2][2];                /* 208: array of arrays, skipped */
	double dbl;                        /* 224 */
	float flt;                         /* 232 */
	__s64 s64v;                        /* 240 */
	gadget_counter__u32 hits;          /* 248 */
	struct not_defined_here *fwd;      /* 256: skipped */
	__u16 __internal;                  /* 264: skipped; sizeof = 272 */
};

struct task_entry {
	gadget_pid pid;
	gadget_comm comm;
};

typedef struct task_entry task_entry_t;

/* Markers, as GADGET_TRACER & co would emit them. */
const void *gadget_tracer_open_files___events___event MARKER;
const void *gadget_map_tracer_events MARKER;
const void *gadget_mapiter_top_files___file_stats MARKER;
const void *gadget_iter_tasks___task_entry___ig_task_it___ig_file_it MARKER;
const void *gadget_snapshotter_old_snap___task_entry___snap_prog MARKER;
const void *gadget_param_targ_pid MARKER;
const void *gadget_param_targ_comm MARKER;
const void *gadget_param_targ_ip MARKER;
const void *gadget_mapelem_iter_target_dump_elems___pinned_map MARKER;
const void *gadget_sk_prog_target_sk_prog___sock_map MARKER;
/* Keep the record types in BTF like GADGET_TRACER's typed pointer does. */
const struct event *__gadget_tracer_type_open_files MARKER;
const struct task_entry *__gadget_iter_type_tasks MARKER;
const task_entry_t *keep_task_entry_typedef MARKER;

/* Not markers: wrong type or not const volatile. */
int gadget_tracer_wrong_type___x___y = 1;
__u32 gadget_var_not_const = 1;

/* Params and gadget vars. */
const volatile __u32 targ_pid = 0;
const volatile char targ_comm[16] = {};
const volatile struct gadget_l3endpoint_t targ_ip = {};
const volatile bool gadget_var_enable_extra = 0;
const volatile __u64 gadget_var_threshold = 42;
const volatile bool gadget_filter_by_mntns = 0;
const volatile __s16 signed_param = -3;
const volatile double ratio = 0.5;

/* Writable globals in .data and .bss. */
__u64 packets_seen = 7;
__u32 scratch[8];

/* Resolved by the loader from the running kernel. */
extern __u32 LINUX_KERNEL_VERSION __attribute__((section(".kconfig")));

/* Exercise the remaining BTF kinds: DECL_TAG, TYPE_TAG, RESTRICT, FUNC, FUNC_PROTO. */
int tagged_global __attribute__((btf_decl_tag("ig:tagged"))) = 3;
int __attribute__((btf_type_tag("user"))) *user_ptr;
int *restrict restricted_ptr;

SEC("tracepoint/syscalls/sys_enter_openat")
int trace_openat(void *ctx)
{
	return (int)targ_pid + (int)packets_seen + (int)LINUX_KERNEL_VERSION;
}

char LICENSE[] SEC("license") = "GPL";
