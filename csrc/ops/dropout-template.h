/* Template of the dropout driver (training) for one dtype: each element kept
 * or zeroed by its own word of a counter-based random stream, so chunks run in
 * any order, on any thread, and give the same bits.
 *
 * The stream of a call with seed s: the 64-bit words splitmix64(s + (j + 1) *
 * golden) for j = 0, 1, ..., element 2j taking the low 32 bits of word j and
 * element 2j + 1 the high 32 bits. An element is kept when the top 24 bits of
 * its 32 are at least ceil(rate * 2^24), rate rounded to float first: the test
 * u >= rate of a float32 uniform u = k / 2^24, as NumPy's Generator.random
 * draws them (keep probability 1 - ceil(rate * 2^24) / 2^24).
 *
 * Included once by f32-dropout.c and by f64-dropout.c, which define the entry
 * point's full name DROPOUT (fc_f32_dropout, fc_f64_dropout), T (float,
 * double), BITS (uint32_t, uint64_t: T's size) and LOCAL(x), the static
 * helpers' names (fc_f32_##x, fc_f64_##x). */
#include <math.h>
#include <string.h>
#include "internal.h"

enum { FC_DROPOUT_CHUNK = 1 << 16 }; /* elements per task, even */

typedef struct {
  const T *x;
  T *y, *mask;
  uint64_t seed;
  uint32_t threshold;
  T scale;
  int64_t n;
} fc_dropout_ctx;

/* splitmix64's output function (Steele, Lea and Flood 2014): a bijective mix
 * of all 64 bits. */
static inline uint64_t LOCAL(mix64)(uint64_t z) {
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

/* scale or 0 by masking scale's bits, not by a branch: a branch on random bits
 * mispredicts at the rate's odds (compilers turn a select of two floats into one) */
static inline T LOCAL(keep)(const fc_dropout_ctx *c, uint32_t word) {
  BITS bits;
  T k;
  memcpy(&bits, &c->scale, sizeof bits);
  bits &= (BITS)0 - (BITS)((word >> 8) >= c->threshold);
  memcpy(&k, &bits, sizeof k);
  return k;
}

/* Elements [i0, i1), i0 even. */
static void LOCAL(dropout_span)(const fc_dropout_ctx *c, int64_t i0, int64_t i1) {
  const uint64_t golden = UINT64_C(0x9E3779B97F4A7C15);
  uint64_t s = c->seed + (uint64_t)(i0 / 2 + 1) * golden;
  const T *x = c->x;
  T *y = c->y, *mask = c->mask;
  int64_t i = i0;
  for (; i + 2 <= i1; i += 2, s += golden) {
    const uint64_t w = LOCAL(mix64)(s);
    const T k0 = LOCAL(keep)(c, (uint32_t)w), k1 = LOCAL(keep)(c, (uint32_t)(w >> 32));
    y[i] = x[i] * k0;
    y[i + 1] = x[i + 1] * k1;
    if (mask) {
      mask[i] = k0;
      mask[i + 1] = k1;
    }
  }
  if (i < i1) {
    const T k0 = LOCAL(keep)(c, (uint32_t)LOCAL(mix64)(s));
    y[i] = x[i] * k0;
    if (mask) mask[i] = k0;
  }
}

static void LOCAL(dropout_tasks)(void *arg, int tid, int64_t t0, int64_t t1) {
  (void)tid;
  const fc_dropout_ctx *c = arg;
  LOCAL(dropout_span)(c, t0 * FC_DROPOUT_CHUNK, fc_min64(c->n, t1 * FC_DROPOUT_CHUNK));
}

int DROPOUT(int64_t n, const T *x, T *y, T *mask, uint64_t seed, double rate, double scale) {
  if (n < 0 || !(rate >= 0.0 && rate < 1.0)) return FC_EINVAL;
  /* float32(rate) * 2^24 is exact in double; its ceiling is at most 2^24 */
  fc_dropout_ctx c = {x, y, mask, seed, (uint32_t)ceil((double)(float)rate * 16777216.0),
                      (T)scale, n};
  const int64_t tasks = fc_ceil_div(n, FC_DROPOUT_CHUNK);
  const int nt = fc_threads_for(FC_NS_BYTES(fc_sat_mul(3 * (int64_t)sizeof(T), n)) + n, tasks);
  if (nt <= 1) {
    LOCAL(dropout_span)(&c, 0, n);
    return FC_OK;
  }
  return fc_parallel_for(nt, tasks, 0, LOCAL(dropout_tasks), &c);
}
