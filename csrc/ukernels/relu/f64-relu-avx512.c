/* f64 ReLU microkernel, AVX-512F: the forward kernel of the template in
 * relu-avx512.h, at double. */
#define RELU_NAME fc_f64_relu_ukernel__avx512
#define T double
#define V __m512d
#define MASK __mmask8
#define LANES 8
#define SFX pd
#include "relu-avx512.h"
