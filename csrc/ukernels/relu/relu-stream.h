/* The SIMD ReLU templates' streaming forward kernel (relu-avx2.h,
 * relu-avx512.h), included after RELU_NAME's definition. */
#ifdef RELU_NT_NAME
#include <stdint.h>
/* RELU_NAME's results, stored with streaming stores from the first 64-byte
 * boundary of y on (RELU_NAME before it and for the tail; y not aligned to
 * its type: all of it); in place too. */
void RELU_NT_NAME(size_t n, const T *x, T *y) {
  if ((uintptr_t)y % sizeof(T) != 0) {
    RELU_NAME(n, x, y);
    return;
  }
  size_t i = ((64 - (uintptr_t)y % 64) % 64) / sizeof(T);
  if (i > n) i = n;
  RELU_NAME(i, x, y);
  const V zero = FC_VOP(setzero)();
  FC_RELU_LOOP(FC_VOP(stream));
  _mm_sfence();
  RELU_NAME(n - i, x + i, y + i);
}
#endif
