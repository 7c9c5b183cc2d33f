/* f32 GEMM microkernel, 6x16 tile, AVX2 + FMA: 12 ymm accumulators; per k step
 * two loads of B, six broadcasts of A and twelve FMAs. The body is the template
 * in ../gemm-avx2-6x2.h. */
#define FC_GEMM_NAME fc_f32_gemm_ukernel_6x16__avx2
#define T float
#define V __m256
#define LANES 8
#define SFX ps
#define SSFX ss
#include "../gemm-avx2-6x2.h"
