// Matrix multiply: float32/float64 through OpenBLAS (row-major cblas), integers with a plain loop.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "kernels.h"

namespace pft {
namespace cpu {

// Small products (at most kSmallGemm multiply-adds, K > 0): a plain loop. OpenBLAS's entry (argument
// checks, the threading decision, packing A and B) costs 250-400 ns whatever the size, most of a
// seed-sized matmul (100 x 3 @ 3 x 1: 300 multiply-adds). Each output is a sum over k in order with fused
// multiply-adds, as OpenBLAS's kernels compute it. The products are accumulated in a local M x N buffer,
// k outermost, so consecutive updates touch different outputs (no dependency chain) whatever the shape;
// fewer than 8 outputs are dot products with four partial sums instead.
constexpr int64_t kSmallGemm = 512;

template <class T>
static void small_gemm(T* C, const T* A, const T* B, int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb,
                       bool trans_a, bool trans_b, T beta) {
  const int64_t as_m = trans_a ? 1 : lda, as_k = trans_a ? lda : 1;  // A(m, k) = A[m * as_m + k * as_k]
  const int64_t bs_k = trans_b ? 1 : ldb, bs_n = trans_b ? ldb : 1;  // B(k, n) = B[k * bs_k + n * bs_n]
  const int64_t MN = M * N;
  auto put = [&](int64_t i, T v) { C[i] = beta == T(0) ? v : T(beta * C[i]) + v; };
  if (MN < 8) {
    for (int64_t m = 0; m < M; m++)
      for (int64_t n = 0; n < N; n++) {
        const T* a = A + m * as_m;
        const T* b = B + n * bs_n;
        T s[4] = {T(0), T(0), T(0), T(0)};
        int64_t k = 0;
        for (; k + 4 <= K; k += 4)
          for (int j = 0; j < 4; j++) s[j] = std::fma(a[(k + j) * as_k], b[(k + j) * bs_k], s[j]);
        for (; k < K; k++) s[0] = std::fma(a[k * as_k], b[k * bs_k], s[0]);
        put(m * N + n, (s[0] + s[1]) + (s[2] + s[3]));
      }
    return;
  }
  T acc[kSmallGemm];
  std::fill(acc, acc + MN, T(0));
  if (N == 1) {  // a matrix-vector product: the inner loop runs over the rows
    for (int64_t k = 0; k < K; k++) {
      const T bv = B[k * bs_k];
      const T* ak = A + k * as_k;
      for (int64_t m = 0; m < M; m++) acc[m] = std::fma(ak[m * as_m], bv, acc[m]);
    }
    for (int64_t m = 0; m < M; m++) put(m, acc[m]);
    return;
  }
  for (int64_t k = 0; k < K; k++) {
    const T* bk = B + k * bs_k;
    for (int64_t m = 0; m < M; m++) {
      const T av = A[m * as_m + k * as_k];
      T* am = acc + m * N;
      if (bs_n == 1)
        for (int64_t n = 0; n < N; n++) am[n] = std::fma(av, bk[n], am[n]);
      else
        for (int64_t n = 0; n < N; n++) am[n] = std::fma(av, bk[n * bs_n], am[n]);
    }
  }
  for (int64_t i = 0; i < MN; i++) put(i, acc[i]);
}

template <class T>
void matmul_forward(T* out, const T* a, const T* b, int64_t batch, const int64_t* a_off, const int64_t* b_off,
                    int64_t M, int64_t N, int64_t K, bool trans_a, bool trans_b, T beta) {
  // a[i] is (M, K), or (K, M) when trans_a; b[i] is (K, N), or (N, K) when trans_b; out[i] is (M, N).
  // Transposes are BLAS flags, never copies.
  const int64_t lda = trans_a ? M : K, ldb = trans_b ? K : N;
  const bool small = K > 0 && M * N * K <= kSmallGemm;
  for (int64_t i = 0; i < batch; i++) {
    const T* A = a + a_off[i];
    const T* B = b + b_off[i];
    T* C = out + i * M * N;
    if constexpr (std::is_floating_point<T>::value) {
      if (small) {
        small_gemm<T>(C, A, B, M, N, K, lda, ldb, trans_a, trans_b, beta);
        continue;
      }
    }
    if constexpr (std::is_same<T, float>::value) {
      scipy_cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                        (blasint)M, (blasint)N, (blasint)K, 1.0f, A, (blasint)lda, B, (blasint)ldb, beta, C,
                        (blasint)N);
    } else if constexpr (std::is_same<T, double>::value) {
      scipy_cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                        (blasint)M, (blasint)N, (blasint)K, 1.0, A, (blasint)lda, B, (blasint)ldb, beta, C,
                        (blasint)N);
    } else {
      parallel_for(M, M * N * K >= kParallelThreshold, [&](int64_t m) {
        for (int64_t n = 0; n < N; n++) {
          T s = beta == T(0) ? T(0) : math::wrap_mul(T(beta), C[m * N + n]);
          for (int64_t k = 0; k < K; k++) {  // integer matmuls wrap as TF's (csrc/math.h)
            T av = trans_a ? A[k * lda + m] : A[m * lda + k];
            T bv = trans_b ? B[n * ldb + k] : B[k * ldb + n];
            s = math::wrap_add(s, math::wrap_mul(av, bv));
          }
          C[m * N + n] = s;
        }
      });
    }
  }
}

}  // namespace cpu
}  // namespace pft

// ---- fused dense ---------------------------------------------------------------------------------------
#include <type_traits>

