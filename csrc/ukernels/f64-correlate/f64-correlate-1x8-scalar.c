/* f64 correlation row microkernel, portable C, 8 outputs per pass: the
 * template in ../correlate-scalar.h at double. */
#define NAME fc_f64_correlate_ukernel_1x8__scalar
#define T double
#include "../correlate-scalar.h"
