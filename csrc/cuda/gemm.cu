// gemm.cu — the batched GEMM of pyengine/cuda/gemm.h: a SIMT kernel (float and double) and a TF32
// tensor-core kernel (float, opt-in).
//
// Both kernels share the tile loader: a block tile of an operand (BI rows of i = m or n, BK of k)
// is fetched as 16-byte groups of VW consecutive elements along the operand's contiguous direction,
// kept in registers while the previous tile is being multiplied, then stored k-major into shared
// memory, S[k][i]. A group uses one vector load when the operand's alignment allows it (decided on
// the host) and the whole group is inside the matrix; otherwise each element is loaded on its own
// with a bounds check, zero outside. Every block walks its output tiles with grid-stride loops over
// y (row tiles) and z (batch), so any problem size is covered whatever the grid limits.
#include <mma.h>

#include <cstdint>

#include "pyengine/cuda/common.cuh"
#include "pyengine/cuda/gemm.h"

namespace pyengine::cuda {
namespace {

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

// ---- SIMT kernel -------------------------------------------------------------------------------

template <typename T, int BM, int BN, int BK, int TM, int TN, bool AKC, bool BKC>
__global__ void __launch_bounds__((BM / TM) * (BN / TN)) gemm_kernel(Args<T> args) {
  constexpr int NT = (BM / TM) * (BN / TN);
  constexpr int VW = Vec<T>::n;
  constexpr int LDA = BM + VW, LDB = BN + VW;  // padding keeps rows 16-byte aligned, spreads banks
  __shared__ __align__(16) T As[2][BK][LDA];
  __shared__ __align__(16) T Bs[2][BK][LDB];

  const int tid = threadIdx.x;
  const int tx = tid % (BN / TN), ty = tid / (BN / TN);
  const index_t mtiles = (args.M + BM - 1) / BM;
  const index_t ntile = blockIdx.x;
  const index_t nbatch = args.batch_outer * args.batch_inner;
  const index_t ktiles = (args.K + BK - 1) / BK;

  for (index_t z = blockIdx.z; z < nbatch; z += gridDim.z) {
    const index_t bo = z / args.batch_inner, bi = z % args.batch_inner;
    const T* abase = args.a.ptr + bo * args.a.stride_outer + bi * args.a.stride_inner;
    const T* bbase = args.b.ptr + bo * args.b.stride_outer + bi * args.b.stride_inner;
    for (index_t mt = blockIdx.y; mt < mtiles; mt += gridDim.y) {
      const index_t m0 = mt * BM, n0 = ntile * BN;
      TileRegs<T, BM, BK, NT> ra;
      TileRegs<T, BN, BK, NT> rb;
      T acc[TM][TN];
#pragma unroll
      for (int r = 0; r < TM; ++r)
#pragma unroll
        for (int c = 0; c < TN; ++c) acc[r][c] = T(0);

      load_tile<AKC>(ra, args.a, abase, m0, 0, args.M, args.K);
      load_tile<BKC>(rb, args.b, bbase, n0, 0, args.N, args.K);
      store_tile<AKC>(ra, As[0]);
      store_tile<BKC>(rb, Bs[0]);
      __syncthreads();

      for (index_t kt = 0; kt < ktiles; ++kt) {
        const int buf = static_cast<int>(kt & 1);
        const bool more = kt + 1 < ktiles;
        if (more) {  // next tile's global loads are in flight during the FMAs below
          load_tile<AKC>(ra, args.a, abase, m0, (kt + 1) * BK, args.M, args.K);
          load_tile<BKC>(rb, args.b, bbase, n0, (kt + 1) * BK, args.N, args.K);
        }
#pragma unroll
        for (int k = 0; k < BK; ++k) {
          T av[TM], bv[TN];
#pragma unroll
          for (int r = 0; r < TM; ++r) av[r] = As[buf][k][ty * TM + r];
#pragma unroll
          for (int c = 0; c < TN; ++c) bv[c] = Bs[buf][k][tx * TN + c];
#pragma unroll
          for (int r = 0; r < TM; ++r)
#pragma unroll
            for (int c = 0; c < TN; ++c) acc[r][c] = fma(av[r], bv[c], acc[r][c]);
        }
        if (more) {  // the other buffer was last read before the previous barrier
          store_tile<AKC>(ra, As[buf ^ 1]);
          store_tile<BKC>(rb, Bs[buf ^ 1]);
        }
        __syncthreads();
      }

#pragma unroll
      for (int r = 0; r < TM; ++r) {
        const index_t m = m0 + ty * TM + r;
        if (m >= args.M) continue;
#pragma unroll
        for (int c = 0; c < TN; ++c) {
          const index_t n = n0 + tx * TN + c;
          if (n < args.N) epilogue(args, bo, bi, m, n, acc[r][c]);
        }
      }
      __syncthreads();  // shared memory is refilled by the next tile of this block
    }
  }
}

// ---- TF32 tensor-core kernel (float) -----------------------------------------------------------

constexpr int TC_BM = 128, TC_BN = 128, TC_BK = 16, TC_NT = 256, TC_LD = 132;

template <bool AKC, bool BKC>
__global__ void __launch_bounds__(TC_NT) gemm_tf32_kernel(Args<float> args) {
  namespace wmma = nvcuda::wmma;
  // As[k][m] is A in column-major order for wmma (element (m,k) at m + k·ld), Bs[k][n] is B
  // row-major; ld = 132 floats keeps every fragment pointer 32-byte aligned.
  __shared__ __align__(128) float As[2][TC_BK][TC_LD];
  __shared__ __align__(128) float Bs[2][TC_BK][TC_LD];
  __shared__ __align__(128) float Cs[TC_NT / 32][16 * 16];

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int wm = warp / 2, wn = warp % 2;  // 4×2 warps, each owns 32×64 of the 128×128 tile
  const index_t mtiles = (args.M + TC_BM - 1) / TC_BM;
  const index_t ntile = blockIdx.x;
  const index_t nbatch = args.batch_outer * args.batch_inner;
  const index_t ktiles = (args.K + TC_BK - 1) / TC_BK;

  for (index_t z = blockIdx.z; z < nbatch; z += gridDim.z) {
    const index_t bo = z / args.batch_inner, bi = z % args.batch_inner;
    const float* abase = args.a.ptr + bo * args.a.stride_outer + bi * args.a.stride_inner;
    const float* bbase = args.b.ptr + bo * args.b.stride_outer + bi * args.b.stride_inner;
    for (index_t mt = blockIdx.y; mt < mtiles; mt += gridDim.y) {
      const index_t m0 = mt * TC_BM, n0 = ntile * TC_BN;
      TileRegs<float, TC_BM, TC_BK, TC_NT> ra;
      TileRegs<float, TC_BN, TC_BK, TC_NT> rb;
      wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[2][4];
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

      load_tile<AKC>(ra, args.a, abase, m0, 0, args.M, args.K);
      load_tile<BKC>(rb, args.b, bbase, n0, 0, args.N, args.K);
      store_tile<AKC>(ra, As[0]);
      store_tile<BKC>(rb, Bs[0]);
      __syncthreads();

      for (index_t kt = 0; kt < ktiles; ++kt) {
        const int buf = static_cast<int>(kt & 1);
        const bool more = kt + 1 < ktiles;
        if (more) {
          load_tile<AKC>(ra, args.a, abase, m0, (kt + 1) * TC_BK, args.M, args.K);
          load_tile<BKC>(rb, args.b, bbase, n0, (kt + 1) * TC_BK, args.N, args.K);
        }
#pragma unroll
        for (int kk = 0; kk < TC_BK; kk += 8) {
          wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::col_major> af[2];
          wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> bf[4];
#pragma unroll
          for (int i = 0; i < 2; ++i) {
            wmma::load_matrix_sync(af[i], &As[buf][kk][wm * 32 + i * 16], TC_LD);
#pragma unroll
            for (int t = 0; t < af[i].num_elements; ++t) af[i].x[t] = wmma::__float_to_tf32(af[i].x[t]);
          }
#pragma unroll
          for (int j = 0; j < 4; ++j) {
            wmma::load_matrix_sync(bf[j], &Bs[buf][kk][wn * 64 + j * 16], TC_LD);
#pragma unroll
            for (int t = 0; t < bf[j].num_elements; ++t) bf[j].x[t] = wmma::__float_to_tf32(bf[j].x[t]);
          }
#pragma unroll
          for (int i = 0; i < 2; ++i)
#pragma unroll
            for (int j = 0; j < 4; ++j) wmma::mma_sync(acc[i][j], af[i], bf[j], acc[i][j]);
        }
        if (more) {
          store_tile<AKC>(ra, As[buf ^ 1]);
          store_tile<BKC>(rb, Bs[buf ^ 1]);
        }
        __syncthreads();
      }

      // Each warp stages one 16×16 fragment at a time in its own scratch and writes it through
      // the bounds-checked epilogue.
#pragma unroll
      for (int i = 0; i < 2; ++i) {
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          wmma::store_matrix_sync(Cs[warp], acc[i][j], 16, wmma::mem_row_major);
          __syncwarp();
          for (int e = lane; e < 256; e += 32) {
            const index_t m = m0 + wm * 32 + i * 16 + e / 16, n = n0 + wn * 64 + j * 16 + e % 16;
            if (m < args.M && n < args.N) epilogue(args, bo, bi, m, n, Cs[warp][e]);
          }
          __syncwarp();
        }
      }
      __syncthreads();
    }
  }
}

// ---- host side ---------------------------------------------------------------------------------

template <typename T>
bool aligned16(const T* p) { return (reinterpret_cast<std::uintptr_t>(p) & 15u) == 0; }

template <typename T>
Mat<T> make_mat(const Operand<T>& o, index_t K) {
  constexpr index_t VW = Vec<T>::n;
  Mat<T> m{};
  m.ptr = o.ptr;
  m.ld = o.ld;
  m.kseg = o.kseg > 0 ? o.kseg : (K > 0 ? K : 1);
  m.seg_stride = o.seg_stride;
  m.stride_outer = o.stride_outer;
  m.stride_inner = o.stride_inner;
  m.segmented = m.kseg < K;
  m.seg32 = K < (index_t(1) << 31);
  // Every group start must be 16-byte aligned in every batch and segment, and (along k) a group
  // must not straddle two segments.
  m.vec_ok = aligned16(o.ptr) && o.ld % VW == 0 && m.seg_stride % VW == 0 && o.stride_outer % VW == 0 &&
             o.stride_inner % VW == 0 && (!o.k_contig || m.kseg % VW == 0);
  return m;
}

template <typename T, int BM, int BN, int BK, int TM, int TN>
void launch_simt(const Args<T>& a, bool akc, bool bkc, dim3 grid, cudaStream_t s) {
  constexpr int NT = (BM / TM) * (BN / TN);
  if (akc && bkc) gemm_kernel<T, BM, BN, BK, TM, TN, true, true><<<grid, NT, 0, s>>>(a);
  else if (akc) gemm_kernel<T, BM, BN, BK, TM, TN, true, false><<<grid, NT, 0, s>>>(a);
  else if (bkc) gemm_kernel<T, BM, BN, BK, TM, TN, false, true><<<grid, NT, 0, s>>>(a);
  else gemm_kernel<T, BM, BN, BK, TM, TN, false, false><<<grid, NT, 0, s>>>(a);
  check_launch("gemm_kernel");
}

void launch_tf32(const Args<float>& a, bool akc, bool bkc, dim3 grid, cudaStream_t s) {
  if (akc && bkc) gemm_tf32_kernel<true, true><<<grid, TC_NT, 0, s>>>(a);
  else if (akc) gemm_tf32_kernel<true, false><<<grid, TC_NT, 0, s>>>(a);
  else if (bkc) gemm_tf32_kernel<false, true><<<grid, TC_NT, 0, s>>>(a);
  else gemm_tf32_kernel<false, false><<<grid, TC_NT, 0, s>>>(a);
  check_launch("gemm_tf32_kernel");
}

dim3 tile_grid(index_t M, index_t N, index_t batches, int bm, int bn) {
  const index_t nt = (N + bn - 1) / bn, mt = (M + bm - 1) / bm;
  const index_t gy = mt < 65535 ? mt : 65535, gz = batches < 65535 ? batches : 65535;
  // x (column tiles) allows 2^31-1 blocks; N is at most a few billion so nt fits.
  return dim3(static_cast<unsigned>(nt), static_cast<unsigned>(gy), static_cast<unsigned>(gz));
}

}  // namespace

