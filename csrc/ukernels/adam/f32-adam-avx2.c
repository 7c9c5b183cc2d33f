/* f32 Adam microkernel, AVX2, 8 lanes: the scalar kernel's IEEE operations in
 * the same order (explicit mul/add, no FMA), so the bits are the scalar
 * kernel's; sqrt and division run 8 at a time, which is what bounds this step
 * (it is not memory-bound at these rates). The scalar kernel does the tail. */
#include <immintrin.h>
#include "fastconv/ukernel.h"

void fc_f32_adam_ukernel__avx2(size_t n, float *restrict p, const float *restrict g,
                               float *restrict m, float *restrict v, const fc_f32_adam_params *c) {
  const __m256 a = _mm256_set1_ps(c->a), c1 = _mm256_set1_ps(c->c1), c2 = _mm256_set1_ps(c->c2);
  const __m256 eps = _mm256_set1_ps(c->eps), tiny = _mm256_set1_ps(FC_F32_ADAM_FLOOR);
  const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    /* p loaded before the stores of m and v (the AVX-512 kernel's comment) */
    const __m256 gi = _mm256_loadu_ps(g + i), m0 = _mm256_loadu_ps(m + i), v0 = _mm256_loadu_ps(v + i);
    const __m256 p0 = _mm256_loadu_ps(p + i);
    __m256 mi = _mm256_add_ps(m0, _mm256_mul_ps(_mm256_sub_ps(gi, m0), c1));
    __m256 vi = _mm256_add_ps(v0, _mm256_mul_ps(_mm256_sub_ps(_mm256_mul_ps(gi, gi), v0), c2));
    /* moments below 2^-100 -> +0, as the scalar kernel */
    mi = _mm256_andnot_ps(_mm256_cmp_ps(_mm256_and_ps(mi, magnitude), tiny, _CMP_LT_OQ), mi);
    vi = _mm256_andnot_ps(_mm256_cmp_ps(_mm256_and_ps(vi, magnitude), tiny, _CMP_LT_OQ), vi);
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
    const __m256 step = _mm256_div_ps(_mm256_mul_ps(a, mi), _mm256_add_ps(_mm256_sqrt_ps(vi), eps));
    _mm256_storeu_ps(p + i, _mm256_sub_ps(p0, step));
  }
  if (i < n) fc_f32_adam_ukernel__scalar(n - i, p + i, g + i, m + i, v + i, c);
}
