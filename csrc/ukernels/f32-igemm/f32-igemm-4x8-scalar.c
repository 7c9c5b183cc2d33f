/* f32 indirect-GEMM microkernel, 4x8 tile, portable C (the fallback on every
 * CPU): a 4x8 local accumulator array kept in registers. The body is the
 * template in ../igemm-scalar.h. */
#define FC_IGEMM_NAME fc_f32_igemm_ukernel_4x8__scalar
#define MR 4
#define NR 8
#define T float
#include "../igemm-scalar.h"
