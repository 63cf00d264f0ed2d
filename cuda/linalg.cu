// Matrix multiply and the fused dense layer on the GPU (mirror of csrc/cpu/linalg.cpp): float32/float64
// products through cuBLAS (cublas.h, plain FP32 math, no TF32), integers with a shared-memory tiled kernel.
#include <type_traits>

#include "block_reduce.cuh"
#include "common.cuh"
#include "cublas.h"

namespace pft {
namespace cuda {
namespace {

constexpr int kTile = 16;        // integer matmul: kTile x kTile outputs per block
constexpr int kRowBlock = 256;   // softmax epilogues: threads per row
constexpr int kBiasCols = 32;    // bias gradient: columns per block (one warp wide) ...
constexpr int kBiasRows = 32;    // ... and rows of threads splitting N

// ---- matmul ------------------------------------------------------------------------------------------
// a[i] is (M, K), or (K, M) when trans_a; b[i] is (K, N), or (N, K) when trans_b; out[i] is (M, N), with
// a[i] = a + i * stride_a, b[i] = b + i * stride_b, i < batch. out = beta * out + a @ b, accumulated in T
// like the CPU loop. Integer types, and float/double when K == 0 (out = beta * out, no cuBLAS call).
// Each block walks output tiles (batch, M / kTile, N / kTile); one thread per output of a tile, K staged
// through shared memory kTile at a time.
template <class T>
__global__ void matmul_forward_kernel(T* out, const T* a, const T* b, int64_t batch, int64_t stride_a, int64_t stride_b,
                                      int64_t M, int64_t N, int64_t K, bool trans_a, bool trans_b, T beta) {
  __shared__ T a_tile[kTile][kTile];
  __shared__ T b_tile[kTile][kTile];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t lda = trans_a ? M : K, ldb = trans_b ? K : N;
  const int64_t tiles_m = (M + kTile - 1) / kTile, tiles_n = (N + kTile - 1) / kTile;
  const int64_t tiles = batch * tiles_m * tiles_n;
  for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
    const int64_t i = t / (tiles_m * tiles_n), tile = t % (tiles_m * tiles_n);
    const int64_t m = tile / tiles_n * kTile + ty, n = tile % tiles_n * kTile + tx;
    const T* A = a + i * stride_a;
    const T* B = b + i * stride_b;
    T acc = T(0);
    for (int64_t k0 = 0; k0 < K; k0 += kTile) {
      const int64_t ka = k0 + tx, kb = k0 + ty;  // this thread loads A(m, ka) and B(kb, n)
      a_tile[ty][tx] = m < M && ka < K ? (trans_a ? A[ka * lda + m] : A[m * lda + ka]) : T(0);
      b_tile[ty][tx] = kb < K && n < N ? (trans_b ? B[n * ldb + kb] : B[kb * ldb + n]) : T(0);
      __syncthreads();
      for (int k = 0; k < kTile; k++) acc = math::wrap_add(acc, math::wrap_mul(a_tile[ty][k], b_tile[k][tx]));
      __syncthreads();
    }
    if (m < M && n < N) {
      T& c = out[i * M * N + m * N + n];
      c = math::wrap_add(beta == T(0) ? T(0) : math::wrap_mul(beta, c), acc);  // beta == 0: out is not read (may be garbage)
    }
  }
}

// True when off[i] = off[0] + i * stride for every i < batch (then one strided launch / batched call).
bool uniform_stride(const int64_t* off, int64_t batch, int64_t* stride) {
  *stride = batch > 1 ? off[1] - off[0] : 0;
  for (int64_t i = 2; i < batch; i++)
    if (off[i] - off[i - 1] != *stride) return false;
  return true;
}

}  // namespace

template <class T>
void matmul_forward(T* out, const T* a, const T* b, int64_t batch, const int64_t* a_off, const int64_t* b_off,
                    int64_t M, int64_t N, int64_t K, bool trans_a, bool trans_b, T beta) {
  // out[i] (M, N) = op(a + a_off[i]) @ op(b + b_off[i]) + beta out[i]; offsets are host arrays.
  if (batch == 0 || M == 0 || N == 0) return;
  const int64_t lda = trans_a ? M : K, ldb = trans_b ? K : N;
  // `count` products with uniform strides, starting at out_i, A, B: one cuBLAS call or one launch.
  auto run = [&](T* out_i, const T* A, const T* B, int64_t count, int64_t stride_a, int64_t stride_b) {
    if constexpr (std::is_floating_point<T>::value) {
      if (K > 0) {
        blas::gemm<T>(trans_a, trans_b, M, N, K, T(1), A, lda, stride_a, B, ldb, stride_b, beta, out_i, N, M * N,
                      count);
        return;
      }
    }
    const int64_t tiles = count * ceil_div(M, kTile) * ceil_div(N, kTile);
    matmul_forward_kernel<T><<<grid_for(tiles, 1), dim3(kTile, kTile), 0, current_stream()>>>(
        out_i, A, B, count, stride_a, stride_b, M, N, K, trans_a, trans_b, beta);
    PFT_LAUNCH_CHECK();
  };
  int64_t stride_a = 0, stride_b = 0;
  const bool uniform_a = uniform_stride(a_off, batch, &stride_a), uniform_b = uniform_stride(b_off, batch, &stride_b);
  if (uniform_a && uniform_b) {
    run(out, a + a_off[0], b + b_off[0], batch, stride_a, stride_b);
  } else {
    for (int64_t i = 0; i < batch; i++) run(out + i * M * N, a + a_off[i], b + b_off[i], 1, 0, 0);
  }
}

// ---- fused dense ---------------------------------------------------------------------------------------
namespace {

// C (M, N) = op(A) @ op(B) on the device, K == 0 giving zeros (as the CPU's explicit fills).
template <class T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, const T* B, T* C) {
  const int64_t zero = 0;
  matmul_forward<T>(C, A, B, 1, &zero, &zero, M, N, K, ta, tb, T(0));
}

// out (N, K) holds inp @ weight (garbage when `zero`: D == 0, the product is 0). Adds bias (K,) when
// non-null and applies an elementwise activation, in one pass.
template <class T>
__global__ void dense_forward_kernel(T* out, const T* bias, int64_t N, int64_t K, bool zero, math::Activation act) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N * K; i += int64_t(gridDim.x) * blockDim.x) {
    T y = zero ? T(0) : out[i];
    if (bias) y += bias[i % K];
    out[i] = math::activate(act, y);
  }
}

