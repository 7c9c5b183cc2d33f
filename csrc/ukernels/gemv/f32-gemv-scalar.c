/* f32 small-batch dense product, portable C. */
#define NAME fc_f32_gemv_ukernel__scalar
#define T float
#include "gemv-scalar.h"
