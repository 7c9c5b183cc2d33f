/* f64 ReLU microkernels, portable C: the forward kernel of the template in
 * relu-scalar.h at double, also as the streaming line (the same loop). */
#define RELU_NAME fc_f64_relu_ukernel__scalar
#define RELU_NT_NAME fc_f64_relu_nt_ukernel__scalar
#define T double
#include "relu-scalar.h"
