/* f64 indirect-GEMM microkernel, 6x8 tile, AVX2 + FMA (convolution without
 * im2col): 12 ymm accumulators; per step two loads of B, six broadcasts and
 * twelve FMAs. The body is the template in ../igemm-avx2-6x2.h. */
#define FC_IGEMM_NAME fc_f64_igemm_ukernel_6x8__avx2
#define T double
#define V __m256d
#define LANES 4
#define SFX pd
#define SSFX sd
#include "../igemm-avx2-6x2.h"
