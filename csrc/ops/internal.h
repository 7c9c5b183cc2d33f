/* Helpers for the drivers in csrc/ops: checked size arithmetic, aligned
 * scratch memory, and the thread pool's interface (threads.c). */
#ifndef FASTCONV_OPS_INTERNAL_H
#define FASTCONV_OPS_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include "boundary.h"
#include "fastconv/ukernel.h"

/* Marks what the library's own files share: not exported from libfastconv,
 * whose interface is fastconv.h and ukernel.h. */
#define FC_INTERNAL __attribute__((visibility("hidden")))

/* a * b into *out; returns 0 on overflow or a negative operand. */
static inline int fc_mul(int64_t a, int64_t b, int64_t *out) {
  if (a < 0 || b < 0) return 0;
  return !__builtin_mul_overflow(a, b, out);
}

/* Product of n non-negative sizes, or -1 on overflow. */
static inline int64_t fc_prod(int n, const int64_t *v) {
  int64_t r = 1;
  for (int i = 0; i < n; i++)
    if (!fc_mul(r, v[i], &r)) return -1;
  return r;
}

/* a * b for cost estimates (non-negative operands): saturates at INT64_MAX. */
static inline int64_t fc_sat_mul(int64_t a, int64_t b) {
  int64_t r;
  return fc_mul(a, b, &r) ? r : INT64_MAX;
}

/* CLOCK_MONOTONIC in nanoseconds. */
static inline int64_t fc_clock_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t fc_ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static inline int64_t fc_min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t fc_max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* 64-byte aligned scratch of n_bytes (n_bytes > 0), or NULL. */
static inline void *fc_alloc(size_t n_bytes) {
  const size_t rounded = (n_bytes + 63) & ~(size_t)63;
  return aligned_alloc(64, rounded ? rounded : 64);
}

/* Scratch of n_bytes for one call that may be large (weights packed whole, a
 * weight gradient's partial sums): fc_alloc's below FC_BIG_MIN_BYTES, from
 * there a large block (bigblocks.c), which fc_free_large keeps for the next
 * call instead of unmapping it. glibc maps a block that large afresh at each
 * malloc and unmaps it at free, so a call made again and again faulted in and
 * zeroed every page of it each time: NCHW (1,1024,7,7) by 1024 3x3 filters,
 * whose 37.7 MB of packed weights took about half of the call in the kernel's
 * page-fault and unmap work (perf record, AMD EPYC Zen 5). fc_free_large
 * takes the n_bytes the block was asked with. */
static inline void *fc_alloc_large(size_t n_bytes) {
  return n_bytes >= FC_BIG_MIN_BYTES ? fc_big_alloc(n_bytes, 1, 0) : fc_alloc(n_bytes);
}
static inline void fc_free_large(void *p, size_t n_bytes) {
  if (n_bytes >= FC_BIG_MIN_BYTES)
    fc_big_free(p);
  else
    free(p);
}

/* A driver's scratch for one call, as fc_alloc gives it, given back by
 * fc_scratch_give (not free). Up to FC_SCRATCH_KEEP bytes it is a block the
 * calling thread keeps between calls (threads.c), so a product called again
 * and again allocates nothing: allocating and freeing about a megabyte each
 * call (a result array and the scratch) can make glibc return the heap's top
 * to the system and fault it in again on the next call (the lecture's Dense
 * input gradient, 32x128 by 128x4732, at one thread: 0.37 ms, or 0.9 ms with
 * about 270 page faults a call after other calls had moved the heap's top;
 * AMD EPYC Zen 4). */
#define FC_SCRATCH_KEEP ((size_t)1 << 20)
FC_INTERNAL void *fc_scratch_take(size_t n_bytes);
FC_INTERNAL void fc_scratch_give(void *p);


/* ---- first-use tuning (tuning.c) ----------------------------------------------
 * The learned variant for key's product (-2: not learned yet); whether a slot
 * is left; record a choice. */
FC_INTERNAL int fc_tune_learned_variant(const fc_tune_entry *key);
FC_INTERNAL int fc_tune_learn_room(void);
FC_INTERNAL void fc_tune_learn(const fc_tune_entry *choice, int static_variant);

/* ---- a dense kernel packed once for many products (dense-template.h) --------
 * For fc_*_forward_batches: the tile for products of n rows and the packed
 * kernel's elements (-1 if too large); the packing; and fc_*_dense with the
 * packed kernel beside w, on the calling thread, to fc_*_dense's bits. */
FC_INTERNAL int64_t fc_f32_dense_packed_elems(int64_t n, int64_t k, int64_t m, int *variant);
FC_INTERNAL int64_t fc_f64_dense_packed_elems(int64_t n, int64_t k, int64_t m, int *variant);
FC_INTERNAL void fc_f32_dense_pack_kernel(int64_t k, int64_t m, const float *w, int variant,
                                          float *dst);
FC_INTERNAL void fc_f64_dense_pack_kernel(int64_t k, int64_t m, const double *w, int variant,
                                          double *dst);
