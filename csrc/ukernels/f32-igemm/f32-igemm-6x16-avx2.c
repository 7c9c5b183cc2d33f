/* f32 indirect-GEMM microkernel, 6x16 tile, AVX2 + FMA (convolution without
 * im2col): 12 ymm accumulators; per step two loads of B, six broadcasts and
 * twelve FMAs. The body is the template in ../igemm-avx2-6x2.h. */
#define FC_IGEMM_NAME fc_f32_igemm_ukernel_6x16__avx2
#define T float
#define V __m256
#define LANES 8
#define SFX ps
#define SSFX ss
#include "../igemm-avx2-6x2.h"
