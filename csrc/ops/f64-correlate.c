/* f64 1-D, 2-D and N-d correlation drivers: the template in
 * correlate-template.h at double. The N-d row kernel adds into y (SciPy's order). */
#define CORRELATE1D fc_f64_correlate1d
#define CORRELATE2D fc_f64_correlate2d
#define CORRELATE2D_STACKED fc_f64_correlate2d_stacked
#define CORRELATEND fc_f64_correlatend
#define CORRELATEND_FINITE fc_f64_correlatend_finite
#define T double
#define CORRELATE_UKERNEL fc_f64_correlate_ukernel
#define TABLE_CORRELATE f64_correlate
#define TABLE_NDCORRELATE f64_ndcorrelate
#define TYPED_IO 1 /* fc_correlatend_typed */
#define ND_ACCUMULATES 1
#define LOCAL(x) fc_f64_##x
#include "correlate-template.h"
