/* f32 conv2d fused with max-pool (forward and weight gradient): the template
 * in conv2d-pool-template.h at float. */
#define CONV2D_MAXPOOL fc_f32_conv2d_maxpool
#define CONV2D_MAXPOOL_BACKWARD_WEIGHT fc_f32_conv2d_maxpool_backward_weight
#define T float
#define LOCAL(x) fc_f32_##x
#define TABLE(x) f32_##x
#include "conv2d-pool-template.h"
