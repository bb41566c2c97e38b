/*
 * Packet filters in pcap syntax (tcpdump's --pf):
 *   pcapCompile(expr, linktype, snaplen)  libpcap compiles the expression to classic BPF (returned as bytes:
 *                                         u16 code, u8 jt, u8 jf, u32 k per instruction). TypeScript turns it
 *                                         into eBPF (src/bpf/pcap-filter.ts).
 *   setPacketFilters(obj, [{name, insns}]) remember eBPF instructions to splice in at the start of the
 *                                         gadget_pf_<name>() function of every "classifier/" program of obj.
 * The splice happens while libbpf loads the object: a custom "classifier/" section handler gets each program's
 * final instructions (subprograms appended, relocations done) in its prepare-load callback, finds
 * gadget_pf_<name> through the program's BTF func info, inserts the filter there and moves jumps, calls,
 * func info and line info past it.
 */
#include "addon.h"

#include "pcap_compile.h"

#include <bpf/btf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PF_PREFIX "gadget_pf_"

typedef struct ig_pf_filter {
  char *name; /* "" for GADGET_PF() */
  struct bpf_insn *insns;
  size_t n;
} ig_pf_filter;

typedef struct ig_pf_state {
  struct ig_pf_state *next;
  struct bpf_object *obj;
  ig_pf_filter *filters;
  size_t n_filters;
  /* func/line info arrays handed to the kernel live until the object is closed */
  void **owned;
  size_t n_owned;
} ig_pf_state;

/* Objects load on the JS thread, but keep the list consistent for worker threads too. */
static pthread_mutex_t g_pf_mu = PTHREAD_MUTEX_INITIALIZER;
static ig_pf_state *g_pf_states;

static void state_free(ig_pf_state *s) {
  for (size_t i = 0; i < s->n_filters; i++) {
    free(s->filters[i].name);
    free(s->filters[i].insns);
  }
  free(s->filters);
  for (size_t i = 0; i < s->n_owned; i++) free(s->owned[i]);
  free(s->owned);
  free(s);
}

void ig_pf_forget(struct bpf_object *obj) {
  pthread_mutex_lock(&g_pf_mu);
  for (ig_pf_state **pp = &g_pf_states; *pp; pp = &(*pp)->next) {
    if ((*pp)->obj == obj) {
      ig_pf_state *s = *pp;
      *pp = s->next;
      state_free(s);
      break;
    }
  }
  pthread_mutex_unlock(&g_pf_mu);
}

static ig_pf_state *state_of_prog(struct bpf_program *prog) {
  for (ig_pf_state *s = g_pf_states; s; s = s->next) {
    struct bpf_program *p;
    bpf_object__for_each_program(p, s->obj) if (p == prog) return s;
  }
  return NULL;
}

static bool own(ig_pf_state *s, void *p) {
  void **n = realloc(s->owned, (s->n_owned + 1) * sizeof *n);
  if (!n) return false;
  s->owned = n;
  s->owned[s->n_owned++] = p;
  return true;
}

/* Old instruction index -> index after inserting `count` instructions at `at`. A target equal to `at` stays:
 * whoever called or jumped to the function's start now reaches the filter. */
static long moved(long t, long at, long count) { return t > at ? t + count : t; }
/* Where the original instruction i lands (the function's first instruction moves behind the filter). */
static long placed(long i, long at, long count) { return i >= at ? i + count : i; }

/* Rewrite relative targets of the original instructions after the insertion. */
static int fix_targets(struct bpf_insn *out, const struct bpf_insn *old, size_t n_old, long at, long count) {
  for (size_t i = 0; i < n_old; i++) {
    long ni = placed((long)i, at, count);
    const struct bpf_insn *in = &old[i];
    struct bpf_insn *o = &out[ni];
    uint8_t cls = BPF_CLASS(in->code);
    if (in->code == (BPF_LD | BPF_IMM | BPF_DW)) {
      if (in->src_reg == BPF_PSEUDO_FUNC) {
        long t = moved((long)i + 1 + in->imm, at, count);
        o->imm = (int32_t)(t - (ni + 1));
      }
      i++; /* second slot of ld_imm64 */
      continue;
    }
    if (cls != BPF_JMP && cls != BPF_JMP32) continue;
    uint8_t op = BPF_OP(in->code);
    if (op == BPF_EXIT) continue;
    if (op == BPF_CALL) {
      if (in->src_reg != BPF_PSEUDO_CALL) continue;
      long t = moved((long)i + 1 + in->imm, at, count);
      o->imm = (int32_t)(t - (ni + 1));
      continue;
    }
    if (cls == BPF_JMP32 && op == BPF_JA) { /* gotol: 32-bit offset in imm */
      long t = moved((long)i + 1 + in->imm, at, count);
      o->imm = (int32_t)(t - (ni + 1));
      continue;
    }
    long t = moved((long)i + 1 + in->off, at, count);
    long off = t - (ni + 1);
    if (off < INT16_MIN || off > INT16_MAX) return -E2BIG;
    o->off = (int16_t)off;
  }
  return 0;
}

