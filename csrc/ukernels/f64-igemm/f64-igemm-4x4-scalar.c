/* f64 indirect-GEMM microkernel, 4x4 tile, portable C (the fallback on every
 * CPU): a 4x4 local accumulator array kept in registers. The body is the
 * template in ../igemm-scalar.h. */
#define FC_IGEMM_NAME fc_f64_igemm_ukernel_4x4__scalar
#define MR 4
#define NR 4
#define T double
#include "../igemm-scalar.h"
