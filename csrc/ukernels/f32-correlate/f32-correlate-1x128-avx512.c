/* f32 correlation row microkernel, AVX-512F, 128 outputs per pass: the
 * template in ../correlate-avx512.h at float. */
#define NAME fc_f32_correlate_ukernel_1x128__avx512
#define T float
#define V __m512
#define MASK __mmask16
#define LANES 16
#define SFX ps
#include "../correlate-avx512.h"
