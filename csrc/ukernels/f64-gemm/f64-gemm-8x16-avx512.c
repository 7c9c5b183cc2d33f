/* f64 GEMM microkernel, 8x16 tile, AVX-512F: 16 zmm accumulators; per k step
 * two loads of B, eight broadcasts of A and sixteen FMAs. The body is the
 * template in ../gemm-avx512-x2.h. */
#define FC_GEMM_NAME fc_f64_gemm_ukernel_8x16__avx512
#define MR 8
#define T double
#define V __m512d
#define K __mmask8
#define LANES 8
#define SFX pd
#include "../gemm-avx512-x2.h"
