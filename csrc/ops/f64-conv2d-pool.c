/* f64 conv2d fused with max-pool (forward and weight gradient): the template
 * in conv2d-pool-template.h at double. */
#define CONV2D_MAXPOOL fc_f64_conv2d_maxpool
#define CONV2D_MAXPOOL_BACKWARD_WEIGHT fc_f64_conv2d_maxpool_backward_weight
#define T double
#define LOCAL(x) fc_f64_##x
#define TABLE(x) f64_##x
#include "conv2d-pool-template.h"
