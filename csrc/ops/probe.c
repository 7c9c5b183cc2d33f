/* ==== machine probes ======================================================
 * Sustained single-thread FP32 FMA throughput per ISA, for benchmarks that
 * report "% of peak". The loop count doubles until one run lasts `seconds`
 * (at least 5 ms); the best of three runs at that count is reported. */
#include <time.h>
#include "internal.h"

float fc_f32_fma_probe__scalar(uint64_t iters);
float fc_f32_fma_probe__avx2(uint64_t iters);
float fc_f32_fma_probe__avx512(uint64_t iters);

static double fc_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double fc_probe_fma_gflops(fc_isa isa, double seconds) {
  float (*fn)(uint64_t) = fc_f32_fma_probe__scalar;
  double flops_per_iter = 16 * 2;
  if (isa > fc_cpu_isa()) return -1.0;
#if FASTCONV_HAVE_AVX2
  if (isa == FC_ISA_AVX2) fn = fc_f32_fma_probe__avx2, flops_per_iter = 12 * 8 * 2;
#endif
#if FASTCONV_HAVE_AVX512
  if (isa == FC_ISA_AVX512) fn = fc_f32_fma_probe__avx512, flops_per_iter = 12 * 16 * 2;
#endif
  if (seconds < 0.005) seconds = 0.005;
  volatile float sink = 0.0f;
  uint64_t iters = 1024;
  double dt = 0.0;
  for (;;) {
    const double t0 = fc_now();
    sink += fn(iters);
    dt = fc_now() - t0;
    if (dt >= seconds || iters > ((uint64_t)1 << 40)) break;
    iters *= 2;
  }
  for (int rep = 0; rep < 2; rep++) {
    const double t0 = fc_now();
    sink += fn(iters);
    const double d = fc_now() - t0;
    if (d < dt) dt = d;
  }
  (void)sink;
  return (double)iters * flops_per_iter / dt * 1e-9;
}
