/* f32 ReLU microkernel, portable C: the forward kernel of the template in
 * relu-scalar.h, at float. */
#define RELU_NAME fc_f32_relu_ukernel__scalar
#define T float
#include "relu-scalar.h"
