/* f64 correlation row microkernel, AVX2 + FMA, 32 outputs per pass: the
 * template in ../correlate-avx2.h at double. */
#define NAME fc_f64_correlate_ukernel_1x32__avx2
#define T double
#define V __m256d
#define LANES 4
#define SFX pd
#include "../correlate-avx2.h"
