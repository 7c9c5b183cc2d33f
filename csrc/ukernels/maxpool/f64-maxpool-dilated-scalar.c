/* f64 max-pool microkernel for one output row of one NCHW plane, dilated
 * windows, portable C: the template in maxpool-dilated-scalar.h at double. */
#define NAME fc_f64_maxpool_row_dilated_ukernel__scalar
#define T double
#include "maxpool-dilated-scalar.h"
