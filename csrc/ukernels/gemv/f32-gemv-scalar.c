/* f32 small-batch dense product and sparse row product, portable C. */
#define NAME fc_f32_gemv_ukernel__scalar
#define SPARSE_NAME fc_f32_gemv_sparse_ukernel__scalar
#define T float
#include "gemv-scalar.h"