template <typename T>
void gemm_batched(const GemmProblem<T>& p, cudaStream_t stream) {
  const index_t batches = p.batch_outer * p.batch_inner;
  if (p.M == 0 || p.N == 0 || batches == 0) return;
  Args<T> a{};
  a.M = p.M;
  a.N = p.N;
  a.K = p.K;
  a.batch_outer = p.batch_outer;
  a.batch_inner = p.batch_inner;
  a.a = make_mat(p.a, p.K);
  a.b = make_mat(p.b, p.K);
  a.out = p.out;
  a.c_in = p.c_in != nullptr ? p.c_in : p.out;
  a.ldc = p.ldc;
  a.out_so = p.out_stride_outer;
  a.out_si = p.out_stride_inner;
  a.alpha = p.alpha;
  a.beta = p.c_in != nullptr ? p.beta : T(0);
  a.bias = p.bias;
  a.bias_per_row = p.bias_per_row;
  a.bias_so = p.bias_stride_outer;
  a.bias_si = p.bias_stride_inner;
  if constexpr (sizeof(T) == 4) {
    if (p.tf32) {
      launch_tf32(a, p.a.k_contig, p.b.k_contig, tile_grid(p.M, p.N, batches, TC_BM, TC_BN), stream);
      return;
    }
    launch_simt<T, 128, 128, 8, 8, 8>(a, p.a.k_contig, p.b.k_contig, tile_grid(p.M, p.N, batches, 128, 128),
                                      stream);
  } else {
    launch_simt<T, 64, 64, 8, 4, 4>(a, p.a.k_contig, p.b.k_contig, tile_grid(p.M, p.N, batches, 64, 64),
                                    stream);
  }
}

