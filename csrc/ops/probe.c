/* ==== machine probes ======================================================
 * Sustained single-thread FP32 FMA throughput per ISA, for benchmarks that
 * report "% of peak", by the ISA's probe kernel (probe.inc). The loop count
 * doubles until one run lasts `seconds` (at least 5 ms); the best of three
 * runs at that count is reported. */
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include "internal.h"

static double fc_now(void) { return 1e-9 * (double)fc_clock_ns(); }

/* Seconds one run of probe e for `iters` steps takes (its result kept, so the
 * run is not optimised away). */
static double fc_probe_seconds(const fc_f32_probe_entry *e, uint64_t iters) {
  const double t0 = fc_now();
  volatile float sink = e->fn(iters);
  (void)sink;
  return fc_now() - t0;
}

double fc_probe_fma_gflops(fc_isa isa, double seconds) {
  if (isa > fc_cpu_isa()) return -1.0;
  const fc_ukernel_table *t = fc_table_for_isa(isa);
  if (!t) t = fc_table_for_isa(FC_ISA_SCALAR); /* an ISA not compiled in: the portable probe */
  const fc_f32_probe_entry *e = &t->f32_fma_probe;
  if (seconds < 0.005) seconds = 0.005;
  uint64_t iters = 1024;
  double dt = 0.0;
  for (;;) {
    dt = fc_probe_seconds(e, iters);
    if (dt >= seconds || iters > ((uint64_t)1 << 40)) break;
    iters *= 2;
  }
  for (int rep = 0; rep < 2; rep++) {
    const double d = fc_probe_seconds(e, iters);
    if (d < dt) dt = d;
  }
  return (double)iters * 2.0 * e->chains * e->lanes / dt * 1e-9;
}

/* Whether this core's AVX-512 multiply-adds run at about twice its AVX2 rate
 * (two 512-bit FMA pipes, as Intel's Xeon server cores: 162 against 92 GFLOP/s
 * by these probes on an Emerald Rapids, a ratio of 1.75-1.9) or not (AMD Zen 4
 * runs a 512-bit FMA as two 256-bit halves, at its AVX2 rate: near 1). The
 * two ISAs' probe kernels alternately on the calling thread after a warm-up,
 * ~0.03-0.05 ms a run, the best rates compared: at least three rounds, and
 * more while the ratio is in doubt (between 1.15 and 1.6), up to 24 rounds.
 * Three rounds alone had answered wrongly about once in 30 fresh processes on
 * that Xeon, whose first runs of a process reach 100-130 GFLOP/s and ratios
 * down to 1.2; decisive machines still stop after three (~0.4 ms), a doubtful
 * one within ~2.5 ms. The answer is best / best >= 1.35. 0 where the CPU or the
 * build lacks AVX-512. Measured once per process (the first caller's answer
 * stands; a fork keeps it, as its CPU). */
int fc_avx512_fma_full_rate(void) {
  static _Atomic int known = -1;
  int v = atomic_load_explicit(&known, memory_order_relaxed);
  if (v >= 0) return v;
  v = 0;
  const fc_ukernel_table *tabs[2] = {fc_table_for_isa(FC_ISA_AVX512), fc_table_for_isa(FC_ISA_AVX2)};
  if (fc_cpu_isa() >= FC_ISA_AVX512 && tabs[0] && tabs[1] && tabs[0]->f32_fma_probe.fn &&
      tabs[1]->f32_fma_probe.fn) {
    double best[2] = {0.0, 0.0};
    (void)fc_probe_seconds(&tabs[0]->f32_fma_probe, 1 << 16); /* the wide units powered up */
    for (int round = 0; round < 24; round++) {
      for (int i = 0; i < 2; i++) {
        const fc_f32_probe_entry *e = &tabs[i]->f32_fma_probe;
        const uint64_t iters = (uint64_t)(1 << 21) / (uint64_t)(e->chains * e->lanes);
        const double sec = fc_probe_seconds(e, iters);
        const double rate = (double)iters * e->chains * e->lanes / (sec > 0 ? sec : 1e-9);
        if (rate > best[i]) best[i] = rate;
      }
      if (round >= 2 && (best[0] >= 1.6 * best[1] || best[0] <= 1.15 * best[1])) break;
    }
    v = best[0] >= 1.35 * best[1];
  }
  atomic_store_explicit(&known, v, memory_order_relaxed);
  return v;
}

/* Sustained memory bandwidth of a streaming copy of n_bytes between two
 * buffers (large enough to leave the caches), with the current thread count:
 * bytes read + bytes written per second, in GB/s; best of the runs made in
 * about `seconds`. -1 if the buffers cannot be allocated. */
typedef struct {
  double *a, *b;
  int touch; /* write both ranges (first touch) instead of copying */
} fc_copy_ctx;

static void fc_copy_range(void *arg, int tid, int64_t i0, int64_t i1) {
  (void)tid;
  const fc_copy_ctx *c = arg;
  if (c->touch)
    for (int64_t i = i0; i < i1; i++) c->a[i] = (double)i, c->b[i] = 0.0;
  else
    memcpy(c->b + i0, c->a + i0, (size_t)(i1 - i0) * sizeof(double));
}

double fc_probe_copy_gbps(int64_t n_bytes, double seconds) {
  const int64_t n = n_bytes / (int64_t)sizeof(double);
  if (n < 1024) return -1.0;
  double *a = fc_alloc((size_t)n * sizeof(double)), *b = fc_alloc((size_t)n * sizeof(double));
  if (!a || !b) {
    free(a);
    free(b);
    return -1.0;
  }
  const int nt = fc_get_num_threads();
  fc_copy_ctx c = {a, b, 1};
  /* first touch by the threads that copy, so pages are mapped before timing */
  if (fc_parallel_for(nt, n, 0, fc_copy_range, &c) != FC_OK) {
    free(a);
    free(b);
    return -1.0;
  }
  c.touch = 0;
  double best = 1e30, spent = 0.0;
  for (int rep = 0; rep < 3 || spent < seconds; rep++) {
    const double t0 = fc_now();
    fc_parallel_for(nt, n, 0, fc_copy_range, &c);
    const double d = fc_now() - t0;
    spent += d;
    if (d < best) best = d;
    if (rep > 1000) break;
  }
  volatile double sink = b[n / 2];
  (void)sink;
  free(a);
  free(b);
  return 2.0 * (double)n * (double)sizeof(double) / best * 1e-9;
}
