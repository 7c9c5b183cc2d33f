/* f64 max-pool microkernel for one output row of one NHWC image, dilated
 * windows, portable C: the template in maxpool-nhwc-dilated-scalar.h at double. */
#define NAME fc_f64_maxpool_nhwc_dilated_ukernel__scalar
#define T double
#include "maxpool-nhwc-dilated-scalar.h"
