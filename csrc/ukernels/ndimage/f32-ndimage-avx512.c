/* f32 ndimage microkernels (avx512): the template in ../ndimage-exact.h with
 * float inputs and outputs and double arithmetic, 32 outputs per pass, in
 * 256-bit vectors (AVX-512VL): widening 8 floats into a 512-bit vector costs
 * more than twice widening 4 on an AMD EPYC Zen 4 (gaussian taps: 12.2
 * cycles per output against 10.4 for 41 taps, 2.8 against 2.4 for 9). */
#include <immintrin.h>

#define T float
#define NR 32
#define VL 4
#define WIDEN(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
#define LINE fc_f32_ndline_ukernel__avx512
#define RUNSUM fc_f32_runsum_ukernel__avx512
#define RUNLINES fc_f32_runlines_ukernel__avx512
#include "../ndimage-exact.h"
