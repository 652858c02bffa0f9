// dropout.cpp — dropout with a counter-based mask (see pyengine/dropout.h).
//
// Element i's draw is splitmix64's finaliser of key + (i + 1)·golden, a pure function of (seed, i):
// the parallel loop may split the elements any way and still give the reference's mask.
#include "pyengine/dropout.h"
#include "pyengine/parallel.h"

namespace pyengine::cpu {
namespace {
constexpr std::uint64_t kSalt = 0x5DEECE66DULL;
constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ULL;
}  // namespace

std::uint64_t dropout_mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

template <typename T>
void dropout_forward(index_t n, const T* x, std::uint64_t seed, std::uint64_t threshold, T scale, T* y,
                     std::uint8_t* mask) {
  const std::uint64_t key = dropout_mix64(seed ^ kSalt);
  const int threads = get_num_threads();
  parallel_for(n, threads > 1 && n > 32768 ? threads : 1, [&](index_t i) {
    const std::uint64_t z = dropout_mix64(key + static_cast<std::uint64_t>(i + 1) * kGolden);
    const std::uint8_t keep = (z >> 32) >= threshold ? 1 : 0;
    mask[i] = keep;
    y[i] = x[i] * static_cast<T>(keep) * scale;   // x·mask·scale: inf and NaN dropped give NaN, as in torch
  });
}

template <typename T>
void dropout_backward(index_t n, const T* g, const std::uint8_t* mask, T scale, T* gi) {
  const int threads = get_num_threads();
  parallel_for(n, n > 32768 ? threads : 1, [&](index_t i) { gi[i] = g[i] * static_cast<T>(mask[i]) * scale; });
}

// Channel dropout: the N·C draws first (cheap), then the planes over threads, each one multiply by
// 0 or scale (as x·mask·scale: a dropped inf or NaN gives NaN, as in torch).
template <typename T>
void dropout_channels_forward(index_t channels, index_t S, const T* x, std::uint64_t seed, std::uint64_t threshold,
                              T scale, T* y, std::uint8_t* mask) {
  const std::uint64_t key = dropout_mix64(seed ^ kSalt);
  for (index_t i = 0; i < channels; ++i)
    mask[i] = (dropout_mix64(key + static_cast<std::uint64_t>(i + 1) * kGolden) >> 32) >= threshold ? 1 : 0;
  const int threads = channels * S > 32768 ? get_num_threads() : 1;
  parallel_for(channels, threads, [&](index_t c) {
    const T f = static_cast<T>(mask[c]) * scale;
    const T* xc = x + c * S;
    T* yc = y + c * S;
    for (index_t s = 0; s < S; ++s) yc[s] = xc[s] * f;
  });
}

template <typename T>
void dropout_channels_backward(index_t channels, index_t S, const T* g, const std::uint8_t* mask, T scale, T* gi) {
  const int threads = channels * S > 32768 ? get_num_threads() : 1;
  parallel_for(channels, threads, [&](index_t c) {
    const T f = static_cast<T>(mask[c]) * scale;
    const T* gc = g + c * S;
    T* out = gi + c * S;
    for (index_t s = 0; s < S; ++s) out[s] = gc[s] * f;
  });
}

template void dropout_channels_forward<float>(index_t, index_t, const float*, std::uint64_t, std::uint64_t, float,
                                              float*, std::uint8_t*);
template void dropout_channels_forward<double>(index_t, index_t, const double*, std::uint64_t, std::uint64_t, double,
                                               double*, std::uint8_t*);
template void dropout_channels_backward<float>(index_t, index_t, const float*, const std::uint8_t*, float, float*);
template void dropout_channels_backward<double>(index_t, index_t, const double*, const std::uint8_t*, double, double*);

template void dropout_forward<float>(index_t, const float*, std::uint64_t, std::uint64_t, float, float*,
                                     std::uint8_t*);
template void dropout_forward<double>(index_t, const double*, std::uint64_t, std::uint64_t, double, double*,
                                      std::uint8_t*);
template void dropout_backward<float>(index_t, const float*, const std::uint8_t*, float, float*);
template void dropout_backward<double>(index_t, const double*, const std::uint8_t*, double, double*);

}  // namespace pyengine::cpu
