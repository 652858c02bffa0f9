// pad.cu — the padding modes of pyengine/pad.h on the GPU.
//
// forward: one thread per output element (grid-stride), its source from pad_source along each axis.
// backward: one thread per input element, which gathers the gradients of the outputs that read it:
// along each axis at most three ranges (pad_readers), so the sum is a small triple loop. No atomics:
// the sums run in one order, the same bits on every run.
#include "pyengine/cuda/common.cuh"
#include "pyengine/pad.h"

namespace pyengine::cuda {
namespace {

template <typename T>
__global__ void pad_forward_kernel(PadDims d, const T* __restrict__ x, T* __restrict__ y) {
  const index_t OD = d.OD(), OH = d.OH(), OW = d.OW();
  PE_GRID_STRIDE(k, d.P * OD * OH * OW) {
    const index_t ow = k % OW, oh = (k / OW) % OH, od = (k / (OW * OH)) % OD, p = k / (OW * OH * OD);
    const index_t sd = pad_source(d.D, d.d0, d.mode, od), sh = pad_source(d.H, d.h0, d.mode, oh),
                  sw = pad_source(d.W, d.w0, d.mode, ow);
    y[k] = x[((p * d.D + sd) * d.H + sh) * d.W + sw];
  }
}

template <typename T>
__global__ void pad_backward_kernel(PadDims d, const T* __restrict__ g, T* __restrict__ gx) {
  const index_t OD = d.OD(), OH = d.OH(), OW = d.OW();
  PE_GRID_STRIDE(k, d.P * d.D * d.H * d.W) {
    const index_t w = k % d.W, h = (k / d.W) % d.H, dd = (k / (d.W * d.H)) % d.D, p = k / (d.W * d.H * d.D);
    index_t dlo[3], dhi[3], hlo[3], hhi[3], wlo[3], whi[3];
    const int nd = pad_readers(d.D, d.d0, d.d1, d.mode, dd, dlo, dhi);
    const int nh = pad_readers(d.H, d.h0, d.h1, d.mode, h, hlo, hhi);
    const int nw = pad_readers(d.W, d.w0, d.w1, d.mode, w, wlo, whi);
    const T* gp = g + p * OD * OH * OW;
    T acc = T(0);
    for (int a = 0; a < nd; ++a)
      for (index_t od = dlo[a]; od < dhi[a]; ++od)
        for (int b = 0; b < nh; ++b)
          for (index_t oh = hlo[b]; oh < hhi[b]; ++oh)
            for (int c = 0; c < nw; ++c)
              for (index_t ow = wlo[c]; ow < whi[c]; ++ow) acc += gp[(od * OH + oh) * OW + ow];
    gx[k] = acc;
  }
}

}  // namespace

template <typename T>
void pad_forward(const PadDims& d, const T* x, T* y, cudaStream_t stream) {
  const index_t n = d.P * d.OD() * d.OH() * d.OW();
  if (n == 0) return;
  pad_forward_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(d, x, y);
  check_launch("pad_forward_kernel");
}

template <typename T>
void pad_backward(const PadDims& d, const T* g, T* gx, cudaStream_t stream) {
  const index_t n = d.P * d.D * d.H * d.W;
  if (n == 0) return;
  pad_backward_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(d, g, gx);
  check_launch("pad_backward_kernel");
}

#define PE_INST(T)                                                                  \
  template void pad_forward<T>(const PadDims&, const T*, T*, cudaStream_t);          \
  template void pad_backward<T>(const PadDims&, const T*, T*, cudaStream_t);
PE_INST(float)
PE_INST(double)
#undef PE_INST

}  // namespace pyengine::cuda
