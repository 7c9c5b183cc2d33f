/* f32 GEMM microkernel, 8x32 tile, AVX-512F: 16 zmm accumulators; per k step
 * two loads of B, eight broadcasts of A and sixteen FMAs. The body is the
 * template in ../gemm-avx512-x2.h. */
#define FC_GEMM_NAME fc_f32_gemm_ukernel_8x32__avx512
#define MR 8
#define T float
#define V __m512
#define K __mmask16
#define LANES 16
#define SFX ps
#include "../gemm-avx512-x2.h"
