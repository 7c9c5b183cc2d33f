/* f32 ReLU microkernels, AVX2: the forward kernels of the template in
 * relu-avx2.h at float, with plain and with streaming stores. */
#define RELU_NAME fc_f32_relu_ukernel__avx2
#define RELU_NT_NAME fc_f32_relu_nt_ukernel__avx2
#define T float
#define V __m256
#define LANES 8
#define SFX ps
#include "relu-avx2.h"
