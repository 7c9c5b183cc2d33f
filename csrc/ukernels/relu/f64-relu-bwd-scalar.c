/* f64 ReLU-gradient microkernel, portable C: the backward kernel of the template in
 * relu-scalar.h, at double. */
#define RELU_BWD_NAME fc_f64_relu_bwd_ukernel__scalar
#define T double
#include "relu-scalar.h"
