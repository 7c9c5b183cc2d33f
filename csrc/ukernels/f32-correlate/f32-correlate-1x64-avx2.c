/* f32 correlation row microkernel, AVX2 + FMA, 64 outputs per pass: the
 * template in ../correlate-avx2.h at float. */
#define NAME fc_f32_correlate_ukernel_1x64__avx2
#define T float
#define V __m256
#define LANES 8
#define SFX ps
#include "../correlate-avx2.h"
