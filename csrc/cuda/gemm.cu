// gemm.cu — the batched GEMM of pyengine/cuda/gemm.h: the SIMT kernel (float and double) and the host
// side; the TF32 tensor-core kernel (float, opt-in) is in gemm_tf32.cu.
//
// Both kernels share the tile loader (gemm_tile.cuh): a block tile of an operand (BI rows of i = m or n, BK of k)
// is fetched as 16-byte groups of VW consecutive elements along the operand's contiguous direction,
// kept in registers while the previous tile is being multiplied, then stored k-major into shared
// memory, S[k][i]. A group uses one vector load when the operand's alignment allows it (decided on
// the host) and the whole group is inside the matrix; otherwise each element is loaded on its own
// with a bounds check, zero outside. Every block walks its output tiles with grid-stride loops over
// y (row tiles) and z (batch), so any problem size is covered whatever the grid limits.
#include <cstdint>

#include "cuda/gemm_tile.cuh"

namespace pyengine::cuda {
using namespace gemm_detail;
namespace {

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
          const T* B, index_t ldb, T beta, const T* Cin, T* C, index_t ldc, const T* bias, bool bias_per_row,
          bool tf32, cudaStream_t stream) {
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
  p.bias = bias;
  p.bias_per_row = bias_per_row;
  p.tf32 = tf32;
  gemm_batched(p, stream);
}

template void gemm_batched<float>(const GemmProblem<float>&, cudaStream_t);
template void gemm_batched<double>(const GemmProblem<double>&, cudaStream_t);
template void gemm<float>(bool, bool, index_t, index_t, index_t, float, const float*, index_t, const float*,
                          index_t, float, const float*, float*, index_t, const float*, bool, bool, cudaStream_t);
template void gemm<double>(bool, bool, index_t, index_t, index_t, double, const double*, index_t,
                           const double*, index_t, double, const double*, double*, index_t, const double*, bool,
                           bool, cudaStream_t);

}  // namespace pyengine::cuda