/* Value pieces (gadgetctl's -o json of received batch frames; render_pieces.h).
 *
 * A received trace_open record carries 24 materialised values (container and Kubernetes fields, user and group
 * names, flag/mode/errno texts, the timestamp, the executable), most of them the same from record to record in a
 * storm. Put into 4096-byte string slots and JSON-escaped by the plan for every record they were ~40 % of the
 * client's render. Here each value's JSON text is made once per distinct encoded value (render_buffer.c compares
 * the encoded bytes with the last ones), and the plan copies it (OP_PIECE). Adjacent pieces with only literals
 * between them (the k8s and runtime objects: 15 values) form a run, copied as one cached text while none of its
 * pieces changed: a run has a version bumped with any of its pieces' texts (a piece knows its runs), so its
 * version is unchanged exactly when none of them changed. */
#include "render_pieces.h"

#include <stdlib.h>
#include <string.h>

typedef ig_piece piece;

typedef struct {
  uint32_t val, lit_off, lit_len;
} part;

typedef struct {
  part *parts;
  uint32_t nparts;
  uint8_t *lits;
  size_t nlits;
  uint8_t *text; /* the run's text (NULL: none yet) */
  size_t len, cap;
  uint64_t ver;    /* bumped with any of its pieces' texts */
  uint64_t sig;    /* its version when the text was made */
  uint32_t misses; /* consecutive renders with a changed piece */
} run;

struct ig_pieces {
  uint32_t nvals;
  piece *v;
  run *runs;
  uint32_t nruns, cap_runs;
};

/* A run that missed this many times in a row (a piece that changes per record: the timestamp) stops keeping its
 * text, and tries again every 256th miss. */
#define RUN_MISSES_KEPT 4

ig_pieces *ig_pieces_new(uint32_t nvals) {
  ig_pieces *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->nvals = nvals;
  s->v = calloc(nvals ? nvals : 1, sizeof *s->v);
  if (!s->v) {
    free(s);
    return NULL;
  }
  return s;
}

void ig_pieces_free(ig_pieces *s) {
  if (!s) return;
  for (uint32_t j = 0; j < s->nvals; j++) {
    free(s->v[j].text);
    free(s->v[j].raw);
    free(s->v[j].runs);
  }
  for (uint32_t k = 0; k < s->nruns; k++) {
    free(s->runs[k].parts);
    free(s->runs[k].lits);
    free(s->runs[k].text);
  }
  free(s->runs);
  free(s->v);
  free(s);
}

uint32_t ig_pieces_nvals(const ig_pieces *s) { return s->nvals; }

int ig_pieces_add_run(ig_pieces *s) {
  if (s->nruns == s->cap_runs) {
    uint32_t nc = s->cap_runs ? s->cap_runs * 2 : 8;
    run *nr = realloc(s->runs, nc * sizeof *nr);
    if (!nr) return -1;
    s->runs = nr;
    s->cap_runs = nc;
  }
  memset(&s->runs[s->nruns], 0, sizeof(run));
  return (int)s->nruns++;
}

bool ig_pieces_run_part(ig_pieces *s, int ri, uint32_t val, const uint8_t *lit, size_t lit_len) {
  if (ri < 0 || (uint32_t)ri >= s->nruns || val >= s->nvals) return false;
  run *r = &s->runs[ri];
  part *np = realloc(r->parts, (r->nparts + 1) * sizeof *np);
  if (!np) return false;
  r->parts = np;
  if (lit_len) {
    uint8_t *nl = realloc(r->lits, r->nlits + lit_len);
    if (!nl) return false;
    r->lits = nl;
    memcpy(r->lits + r->nlits, lit, lit_len);
  }
  piece *pc = &s->v[val];
  uint32_t *nr = realloc(pc->runs, (pc->nruns + 1) * sizeof *nr);
  if (!nr) return false;
  pc->runs = nr;
  pc->runs[pc->nruns++] = (uint32_t)ri;
  r->parts[r->nparts++] = (part){.val = val, .lit_off = (uint32_t)r->nlits, .lit_len = (uint32_t)lit_len};
  r->nlits += lit_len;
  pc->used = true;
  return true;
}

/* The piece's text changed: so did its runs'. */
static void bump(ig_pieces *s, piece *pc) {
  pc->ver++;
  for (uint32_t k = 0; k < pc->nruns; k++) s->runs[pc->runs[k]].ver++;
}

ig_piece *ig_pieces_all(ig_pieces *s) { return s->v; }

