/* CPU feature detection: which of our ISAs the CPU *and* the OS support.
 * Compiled with baseline flags only, so it runs on any x86-64 (or any CPU at
 * all: elsewhere it answers "scalar"). AVX2 needs AVX2+FMA and the OS saving
 * YMM state; AVX-512 needs F, VL, BW, DQ and the OS saving opmask/ZMM state. */
#include <stdatomic.h>
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

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
/* Data or unified cache sizes per level from CPUID's deterministic cache
 * parameters: leaf 4 (Intel) or 0x8000001D (AMD, with topology extensions),
 * sub-leaf by sub-leaf until type 0. size = ways x partitions x line x sets. */
static void fc_cpuid_caches(int64_t bytes[4]) {
  unsigned int a, b, c, d, leaf = 0;
  if (__get_cpuid(0x80000000u, &a, &b, &c, &d) && a >= 0x8000001Du &&
      __get_cpuid(0x80000001u, &a, &b, &c, &d) && ((c >> 22) & 1))
    leaf = 0x8000001Du;
  else if (__get_cpuid(0, &a, &b, &c, &d) && a >= 4)
    leaf = 4;
  if (!leaf) return;
  for (unsigned int i = 0; i < 16; i++) {
    __cpuid_count(leaf, i, a, b, c, d);
    const unsigned int type = a & 31, level = (a >> 5) & 7;
    if (type == 0) break;
    if ((type != 1 && type != 3) || level < 1 || level > 3) continue; /* data or unified */
    const int64_t size = (int64_t)((b >> 22) + 1) * (((b >> 12) & 1023) + 1) * ((b & 4095) + 1) *
                         ((int64_t)c + 1);
    if (bytes[level] == 0) bytes[level] = size;
  }
}
#endif

#if defined(__linux__) || defined(__APPLE__)
#include <unistd.h>
#endif

int64_t fc_cpu_cache_bytes(int level) {
  /* [0] < 0 until filled in; CPUID traps to the hypervisor in a VM, so once */
  static _Atomic int64_t cached[4] = {-1, 0, 0, 0};
  if (level < 1 || level > 3) return 0;
  if (atomic_load(&cached[0]) < 0) {
    int64_t bytes[4] = {0, 0, 0, 0};
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
    fc_cpuid_caches(bytes);
#endif
#if defined(_SC_LEVEL1_DCACHE_SIZE) && defined(_SC_LEVEL2_CACHE_SIZE) && defined(_SC_LEVEL3_CACHE_SIZE)
    const int names[4] = {0, _SC_LEVEL1_DCACHE_SIZE, _SC_LEVEL2_CACHE_SIZE, _SC_LEVEL3_CACHE_SIZE};
    for (int l = 1; l <= 3; l++)
      if (bytes[l] == 0) {
        const long v = sysconf(names[l]);
        bytes[l] = v > 0 ? v : 0;
      }
#endif
    for (int l = 1; l <= 3; l++) atomic_store(&cached[l], bytes[l]);
    atomic_store(&cached[0], 0); /* a racing thread stores the same values */
  }
  return atomic_load(&cached[level]);
}

/* Intel Xeon Emerald Rapids, a 2-vCPU VM told of the socket's 260 MiB L3:
 * relu of 4M float32 (16 MiB in, 16 MiB out) into the same output, repeated,
 * 2.80 ms with plain stores and 1.40 ms with streaming ones at 1 thread, so its
 * arrays did not stay in that L3; counted at 2 x 16 MiB. AMD EPYC Zen 4, 2
 * vCPUs of a 32 MiB L3: counted whole, as the measurements there ask. */
int64_t fc_cpu_llc_bytes(void) {
  static _Atomic int64_t cached = -1; /* sysconf reads a file: once, as the sizes above */
  int64_t bytes = atomic_load(&cached);
  if (bytes < 0) {
    long cpus = 1;
#if defined(_SC_NPROCESSORS_ONLN)
    cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1) cpus = 1;
#endif
    const int64_t l3 = fc_cpu_cache_bytes(3), cap = (int64_t)cpus * FC_LLC_PER_CPU;
    bytes = l3 < cap ? l3 : cap;
    atomic_store(&cached, bytes); /* a racing thread stores the same value */
  }
  return bytes;
}

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
