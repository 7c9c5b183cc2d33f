/* f64 dropout driver: the template in dropout-template.h at double. */
#define DROPOUT fc_f64_dropout
#define T double
#define BITS uint64_t
#define LOCAL(x) fc_f64_##x
#include "dropout-template.h"
