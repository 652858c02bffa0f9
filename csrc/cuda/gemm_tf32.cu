// gemm_tf32.cu — the TF32 tensor-core GEMM kernel (float, opt-in through allow_tf32): wmma m16n16k8
// fragments over 128×128×16 block tiles, 8 warps each owning 32×64 of the tile; the operands are
// staged by the shared tile loader of gemm_tile.cuh, rounded to TF32 in the fragments, accumulated
// in float. Its own translation unit so the two GEMM files compile in parallel.
#include <mma.h>

#include "cuda/gemm_tile.cuh"

namespace pyengine::cuda::gemm_detail {
namespace {

// ---- TF32 tensor-core kernel (float) -----------------------------------------------------------

constexpr int TC_BK = 16, TC_NT = 256, TC_LD = 132;

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


}  // namespace

void launch_tf32(const Args<float>& a, bool akc, bool bkc, dim3 grid, cudaStream_t s) {
  if (akc && bkc) gemm_tf32_kernel<true, true><<<grid, TC_NT, 0, s>>>(a);
  else if (akc) gemm_tf32_kernel<true, false><<<grid, TC_NT, 0, s>>>(a);
  else if (bkc) gemm_tf32_kernel<false, true><<<grid, TC_NT, 0, s>>>(a);
  else gemm_tf32_kernel<false, false><<<grid, TC_NT, 0, s>>>(a);
  check_launch("gemm_tf32_kernel");
}

}  // namespace pyengine::cuda::gemm_detail