/* Copy func/line info records (insn_off is their first u32), moving those past the insertion point. */
static void *moved_records(ig_pf_state *s, const void *recs, uint32_t cnt, uint32_t rec_size, long at, long count) {
  if (!recs || cnt == 0) return (void *)recs;
  uint8_t *copy = malloc((size_t)cnt * rec_size);
  if (!copy || !own(s, copy)) {
    free(copy);
    return NULL;
  }
  memcpy(copy, recs, (size_t)cnt * rec_size);
  for (uint32_t i = 0; i < cnt; i++) {
    uint32_t *off = (uint32_t *)(copy + (size_t)i * rec_size);
    if ((long)*off > at) *off += (uint32_t)count;
  }
  return copy;
}

static const ig_pf_filter *filter_named(ig_pf_state *s, const char *name) {
  for (size_t i = 0; i < s->n_filters; i++)
    if (strcmp(s->filters[i].name, name) == 0) return &s->filters[i];
  return NULL;
}

/* One splice: the filter's instructions go in front of the instruction at `at`. */
static int splice(ig_pf_state *s, struct bpf_program *prog, struct bpf_prog_load_opts *opts, long at,
                  const ig_pf_filter *f) {
  size_t n_old = bpf_program__insn_cnt(prog);
  const struct bpf_insn *old = bpf_program__insns(prog);
  size_t n_new = n_old + f->n;
  struct bpf_insn *out = malloc(n_new * sizeof *out);
  if (!out) return -ENOMEM;
  memcpy(out, old, (size_t)at * sizeof *out);
  memcpy(out + at, f->insns, f->n * sizeof *out);
  memcpy(out + at + f->n, old + at, (n_old - (size_t)at) * sizeof *out);
  int err = fix_targets(out, old, n_old, at, (long)f->n);
  if (!err) {
    const void *fi = moved_records(s, opts->func_info, opts->func_info_cnt, opts->func_info_rec_size, at, (long)f->n);
    const void *li = moved_records(s, opts->line_info, opts->line_info_cnt, opts->line_info_rec_size, at, (long)f->n);
    if ((opts->func_info && !fi) || (opts->line_info && !li)) err = -ENOMEM;
    else {
      opts->func_info = fi;
      opts->line_info = li;
      err = bpf_program__set_insns(prog, out, n_new);
    }
  }
  free(out); /* set_insns copies */
  return err;
}

/* libbpf calls this for every "classifier/" program just before it goes to the kernel. */
static int pf_prepare_load(struct bpf_program *prog, struct bpf_prog_load_opts *opts, long cookie) {
  (void)cookie;
  int err = 0;
  pthread_mutex_lock(&g_pf_mu);
  ig_pf_state *s = state_of_prog(prog);
  if (!s || s->n_filters == 0) goto out;
  const struct btf *btf = NULL;
  if (opts->func_info && opts->func_info_cnt) btf = bpf_object__btf(s->obj);
  if (!btf) goto out; /* no func info: the placeholder cannot be found (TS only offers --pf with BTF) */
  /* Splice from the last function to the first so earlier offsets stay valid. */
  for (long r = (long)opts->func_info_cnt - 1; r >= 0; r--) {
    const uint32_t *rec = (const uint32_t *)((const uint8_t *)opts->func_info + (size_t)r * opts->func_info_rec_size);
    const struct btf_type *t = btf__type_by_id(btf, rec[1]);
    const char *fname = t ? btf__name_by_offset(btf, t->name_off) : NULL;
    if (!fname || strncmp(fname, PF_PREFIX, strlen(PF_PREFIX)) != 0) continue;
    const ig_pf_filter *f = filter_named(s, fname + strlen(PF_PREFIX));
    if (!f) continue;
    err = splice(s, prog, opts, (long)rec[0], f);
    if (err) break;
  }
out:
  pthread_mutex_unlock(&g_pf_mu);
  return err;
}

void ig_pf_install(void) {
  LIBBPF_OPTS(libbpf_prog_handler_opts, hopts, .prog_prepare_load_fn = pf_prepare_load);
  /* Upstream's TC sections are classifier/<direction>/<name>; libbpf itself knows only the bare name. */
  libbpf_register_prog_handler("classifier/", BPF_PROG_TYPE_SCHED_CLS, 0, &hopts);
}

/* pcapCompile(expr, linktype, snaplen): Buffer of classic BPF instructions; throws with libpcap's message. */
static napi_value js_pcap_compile(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!ig_args(env, info, 3, argv)) return NULL;
  char *expr;
  int32_t linktype, snaplen;
  if (!ig_arg_i32(env, argv[1], "linktype", &linktype) || !ig_arg_i32(env, argv[2], "snaplen", &snaplen)) return NULL;
  if (!ig_arg_string(env, argv[0], "expression", &expr)) return NULL;
  char err[512];
  size_t n = 0;
  uint8_t *code = ig_pcap_compile(expr, linktype, snaplen, &n, err, sizeof err);
  free(expr);
  if (!code) return ig_throw_msg(env, "%s", err);
  void *data;
  napi_value buf;
  napi_status st = napi_create_buffer(env, n * 8, &data, &buf);
  if (st == napi_ok) memcpy(data, code, n * 8);
  free(code);
  if (st != napi_ok) return ig_napi_fail(env, st, "napi_create_buffer");
  return buf;
}

