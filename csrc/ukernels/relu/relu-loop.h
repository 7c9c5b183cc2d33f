/* The SIMD ReLU templates' forward loop (relu-avx2.h, relu-avx512.h): over
 * whole vectors from i (i, n, x, y and zero in scope), four a pass, each
 * result stored by STORE. Needs V, LANES and FC_VOP of the including
 * template. */
/* The forward loop over whole vectors from i (i, n, x, y and zero in scope),
 * four a pass, each result stored by STORE. */
#define FC_RELU_LOOP(STORE)                                                                    \
  do {                                                                                         \
    for (; i + 4 * LANES <= n; i += 4 * LANES) {                                               \
      const V v0 = FC_VOP(loadu)(x + i), v1 = FC_VOP(loadu)(x + i + LANES);                    \
      const V v2 = FC_VOP(loadu)(x + i + 2 * LANES), v3 = FC_VOP(loadu)(x + i + 3 * LANES);    \
      STORE(y + i, FC_VOP(max)(zero, v0));                                                     \
      STORE(y + i + LANES, FC_VOP(max)(zero, v1));                                             \
      STORE(y + i + 2 * LANES, FC_VOP(max)(zero, v2));                                         \
      STORE(y + i + 3 * LANES, FC_VOP(max)(zero, v3));                                         \
    }                                                                                          \
    for (; i + LANES <= n; i += LANES) STORE(y + i, FC_VOP(max)(zero, FC_VOP(loadu)(x + i))); \
  } while (0)
