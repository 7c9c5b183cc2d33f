/* f64 ReLU microkernel, portable C: the forward kernel of the template in
 * relu-scalar.h, at double. */
#define RELU_NAME fc_f64_relu_ukernel__scalar
#define T double
#include "relu-scalar.h"
