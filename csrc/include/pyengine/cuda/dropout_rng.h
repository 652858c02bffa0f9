// pyengine/cuda/dropout_rng.h — the counter-based uniform that decides dropout masks:
//   z = seed + (i + 1)·0x9E3779B97F4A7C15 (mod 2⁶⁴), then the SplitMix64 finaliser,
//   u = (z >> 11)·2⁻⁵³ in [0, 1); element i is kept when u >= p.
// A pure function of (seed, i): no state, any thread order, the same value on host and device.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define PE_HD __host__ __device__ __forceinline__
#else
#define PE_HD inline
#endif

namespace pyengine::cuda {

PE_HD double dropout_uniform(std::uint64_t seed, std::uint64_t i) {
  std::uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * (1.0 / 9007199254740992.0);
}

}  // namespace pyengine::cuda
