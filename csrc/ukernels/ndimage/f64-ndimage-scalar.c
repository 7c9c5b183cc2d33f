/* f64 ndimage microkernels (scalar): the template in ../ndimage-exact.h at
 * double, 8 outputs per pass. */
#define T double
#define NR 8
#define VL 2
#define LINE fc_f64_ndline_ukernel__scalar
#define RUNSUM fc_f64_runsum_ukernel__scalar
#define RUNLINES fc_f64_runlines_ukernel__scalar
#define ACC fc_f64_ndcorrelate_ukernel__scalar
#define STORE fc_f64_ndstore_ukernel__scalar
#include "../ndimage-exact.h"
