/* The softmax rows' exp, shared by the SIMD kernels: the coefficients of
 * e^d for d <= 0 taken in double, e^d = 2^k e^r with k = round(d log2 e) and
 * r = d - k ln 2 (ln 2 as fdlibm's two parts: k ln2_hi is exact for the k
 * here, so r is d - k ln 2 to double's precision, |r| <= ln2 / 2), e^r by its
 * Taylor polynomial, 2^k written into the exponent bits of 1.5 * 2^52 + k's
 * low bits.
 *
 * f32 rows: degree 12 (truncation below 2e-16 of the value). Rounded to
 * float, that is the correctly rounded expf of d except where e^d lies within
 * about 2e-16 (relative) of a point halfway between two floats, as libm's
 * expf gives it nearly always. d below FC_SOFTMAX_EXP_LOW is taken as that:
 * e^-150 rounds to float 0, as every smaller value does; a NaN stays NaN.
 *
 * f64 rows: degree 13 (truncation below 5e-18), the last step 1 + r p(r)
 * one fused multiply-add, so the value is within an ulp of e^d (against
 * glibc's exp on 10^7 values of d uniform in [-745, 0]: 5.8% one ulp apart,
 * none more; the same on [-1, 0] and where the results are subnormal); 2^k
 * applied as 2^(k + 64) then 2^-64, so a result below double's normal range
 * is rounded once, where it is made subnormal. d below FC_SOFTMAX_EXP_LOW_F64
 * is taken as that (e^-746 rounds to 0). */
#define FC_SOFTMAX_EXP_LOW (-150.0)
#define FC_SOFTMAX_EXP_LOW_F64 (-746.0)
/* Rows shorter than this take the portable loop (100,000 rows of 2: 1.7
 * against 3.6 ms in vectors, AMD EPYC Zen 4, 1 thread). */
#define FC_SOFTMAX_SHORT 8
#define FC_SOFTMAX_LOG2E 1.44269504088896338700e+00
#define FC_SOFTMAX_LN2_HI 6.93147180369123816490e-01 /* fdlibm's ln2_hi, ln2_lo */
#define FC_SOFTMAX_LN2_LO 1.90821492927058770002e-10
#define FC_SOFTMAX_SHIFTER 6755399441055744.0 /* 1.5 * 2^52 */
#define FC_SOFTMAX_DEGREE 13 /* f64; f32 rows start at the next coefficient (degree 12) */
/* 1 / j! for j = DEGREE .. 0: Horner's order */
static const double fc_softmax_taylor[FC_SOFTMAX_DEGREE + 1] = {
    1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0,
    1.0 / 40320.0,      1.0 / 5040.0,      1.0 / 720.0,      1.0 / 120.0,     1.0 / 24.0,
    1.0 / 6.0,          1.0 / 2.0,         1.0,              1.0};
