/* f64 conv2d forward: the template in conv2d-template.h at double. */
#define CONV2D fc_f64_conv2d
#define CONV2D_PLAN fc_f64_conv2d_plan
#define CONV2D_DATA_PLAN fc_f64_conv2d_data_plan
#define T double
#define LOCAL(x) fc_f64_##x
#define TABLE(x) f64_##x
#include "conv2d-template.h"
