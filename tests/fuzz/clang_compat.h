// clang_compat.h — force-included (-include) only into the clang build of pyengine._C that
// scripts/fuzz.sh makes for PYENGINE_FUZZ_NATIVE=1, never into a normal build.
//
// The kernels are written for GCC, the project's compiler. One GCC extension has no clang
// spelling: __builtin_shuffle(a, b, mask) with the mask as a vector (csrc/cpu/isa/pool2d_isa.cpp);
// clang's __builtin_shufflevector wants the lane numbers as literal arguments. This stand-in picks
// the lanes one at a time with GCC's semantics (two vectors: lane k < n of a, else lane k − n of
// b, k taken modulo 2n; one vector: lane k modulo n): slower, which does not matter in an ASan
// build that exists to be fuzzed.
#pragma once
#if defined(__clang__) && defined(__cplusplus)
template <class V, class M>
static inline V pe_gcc_shuffle(V a, V b, M mask) {
  constexpr int n = static_cast<int>(sizeof(V) / sizeof(a[0]));
  V r = a;
  for (int i = 0; i < n; ++i) {
    const int k = static_cast<int>(mask[i]) & (2 * n - 1);
    r[i] = k < n ? a[k] : b[k - n];
  }
  return r;
}
template <class V, class M>
static inline V pe_gcc_shuffle(V a, M mask) {    // the one-vector form: lane k modulo n of a
  constexpr int n = static_cast<int>(sizeof(V) / sizeof(a[0]));
  V r = a;
  for (int i = 0; i < n; ++i) r[i] = a[static_cast<int>(mask[i]) & (n - 1)];
  return r;
}
#define __builtin_shuffle(...) pe_gcc_shuffle(__VA_ARGS__)
#endif
