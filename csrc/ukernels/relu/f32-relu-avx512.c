/* f32 ReLU microkernels, AVX-512F: the forward kernels of the template in
 * relu-avx512.h at float, with plain and with streaming stores. */
#define RELU_NAME fc_f32_relu_ukernel__avx512
#define RELU_NT_NAME fc_f32_relu_nt_ukernel__avx512
#define T float
#define V __m512
#define MASK __mmask16
#define LANES 16
#define SFX ps
#include "relu-avx512.h"
