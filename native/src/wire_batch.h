/* Wire batches (wire_batch.c): the packet codec's batch frame written from record bytes in C, values from memos.
 * Shared with wire_stream.c, which writes the same frames on a reader's poll thread. */
#ifndef IG_NATIVE_WIRE_BATCH_H
#define IG_NATIVE_WIRE_BATCH_H

#include "addon.h"

#include <pthread.h>

#define IG_WKEY_MAX 64
#define IG_WRANGES_MAX 8
#define IG_WFRAME_HEADER 8
#define IG_WTAG_STRING 9

enum { IG_WVAL_MEMO = 1, IG_WVAL_WALL = 2 };

/* A growing byte buffer (frames, value columns). */
typedef struct {
  uint8_t *p;
  size_t len, cap;
} ig_wbuf;

typedef struct {
  uint64_t hash;
  uint64_t expires_ns; /* 0: never */
  uint8_t *frag;       /* NULL: free slot */
  uint32_t frag_len, aux;
  uint16_t key_len;
  uint8_t key[IG_WKEY_MAX];
} ig_wentry;

typedef struct {
  uint32_t kind;
  uint64_t ttl_ns;
  uint32_t off; /* IG_WVAL_WALL: the u64's offset in the record */
  uint32_t nranges;
  uint32_t ranges[IG_WRANGES_MAX][2];
  uint32_t need; /* bytes of the record the key reads */
  uint32_t used;
  ig_wentry *tab;
  ig_wentry *last;
  uint64_t gen; /* changes whenever an entry is added, replaced or freed (entries seen before may be stale) */
  bool wall_next; /* IG_WVAL_WALL: a new second's text may come from the last one's (IG_WIRE_WALL_NEXT, wire_batch.c) */
  /* per call: the key of the last miss (a run of records with one new key is reported once) */
  uint16_t miss_len;
  uint8_t miss_key[IG_WKEY_MAX];
} ig_wval;

typedef struct ig_wire {
  uint32_t magic;
  uint32_t ds_id, record_bytes;
  ig_wval *vals;
  size_t nvals;
  ig_wbuf out; /* the frame being written (reused between calls) */
  const ig_wentry **frags; /* per call: the entry of each (value, record) */
  size_t nfrags;
  int32_t *misses;
  size_t nmisses, cap_misses;
  bool closed; /* wireBatchClose: memos released, encode refused */
  uint64_t gen; /* changes with any value's gen (a fill or clear from JS): one check for all memos (wire_stream.c) */
  /* The memos are read by a reader's poll thread too (wire_stream.c): every use of them holds mu. */
  pthread_mutex_t mu;
  int refs; /* atomic: the JS handle + readers */
} ig_wire;

/* Unwrap a wire batch handle (throws a TypeError otherwise); a reader keeps its own reference. */
ig_wire *ig_wire_arg(napi_env env, napi_value v);
void ig_wire_ref(ig_wire *w);
void ig_wire_unref(ig_wire *w);

/* The memo entry of record `rec` for value v (NULL: a miss). Caller holds w->mu. */
const ig_wentry *ig_wlookup(ig_wval *v, const uint8_t *rec, uint64_t now_ns);

bool ig_wroom(ig_wbuf *b, size_t n);
/* Unsigned LEB128; the caller made room for 10 bytes. */
static inline void ig_wput_uvar(ig_wbuf *b, uint64_t v) {
  uint8_t *p = b->p + b->len;
  while (v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  b->len = (size_t)(p - b->p);
}
/* One record as codec.ts writes it: (length, encoded length u32, segments of buf[start, start+span) without its
 * trailing zeros). */
bool ig_wput_record(ig_wbuf *b, const uint8_t *buf, size_t start, size_t len, size_t span);
/* A value's bytes from its memo entry (NULL: a wall-clock value of 0, the empty string); `rec` for the digits of
 * a wall-clock text. */
bool ig_wput_value(ig_wbuf *b, const ig_wval *v, const ig_wentry *e, const uint8_t *rec);

/* wire_stream.c: batch frames written on a reader's poll thread (reader.c's wire mode). */
typedef struct ig_wire_stream ig_wire_stream;
enum { IG_WSTREAM_OK = 0, IG_WSTREAM_MISS = 1 };
/* A stream for `w` (referenced until freed); `clock` holds 16-byte entries of fixes to each record before it is
 * encoded: (u32 offset, u32 0, u64 addend): a boot-clock u64 the formatters rewrite to wall clock in place (0 stays
 * 0); (u32 offset, u32 IG_WFIX_STRING_TAIL, u64 size): a C string array whose bytes after its first NUL are
 * cleared (wire_stream.c). NULL when out of memory. */
#define IG_WFIX_STRING_TAIL 1u
ig_wire_stream *ig_wire_stream_new(ig_wire *w, const uint8_t *clock, size_t clock_len);
void ig_wire_stream_free(ig_wire_stream *s);
/* Append one record: IG_WSTREAM_MISS when a value has no memo entry, the record is shorter than the frame needs,
 * or the memos are closed (nothing appended then: the record goes to JS). */
int ig_wire_stream_add(ig_wire_stream *s, const uint8_t *rec, size_t size, uint64_t now_ns);
uint32_t ig_wire_stream_count(const ig_wire_stream *s);
/* Bytes of the frame of the records appended so far. */
size_t ig_wire_stream_size(const ig_wire_stream *s);
/* Write that frame to dst (ig_wire_stream_size bytes; NULL: drop it) and start a new one. */
void ig_wire_stream_take(ig_wire_stream *s, uint8_t *dst);

#endif
