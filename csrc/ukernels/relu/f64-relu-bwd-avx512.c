/* f64 ReLU-gradient microkernel, AVX-512F: the backward kernel of the template in
 * relu-avx512.h, at double. */
#define RELU_BWD_NAME fc_f64_relu_bwd_ukernel__avx512
#define T double
#define V __m512d
#define MASK __mmask8
#define LANES 8
#define SFX pd
#include "relu-avx512.h"
