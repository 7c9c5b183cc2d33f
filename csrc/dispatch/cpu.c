/* CPU feature detection: which of our ISAs the CPU *and* the OS support.
 * Compiled with baseline flags only, so it runs on any x86-64 (or any CPU at
 * all: elsewhere it answers "scalar"). AVX2 needs AVX2+FMA and the OS saving
 * YMM state; AVX-512 needs F, VL, BW, DQ and the OS saving opmask/ZMM state. */
#include "fastconv/fastconv.h"

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
#include <cpuid.h>

static unsigned long long fc_xgetbv0(void) {
  unsigned int lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((unsigned long long)hi << 32) | lo;
}

static fc_isa fc_detect(void) {
  unsigned int a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return FC_ISA_SCALAR;
  const int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
  if (!osxsave || !avx || !fma) return FC_ISA_SCALAR;
  const unsigned long long xcr0 = fc_xgetbv0();
  if ((xcr0 & 0x6) != 0x6) return FC_ISA_SCALAR; /* XMM and YMM state */
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return FC_ISA_SCALAR;
  if (!((b >> 5) & 1)) return FC_ISA_SCALAR; /* AVX2 */
  const int avx512 = ((b >> 16) & 1) && ((b >> 17) & 1) && ((b >> 30) & 1) && ((b >> 31) & 1);
  if (avx512 && (xcr0 & 0xE6) == 0xE6) return FC_ISA_AVX512;
  return FC_ISA_AVX2;
}
#else
static fc_isa fc_detect(void) { return FC_ISA_SCALAR; }
#endif

fc_isa fc_cpu_isa(void) {
  static int cached = -1;
  if (cached < 0) {
    fc_isa isa = fc_detect();
    while (isa > FC_ISA_SCALAR && !fc_isa_compiled(isa)) isa = (fc_isa)(isa - 1);
    cached = (int)isa;
  }
  return (fc_isa)cached;
}

int fc_isa_compiled(fc_isa isa) {
  switch (isa) {
    case FC_ISA_SCALAR: return 1;
    case FC_ISA_AVX2: return FASTCONV_HAVE_AVX2;
    case FC_ISA_AVX512: return FASTCONV_HAVE_AVX512;
  }
  return 0;
}

const char *fc_isa_name(fc_isa isa) {
  switch (isa) {
    case FC_ISA_SCALAR: return "scalar";
    case FC_ISA_AVX2: return "avx2";
    case FC_ISA_AVX512: return "avx512";
  }
  return "unknown";
}
