/* Values of the element types scipy.ndimage filters read as doubles, and
 * doubles stored back as SciPy's C loops store them (fastconv.ndimage's
 * integer and mixed-type paths; the one definition of those stores).
 *
 * SciPy's NI_* loops cast a double to the output's C type. On x86-64 that is
 * cvttsd2si: truncation toward zero through a 32-bit integer for the 8- to
 * 32-bit signed and the 8- and 16-bit unsigned types, through a 64-bit one
 * for uint32 and the 64-bit types; NaN and values beyond that integer give
 * its minimum, which is then wrapped to the target (what ndimage.py's _c_cast
 * spells out in NumPy). uint64 goes through the signed 64-bit conversion
 * above 2**63 too; `safe` is NI_Correlate's unsigned store, which negates
 * around the conversion below zero (only uint64 differs). The range tests
 * give the same on a double as on its truncation, their bounds being
 * integers. */
#include <stdint.h>
#include "fastconv/fastconv.h"

static inline int32_t fc_cvt32(double t) { /* (in 32 bits, so that the loops vectorise) */
  return (t >= -2147483648.0 && t < 2147483648.0) ? (int32_t)t : INT32_MIN;
}

static inline int64_t fc_cvt64(double t) {
  return (t >= -9223372036854775808.0 && t < 9223372036854775808.0) ? (int64_t)t : INT64_MIN;
}

static inline uint64_t fc_cvtu64(double t) {
  if (t >= 9223372036854775808.0) return (uint64_t)fc_cvt64(t - 9223372036854775808.0) ^ (1ULL << 63);
  return (uint64_t)fc_cvt64(t);
}

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

/* (the casts from int64_t to the narrower types wrap: C defines it for the
 * unsigned ones, GCC and Clang for the signed ones) */
#define FC_STORE(ctype, cvt)                                      \
  do {                                                            \
    ctype *o = (ctype *)y;                                        \
    for (int64_t i = 0; i < n; i++) o[i] = (ctype)cvt(d[i]);      \
  } while (0)

void fc_store_doubles(fc_elem t, const double *d, int64_t n, void *y, int safe) {
  switch (t) {
    case FC_ELEM_I8: FC_STORE(int8_t, fc_cvt32); break;
    case FC_ELEM_U8: FC_STORE(uint8_t, fc_cvt32); break;
    case FC_ELEM_I16: FC_STORE(int16_t, fc_cvt32); break;
    case FC_ELEM_U16: FC_STORE(uint16_t, fc_cvt32); break;
    case FC_ELEM_I32: FC_STORE(int32_t, fc_cvt32); break;
    case FC_ELEM_U32: FC_STORE(uint32_t, fc_cvt64); break;
    case FC_ELEM_I64: FC_STORE(int64_t, fc_cvt64); break;
    case FC_ELEM_U64: {
      uint64_t *o = (uint64_t *)y;
      for (int64_t i = 0; i < n; i++) {
        const double v = d[i];
        o[i] = safe && !(v > -1) ? (uint64_t)0 - fc_cvtu64(-v) : fc_cvtu64(v);
      }
      break;
    }
    case FC_ELEM_F32: FC_STORE(float, (float)); break;
    case FC_ELEM_F64: FC_STORE(double, (double)); break;
  }
}
