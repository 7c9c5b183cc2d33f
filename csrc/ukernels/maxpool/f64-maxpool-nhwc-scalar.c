/* f64 max-pool microkernel for one output row of one NHWC image, portable C:
 * the template in maxpool-nhwc-scalar.h at double. */
#define NAME fc_f64_maxpool_nhwc_ukernel__scalar
#define T double
#include "maxpool-nhwc-scalar.h"