FC_INTERNAL int fc_f32_dense_packed(int64_t n, int64_t k, int64_t m, const float *x,
                                    const float *w, const float *wpack, int variant,
                                    const float *bias, float *y);
FC_INTERNAL int fc_f64_dense_packed(int64_t n, int64_t k, int64_t m, const double *x,
                                    const double *w, const double *wpack, int variant,
                                    const double *bias, double *y);

/* ---- the thread pool ------------------------------------------------------------
 * A region is a function run once by each of `team` threads, tid 0 .. team-1
 * (tid 0 is the calling thread). Regions hold no barriers: each thread's share
 * depends only on (tid, team), and anything that combines the shares runs
 * after fc_parallel returns. */
typedef void (*fc_region_fn)(void *ctx, int tid, int team);

/* Runs fn(ctx, tid, team) on `team` threads and returns when all are done.
 * FC_OK, or FC_ETHREAD when a worker thread could not be started (then no
 * thread ran any of it). team <= 1, and a call from inside a region, run
 * fn(ctx, 0, 1) on the calling thread. */
FC_INTERNAL int fc_parallel(int team, fc_region_fn fn, void *ctx);

/* The loop body of fc_parallel_for: indices [i0, i1) on thread tid. */
typedef void (*fc_range_fn)(void *ctx, int tid, int64_t i0, int64_t i1);

/* fn over [0, n) on `team` threads: with grain 0, one contiguous share per
 * thread (fc_share's); with grain > 0, chunks of `grain` claimed by whichever
 * thread is free, each thread first through a contiguous range of its own,
 * then through the others' remaining chunks (threads.c says why). Returns as
 * fc_parallel. */
FC_INTERNAL int fc_parallel_for(int team, int64_t n, int64_t grain, fc_range_fn fn, void *ctx);

/* Tasks [0, n) handed out to a region's threads as fc_parallel_for's dynamic
 * loop hands out its chunks: each thread first through a contiguous range of
 * its own, then through the others' remaining tasks. A thread's neighbouring
 * tasks stay on it, and from call to call the same thread gets the same range
 * while none is late, so tasks that write neighbouring memory do not have two
 * cores fighting over the lines between them (threads.c). */
enum { FC_CLAIM_RANGES = 16 }; /* ranges at most; threads past that share them */
typedef struct {
  int64_t n, grain;
  int ranges;
  struct {
    _Alignas(64) _Atomic int64_t next; /* the range's next task; a cache line each */
  } at[FC_CLAIM_RANGES];
} fc_claims;

/* Ready c for n tasks claimed `grain` at a time (grain >= 1) by `team` threads. */
FC_INTERNAL void fc_claims_init(fc_claims *c, int64_t n, int64_t grain, int team);

/* The next tasks [i0, *i1) for thread tid, i0 returned; -1 when none is
 * left. *step starts at 0 and belongs to the calling thread. */
FC_INTERNAL int64_t fc_claims_next(fc_claims *c, int tid, int *step, int64_t *i1);

/* Thread tid's contiguous share [*i0, *i1) of n units, in thread order (so
 * partial results added in thread order are bitwise reproducible at a fixed
 * team size). n * team must fit in int64. */
static inline void fc_share(int64_t n, int tid, int team, int64_t *i0, int64_t *i1) {
  *i0 = n * tid / team, *i1 = n * (tid + 1) / team;
}

/* Threads for a region whose single-thread run time is about `work_ns`
 * nanoseconds (estimate it with the macros below): serial under ~50 us, where
 * waking a team and its spinning afterwards cost more than they save (and
 * steal the cores NumPy's BLAS threads are about to use). */
FC_INTERNAL int fc_threads_for(int64_t work_ns, int64_t max_tasks);
#define FC_NS_FLOPS(flops) ((flops) / FC_CORE_GFLOPS)      /* costs.def */
#define FC_NS_BYTES(bytes) ((bytes) / FC_CORE_BYTES_PER_NS) /* costs.def */


/* ---- plans (fastconv.h) -------------------------------------------------------- */
/* Keeps `plan` as the calling thread's last plan; returns nonzero when the
 * thread is in plan-only mode (the driver then returns FC_OK at once). */
FC_INTERNAL int fc_record_plan(const fc_plan *plan);

/* An empty plan for the table in use: algorithm, kernel NULL, all sizes 0, one thread. */
static inline void fc_plan_init(fc_plan *pl, const fc_ukernel_table *tab) {
  *pl = (fc_plan){0};
  pl->threads = 1;
  pl->isa = tab->isa;
}

/* a + b and a * b for scratch estimates: saturate at INT64_MAX (b may be
 * negative: an estimate adjusted down, as NCHW's packed weights against
 * NHWC's slices on many threads) */
static inline int64_t fc_sat_add(int64_t a, int64_t b) {
  int64_t s;
  return __builtin_add_overflow(a, b, &s) ? (b > 0 ? INT64_MAX : INT64_MIN) : s;
}

#endif
