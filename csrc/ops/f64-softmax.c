/* f64 softmax driver: the template in softmax-template.h at double. */
#define SOFTMAX fc_f64_softmax
#define T double
#define EXP exp
#define LOCAL(x) fc_f64_##x
#include "softmax-template.h"
