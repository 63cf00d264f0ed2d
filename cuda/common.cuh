// Shared by every cuda/*.cu file: checked CUDA calls, the current device's stream, launch sizes.
// Never include pybind11 here (or in any .cu): errors are pft exceptions, translated at the bindings.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "../csrc/kernels.h"
#include "../csrc/math.h"
#include "../csrc/tensor.h"

namespace pft {
namespace cuda {

// Throws pft::ResourceExhausted on out-of-memory, pft::RuntimeError otherwise, naming the call.
[[noreturn]] void throw_cuda_error(cudaError_t err, const char* what, const char* file, int line);

#define PFT_CUDA_CHECK(call)                                                                   \
  do {                                                                                         \
    cudaError_t pft_err_ = (call);                                                             \
    if (pft_err_ != cudaSuccess) ::pft::cuda::throw_cuda_error(pft_err_, #call, __FILE__, __LINE__); \
  } while (0)

// After every launch (llm.c's cudaCheck(cudaGetLastError())).
#define PFT_LAUNCH_CHECK() PFT_CUDA_CHECK(cudaGetLastError())

// The stream of the thread's current device (one stream per device, created on first use).
cudaStream_t current_stream();
int current_device();
// Waits for the device's stream and returns the memory pool's free blocks to the driver (before
// retrying an allocation that failed).
void trim_pool(int device);

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
// Grid size for a grid-stride loop over n elements with `block` threads per block.
inline unsigned grid_for(int64_t n, int block = 256) {
  int64_t g = ceil_div(n, block);
  if (g < 1) g = 1;
  if (g > 65535LL * 32) g = 65535LL * 32;
  return unsigned(g);
}

}  // namespace cuda
}  // namespace pft
