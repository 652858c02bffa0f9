// pyengine/cuda/dropout_rng.h — the counter-based draw that decides dropout masks, identical to the
// one specified in pyengine/kernels/_contract/dropout.py (and used by the reference and CPU kernels):
//   key  = mix64(seed ^ 0x5DEECE66D)                     once per call
//   z    = mix64(key + (i + 1)·0x9E3779B97F4A7C15)       element i in C order, mod 2⁶⁴
//   keep = (z >> 32) >= ceil(p·2³²)
// mix64 is SplitMix64's finaliser. A pure function of (seed, i): any thread order, host or device.
#pragma once
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define PE_HD __host__ __device__ __forceinline__
#else
#define PE_HD inline
#endif

namespace pyengine::cuda {

PE_HD std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

PE_HD std::uint64_t dropout_key(std::uint64_t seed) { return mix64(seed ^ 0x5DEECE66Dull); }

PE_HD bool dropout_keep(std::uint64_t key, std::uint64_t i, std::uint64_t threshold) {
  return (mix64(key + (i + 1) * 0x9E3779B97F4A7C15ull) >> 32) >= threshold;
}

// ceil(p·2³²), exact in double for p in [0, 1].
inline std::uint64_t dropout_threshold(double p) { return static_cast<std::uint64_t>(std::ceil(p * 4294967296.0)); }

}  // namespace pyengine::cuda
