/* f32 ReLU-gradient microkernel, portable C: the backward kernel of the template in
 * relu-scalar.h, at float. */
#define RELU_BWD_NAME fc_f32_relu_bwd_ukernel__scalar
#define T float
#include "relu-scalar.h"
