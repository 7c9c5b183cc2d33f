/* f64 correlation row microkernel, AVX-512F, 64 outputs per pass (128 on rows
 * of 256 taps or more): the template in ../correlate-avx512.h at double. */
#define NAME fc_f64_correlate_ukernel_1x64__avx512
#define T double
#define V __m512d
#define MASK __mmask8
#define LANES 8
#define SFX pd
#include "../correlate-avx512.h"
