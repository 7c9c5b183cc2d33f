/* f64 inference pass in one call, and over batches across threads: the
 * template in forward-template.h at double. */
#define FORWARD fc_f64_forward
#define FORWARD_BATCHES fc_f64_forward_batches
#define T double
#define CONV2D fc_f64_conv2d
#define CONV2D_MAXPOOL fc_f64_conv2d_maxpool
#define MAX_POOL2D fc_f64_max_pool2d
#define DENSE fc_f64_dense
#define DENSE_PACKED_ELEMS fc_f64_dense_packed_elems
#define DENSE_PACK_KERNEL fc_f64_dense_pack_kernel
#define DENSE_PACKED fc_f64_dense_packed
#define RELU fc_f64_relu
#define SOFTMAX fc_f64_softmax
#define LOCAL(x) fc_f64_##x
#include "forward-template.h"