// The same epilogue with a softmax across each row of K: a block per row, three passes over the row
// (bias and max, exp and sum, scale), stable as the CPU: y = exp(y - max) / sum.
template <class T>
__global__ void dense_softmax_forward_kernel(T* out, const T* bias, int64_t N, int64_t K, bool zero) {
  for (int64_t n = blockIdx.x; n < N; n += gridDim.x) {
    T* y = out + n * K;
    T m = -INFINITY;
    for (int64_t k = threadIdx.x; k < K; k += kRowBlock) {
      T v = zero ? T(0) : y[k];
      if (bias) v += bias[k];
      y[k] = v;
      m = v > m ? v : m;
    }
    m = block_all_reduce<kRowBlock>(m, MaxOp());
    T s = T(0);
    for (int64_t k = threadIdx.x; k < K; k += kRowBlock) {  // each thread revisits its own elements
      y[k] = math::exp_nonpos(T(y[k] - m));
      s += y[k];
    }
    const T inv = T(1) / block_all_reduce<kRowBlock>(s, SumOp());
    for (int64_t k = threadIdx.x; k < K; k += kRowBlock) y[k] *= inv;
  }
}

}  // namespace

template <class T>
void dense_forward(T* out, const T* inp, const T* weight, const T* bias, int64_t N, int64_t D, int64_t K, Activation act) {
  // out (N, K) = inp (N, D) @ weight (D, K) by cuBLAS, then bias and activation in one kernel over out.
  if (N == 0 || K == 0) return;
  const auto a = act;
  const bool zero = D == 0;  // no product: the epilogue starts from 0 instead of reading out
  if (!zero) gemm<T>(false, false, N, K, D, inp, weight, out);
  if (a == math::Activation::Softmax) {
    dense_softmax_forward_kernel<T><<<grid_for(N, 1), kRowBlock, 0, current_stream()>>>(out, bias, N, K, zero);
    PFT_LAUNCH_CHECK();
  } else if (zero || bias || a != math::Activation::Linear) {
    dense_forward_kernel<T><<<grid_for(N * K), 256, 0, current_stream()>>>(out, bias, N, K, zero, a);
    PFT_LAUNCH_CHECK();
  }
}

