// cuBLAS loaded with dlopen at the first GPU matmul (see cublas.h): the library comes from the CUDA
// toolkit or from the nvidia-cublas wheel of the [cuda] extra, which the Python package may already have
// loaded (then the soname resolves to it). One handle per device, created lazily and never destroyed:
// handles live until exit, and destroying one after the CUDA context is torn down at exit can crash.
#include <dlfcn.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "common.cuh"
#include "cublas.h"

namespace pft {
namespace cuda {
namespace blas {
namespace {

std::mutex g_mutex;  // guards everything below
bool g_loaded = false;
Api g_api;
struct DeviceHandle {
  Handle handle = nullptr;
  cudaStream_t stream = nullptr;
};
std::vector<DeviceHandle> g_handles;  // indexed by device

// Resolves `name` in `lib` into `fn`; throws when `required` and it is missing.
template <class F>
void resolve(void* lib, const char* soname, const char* name, F& fn, bool required = true) {
  dlerror();
  fn = reinterpret_cast<F>(dlsym(lib, name));
  if (!fn && required) {
    const char* err = dlerror();
    throw RuntimeError(std::string("cuBLAS could not be loaded: ") + soname + " lacks " + name + " (" +
                       (err ? err : "symbol not found") + ")");
  }
}

// Caller holds g_mutex. Newest soname first; the unversioned name is the toolkit's development link.
void load_locked() {
  if (g_loaded) return;
  // The major version this module was built against first (a newer cuBLAS may need a newer driver).
  static const char* const kSonames[] = {CUDART_VERSION >= 13000 ? "libcublas.so.13" : "libcublas.so.12",
                                         CUDART_VERSION >= 13000 ? "libcublas.so.12" : "libcublas.so.13",
                                         "libcublas.so"};
  std::string errors;
  void* lib = nullptr;
  const char* soname = nullptr;
  // Directories first: PYFAST_TAPE_CUBLAS_DIRS (':'-separated), which pyfast_tape/__init__.py points at
  // the nvidia-cublas wheel's lib folders when that wheel is installed; then the loader's search path.
  std::vector<std::string> candidates;
  if (const char* dirs = std::getenv("PYFAST_TAPE_CUBLAS_DIRS")) {
    std::string all = dirs;
    for (size_t pos = 0; pos <= all.size();) {
      size_t end = all.find(':', pos);
      if (end == std::string::npos) end = all.size();
      if (end > pos)
        for (const char* name : kSonames) candidates.push_back(all.substr(pos, end - pos) + "/" + name);
      pos = end + 1;
    }
  }
  for (const char* name : kSonames) candidates.push_back(name);
  for (const std::string& name : candidates) {
    lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib) {
      soname = kSonames[0];
      for (const char* n : kSonames)
        if (name.size() >= std::strlen(n) && name.compare(name.size() - std::strlen(n), std::string::npos, n) == 0) soname = n;
      break;
    }
    const char* err = dlerror();
    if (name.find('/') == std::string::npos) errors += std::string(errors.empty() ? "" : "; ") + (err ? err : name);
  }
  if (!lib)
    throw RuntimeError("cuBLAS could not be loaded (" + errors +
                       "); install it with `pip install \"pyfast_tape[cuda]\"` (the nvidia-cublas wheel) or the "
                       "CUDA toolkit");
  Api api;
  resolve(lib, soname, "cublasCreate_v2", api.create);
  resolve(lib, soname, "cublasDestroy_v2", api.destroy);
  resolve(lib, soname, "cublasSetStream_v2", api.set_stream);
  resolve(lib, soname, "cublasSetMathMode", api.set_math_mode);
  resolve(lib, soname, "cublasGetStatusString", api.get_status_string, /*required=*/false);
  resolve(lib, soname, "cublasSgemm_v2", api.sgemm);
  resolve(lib, soname, "cublasDgemm_v2", api.dgemm);
  resolve(lib, soname, "cublasSgemmStridedBatched", api.sgemm_strided_batched);
  resolve(lib, soname, "cublasDgemmStridedBatched", api.dgemm_strided_batched);
  g_api = api;  // the library stays loaded for the life of the process
  g_loaded = true;
}

// Throws InvalidArgument unless v fits cuBLAS's int.
int to_int(int64_t v, const char* what) {
  if (v < 0 || v > INT_MAX)
    throw InvalidArgument(std::string("GPU matmul: ") + what + " = " + std::to_string(v) +
                          " exceeds cuBLAS's 32-bit size limit");
  return int(v);
}

}  // namespace

const Api& api() {
  std::lock_guard<std::mutex> lock(g_mutex);
  load_locked();
  return g_api;
}

void check(Status status, const char* call) {
  if (status == 0) return;
  const char* text = g_api.get_status_string ? g_api.get_status_string(status) : nullptr;
  std::string msg = std::string("cuBLAS ") + call + " failed with status " + std::to_string(status) +
                    (text ? std::string(" (") + text + ")" : std::string());
  if (status == kStatusAllocFailed) throw ResourceExhausted(msg);
  throw RuntimeError(msg);
}

// cuBLAS allocates its workspace itself, outside the stream-ordered pool, which keeps freed blocks: on
// CUBLAS_STATUS_ALLOC_FAILED the pool's free blocks go back to the driver once and the call is retried.
template <class F>
Status retry_on_alloc(F call) {
  Status s = call();
  if (s == kStatusAllocFailed) {
    trim_pool(current_device());
    s = call();
  }
  return s;
}

Handle handle() {
  const int device = current_device();
  cudaStream_t stream = current_stream();
  std::lock_guard<std::mutex> lock(g_mutex);
  load_locked();
  if (device >= int(g_handles.size())) g_handles.resize(device + 1);
  DeviceHandle& h = g_handles[device];
  if (!h.handle) {  // cublasCreate binds the handle to the current device
    Handle created = nullptr;
    check(retry_on_alloc([&] { return g_api.create(&created); }), "cublasCreate_v2");
    h.handle = created;
    check(g_api.set_math_mode(h.handle, kDefaultMath), "cublasSetMathMode");
  }
  if (h.stream != stream) {  // once per device in practice: the device's stream never changes
    check(g_api.set_stream(h.handle, stream), "cublasSetStream_v2");
    h.stream = stream;
  }
  return h.handle;
}

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          int64_t stride_a, const T* B, int64_t ldb, int64_t stride_b, T beta, T* C, int64_t ldc, int64_t stride_c,
          int64_t batch) {
  static_assert(std::is_same<T, float>::value || std::is_same<T, double>::value, "cuBLAS gemm is float/double");
  // cuBLAS is column-major, and a row-major (R, C) matrix is its transpose seen column-major. So the
  // row-major C = op(A) op(B) is the column-major C^T (N, M) = op(B)^T op(A)^T: B goes first with
  // trans_b's flag, A second with trans_a's, and the leading dimensions are unchanged.
  Handle h = handle();
  const Operation op_b = trans_b ? kOpT : kOpN, op_a = trans_a ? kOpT : kOpN;
  const int m = to_int(N, "N"), n = to_int(M, "M"), k = to_int(K, "K");
  const int ld_b = to_int(ldb, "ldb"), ld_a = to_int(lda, "lda"), ld_c = to_int(ldc, "ldc");
  if (batch == 1) {
    if constexpr (std::is_same<T, float>::value)
      check(retry_on_alloc([&] { return g_api.sgemm(h, op_b, op_a, m, n, k, &alpha, B, ld_b, A, ld_a, &beta, C, ld_c); }), "cublasSgemm_v2");
    else
      check(retry_on_alloc([&] { return g_api.dgemm(h, op_b, op_a, m, n, k, &alpha, B, ld_b, A, ld_a, &beta, C, ld_c); }), "cublasDgemm_v2");
    return;
  }
  // batchCount is an int: more than INT_MAX products go in several calls.
  for (int64_t first = 0; first < batch; first += INT_MAX) {
    const int count = int(batch - first < INT_MAX ? batch - first : INT_MAX);
    const T* Ai = A + first * stride_a;
    const T* Bi = B + first * stride_b;
    T* Ci = C + first * stride_c;
    if constexpr (std::is_same<T, float>::value)
      check(retry_on_alloc([&] { return g_api.sgemm_strided_batched(h, op_b, op_a, m, n, k, &alpha, Bi, ld_b, stride_b, Ai, ld_a, stride_a, &beta,
                                        Ci, ld_c, stride_c, count); }),
            "cublasSgemmStridedBatched");
    else
      check(retry_on_alloc([&] { return g_api.dgemm_strided_batched(h, op_b, op_a, m, n, k, &alpha, Bi, ld_b, stride_b, Ai, ld_a, stride_a, &beta,
                                        Ci, ld_c, stride_c, count); }),
            "cublasDgemmStridedBatched");
  }
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, int64_t, const float*,
                          int64_t, int64_t, float, float*, int64_t, int64_t, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, int64_t,
                           const double*, int64_t, int64_t, double, double*, int64_t, int64_t, int64_t);

}  // namespace blas
}  // namespace cuda
}  // namespace pft
