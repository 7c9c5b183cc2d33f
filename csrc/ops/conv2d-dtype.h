/* One dtype's instance of the conv2d, dense and fused conv+pool drivers.
 * conv2d.c defines T (float, double) and DT (f32, f64), then includes this
 * once per dtype. The names the drivers use -- FC_(x) for the
 * dtype's functions and types, the table slots and microkernel types -- all
 * follow from DT, and everything is undefined at the end. */
#define FC_PASTE_(a, b) a##b
#define FC_PASTE(a, b) FC_PASTE_(a, b)
#define FC_(x) FC_PASTE(FC_PASTE(fc_, DT), _##x)
#define GEMM FC_PASTE(DT, _gemm)
#define IGEMM FC_PASTE(DT, _igemm)
#define IGEMM_ENTRY_T FC_(igemm_entry)
#define MAXPOOL_CODE FC_PASTE(DT, _maxpool_code)
#define MAXPOOL_CODE_T FC_(maxpool_code_ukernel)
#define UNPOOL_CODE FC_PASTE(DT, _unpool_code)
#define UNPOOL_CODE_T FC_(unpool_code_ukernel)
#define ADAM_PARAMS_T FC_(adam_params)
#define ADAM_UKERNEL_T FC_(adam_ukernel)
#define ADAM_UK FC_PASTE(DT, _adam)
#define GEMV_UK FC_PASTE(DT, _gemv)
#define GEMV_UKERNEL_T FC_(gemv_ukernel)
#define CONVPOOL FC_PASTE(DT, _convpool)
#include "conv2d-impl.h"
#include "conv2d-backward-impl.h"
#include "dense-impl.h"
#include "conv2d-pool-impl.h"
#undef FC_PASTE_
#undef FC_PASTE
#undef FC_
#undef GEMM
#undef IGEMM
#undef IGEMM_ENTRY_T
#undef MAXPOOL_CODE
#undef MAXPOOL_CODE_T
#undef UNPOOL_CODE
#undef UNPOOL_CODE_T
#undef ADAM_PARAMS_T
#undef ADAM_UKERNEL_T
#undef ADAM_UK
#undef GEMV_UK
#undef GEMV_UKERNEL_T
#undef CONVPOOL
#undef T
#undef DT
