/* f32 max-pool microkernel for one output row of one NHWC image, dilated
 * windows, portable C: the template in maxpool-nhwc-dilated-scalar.h at float. */
#define NAME fc_f32_maxpool_nhwc_dilated_ukernel__scalar
#define T float
#include "maxpool-nhwc-dilated-scalar.h"
