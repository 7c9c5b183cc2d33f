/* FMA-throughput probe, AVX-512F: `iters` steps of 12 independent zmm FMA
 * chains. Returns lane 0 of their sum, a value derived from every chain so
 * the compiler keeps them. 12 * 16 * 2 flops per step. */
#include <immintrin.h>
#include <stdint.h>

float fc_f32_fma_probe__avx512(uint64_t iters) {
  __m512 acc[12];
  const __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
  for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_ps((float)i);
  for (uint64_t t = 0; t < iters; t++) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++) acc[i] = _mm512_fmadd_ps(acc[i], m, a);
  }
  __m512 s = acc[0];
  for (int i = 1; i < 12; i++) s = _mm512_add_ps(s, acc[i]);
  return _mm512_cvtss_f32(s); /* lane 0, as every probe returns */
}
