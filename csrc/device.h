// Devices: how many GPUs there are, device memory, copies between devices, the current device.
//
// Host code only (no CUDA headers): the CUDA runtime calls live in cuda/runtime.cu, and without the CUDA
// backend these functions report no GPU. PYFAST_TAPE_EMULATE_GPU=1 gives one emulated GPU whose memory
// is host memory and whose kernels are the CPU ones: it exercises device placement and dispatch on a
// machine without a GPU (tests/test_cuda.py), never the CUDA kernels themselves.
#pragma once
#include <atomic>
#include <cstddef>
#include <string>

#include "tensor.h"

namespace pft {

extern const bool g_gpu_emulated;  // PYFAST_TAPE_EMULATE_GPU=1, read when the library loads
inline bool gpu_emulated() { return g_gpu_emulated; }
bool built_with_cuda();  // the CUDA backend was compiled in
int gpu_count();         // GPUs usable now: 0 without the backend, a driver or a device; 1 when emulated
std::string gpu_name(int index);

// True when t's kernels run on a real GPU (a CUDA tensor and not emulated).
inline bool on_gpu(const Device& d);

// Raises InvalidArgument naming `op` unless GPU `index` exists.
void check_gpu(const char* op, int index);

void* gpu_malloc(size_t nbytes, int index);  // stream-ordered (cudaMallocAsync); ResourceExhausted on OOM
void gpu_free(void* p, int index);
// Copies nbytes between any two devices; returns when the copy is complete when either side is the host.
void copy_bytes(void* dst, const Device& dst_dev, const void* src, const Device& src_dev, size_t nbytes);
void gpu_memset_zero(void* p, size_t nbytes, int index);
void gpu_synchronize(int index);  // waits for the device's stream

// The thread's current GPU for kernel launches (cudaSetDevice when it changes).
void gpu_set_current(int index);

// The thread's tf.device scope: where new tensors and ops go (null: none, ops follow their inputs).
// Python's tf.device() pushes and pops; the tape suspends it while it runs a backward pass, so
// gradients are computed where the forward ops ran (as in TF).
const Device* scope_device_slow();
extern std::atomic<int> g_scopes_open;  // scopes open on all threads: 0 lets every op skip the lookup
inline const Device* scope_device() {
  return g_scopes_open.load(std::memory_order_relaxed) == 0 ? nullptr : scope_device_slow();
}
void push_scope_device(const Device& d);
void pop_scope_device();
struct ScopeSuspend {
  ScopeSuspend();
  ~ScopeSuspend();
  ScopeSuspend(const ScopeSuspend&) = delete;
  ScopeSuspend& operator=(const ScopeSuspend&) = delete;
  int saved;
};

namespace cudart {  // cuda/runtime.cu; stubs in csrc/device.cpp without the backend
int device_count();
std::string device_name(int index);
void* malloc_async(size_t nbytes, int index);
void free_async(void* p, int index);
void memcpy(void* dst, const void* src, size_t nbytes, int kind, int index);  // kind: cudaMemcpyKind values
void memset_zero(void* p, size_t nbytes, int index);
void memset_bytes(void* p, int value, size_t nbytes, int index);
void synchronize(int index);
void set_device(int index);
}  // namespace cudart

inline bool on_gpu(const Device& d) { return d.type == DeviceType::CUDA && !gpu_emulated(); }

}  // namespace pft