#include "../math.h"

namespace pft {
namespace cpu {

template <class T>
static void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, const T* B, T* C) {
  int64_t zero = 0;
  matmul_forward<T>(C, A, B, 1, &zero, &zero, M, N, K, ta, tb);
}

// Calls f(std::integral_constant<Activation, act>): the activation as a compile-time constant, so each
// per-element loop below is branch-free and vectorises (a switch per element cost more than the GEMM's
// own epilogue should: 29 ms on a 4096 x 2048 output).
template <class F>
static void with_activation(Activation a, F&& f) {
  switch (a) {
#define PFT_ACT_CASE(E, stem) \
  case Activation::E: return f(std::integral_constant<Activation, Activation::E>{});
    PFT_ACTIVATIONS(PFT_ACT_CASE)
#undef PFT_ACT_CASE
  }
  throw InvalidArgument("dense: unknown activation code " + std::to_string(int(a)));
}

template <class T>
void dense_forward(T* out, const T* inp, const T* weight, const T* bias, int64_t N, int64_t D, int64_t K, Activation act) {
  // out (N, K) = inp (N, D) @ weight (D, K) by BLAS, then bias and activation in one pass over out.
  if (D == 0) std::fill(out, out + N * K, T(0));
  else gemm<T>(false, false, N, K, D, inp, weight, out);
  with_activation(act, [&](auto tag) {
    constexpr auto a = decltype(tag)::value;
    if (a == math::Activation::Linear && !bias) return;
    parallel_for(N, N * K >= kParallelThreshold, [&](int64_t n) {
      T* y = out + n * K;
      if constexpr (a == math::Activation::Softmax) {
        if (bias)
          for (int64_t k = 0; k < K; k++) y[k] += bias[k];
        T m = K ? y[0] : T(0);
        for (int64_t k = 1; k < K; k++) m = y[k] > m ? y[k] : m;
        T s = T(0);
        for (int64_t k = 0; k < K; k++) {
          y[k] = math::exp_nonpos(T(y[k] - m));
          s += y[k];
        }
        const T inv = T(1) / s;
        for (int64_t k = 0; k < K; k++) y[k] *= inv;
      } else if (bias) {
        for (int64_t k = 0; k < K; k++) y[k] = math::activate(a, T(y[k] + bias[k]));
      } else {
        for (int64_t k = 0; k < K; k++) y[k] = math::activate(a, y[k]);
      }
    });
  });
}

template <class T>
void dense_backward(T* dinp, T* dweight, T* dbias, T* dz, T* partials, int partial_rows, const T* dout, const T* inp,
                    const T* weight, const T* out, int64_t N, int64_t D, int64_t K, Activation act) {
  const auto a = act;
  // 1. dz = act'(y) * dy, row by row; each thread sums its rows of dz into its own bias partial.
  const T* g = dout;
  if (a != math::Activation::Linear) {
    g = dz;
    const bool par = N * K >= kParallelThreshold;
#pragma omp parallel num_threads(par ? partial_rows : 1)
    {
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
      T* pb = dbias ? partials + int64_t(t) * K : nullptr;
      if (pb) std::fill(pb, pb + K, T(0));
      const int64_t chunk = (N + nt - 1) / nt, b = std::min(N, chunk * t), e = std::min(N, b + chunk);
      for (int64_t n = b; n < e; n++) {
        const T* y = out + n * K;
        const T* dy = dout + n * K;
        T* z = dz + n * K;
        if (a == math::Activation::Softmax) {  // dz = (dy - sum(dy * y)) * y
          T s = T(0);
          for (int64_t k = 0; k < K; k++) s += dy[k] * y[k];
          for (int64_t k = 0; k < K; k++) z[k] = (dy[k] - s) * y[k];
        } else {
          with_activation(a, [&](auto tag) {  // branch-free, vectorised per activation
            constexpr auto ac = decltype(tag)::value;
            for (int64_t k = 0; k < K; k++) z[k] = math::activation_grad(ac, y[k], dy[k]);
          });
        }
        if (pb)
          for (int64_t k = 0; k < K; k++) pb[k] += z[k];
      }
      if (t == 0 && dbias)
        for (int r = nt; r < partial_rows; r++) std::fill(partials + int64_t(r) * K, partials + int64_t(r + 1) * K, T(0));
    }
    if (dbias) {  // partials combined in thread order: deterministic for a given thread count
      std::fill(dbias, dbias + K, T(0));
      for (int r = 0; r < partial_rows; r++)
        for (int64_t k = 0; k < K; k++) dbias[k] += partials[int64_t(r) * K + k];
    }
  } else if (dbias) {  // linear: dz is dy itself; only the bias sum is needed
    std::fill(dbias, dbias + K, T(0));
    for (int64_t n = 0; n < N; n++)
      for (int64_t k = 0; k < K; k++) dbias[k] += dout[n * K + k];
  }
  // 2. The two GEMMs, transposes as BLAS flags.
  if (dinp) {  // dX (N, D) = dz (N, K) @ W^T
    if (K == 0) std::fill(dinp, dinp + N * D, T(0));
    else gemm<T>(false, true, N, D, K, g, weight, dinp);
  }
  if (dweight) {  // dW (D, K) = X^T @ dz
    if (N == 0) std::fill(dweight, dweight + D * K, T(0));
    else gemm<T>(true, false, D, K, N, inp, g, dweight);
  }
}

PFT_INSTANCES_LINALG()

}  // namespace cpu
}  // namespace pft
