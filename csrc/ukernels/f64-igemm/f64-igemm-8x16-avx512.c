/* f64 indirect-GEMM microkernel, 8x16 tile, AVX-512F: 16 zmm accumulators;
 * per step two loads of B, eight broadcasts and sixteen FMAs. The body is the
 * template in ../igemm-avx512-x2.h. */
#define FC_IGEMM_NAME fc_f64_igemm_ukernel_8x16__avx512
#define MR 8
#define T double
#define V __m512d
#define K __mmask8
#define LANES 8
#define SFX pd
#include "../igemm-avx512-x2.h"
