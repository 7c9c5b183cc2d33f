/* The boundary index rules (fc_boundary, fastconv.h): where a position
 * outside an axis reads from. Used by the drivers (correlate-template.h,
 * filter1d-template.h) and by the C tests, so the rule is written once. */
#ifndef FASTCONV_OPS_BOUNDARY_H
#define FASTCONV_OPS_BOUNDARY_H

#include <stdint.h>
#include "fastconv/fastconv.h"

static inline int fc_boundary_valid(fc_boundary b) {
  return b == FC_BOUNDARY_FILL || b == FC_BOUNDARY_WRAP || b == FC_BOUNDARY_SYMM ||
         b == FC_BOUNDARY_MIRROR || b == FC_BOUNDARY_NEAREST;
}

/* Index g of an axis of length n >= 1 extended by `boundary`, as an index into
 * [0, n), or -1 for the fill value. SYMM is scipy.signal's reflect_symm_index
 * (ndimage 'reflect'), WRAP its circular_wrap_index; MIRROR and NEAREST are
 * ndimage's NI_ExtendLine / NI_InitFilterOffsets rules. */
static inline int64_t fc_boundary_map(int64_t g, int64_t n, fc_boundary boundary) {
  if (g >= 0 && g < n) return g;
  switch (boundary) {
    case FC_BOUNDARY_WRAP: {
      const int64_t r = g % n;
      return r < 0 ? r + n : r;
    }
    case FC_BOUNDARY_SYMM: {
      const int64_t k = (g >= 0 ? g : -(g + 1)) % (2 * n);
      return k >= n ? 2 * n - k - 1 : k;
    }
    case FC_BOUNDARY_MIRROR: {
      if (n == 1) return 0;
      const int64_t period = 2 * n - 2, k = (g >= 0 ? g : -g) % period;
      return k >= n ? period - k : k;
    }
    case FC_BOUNDARY_NEAREST: return g < 0 ? 0 : n - 1;
    default: return -1;
  }
}

#endif
