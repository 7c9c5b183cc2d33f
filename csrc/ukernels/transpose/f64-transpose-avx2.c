/* f64 transpose microkernel, AVX2: 4x4 blocks of doubles, each row pair of a
 * block's 2-column halves in one register (transpose-avx2.h), then 4 in-lane
 * unpacks make the 4 output rows. Only copies values. */
#define T double
#define V __m256d
#define SFX pd
#define BLOCK 4
#define TRANSPOSE_NAME fc_f64_transpose_ukernel__avx2
#define VEC4_NAME fc_f64_transpose_vec4
#include "transpose-avx2.h"

static inline void fc_transpose_block(const double *s, size_t lds, double *d, size_t ldd) {
  const __m256d a0 = fc_rows_pair(s, lds, 0), a1 = fc_rows_pair(s + lds, lds, 0);
  const __m256d b0 = fc_rows_pair(s, lds, 2), b1 = fc_rows_pair(s + lds, lds, 2);
  _mm256_storeu_pd(d, _mm256_unpacklo_pd(a0, a1));
  _mm256_storeu_pd(d + ldd, _mm256_unpackhi_pd(a0, a1));
  _mm256_storeu_pd(d + 2 * ldd, _mm256_unpacklo_pd(b0, b1));
  _mm256_storeu_pd(d + 3 * ldd, _mm256_unpackhi_pd(b0, b1));
}