template <typename T>
void gemm(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha, const T* A, index_t lda,
          const T* B, index_t ldb, T beta, const T* Cin, T* C, index_t ldc, bool tf32, cudaStream_t stream) {
  GemmProblem<T> p;
  p.M = M;
  p.N = N;
  p.K = K;
  p.a.ptr = A;
  p.a.ld = lda;
  p.a.k_contig = !trans_a;
  p.b.ptr = B;
  p.b.ld = ldb;
  p.b.k_contig = trans_b;
  p.out = C;
  p.c_in = beta != T(0) ? Cin : nullptr;
  p.ldc = ldc;
  p.alpha = alpha;
  p.beta = beta;
  p.tf32 = tf32;
  gemm_batched(p, stream);
}

template void gemm_batched<float>(const GemmProblem<float>&, cudaStream_t);
template void gemm_batched<double>(const GemmProblem<double>&, cudaStream_t);
template void gemm<float>(bool, bool, index_t, index_t, index_t, float, const float*, index_t, const float*,
                          index_t, float, const float*, float*, index_t, bool, cudaStream_t);
template void gemm<double>(bool, bool, index_t, index_t, index_t, double, const double*, index_t,
                           const double*, index_t, double, const double*, double*, index_t, bool,
                           cudaStream_t);

}  // namespace pyengine::cuda
