// Matrix multiply: float32/float64 through OpenBLAS (row-major cblas), integers with a plain loop.
#include <cblas.h>
#include <omp.h>

#include "kernels.h"

namespace pft {
namespace cpu {

template <class T>
void matmul_forward(T* out, const T* a, const T* b, int64_t batch, const int64_t* a_off, const int64_t* b_off,
                    int64_t M, int64_t N, int64_t K, bool trans_a, bool trans_b, T beta) {
  // a[i] is (M, K), or (K, M) when trans_a; b[i] is (K, N), or (N, K) when trans_b; out[i] is (M, N).
  // Transposes are BLAS flags, never copies.
  const int64_t lda = trans_a ? M : K, ldb = trans_b ? K : N;
  for (int64_t i = 0; i < batch; i++) {
    const T* A = a + a_off[i];
    const T* B = b + b_off[i];
    T* C = out + i * M * N;
    if constexpr (std::is_same<T, float>::value) {
      scipy_cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                        (blasint)M, (blasint)N, (blasint)K, 1.0f, A, (blasint)lda, B, (blasint)ldb, beta, C,
                        (blasint)N);
    } else if constexpr (std::is_same<T, double>::value) {
      scipy_cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                        (blasint)M, (blasint)N, (blasint)K, 1.0, A, (blasint)lda, B, (blasint)ldb, beta, C,
                        (blasint)N);
    } else {
#pragma omp parallel for if (M * N * K >= kParallelThreshold) schedule(static)
      for (int64_t m = 0; m < M; m++) {
        for (int64_t n = 0; n < N; n++) {
          T s = beta == T(0) ? T(0) : T(beta * C[m * N + n]);
          for (int64_t k = 0; k < K; k++) {
            T av = trans_a ? A[k * lda + m] : A[m * lda + k];
            T bv = trans_b ? B[n * ldb + k] : B[k * ldb + n];
            s += av * bv;
          }
          C[m * N + n] = s;
        }
      }
    }
  }
}

#define PFT_INST(T)                                                                                   \
  template void matmul_forward<T>(T*, const T*, const T*, int64_t, const int64_t*, const int64_t*, int64_t, \
                                  int64_t, int64_t, bool, bool, T);
PFT_INST(float) PFT_INST(double) PFT_INST(int32_t) PFT_INST(int64_t)
#undef PFT_INST

}  // namespace cpu
}  // namespace pft
