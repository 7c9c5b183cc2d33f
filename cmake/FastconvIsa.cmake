# One table: ISA name -> compiler flags. Each flag set is probed; an ISA the
# compiler cannot build is turned off, never a reason for the build to fail.
include(CheckCSourceCompiles)

set(FASTCONV_ISAS scalar)
set(FASTCONV_FLAGS_scalar "")

set(_fc_x86 OFF)
if(APPLE AND CMAKE_OSX_ARCHITECTURES)
  # macOS: the architectures asked for (a cross build's CMAKE_SYSTEM_PROCESSOR is
  # the host's). x86 kernels only in an x86_64-only build: a universal2 binary's
  # arm64 slice could not compile them.
  if(CMAKE_OSX_ARCHITECTURES STREQUAL "x86_64")
    set(_fc_x86 ON)
  endif()
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64|x64|i.86)$")
  set(_fc_x86 ON)
endif()

set(FASTCONV_FLAGS_avx2 -mavx2 -mfma)
set(FASTCONV_FLAGS_avx512 -mavx512f -mavx512vl -mavx512bw -mavx512dq -mfma)
set(_fc_probe_avx2 "#include <immintrin.h>\nint main(void){__m256 a=_mm256_set1_ps(1.f);a=_mm256_fmadd_ps(a,a,a);return (int)_mm256_cvtss_f32(a);}")
set(_fc_probe_avx512 "#include <immintrin.h>\nint main(void){__m512 a=_mm512_set1_ps(1.f);__mmask16 m=_mm512_cmp_ps_mask(a,a,_CMP_EQ_OQ);a=_mm512_maskz_fmadd_ps(m,a,a,a);return (int)_mm512_reduce_add_ps(a);}")

foreach(_isa avx2 avx512)
  string(TOUPPER ${_isa} _ISA)
  set(FASTCONV_HAVE_${_ISA} OFF)
  if(_fc_x86 AND FASTCONV_ENABLE_${_ISA})
    set(CMAKE_REQUIRED_FLAGS "")
    string(REPLACE ";" " " CMAKE_REQUIRED_FLAGS "${FASTCONV_FLAGS_${_isa}}")
    check_c_source_compiles("${_fc_probe_${_isa}}" FASTCONV_COMPILER_HAS_${_ISA})
    unset(CMAKE_REQUIRED_FLAGS)
    if(FASTCONV_COMPILER_HAS_${_ISA})
      set(FASTCONV_HAVE_${_ISA} ON)
      list(APPEND FASTCONV_ISAS ${_isa})
    endif()
  endif()
endforeach()
