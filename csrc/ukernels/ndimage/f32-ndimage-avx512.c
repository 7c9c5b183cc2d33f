/* f32 ndimage microkernels (avx512): the template in ../ndimage-exact.h with
 * float inputs and outputs and double arithmetic, 32 outputs per pass. */
#define T float
#define NR 32
#define LINE fc_f32_ndline_ukernel__avx512
#define RUNSUM fc_f32_runsum_ukernel__avx512
#define RUNMEAN fc_f32_runmean_ukernel__avx512
#include "../ndimage-exact.h"
