/* f32 conv2d backward (weight, bias and input gradients): the template in
 * conv2d-backward-template.h at float. */
#define CONV2D_BACKWARD_WEIGHT fc_f32_conv2d_backward_weight
#define CONV2D_BACKWARD_WEIGHT_PLAN fc_f32_conv2d_backward_weight_plan
#define CONV2D_BACKWARD_BIAS fc_f32_conv2d_backward_bias
#define CONV2D_BACKWARD_BIAS_PLAN fc_f32_conv2d_backward_bias_plan
#define CONV2D_INPUT_GRAD fc_f32_conv2d_input_grad
#define CONV2D_INPUT_GRAD_PLAN fc_f32_conv2d_input_grad_plan
#define T float
#define LOCAL(x) fc_f32_##x
#define TABLE(x) f32_##x
#include "conv2d-backward-template.h"
