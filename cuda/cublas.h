// cuBLAS, loaded at run time: the few pieces of the cuBLAS v2 C API that the kernels use, declared here
// with their documented ABI (cublas_api.h), so the module builds with nvcc alone and imports on machines
// without cuBLAS. cublas.cu dlopens libcublas at the first GPU matmul and keeps one handle per device.
// Our own names (namespace pft::cuda::blas, PFN_*), so nothing clashes if cublas_v2.h is ever included.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

struct cublasContext;  // the library's opaque handle type (the same declaration as cublas_api.h)

namespace pft {
namespace cuda {
namespace blas {

using Handle = cublasContext*;  // cublasHandle_t
using Status = int;             // cublasStatus_t (a C enum): 0 = CUBLAS_STATUS_SUCCESS
constexpr Status kStatusAllocFailed = 3;  // CUBLAS_STATUS_ALLOC_FAILED
enum Operation : int { kOpN = 0, kOpT = 1 };  // cublasOperation_t: CUBLAS_OP_N, CUBLAS_OP_T
enum MathMode : int { kDefaultMath = 0 };     // cublasMath_t: CUBLAS_DEFAULT_MATH (plain FP32, no TF32)

// The exported symbols' prototypes (Linux: CUBLASWINAPI is empty, so the default calling convention).
using PFN_cublasCreate_v2 = Status (*)(Handle* handle);
using PFN_cublasDestroy_v2 = Status (*)(Handle handle);
using PFN_cublasSetStream_v2 = Status (*)(Handle handle, cudaStream_t streamId);
using PFN_cublasSetMathMode = Status (*)(Handle handle, MathMode mode);
using PFN_cublasGetStatusString = const char* (*)(Status status);
using PFN_cublasSgemm_v2 = Status (*)(Handle handle, Operation transa, Operation transb, int m, int n, int k,
                                      const float* alpha, const float* A, int lda, const float* B, int ldb,
                                      const float* beta, float* C, int ldc);
using PFN_cublasDgemm_v2 = Status (*)(Handle handle, Operation transa, Operation transb, int m, int n, int k,
                                      const double* alpha, const double* A, int lda, const double* B, int ldb,
                                      const double* beta, double* C, int ldc);
using PFN_cublasSgemmStridedBatched = Status (*)(Handle handle, Operation transa, Operation transb, int m, int n,
                                                 int k, const float* alpha, const float* A, int lda,
                                                 long long int strideA, const float* B, int ldb,
                                                 long long int strideB, const float* beta, float* C, int ldc,
                                                 long long int strideC, int batchCount);
using PFN_cublasDgemmStridedBatched = Status (*)(Handle handle, Operation transa, Operation transb, int m, int n,
                                                 int k, const double* alpha, const double* A, int lda,
                                                 long long int strideA, const double* B, int ldb,
                                                 long long int strideB, const double* beta, double* C, int ldc,
                                                 long long int strideC, int batchCount);

// The loaded entry points. get_status_string may be null (it is only used for error messages).
struct Api {
  PFN_cublasCreate_v2 create = nullptr;
  PFN_cublasDestroy_v2 destroy = nullptr;
  PFN_cublasSetStream_v2 set_stream = nullptr;
  PFN_cublasSetMathMode set_math_mode = nullptr;
  PFN_cublasGetStatusString get_status_string = nullptr;
  PFN_cublasSgemm_v2 sgemm = nullptr;
  PFN_cublasDgemm_v2 dgemm = nullptr;
  PFN_cublasSgemmStridedBatched sgemm_strided_batched = nullptr;
  PFN_cublasDgemmStridedBatched dgemm_strided_batched = nullptr;
};

// Loads libcublas on first use (thread-safe); throws pft::RuntimeError saying how to install it when
// it cannot be loaded. Tries again on the next call after a failure.
const Api& api();

// The current device's handle (created on first use, CUBLAS_DEFAULT_MATH), bound to current_stream().
Handle handle();

// Throws for a non-zero status, naming the call: pft::ResourceExhausted for CUBLAS_STATUS_ALLOC_FAILED,
// pft::RuntimeError otherwise.
void check(Status status, const char* call);

// Row-major GEMM on current_stream(), batched by strides (in elements):
//   C[i] (M, N) = alpha op(A[i]) @ op(B[i]) + beta C[i],  X[i] = X + i * stride_x,  i < batch,
// with A[i] (M, K) row-major leading dimension lda, or (K, M) when trans_a; B[i] (K, N) ldb, or (N, K)
// when trans_b; C[i] ldc. Needs M, N, K > 0 (K == 0 is the caller's: BLAS semantics vary). Sizes must
// fit cuBLAS's int (InvalidArgument otherwise). T is float or double.
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          int64_t stride_a, const T* B, int64_t ldb, int64_t stride_b, T beta, T* C, int64_t ldc, int64_t stride_c,
          int64_t batch);

}  // namespace blas
}  // namespace cuda
}  // namespace pft
