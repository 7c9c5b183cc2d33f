/* Template of the AVX2 transpose microkernels: square blocks of BLOCK values by
 * the includer's block function, the edges by transpose-vec4.h's 4x4 blocks.
 *
 * The including file defines T (float, double), V (__m256, __m256d), SFX (ps,
 * pd), BLOCK (8, 4), TRANSPOSE_NAME and VEC4_NAME, includes this once, and
 * then defines the block function declared here,
 *   d[p * ldd + j] = s[j * lds + p] for p, j < BLOCK,
 * on fc_rows_pair's loads: rows j and j + BLOCK / 2 of a block's half-width
 * columns in one register's two 128-bit lanes (a load and an insert from
 * memory, which costs no shuffle). */
#include <immintrin.h>
#include "fastconv/ukernel.h"
#include "transpose-vec4.h"

#define FC_CAT2(a, b) a##b
#define FC_CAT(a, b) FC_CAT2(a, b)

/* rows 0 and BLOCK / 2 of s (lds apart), columns p .. p + BLOCK / 2 - 1 */
static inline V fc_rows_pair(const T *s, size_t lds, size_t p) {
  return FC_CAT(_mm256_insertf128_, SFX)(
      FC_CAT(FC_CAT(FC_CAT(_mm256_cast, SFX), 128_), FC_CAT(SFX, 256))(FC_CAT(_mm_loadu_, SFX)(s + p)),
      FC_CAT(_mm_loadu_, SFX)(s + BLOCK / 2 * lds + p), 1);
}

static inline void fc_transpose_block(const T *s, size_t lds, T *d, size_t ldd);

void TRANSPOSE_NAME(size_t np, size_t nj, const T *restrict src, size_t lds, T *restrict dst,
                    size_t ldd) {
  const size_t npb = np / BLOCK * BLOCK, njb = nj / BLOCK * BLOCK;
  for (size_t j = 0; j < njb; j += BLOCK)
    for (size_t p = 0; p < npb; p += BLOCK)
      fc_transpose_block(src + j * lds + p, lds, dst + p * ldd + j, ldd);
  /* the columns past the last block of the blocked rows, then the rows past them */
  if (npb < np) (void)VEC4_NAME(np - npb, njb, src + npb, lds, dst + npb * ldd, ldd, 0);
  if (njb < nj) (void)VEC4_NAME(np, nj - njb, src + njb * lds, lds, dst + njb, ldd, 0);
}

#undef FC_CAT2
#undef FC_CAT
