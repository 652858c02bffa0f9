// pad.cpp — the padding modes of pyengine/pad.h: per-axis source tables, then row copies (forward:
// output rows over threads, the interior one memcpy) and row sums (backward: planes over threads,
// each plane's outputs added onto their sources in one fixed order).
#include "pyengine/pad.h"

#include <cstring>
#include <vector>

#include "pyengine/parallel.h"

namespace pyengine::cpu {
namespace {

std::vector<index_t> table(index_t n, index_t before, index_t after, PadMode mode) {
  std::vector<index_t> t(static_cast<size_t>(before + n + after));
  for (index_t o = 0; o < before + n + after; ++o) t[static_cast<size_t>(o)] = pad_source(n, before, mode, o);
  return t;
}

int threads_for(index_t items, index_t work) {
  const int t = get_num_threads();
  if (work < (index_t(1) << 15) || items < 2) return 1;   // below ~32k elements one thread is faster
  return items < t ? static_cast<int>(items) : t;
}

}  // namespace

template <typename T>
void pad_forward(const PadDims& d, const T* x, T* y) {
  const index_t OD = d.OD(), OH = d.OH(), OW = d.OW(), rows = d.P * OD * OH;
  if (rows == 0 || OW == 0) return;
  const std::vector<index_t> td = table(d.D, d.d0, d.d1, d.mode), th = table(d.H, d.h0, d.h1, d.mode),
                             tw = table(d.W, d.w0, d.w1, d.mode);
  const index_t* pw = tw.data();
  parallel_for(rows, threads_for(rows, rows * OW), [&](index_t r) {
    const index_t oh = r % OH, od = (r / OH) % OD, p = r / (OH * OD);
    const T* src = x + ((p * d.D + td[static_cast<size_t>(od)]) * d.H + th[static_cast<size_t>(oh)]) * d.W;
    T* dst = y + r * OW;
    for (index_t o = 0; o < d.w0; ++o) dst[o] = src[pw[o]];
    std::memcpy(dst + d.w0, src, static_cast<size_t>(d.W) * sizeof(T));
    for (index_t o = d.w0 + d.W; o < OW; ++o) dst[o] = src[pw[o]];
  });
}

template <typename T>
void pad_backward(const PadDims& d, const T* grad_y, T* grad_x) {
  const index_t OD = d.OD(), OH = d.OH(), OW = d.OW(), plane = d.D * d.H * d.W;
  if (d.P == 0 || plane == 0) return;
  const std::vector<index_t> td = table(d.D, d.d0, d.d1, d.mode), th = table(d.H, d.h0, d.h1, d.mode),
                             tw = table(d.W, d.w0, d.w1, d.mode);
  const index_t* pw = tw.data();
  parallel_for(d.P, threads_for(d.P, d.P * OD * OH * OW), [&](index_t p) {
    T* gx = grad_x + p * plane;
    std::memset(gx, 0, static_cast<size_t>(plane) * sizeof(T));
    for (index_t od = 0; od < OD; ++od)
      for (index_t oh = 0; oh < OH; ++oh) {
        const T* g = grad_y + ((p * OD + od) * OH + oh) * OW;
        T* dst = gx + (td[static_cast<size_t>(od)] * d.H + th[static_cast<size_t>(oh)]) * d.W;
        for (index_t o = 0; o < d.w0; ++o) dst[pw[o]] += g[o];
        const T* gi = g + d.w0;
        for (index_t w = 0; w < d.W; ++w) dst[w] += gi[w];
        for (index_t o = d.w0 + d.W; o < OW; ++o) dst[pw[o]] += g[o];
      }
  });
}

template void pad_forward<float>(const PadDims&, const float*, float*);
template void pad_forward<double>(const PadDims&, const double*, double*);
template void pad_backward<float>(const PadDims&, const float*, float*);
template void pad_backward<double>(const PadDims&, const double*, double*);

}  // namespace pyengine::cpu
