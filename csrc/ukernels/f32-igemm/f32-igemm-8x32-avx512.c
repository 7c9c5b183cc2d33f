/* f32 indirect-GEMM microkernel, 8x32 tile, AVX-512F: 16 zmm accumulators;
 * per step two loads of B, eight broadcasts and sixteen FMAs. The body is the
 * template in ../igemm-avx512-x2.h. */
#define FC_IGEMM_NAME fc_f32_igemm_ukernel_8x32__avx512
#define MR 8
#define T float
#define V __m512
#define K __mmask16
#define LANES 16
#define SFX ps
#include "../igemm-avx512-x2.h"