namespace {

// dz = act'(y) * dy elementwise, from the saved output y (N * K elements).
template <class T>
__global__ void dense_backward_kernel(T* dz, const T* dout, const T* out, int64_t n, math::Activation act) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dz[i] = math::activation_grad(act, out[i], dout[i]);
}

// Softmax's Jacobian-vector product per row, dz = (dy - sum(dy * y)) * y: a block per row.
template <class T>
__global__ void dense_softmax_backward_kernel(T* dz, const T* dout, const T* out, int64_t N, int64_t K) {
  for (int64_t n = blockIdx.x; n < N; n += gridDim.x) {
    const T* y = out + n * K;
    const T* dy = dout + n * K;
    T s = T(0);
    for (int64_t k = threadIdx.x; k < K; k += kRowBlock) s += dy[k] * y[k];
    s = block_all_reduce<kRowBlock>(s, SumOp());
    for (int64_t k = threadIdx.x; k < K; k += kRowBlock) dz[n * K + k] = (dy[k] - s) * y[k];
  }
}

// dbias (K,) = column sums of dz (N, K), written (not added), in T like the CPU. A block per kBiasCols
// columns: its kBiasRows rows of threads read rows n, n + kBiasRows, ... (coalesced along k), then row 0
// adds the kBiasRows partials in a fixed order, so the result is deterministic.
template <class T>
__global__ void dense_bias_backward_kernel(T* dbias, const T* dz, int64_t N, int64_t K) {
  __shared__ T partial[kBiasRows][kBiasCols];
  const int64_t k = blockIdx.x * int64_t(kBiasCols) + threadIdx.x;
  T s = T(0);
  if (k < K)
    for (int64_t n = threadIdx.y; n < N; n += kBiasRows) s += dz[n * K + k];
  partial[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && k < K) {
    T total = T(0);
    for (int r = 0; r < kBiasRows; r++) total += partial[r][threadIdx.x];
    dbias[k] = total;
  }
}

}  // namespace

template <class T>
void dense_backward(T* dinp, T* dweight, T* dbias, T* dz, T* /*partials*/, int /*partial_rows*/, const T* dout,
                    const T* inp, const T* weight, const T* out, int64_t N, int64_t D, int64_t K, Activation act) {
  // From dout (N, K) and the saved inp (N, D), weight (D, K), out (N, K, post-activation):
  // dz = act'(out) * dout, dbias = sum_n dz, dinp = dz @ W^T, dweight = inp^T @ dz (all overwritten).
  // The CPU's per-thread bias partials are not needed here: dbias has its own column-sum kernel.
  const auto a = act;
  const T* g = a == math::Activation::Linear ? dout : dz;  // linear: dz is dout itself
  if (a == math::Activation::Softmax && N * K > 0) {
    dense_softmax_backward_kernel<T><<<grid_for(N, 1), kRowBlock, 0, current_stream()>>>(dz, dout, out, N, K);
    PFT_LAUNCH_CHECK();
  } else if (a != math::Activation::Linear && N * K > 0) {
    dense_backward_kernel<T><<<grid_for(N * K), 256, 0, current_stream()>>>(dz, dout, out, N * K, a);
    PFT_LAUNCH_CHECK();
  }
  if (dbias && K > 0) {  // N == 0 gives zeros
    dense_bias_backward_kernel<T><<<unsigned(ceil_div(K, kBiasCols)), dim3(kBiasCols, kBiasRows), 0, current_stream()>>>(
        dbias, g, N, K);
    PFT_LAUNCH_CHECK();
  }
  if (dinp) gemm<T>(false, true, N, D, K, g, weight, dinp);     // dX (N, D) = dz (N, K) @ W^T; K == 0: zeros
  if (dweight) gemm<T>(true, false, D, K, N, inp, g, dweight);  // dW (D, K) = X^T @ dz; N == 0: zeros
}

PFT_INSTANCES_LINALG()

}  // namespace cuda
}  // namespace pft
