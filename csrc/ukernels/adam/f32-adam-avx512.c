/* f32 Adam microkernel, AVX-512F, 16 lanes: the scalar kernel's IEEE
 * operations in the same order (explicit mul/add, no FMA), so the bits are the
 * scalar kernel's; sqrt and division run 16 at a time. Masked tail. */
#include <immintrin.h>
#include "fastconv/ukernel.h"

static inline __attribute__((always_inline)) void fc_adam16(float *p, const float *g, float *m,
                                                            float *v, __mmask16 k, __m512 a,
                                                            __m512 c1, __m512 c2, __m512 eps) {
  /* p loaded with the others, before the stores of m and v: p, m and v
   * (arrays of one size) are often the same distance from a 4 KiB boundary,
   * and a load after a store to such an address waits for that store */
  const __m512 gi = _mm512_maskz_loadu_ps(k, g), m0 = _mm512_maskz_loadu_ps(k, m);
  const __m512 v0 = _mm512_maskz_loadu_ps(k, v), p0 = _mm512_maskz_loadu_ps(k, p);
  const __m512 tiny = _mm512_set1_ps(FC_F32_ADAM_FLOOR);
  __m512 mi = _mm512_add_ps(m0, _mm512_mul_ps(_mm512_sub_ps(gi, m0), c1));
  __m512 vi = _mm512_add_ps(v0, _mm512_mul_ps(_mm512_sub_ps(_mm512_mul_ps(gi, gi), v0), c2));
  /* moments below 2^-100 -> +0, as the scalar kernel */
  mi = _mm512_maskz_mov_ps(~_mm512_cmp_ps_mask(_mm512_abs_ps(mi), tiny, _CMP_LT_OQ), mi);
  vi = _mm512_maskz_mov_ps(~_mm512_cmp_ps_mask(_mm512_abs_ps(vi), tiny, _CMP_LT_OQ), vi);
  _mm512_mask_storeu_ps(m, k, mi);
  _mm512_mask_storeu_ps(v, k, vi);
  const __m512 step = _mm512_div_ps(_mm512_mul_ps(a, mi), _mm512_add_ps(_mm512_sqrt_ps(vi), eps));
  _mm512_mask_storeu_ps(p, k, _mm512_sub_ps(p0, step));
}

void fc_f32_adam_ukernel__avx512(size_t n, float *restrict p, const float *restrict g,
                                 float *restrict m, float *restrict v, const fc_f32_adam_params *c) {
  const __m512 a = _mm512_set1_ps(c->a), c1 = _mm512_set1_ps(c->c1), c2 = _mm512_set1_ps(c->c2);
  const __m512 eps = _mm512_set1_ps(c->eps);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) fc_adam16(p + i, g + i, m + i, v + i, (__mmask16)0xFFFF, a, c1, c2, eps);
  if (i < n) fc_adam16(p + i, g + i, m + i, v + i, (__mmask16)((1u << (n - i)) - 1u), a, c1, c2, eps);
}
