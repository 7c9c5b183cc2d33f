/* f32 indirect-GEMM microkernel, 12x32 tile, AVX-512F: 24 zmm accumulators;
 * per step two loads of B, twelve broadcasts and twenty-four FMAs, for short
 * row counts such as a 3x3 single-channel kernel gradient's nine (tap,
 * channel) rows. The body is the template in ../igemm-avx512-x2.h. */
#define FC_IGEMM_NAME fc_f32_igemm_ukernel_12x32__avx512
#define MR 12
#define T float
#define V __m512
#define K __mmask16
#define LANES 16
#define SFX ps
#include "../igemm-avx512-x2.h"
