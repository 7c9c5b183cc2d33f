/* f64 ndimage microkernels (avx2): the template in ../ndimage-exact.h at
 * double, 16 outputs per pass. */
#include <immintrin.h>

#define T double
#define NR 16
#define VL 4
#define CVTT32(p) _mm256_cvttpd_epi32(_mm256_loadu_pd(p)) /* INT32_MIN out of range */
/* 8 doubles as CVTT32 converts them, the low byte of each stored (wrapped) */
static inline void fc_bytes8_avx2(void *o, const double *d) {
  const __m128i low = _mm_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m128i a = _mm_shuffle_epi8(CVTT32(d), low), b = _mm_shuffle_epi8(CVTT32(d + 4), low);
  _mm_storel_epi64((__m128i *)o, _mm_unpacklo_epi32(a, b));
}
#define BYTES8(o, d) fc_bytes8_avx2(o, d)
#define LINE fc_f64_ndline_ukernel__avx2
#define RUNSUM fc_f64_runsum_ukernel__avx2
#define RUNLINES fc_f64_runlines_ukernel__avx2
#define ACC fc_f64_ndcorrelate_ukernel__avx2
#define STORE fc_f64_ndstore_ukernel__avx2
#include "../ndimage-exact.h"
