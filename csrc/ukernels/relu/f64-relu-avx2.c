/* f64 ReLU microkernels, AVX2: the forward kernels of the template in
 * relu-avx2.h at double, with plain and with streaming stores. */
#define RELU_NAME fc_f64_relu_ukernel__avx2
#define RELU_NT_NAME fc_f64_relu_nt_ukernel__avx2
#define T double
#define V __m256d
#define LANES 4
#define SFX pd
#include "relu-avx2.h"
