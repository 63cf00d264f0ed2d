// The CUDA runtime behind csrc/device.h: device discovery, one stream per device, stream-ordered
// memory (cudaMallocAsync from the device's default memory pool), copies, and checked errors.
#include <mutex>
#include <vector>

#include "../csrc/device.h"
#include "common.cuh"

namespace pft {
namespace cuda {

void throw_cuda_error(cudaError_t err, const char* what, const char* file, int line) {
  cudaGetLastError();  // clear a sticky-free error so the process stays usable
  std::string msg = std::string("CUDA error ") + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ") in " +
                    what + " at " + file + ":" + std::to_string(line);
  if (err == cudaErrorMemoryAllocation) throw ResourceExhausted(msg);
  throw RuntimeError(msg);
}

static thread_local int t_device = -1;  // the thread's current device, as last set through set_device

int current_device() {
  if (t_device < 0) {
    PFT_CUDA_CHECK(cudaGetDevice(&t_device));
  }
  return t_device;
}

// One non-blocking stream per device, created on first use and kept for the process.
static cudaStream_t device_stream(int index) {
  static std::mutex mu;
  static std::vector<cudaStream_t> streams;
  std::lock_guard<std::mutex> lock(mu);
  if (index >= int(streams.size())) streams.resize(size_t(index) + 1, nullptr);
  if (!streams[size_t(index)]) {
    int prev = 0;
    PFT_CUDA_CHECK(cudaGetDevice(&prev));
    PFT_CUDA_CHECK(cudaSetDevice(index));
    PFT_CUDA_CHECK(cudaStreamCreateWithFlags(&streams[size_t(index)], cudaStreamNonBlocking));
    // Keep freed blocks in the pool (cudaMallocAsync's release threshold is 0 by default: every
    // synchronisation would return memory to the driver and the next step would map it again).
    cudaMemPool_t pool;
    PFT_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, index));
    uint64_t threshold = UINT64_MAX;
    PFT_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold));
    PFT_CUDA_CHECK(cudaSetDevice(prev));
  }
  return streams[size_t(index)];
}

cudaStream_t current_stream() { return device_stream(current_device()); }

void trim_pool(int device) {
  cudaMemPool_t pool;
  PFT_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device));
  PFT_CUDA_CHECK(cudaStreamSynchronize(device_stream(device)));
  PFT_CUDA_CHECK(cudaMemPoolTrimTo(pool, 0));
}

}  // namespace cuda

namespace cudart {

int device_count() {
  int n = 0;
  // No driver (cudaErrorInsufficientDriver / NoDevice): no GPU, never an exception at import.
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

std::string device_name(int index) {
  cudaDeviceProp prop;
  PFT_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  return prop.name;
}

void set_device(int index) {
  if (cuda::t_device != index) {
    PFT_CUDA_CHECK(cudaSetDevice(index));
    cuda::t_device = index;
  }
}

void* malloc_async(size_t nbytes, int index) {
  set_device(index);
  void* p = nullptr;
  cudaError_t err = cudaMallocAsync(&p, nbytes ? nbytes : 1, cuda::current_stream());
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    cuda::trim_pool(index);  // give the pool's cached blocks back to the driver once, then try again
    err = cudaMallocAsync(&p, nbytes ? nbytes : 1, cuda::current_stream());
  }
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    cudaGetLastError();
    throw ResourceExhausted("OOM when allocating " + std::to_string(nbytes) + " bytes on /GPU:" +
                            std::to_string(index) + " (" + std::to_string(free_b >> 20) + " MiB free of " +
                            std::to_string(total_b >> 20) + " MiB); use a smaller batch or free tensors");
  }
  if (err != cudaSuccess) cuda::throw_cuda_error(err, "cudaMallocAsync", __FILE__, __LINE__);
  return p;
}

void free_async(void* p, int index) {
  // Called from destructors: never throws. A failure here (a dead context) is reported by the next call.
  const int prev = cuda::t_device;
  try {
    set_device(index);
    if (cudaFreeAsync(p, cuda::current_stream()) != cudaSuccess) cudaGetLastError();
    if (prev >= 0) set_device(prev);  // freeing never changes the thread's current device
  } catch (...) {
  }
}

void memcpy(void* dst, const void* src, size_t nbytes, int kind, int index) {
  set_device(index);
  cudaStream_t s = cuda::current_stream();
  PFT_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyKind(kind), s));
  // Host memory involved: the caller may read or free it next, so wait for the copy.
  if (kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToHost) PFT_CUDA_CHECK(cudaStreamSynchronize(s));
}

void memset_zero(void* p, size_t nbytes, int index) {
  set_device(index);
  PFT_CUDA_CHECK(cudaMemsetAsync(p, 0, nbytes, cuda::current_stream()));
}

void memset_bytes(void* p, int value, size_t nbytes, int index) {
  set_device(index);
  PFT_CUDA_CHECK(cudaMemsetAsync(p, value, nbytes, cuda::current_stream()));
}

void synchronize(int index) {
  set_device(index);
  PFT_CUDA_CHECK(cudaStreamSynchronize(cuda::current_stream()));
}

}  // namespace cudart
}  // namespace pft
