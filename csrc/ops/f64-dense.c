/* f64 dense layer products (forward, gradients, backward + Adam): the
 * template in dense-template.h at double. */
#define DENSE fc_f64_dense
#define DENSE_PLAN fc_f64_dense_plan
#define DENSE_BACKWARD fc_f64_dense_backward
#define DENSE_BACKWARD_PLAN fc_f64_dense_backward_plan
#define DENSE_BACKWARD_ADAM fc_f64_dense_backward_adam
#define T double
#define LOCAL(x) fc_f64_##x
#define TABLE(x) f64_##x
#include "dense-template.h"
