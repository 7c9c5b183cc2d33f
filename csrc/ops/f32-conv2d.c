/* f32 conv2d forward: the template in conv2d-template.h at float. */
#define CONV2D fc_f32_conv2d
#define CONV2D_PLAN fc_f32_conv2d_plan
#define CONV2D_DATA_PLAN fc_f32_conv2d_data_plan
#define T float
#define LOCAL(x) fc_f32_##x
#define TABLE(x) f32_##x
#include "conv2d-template.h"
