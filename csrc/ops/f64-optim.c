/* f64 optimizer update drivers: the template in optim-template.h at double. */
#define ADAM_UPDATE fc_f64_adam_update
#define T double
#define ADAM_UKERNEL fc_f64_adam_ukernel
#define ADAM_PARAMS fc_f64_adam_params
#define TABLE_ADAM f64_adam
#define LOCAL(x) fc_f64_##x
#include "optim-template.h"
