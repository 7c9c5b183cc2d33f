/* f32 relu driver, forward and backward: the template in relu-template.h at float. */
#define RELU fc_f32_relu
#define RELU_BACKWARD fc_f32_relu_backward
#define RELU_PLAN fc_f32_relu_plan
#define T float
#define UNARY_UKERNEL fc_f32_unary_ukernel
#define BINARY_UKERNEL fc_f32_binary_ukernel
#define TABLE_RELU f32_relu
#define TABLE_RELU_BWD f32_relu_bwd
#define TABLE_RELU_NT f32_relu_nt
#define LOCAL(x) fc_f32_##x
#include "relu-template.h"
