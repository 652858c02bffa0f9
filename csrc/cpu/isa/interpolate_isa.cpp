// interpolate_isa.cpp — the plane kernels of pyengine/interpolate.h, compiled once per ISA.
//
// Planes go to threads (parallel_for) when the call is large. Forward, per output row: the two
// source rows are blended column by column through the width plan (a gather, vectorised by the
// compiler where the ISA has one). Backward: the same loops as the adjoint scatter into the zeroed
// plane; a plane belongs to one thread, so there are no atomics and the sums run in the same order
// for any thread count.
#include <cstring>

#include "isa.h"
#include "pyengine/interpolate.h"

namespace pyengine::cpu::PYENGINE_ISA {
namespace {

constexpr index_t kParallelWork = 32768;   // output elements below which one thread does the call

int threads_for(index_t P, index_t OH, index_t OW) {
  const int threads = get_num_threads();
  return threads > 1 && P > 1 && P * OH * OW > kParallelWork ? threads : 1;
}

template <typename T>
void forward(index_t P, index_t H, index_t W, index_t OH, index_t OW, const index_t* h0, const index_t* h1,
             const T* lh0, const T* lh1, const index_t* w0, const index_t* w1, const T* lw0, const T* lw1,
             bool nearest, const T* x, T* y) {
  parallel_for(P, threads_for(P, OH, OW), [&](index_t p) {
    const T* xp = x + p * H * W;
    T* yp = y + p * OH * OW;
    for (index_t oh = 0; oh < OH; ++oh) {
      const T* __restrict r0 = xp + h0[oh] * W;
      T* __restrict yr = yp + oh * OW;
      if (nearest) {
        for (index_t ow = 0; ow < OW; ++ow) yr[ow] = r0[w0[ow]];
        continue;
      }
      const T* __restrict r1 = xp + h1[oh] * W;
      const T a = lh0[oh], b = lh1[oh];
      // the width pass first, then the height pass: ATen's (and the reference's) order of the sums
      for (index_t ow = 0; ow < OW; ++ow) {
        const T top = r0[w0[ow]] * lw0[ow] + r0[w1[ow]] * lw1[ow];
        const T bottom = r1[w0[ow]] * lw0[ow] + r1[w1[ow]] * lw1[ow];
        yr[ow] = top * a + bottom * b;
      }
    }
  });
}

template <typename T>
void backward(index_t P, index_t H, index_t W, index_t OH, index_t OW, const index_t* h0, const index_t* h1,
              const T* lh0, const T* lh1, const index_t* w0, const index_t* w1, const T* lw0, const T* lw1,
              bool nearest, const T* grad_y, T* grad_x) {
  parallel_for(P, threads_for(P, OH, OW), [&](index_t p) {
    T* gx = grad_x + p * H * W;
    const T* gy = grad_y + p * OH * OW;
    std::memset(gx, 0, sizeof(T) * static_cast<size_t>(H * W));
    for (index_t oh = 0; oh < OH; ++oh) {
      T* r0 = gx + h0[oh] * W;
      const T* gr = gy + oh * OW;
      if (nearest) {
        for (index_t ow = 0; ow < OW; ++ow) r0[w0[ow]] += gr[ow];
        continue;
      }
      T* r1 = gx + h1[oh] * W;
      const T a = lh0[oh], b = lh1[oh];
      for (index_t ow = 0; ow < OW; ++ow) {
        const T g0 = gr[ow] * a, g1 = gr[ow] * b;
        r0[w0[ow]] += g0 * lw0[ow];
        r0[w1[ow]] += g0 * lw1[ow];
        r1[w0[ow]] += g1 * lw0[ow];
        r1[w1[ow]] += g1 * lw1[ow];
      }
    }
  });
}

void forward_f32(index_t P, index_t H, index_t W, index_t OH, index_t OW, const index_t* h0, const index_t* h1,
                 const float* lh0, const float* lh1, const index_t* w0, const index_t* w1, const float* lw0,
                 const float* lw1, bool nearest, const float* x, float* y) {
  forward<float>(P, H, W, OH, OW, h0, h1, lh0, lh1, w0, w1, lw0, lw1, nearest, x, y);
}
void forward_f64(index_t P, index_t H, index_t W, index_t OH, index_t OW, const index_t* h0, const index_t* h1,
                 const double* lh0, const double* lh1, const index_t* w0, const index_t* w1, const double* lw0,
                 const double* lw1, bool nearest, const double* x, double* y) {
  forward<double>(P, H, W, OH, OW, h0, h1, lh0, lh1, w0, w1, lw0, lw1, nearest, x, y);
}
void backward_f32(index_t P, index_t H, index_t W, index_t OH, index_t OW, const index_t* h0, const index_t* h1,
                  const float* lh0, const float* lh1, const index_t* w0, const index_t* w1, const float* lw0,
                  const float* lw1, bool nearest, const float* g, float* gx) {
  backward<float>(P, H, W, OH, OW, h0, h1, lh0, lh1, w0, w1, lw0, lw1, nearest, g, gx);
}
void backward_f64(index_t P, index_t H, index_t W, index_t OH, index_t OW, const index_t* h0, const index_t* h1,
                  const double* lh0, const double* lh1, const index_t* w0, const index_t* w1, const double* lw0,
                  const double* lw1, bool nearest, const double* g, double* gx) {
  backward<double>(P, H, W, OH, OW, h0, h1, lh0, lh1, w0, w1, lw0, lw1, nearest, g, gx);
}

}  // namespace

PE_ISA_REGISTER(interpolate_forward_f32, forward_f32)
PE_ISA_REGISTER(interpolate_forward_f64, forward_f64)
PE_ISA_REGISTER(interpolate_backward_f32, backward_f32)
PE_ISA_REGISTER(interpolate_backward_f64, backward_f64)

}  // namespace pyengine::cpu::PYENGINE_ISA
