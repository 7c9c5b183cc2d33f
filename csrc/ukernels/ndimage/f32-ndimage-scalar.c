/* f32 ndimage microkernels (scalar): the template in ../ndimage-exact.h with
 * float inputs and outputs and double arithmetic, 8 outputs per pass. */
#define T float
#define NR 8
#define VL 2
#define LINE fc_f32_ndline_ukernel__scalar
#define RUNSUM fc_f32_runsum_ukernel__scalar
#define RUNLINES fc_f32_runlines_ukernel__scalar
#include "../ndimage-exact.h"
