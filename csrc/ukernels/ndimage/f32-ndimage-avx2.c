/* f32 ndimage microkernels (avx2): the template in ../ndimage-exact.h with
 * float inputs and outputs and double arithmetic, 16 outputs per pass. */
#include <immintrin.h>

#define T float
#define NR 16
#define VL 4
#define WIDEN(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
#define LINE fc_f32_ndline_ukernel__avx2
#define RUNSUM fc_f32_runsum_ukernel__avx2
#define RUNLINES fc_f32_runlines_ukernel__avx2
#include "../ndimage-exact.h"
