/* Values of the element types scipy.ndimage filters read as doubles, and
 * doubles stored back as SciPy's C loops store them (fastconv.ndimage's
 * integer and mixed-type paths): loads here, stores by the dispatch table's
 * ndstore microkernel (ukernels/ndimage-exact.h says how SciPy's stores go,
 * and runs the 32-bit ones a vector at a time). */
#include <stdint.h>
#include "fastconv/ukernel.h"

size_t fc_elem_size(fc_elem t) {
  switch (t) {
    case FC_ELEM_I8: case FC_ELEM_U8: return 1;
    case FC_ELEM_I16: case FC_ELEM_U16: return 2;
    case FC_ELEM_I32: case FC_ELEM_U32: case FC_ELEM_F32: return 4;
    case FC_ELEM_I64: case FC_ELEM_U64: case FC_ELEM_F64: return 8;
  }
  return 0;
}

#define FC_LOAD(ctype)                                            \
  do {                                                            \
    const ctype *s = (const ctype *)x;                            \
    for (int64_t i = 0; i < n; i++) d[i] = (double)s[i];          \
  } while (0)

void fc_load_doubles(fc_elem t, const void *x, int64_t n, double *d) {
  switch (t) {
    case FC_ELEM_I8: FC_LOAD(int8_t); break;
    case FC_ELEM_U8: FC_LOAD(uint8_t); break;
    case FC_ELEM_I16: FC_LOAD(int16_t); break;
    case FC_ELEM_U16: FC_LOAD(uint16_t); break;
    case FC_ELEM_I32: FC_LOAD(int32_t); break;
    case FC_ELEM_U32: FC_LOAD(uint32_t); break;
    case FC_ELEM_I64: FC_LOAD(int64_t); break;
    case FC_ELEM_U64: FC_LOAD(uint64_t); break;
    case FC_ELEM_F32: FC_LOAD(float); break;
    case FC_ELEM_F64: FC_LOAD(double); break;
  }
}

void fc_store_doubles(fc_elem t, const double *d, int64_t n, void *y, int safe) {
  if (n > 0) fc_table()->f64_ndstore(t, (size_t)n, d, y, safe);
}
