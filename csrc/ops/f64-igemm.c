/* f64 indirect GEMM: tile choice, row pointers, tile sweeps and conv2d's
 * indirect-GEMM driver; the template in igemm-template.h at double. */
#define T double
#define LOCAL(x) fc_f64_##x
#define TABLE(x) f64_##x
#include "igemm-template.h"
