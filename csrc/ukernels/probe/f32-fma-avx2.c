/* FMA-throughput probe, AVX2: `iters` steps of 12 independent ymm FMA chains
 * (enough to cover 4-cycle latency on two FMA pipes). Returns a value derived
 * from every chain so the compiler keeps them. 12 * 8 * 2 flops per step. */
#include <immintrin.h>
#include <stdint.h>

float fc_f32_fma_probe__avx2(uint64_t iters) {
  __m256 acc[12];
  const __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
  for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps((float)i);
  for (uint64_t t = 0; t < iters; t++) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], m, a);
  }
  __m256 s = acc[0];
  for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, acc[i]);
  return _mm256_cvtss_f32(s);
}
