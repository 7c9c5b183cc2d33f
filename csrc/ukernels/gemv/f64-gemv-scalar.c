/* f64 small-batch dense product and sparse row product, portable C. */
#define NAME fc_f64_gemv_ukernel__scalar
#define SPARSE_NAME fc_f64_gemv_sparse_ukernel__scalar
#define T double
#include "gemv-scalar.h"
