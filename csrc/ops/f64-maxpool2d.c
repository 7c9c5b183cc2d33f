/* f64 max_pool2d drivers, forward and backward: the template in
 * maxpool2d-template.h at double. */
#define MAX_POOL2D fc_f64_max_pool2d
#define MAX_POOL2D_PLAN fc_f64_max_pool2d_plan
#define MAX_POOL2D_BACKWARD fc_f64_max_pool2d_backward
#define MAX_POOL2D_BACKWARD_PLAN fc_f64_max_pool2d_backward_plan
#define T double
#define MAXPOOL_UKERNEL fc_f64_maxpool_ukernel
#define TABLE_MAXPOOL_ROW f64_maxpool_row
#define TABLE_MAXPOOL_ROW_DILATED f64_maxpool_row_dilated
#define TABLE_MAXPOOL_NHWC f64_maxpool_nhwc
#define TABLE_MAXPOOL_NHWC_DILATED f64_maxpool_nhwc_dilated
#define MAXPOOL_ROW_SCALAR fc_f64_maxpool_row_ukernel__scalar
#define MAXPOOL_ROW_DILATED_SCALAR fc_f64_maxpool_row_dilated_ukernel__scalar
#define LOCAL(x) fc_f64_##x
#include "maxpool2d-template.h"
