/* f32 max-pool microkernel for one output row of one NCHW plane, dilated
 * windows, portable C: the template in maxpool-dilated-scalar.h at float. */
#define NAME fc_f32_maxpool_row_dilated_ukernel__scalar
#define T float
#include "maxpool-dilated-scalar.h"
