/* f32 GEMM microkernel, 4x8 tile, portable C (the fallback on every CPU): a
 * 4x8 local accumulator array kept in registers. The body is the template in
 * ../gemm-scalar.h. */
#define FC_GEMM_NAME fc_f32_gemm_ukernel_4x8__scalar
#define MR 4
#define NR 8
#define T float
#include "../gemm-scalar.h"
