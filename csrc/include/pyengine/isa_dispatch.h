// pyengine/isa_dispatch.h — declare a kernel once per instruction set and call the active copy.
//
// A kernel in csrc/cpu/isa/*.cpp is compiled three times (see cmake/isa.cmake), each time inside
// namespace pyengine::cpu::<isa>. Those files must not instantiate STL or other inline templates
// that could be merged across copies by the linker (an AVX-512 copy of std::max<float> picked for
// an AVX2 machine would crash): raw pointers, <cmath> and compiler vector types only.
#pragma once
#include "pyengine/common.h"

#if defined(PYENGINE_HAVE_AVX512)
#define PE_ISA_DECL_AVX512(decl) namespace avx512 { decl; }
#define PE_ISA_CASE_AVX512(fn, ...) case ::pyengine::Isa::avx512: return avx512::fn(__VA_ARGS__);
#else
#define PE_ISA_DECL_AVX512(decl)
#define PE_ISA_CASE_AVX512(fn, ...)
#endif
#if defined(PYENGINE_HAVE_AVX2)
#define PE_ISA_DECL_AVX2(decl) namespace avx2 { decl; }
#define PE_ISA_CASE_AVX2(fn, ...) case ::pyengine::Isa::avx2: return avx2::fn(__VA_ARGS__);
#else
#define PE_ISA_DECL_AVX2(decl)
#define PE_ISA_CASE_AVX2(fn, ...)
#endif

// PE_ISA_DECLARE(void sgemm(...)) declares the function in every ISA namespace that was built.
#define PE_ISA_DECLARE(decl) PE_ISA_DECL_AVX512(decl) PE_ISA_DECL_AVX2(decl) namespace generic { decl; }

// PE_ISA_CALL(sgemm, args...) calls the copy for the active instruction set.
#define PE_ISA_CALL(fn, ...)                                   \
  do {                                                         \
    switch (::pyengine::cpu::active_isa()) {                   \
      PE_ISA_CASE_AVX512(fn, __VA_ARGS__)                      \
      PE_ISA_CASE_AVX2(fn, __VA_ARGS__)                        \
      default: return generic::fn(__VA_ARGS__);                \
    }                                                          \
  } while (0)
