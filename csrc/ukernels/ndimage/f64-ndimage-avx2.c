/* f64 ndimage microkernels (avx2): the template in ../ndimage-exact.h at
 * double, 16 outputs per pass. */
#include <immintrin.h>

#define T double
#define NR 16
#define VL 4
#define CVTT32(p) _mm256_cvttpd_epi32(_mm256_loadu_pd(p)) /* INT32_MIN out of range */
#define LINE fc_f64_ndline_ukernel__avx2
#define RUNSUM fc_f64_runsum_ukernel__avx2
#define RUNMEAN fc_f64_runmean_ukernel__avx2
#define ACC fc_f64_ndcorrelate_ukernel__avx2
#define STORE fc_f64_ndstore_ukernel__avx2
#include "../ndimage-exact.h"
