/* f64 small-batch dense product, portable C. */
#define NAME fc_f64_gemv_ukernel__scalar
#define T double
#include "gemv-scalar.h"
