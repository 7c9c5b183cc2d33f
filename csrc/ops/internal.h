/* Helpers for the drivers in csrc/ops: checked size arithmetic, aligned
 * scratch memory and the thread count for one parallel region. */
#ifndef FASTCONV_OPS_INTERNAL_H
#define FASTCONV_OPS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include "fastconv/ukernel.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* thread counts feed only OpenMP clauses, which a serial build drops */
#define FC_MAYBE_UNUSED __attribute__((unused))

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

static inline int64_t fc_ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static inline int64_t fc_min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t fc_max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* 64-byte aligned scratch of n_bytes (n_bytes > 0), or NULL. */
static inline void *fc_alloc(size_t n_bytes) {
  const size_t rounded = (n_bytes + 63) & ~(size_t)63;
  return aligned_alloc(64, rounded ? rounded : 64);
}

/* Inside a parallel region: the calling thread's index, and its contiguous share
 * [*u0, *u1) of `units` in thread order (so partial results added in thread order
 * are bitwise reproducible at a fixed thread count). */
static inline int fc_thread_share(int64_t units, int64_t *u0, int64_t *u1) {
#ifdef _OPENMP
  const int tid = omp_get_thread_num(), team = omp_get_num_threads();
#else
  const int tid = 0, team = 1;
#endif
  *u0 = units * tid / team, *u1 = units * (tid + 1) / team;
  return tid;
}

/* Threads for a region whose single-thread run time is about `work_ns`
 * nanoseconds (estimate it with the macros below): serial under ~50 us, where
 * waking a team and its spinning afterwards cost more than they save (and
 * steal the cores NumPy's BLAS threads are about to use). */
int fc_threads_for(int64_t work_ns, int64_t max_tasks);
#define FC_NS_FLOPS(flops) ((flops) / 64)     /* ~64 GFLOP/s on one core */
#define FC_NS_BYTES(bytes) ((bytes) / 8)      /* ~8 GB/s on one core */

#endif