static bool grow(uint8_t **p, uint32_t *cap, size_t n) {
  if (n <= *cap) return true;
  size_t nc = n < 64 ? 64 : n;
  uint8_t *np = realloc(*p, nc);
  if (!np) return false;
  *p = np;
  *cap = (uint32_t)nc;
  return true;
}

bool ig_pieces_set(ig_pieces *s, uint32_t val, const uint8_t *raw, size_t raw_len, const uint8_t *text, size_t text_len) {
  piece *pc = &s->v[val];
  if (raw_len > UINT32_MAX || text_len > UINT32_MAX || !grow(&pc->raw, &pc->raw_cap, raw_len) || !grow(&pc->text, &pc->cap, text_len)) return false;
  memcpy(pc->raw, raw, raw_len);
  pc->raw_len = (uint32_t)raw_len;
  memcpy(pc->text, text, text_len);
  pc->len = (uint32_t)text_len;
  bump(s, pc);
  return true;
}

/* Exactly n bytes: most pieces and literals are short, where a call of memcpy costs more than the copy. */
static inline void copy_piece(uint8_t *d, const uint8_t *s, size_t n) {
  if (n > 32) {
    memcpy(d, s, n);
  } else if (n >= 16) {
    uint8_t a[16], b[16];
    memcpy(a, s, 16);
    memcpy(b, s + n - 16, 16);
    memcpy(d, a, 16);
    memcpy(d + n - 16, b, 16);
  } else if (n >= 8) {
    uint64_t a, b;
    memcpy(&a, s, 8);
    memcpy(&b, s + n - 8, 8);
    memcpy(d, &a, 8);
    memcpy(d + n - 8, &b, 8);
  } else if (n >= 4) {
    uint32_t a, b;
    memcpy(&a, s, 4);
    memcpy(&b, s + n - 4, 4);
    memcpy(d, &a, 4);
    memcpy(d + n - 4, &b, 4);
  } else {
    for (size_t i = 0; i < n; i++) d[i] = s[i];
  }
}

uint8_t *ig_pieces_text_room(ig_pieces *s, uint32_t val, size_t n) {
  piece *pc = &s->v[val];
  if (n > UINT32_MAX || !grow(&pc->text, &pc->cap, n)) return NULL;
  return pc->text;
}

bool ig_pieces_commit(ig_pieces *s, uint32_t val, const uint8_t *raw, size_t raw_len, size_t len) {
  piece *pc = &s->v[val];
  if (raw_len > UINT32_MAX || !grow(&pc->raw, &pc->raw_cap, raw_len)) {
    /* its text was overwritten: made from no encoded value now (no value's bytes are empty), runs re-made */
    pc->raw_len = 0;
    bump(s, pc);
    return false;
  }
  memcpy(pc->raw, raw, raw_len);
  pc->raw_len = (uint32_t)raw_len;
  pc->len = (uint32_t)len;
  bump(s, pc);
  return true;
}

uint64_t ig_pieces_run_sig(const ig_pieces *s, uint32_t ri) { return s->runs[ri].ver; }

uint8_t *ig_pieces_put(ig_pieces *s, uint32_t ri, uint8_t *w) {
  run *r = &s->runs[ri];
  if (r->nparts == 1) {
    const piece *pc = &s->v[r->parts[0].val];
    copy_piece(w, pc->text, pc->len);
    return w + pc->len;
  }
  uint64_t sig = ig_pieces_run_sig(s, ri);
  if (r->text && r->sig == sig) {
    r->misses = 0;
    memcpy(w, r->text, r->len);
    return w + r->len;
  }
  uint8_t *w0 = w;
  for (uint32_t k = 0; k < r->nparts; k++) {
    const part *pt = &r->parts[k];
    const piece *pc = &s->v[pt->val];
    copy_piece(w, r->lits + pt->lit_off, pt->lit_len);
    w += pt->lit_len;
    copy_piece(w, pc->text, pc->len);
    w += pc->len;
  }
  r->misses++;
  if (r->misses <= RUN_MISSES_KEPT || (r->misses & 255) == 0) {
    size_t n = (size_t)(w - w0);
    if (n > r->cap) {
      uint8_t *nt = realloc(r->text, n);
      if (!nt) return w; /* not kept: rendered from its pieces next time too */
      r->text = nt;
      r->cap = n;
    }
    memcpy(r->text, w0, n);
    r->len = n;
    r->sig = sig;
  }
  return w;
}
