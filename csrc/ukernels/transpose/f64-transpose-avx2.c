/* f64 transpose microkernel, AVX2: 4x4 blocks of doubles, rows j and j + 2
 * of a block's 2-column halves loaded into one register's two 128-bit lanes
 * (a load and an insert from memory), then 4 in-lane unpacks make the 4
 * output rows; the edges go by transpose-vec4.h. Only copies values. */
#include <immintrin.h>
#include "fastconv/ukernel.h"
#define T double
#define VEC4_NAME fc_f64_transpose_vec4
#include "transpose-vec4.h"

/* rows j and j + 2 of src, columns p, p + 1, as (row j | row j + 2) */
static inline __m256d fc_rows_pair(const double *s, size_t lds, size_t p) {
  return _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(s + p)),
                              _mm_loadu_pd(s + 2 * lds + p), 1);
}

void fc_f64_transpose_ukernel__avx2(size_t np, size_t nj, const double *restrict src, size_t lds,
                                    double *restrict dst, size_t ldd) {
  const size_t np4 = np & ~(size_t)3, nj4 = nj & ~(size_t)3;
  for (size_t j = 0; j < nj4; j += 4) {
    const double *s = src + j * lds;
    for (size_t p = 0; p < np4; p += 4) {
      const __m256d a0 = fc_rows_pair(s, lds, p), a1 = fc_rows_pair(s + lds, lds, p);
      const __m256d b0 = fc_rows_pair(s, lds, p + 2), b1 = fc_rows_pair(s + lds, lds, p + 2);
      double *d = dst + p * ldd + j;
      _mm256_storeu_pd(d, _mm256_unpacklo_pd(a0, a1));
      _mm256_storeu_pd(d + ldd, _mm256_unpackhi_pd(a0, a1));
      _mm256_storeu_pd(d + 2 * ldd, _mm256_unpacklo_pd(b0, b1));
      _mm256_storeu_pd(d + 3 * ldd, _mm256_unpackhi_pd(b0, b1));
    }
  }
  if (np4 < np) (void)fc_f64_transpose_vec4(np - np4, nj4, src + np4, lds, dst + np4 * ldd, ldd, 0);
  if (nj4 < nj) (void)fc_f64_transpose_vec4(np, nj - nj4, src + nj4 * lds, lds, dst + nj4, ldd, 0);
}
