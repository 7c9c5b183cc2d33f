/* f32 max-pool microkernel for one output row of one NCHW plane, portable C:
 * the template in maxpool-scalar.h at float. */
#define NAME fc_f32_maxpool_row_ukernel__scalar
#define T float
#include "maxpool-scalar.h"
