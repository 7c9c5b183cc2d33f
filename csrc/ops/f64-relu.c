/* f64 relu driver, forward and backward: the template in relu-template.h at double. */
#define RELU fc_f64_relu
#define RELU_BACKWARD fc_f64_relu_backward
#define RELU_PLAN fc_f64_relu_plan
#define T double
#define UNARY_UKERNEL fc_f64_unary_ukernel
#define BINARY_UKERNEL fc_f64_binary_ukernel
#define TABLE_RELU f64_relu
#define TABLE_RELU_BWD f64_relu_bwd
#define TABLE_RELU_NT f64_relu_nt
#define LOCAL(x) fc_f64_##x
#include "relu-template.h"
