/* f64 max-pool microkernel for one output row of one NCHW plane, portable C:
 * the template in maxpool-scalar.h at double. */
#define NAME fc_f64_maxpool_row_ukernel__scalar
#define T double
#include "maxpool-scalar.h"
