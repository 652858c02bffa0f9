// gemm_tile.cuh — what the GEMM kernels of gemm.cu (SIMT) and gemm_tf32.cu (tensor cores) share: the
// device view of an operand, the kernel arguments, the tile loader (16-byte groups along the
// operand's contiguous direction, a bounds-checked scalar path on the edges) and the epilogue.
// Internal to csrc/cuda; the contract is pyengine/cuda/gemm.h.
#pragma once
#include <cstdint>

#include "pyengine/cuda/common.cuh"
#include "pyengine/cuda/gemm.h"

namespace pyengine::cuda::gemm_detail {

template <typename T> struct Vec;
template <> struct Vec<float> { using type = float4; static constexpr int n = 4; };
template <> struct Vec<double> { using type = double2; static constexpr int n = 2; };

// Device-side view of one operand.
template <typename T>
struct Mat {
  const T* ptr;
  index_t ld, kseg, seg_stride, stride_outer, stride_inner;
  bool vec_ok;
  bool segmented;  // kseg < K: the k index needs a division (32-bit when K < 2^31)
  bool seg32;
};

template <typename T>
struct Args {
  index_t M, N, K, batch_outer, batch_inner;
  Mat<T> a, b;
  T* out;
  const T* c_in;
  index_t ldc, out_so, out_si;
  T alpha, beta;
  const T* bias;
  bool bias_per_row;
  index_t bias_so, bias_si;
};

// Offset of element (i, k) of an operand inside its batch.
template <bool KC, typename T>
__device__ __forceinline__ index_t elem_offset(const Mat<T>& m, index_t i, index_t k) {
  if (!m.segmented) return KC ? i * m.ld + k : k * m.ld + i;  // a plain matrix: no division
  const index_t seg = m.seg32 ? static_cast<index_t>(static_cast<std::uint32_t>(k) / static_cast<std::uint32_t>(m.kseg))
                              : k / m.kseg;
  const index_t kk = k - seg * m.kseg;
  return KC ? i * m.ld + seg * m.seg_stride + kk : seg * m.seg_stride + kk * m.ld + i;
}

// Registers holding one thread's share of a BI×BK tile.
template <typename T, int BI, int BK, int NT>
struct TileRegs {
  static constexpr int VW = Vec<T>::n;
  static constexpr int GROUPS = BI * BK / VW;
  static constexpr int PER = GROUPS / NT;
  static_assert(GROUPS % NT == 0, "tile groups must split evenly over the threads");
  static_assert(BK % VW == 0 && BI % VW == 0, "tile sides must be multiples of the vector width");
  T v[PER][VW];
};

// Fetches the tile (rows i0.., k0..) of operand m (base already offset to the batch) into regs.
// I and K are the operand's extents along i and k.
template <bool KC, typename T, int BI, int BK, int NT>
__device__ __forceinline__ void load_tile(TileRegs<T, BI, BK, NT>& r, const Mat<T>& m, const T* base,
                                          index_t i0, index_t k0, index_t I, index_t K) {
  constexpr int VW = Vec<T>::n;
  using V = typename Vec<T>::type;
#pragma unroll
  for (int p = 0; p < TileRegs<T, BI, BK, NT>::PER; ++p) {
    const int g = threadIdx.x + p * NT;
    int i, kk;
    if (KC) {
      i = g / (BK / VW);
      kk = (g % (BK / VW)) * VW;
    } else {
      kk = g / (BI / VW);
      i = (g % (BI / VW)) * VW;
    }
    const index_t gi = i0 + i, gk = k0 + kk;
    // A group lies in one k-segment when vec_ok (the host checked kseg % VW == 0; gk % VW == 0).
    const bool full = KC ? (gi < I && gk + VW <= K) : (gk < K && gi + VW <= I);
    if (m.vec_ok && full) {
      const V v = *reinterpret_cast<const V*>(base + elem_offset<KC>(m, gi, gk));
      const T* e = reinterpret_cast<const T*>(&v);
#pragma unroll
      for (int q = 0; q < VW; ++q) r.v[p][q] = e[q];
    } else {
#pragma unroll
      for (int q = 0; q < VW; ++q) {
        const index_t ii = KC ? gi : gi + q, kq = KC ? gk + q : gk;
        r.v[p][q] = (ii < I && kq < K) ? base[elem_offset<KC>(m, ii, kq)] : T(0);
      }
    }
  }
}

// Stores the fetched groups k-major into shared memory S[BK][LD].
template <bool KC, typename T, int BI, int BK, int NT, int LD>
__device__ __forceinline__ void store_tile(const TileRegs<T, BI, BK, NT>& r, T (*S)[LD]) {
  constexpr int VW = Vec<T>::n;
#pragma unroll
  for (int p = 0; p < TileRegs<T, BI, BK, NT>::PER; ++p) {
    const int g = threadIdx.x + p * NT;
    if (KC) {
      const int i = g / (BK / VW), kk = (g % (BK / VW)) * VW;
#pragma unroll
      for (int q = 0; q < VW; ++q) S[kk + q][i] = r.v[p][q];
    } else {
      const int kk = g / (BI / VW), i = (g % (BI / VW)) * VW;
#pragma unroll
      for (int q = 0; q < VW; ++q) S[kk][i + q] = r.v[p][q];
    }
  }
}

// Writes one output element through the epilogue. Cin is read only when beta != 0.
template <typename T>
__device__ __forceinline__ void epilogue(const Args<T>& a, index_t bo, index_t bi, index_t m, index_t n,
                                         T acc) {
  const index_t off = bo * a.out_so + bi * a.out_si + m * a.ldc + n;
  T v = a.alpha * acc;
  if (a.beta != T(0)) v += a.beta * a.c_in[off];
  if (a.bias != nullptr) v += a.bias[bo * a.bias_so + bi * a.bias_si + (a.bias_per_row ? m : n)];
  a.out[off] = v;
}


// Launches the TF32 kernel (gemm_tf32.cu) over `grid` for operands k-contiguous as flagged.
void launch_tf32(const Args<float>& a, bool akc, bool bkc, dim3 grid, cudaStream_t s);

constexpr int TC_BM = 128, TC_BN = 128;

}  // namespace pyengine::cuda::gemm_detail