/* setPacketFilters(obj, [{name, insns}]): replaces the object's filters; must run before load. */
static napi_value js_set_packet_filters(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ig_args(env, info, 2, argv)) return NULL;
  ig_object *o = ig_object_arg(env, argv[0]);
  if (!o) return NULL;
  if (o->loaded) return ig_throw_msg(env, "setPacketFilters: object %s is already loaded", o->name);
  uint32_t n;
  NAPI_TRY(env, napi_get_array_length(env, argv[1], &n));
  ig_pf_state *s = calloc(1, sizeof *s);
  if (!s) return ig_throw_errno(env, ENOMEM, false, "setPacketFilters");
  s->obj = o->obj;
  s->filters = calloc(n ? n : 1, sizeof *s->filters);
  if (!s->filters) {
    free(s);
    return ig_throw_errno(env, ENOMEM, false, "setPacketFilters");
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value el, nv, iv;
    void *data;
    size_t len;
    ig_pf_filter *f = &s->filters[i];
    s->n_filters = i + 1;
    if (napi_get_element(env, argv[1], i, &el) != napi_ok || napi_get_named_property(env, el, "name", &nv) != napi_ok ||
        napi_get_named_property(env, el, "insns", &iv) != napi_ok) {
      state_free(s);
      return ig_napi_fail(env, napi_generic_failure, "setPacketFilters element");
    }
    if (!ig_arg_string(env, nv, "filter name", &f->name) || !ig_arg_bytes(env, iv, "filter insns", &data, &len)) {
      state_free(s);
      return NULL;
    }
    if (len == 0 || len % sizeof(struct bpf_insn) != 0) {
      state_free(s);
      return ig_throw_type(env, "filter insns: expected a non-empty multiple of 8 bytes");
    }
    f->insns = malloc(len);
    if (!f->insns) {
      state_free(s);
      return ig_throw_errno(env, ENOMEM, false, "setPacketFilters");
    }
    memcpy(f->insns, data, len);
    f->n = len / sizeof(struct bpf_insn);
  }
  ig_pf_forget(o->obj);
  pthread_mutex_lock(&g_pf_mu);
  s->next = g_pf_states;
  g_pf_states = s;
  pthread_mutex_unlock(&g_pf_mu);
  return ig_undefined(env);
}

/* pcapMatch(expr, linktype, snaplen, packet): libpcap's verdict on one packet (tests compare the eBPF one). */
static napi_value js_pcap_match(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!ig_args(env, info, 4, argv)) return NULL;
  char *expr;
  int32_t linktype, snaplen;
  void *pkt;
  size_t len;
  if (!ig_arg_i32(env, argv[1], "linktype", &linktype) || !ig_arg_i32(env, argv[2], "snaplen", &snaplen) ||
      !ig_arg_bytes(env, argv[3], "packet", &pkt, &len))
    return NULL;
  if (!ig_arg_string(env, argv[0], "expression", &expr)) return NULL;
  char err[512];
  int r = ig_pcap_match(expr, linktype, snaplen, pkt, len, err, sizeof err);
  free(expr);
  if (r < 0) return ig_throw_msg(env, "%s", err);
  napi_value v;
  NAPI_TRY(env, napi_get_boolean(env, r == 1, &v));
  return v;
}

/* progTestRunData(obj, prog, data): run a loaded program once on packet bytes (BPF_PROG_TEST_RUN data_in);
 * returns its return value. */
static napi_value js_prog_test_run_data(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!ig_args(env, info, 3, argv)) return NULL;
  ig_object *o = ig_object_arg(env, argv[0]);
  if (!o) return NULL;
  struct bpf_program *p = ig_find_prog(env, o, argv[1], NULL, true);
  if (!p) return NULL;
  void *data;
  size_t len;
  if (!ig_arg_bytes(env, argv[2], "data", &data, &len)) return NULL;
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = data, .data_size_in = (__u32)len, .repeat = 1);
  int err = bpf_prog_test_run_opts(bpf_program__fd(p), &opts);
  if (err) return ig_throw_errno(env, errno, false, "test run of program %s", bpf_program__name(p));
  return ig_num(env, (double)opts.retval);
}

bool ig_pcap_filter_register(napi_env env, napi_value exports) {
  IG_EXPORT(env, exports, "pcapCompile", js_pcap_compile);
  IG_EXPORT(env, exports, "setPacketFilters", js_set_packet_filters);
  IG_EXPORT(env, exports, "pcapMatch", js_pcap_match);
  IG_EXPORT(env, exports, "progTestRunData", js_prog_test_run_data);
  return true;
}
