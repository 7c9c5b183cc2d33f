/* f64 softmax driver and cross-entropy head: the template in softmax-template.h at double. */
#define SOFTMAX fc_f64_softmax
#define SOFTMAX_XENT fc_f64_softmax_xent
#define T double
#define TABLE_SOFTMAX f64_softmax
#define LOCAL(x) fc_f64_##x
#include "softmax-template.h"
