/* f64 instances of maxpool-code-scalar.h */
#define T double
#define NAME fc_f64_maxpool_code_ukernel__scalar
#define UNPOOL_NAME fc_f64_unpool_code_ukernel__scalar
#include "maxpool-code-scalar.h"
