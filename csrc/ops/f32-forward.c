/* f32 inference pass in one call, and over batches across threads: the
 * template in forward-template.h at float. */
#define FORWARD fc_f32_forward
#define FORWARD_BATCHES fc_f32_forward_batches
#define T float
#define CONV2D fc_f32_conv2d
#define CONV2D_MAXPOOL fc_f32_conv2d_maxpool
#define MAX_POOL2D fc_f32_max_pool2d
#define DENSE fc_f32_dense
#define DENSE_PACKED_ELEMS fc_f32_dense_packed_elems
#define DENSE_PACK_KERNEL fc_f32_dense_pack_kernel
#define DENSE_PACKED fc_f32_dense_packed
#define RELU fc_f32_relu
#define SOFTMAX fc_f32_softmax
#define LOCAL(x) fc_f32_##x
#include "forward-template.h"
