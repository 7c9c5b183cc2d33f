/* f32 drivers of scipy.ndimage's 1-D filters along one axis: the template in
 * filter1d-template.h at float. */
#define CORRELATE_AXIS fc_f32_correlate_axis
#define UNIFORM_AXIS fc_f32_uniform_axis
#define T float
#define NDLINE_UKERNEL fc_f32_ndline_ukernel
#define RUNSUM_UKERNEL fc_f32_runsum_ukernel
#define RUNLINES_UKERNEL fc_f32_runlines_ukernel
#define TABLE_NDLINE f32_ndline
#define TABLE_RUNSUM f32_runsum
#define TABLE_RUNLINES f32_runlines
#define LOCAL(x) fc_f32_##x
#include "filter1d-template.h"
