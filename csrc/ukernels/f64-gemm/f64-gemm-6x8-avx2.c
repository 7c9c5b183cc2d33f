/* f64 GEMM microkernel, 6x8 tile, AVX2 + FMA: 12 ymm accumulators; per k step
 * two loads of B, six broadcasts of A and twelve FMAs. The body is the template
 * in ../gemm-avx2-6x2.h. */
#define FC_GEMM_NAME fc_f64_gemm_ukernel_6x8__avx2
#define T double
#define V __m256d
#define LANES 4
#define SFX pd
#define SSFX sd
#include "../gemm-avx2-6x2.h"
