/* f64 ndimage microkernels (avx512): the template in ../ndimage-exact.h at
 * double, 32 outputs per pass. */
#include <immintrin.h>

#define T double
#define NR 32
#define VL 8
#define CVTT32(p) _mm512_cvttpd_epi32(_mm512_loadu_pd(p)) /* INT32_MIN out of range */
#define LINE fc_f64_ndline_ukernel__avx512
#define RUNSUM fc_f64_runsum_ukernel__avx512
#define RUNLINES fc_f64_runlines_ukernel__avx512
#define ACC fc_f64_ndcorrelate_ukernel__avx512
#define STORE fc_f64_ndstore_ukernel__avx512
#include "../ndimage-exact.h"
