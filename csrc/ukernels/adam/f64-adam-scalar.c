/* f64 Adam microkernel, portable C: the template in adam-scalar.h at double. */
#define NAME fc_f64_adam_ukernel__scalar
#define T double
#define PARAMS fc_f64_adam_params
#define ABS fabs
#define SQRT sqrt
#define TINY FC_F64_ADAM_FLOOR
#include "adam-scalar.h"
