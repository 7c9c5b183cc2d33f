/* f32 max-pool microkernel for one output row of one NHWC image, portable C:
 * the template in maxpool-nhwc-scalar.h at float. */
#define NAME fc_f32_maxpool_nhwc_ukernel__scalar
#define T float
#include "maxpool-nhwc-scalar.h"
