/* f64 ReLU microkernels, AVX-512F: the forward kernels of the template in
 * relu-avx512.h at double, with plain and with streaming stores. */
#define RELU_NAME fc_f64_relu_ukernel__avx512
#define RELU_NT_NAME fc_f64_relu_nt_ukernel__avx512
#define T double
#define V __m512d
#define MASK __mmask8
#define LANES 8
#define SFX pd
#include "relu-avx512.h"
