// Devices (device.h): GPU discovery, device memory and copies, with the emulated GPU for tests.
#include "device.h"

#include <cstdlib>
#include <cstring>

#include "kernels.h"

namespace pft {

void throw_no_cuda() {
  throw RuntimeError("this pyfast_tape was built without the CUDA backend, so GPU kernels are unavailable "
                     "(rebuild with nvcc on PATH: PYFAST_TAPE_CUDA=ON pip install .)");
}

const bool g_gpu_emulated = [] {
  const char* v = std::getenv("PYFAST_TAPE_EMULATE_GPU");
  return v && v[0] && std::strcmp(v, "0") != 0;
}();

#if PYFAST_TAPE_WITH_CUDA
bool built_with_cuda() { return true; }
#else
bool built_with_cuda() { return false; }
namespace cudart {
int device_count() { return 0; }
std::string device_name(int) { return ""; }
void* malloc_async(size_t, int) { throw_no_cuda(); }
void free_async(void*, int) {}
void memcpy(void*, const void*, size_t, int, int) { throw_no_cuda(); }
void memset_zero(void*, size_t, int) { throw_no_cuda(); }
void memset_bytes(void*, int, size_t, int) { throw_no_cuda(); }
void synchronize(int) {}
void set_device(int) {}
}  // namespace cudart
#endif

// The scope stack; t_scope_top < 0 means no scope is in force (none pushed, or suspended).
static thread_local Device t_scopes[64];
static thread_local int t_scope_depth = 0;
static thread_local int t_scope_top = -1;

std::atomic<int> g_scopes_open{0};
const Device* scope_device_slow() { return t_scope_top >= 0 ? &t_scopes[t_scope_top] : nullptr; }
void push_scope_device(const Device& d) {
  if (t_scope_depth >= 64) throw RuntimeError("tf.device: scopes nested more than 64 deep");
  t_scopes[t_scope_depth] = d;
  t_scope_top = t_scope_depth++;
  g_scopes_open.fetch_add(1, std::memory_order_relaxed);
}
void pop_scope_device() {
  if (t_scope_depth > 0) {
    t_scope_depth--;
    g_scopes_open.fetch_sub(1, std::memory_order_relaxed);
  }
  t_scope_top = t_scope_depth - 1;
}
ScopeSuspend::ScopeSuspend() : saved(t_scope_top) { t_scope_top = -1; }
ScopeSuspend::~ScopeSuspend() { t_scope_top = saved; }

int gpu_count() {
  if (gpu_emulated()) return 1;
  static const int n = cudart::device_count();  // never throws: 0 without a driver or a GPU
  return n;
}

std::string gpu_name(int index) { return gpu_emulated() ? "emulated GPU (host memory, CPU kernels)" : cudart::device_name(index); }

void check_gpu(const char* op, int index) {
  const int n = gpu_count();
  if (index < 0 || index >= n)
    throw InvalidArgument(std::string(op) + ": /GPU:" + std::to_string(index) + " does not exist (" +
                          (n == 0 ? std::string(built_with_cuda() ? "no GPU or CUDA driver was found"
                                                                  : "this build has no CUDA backend")
                                  : std::to_string(n) + " GPU(s) visible") +
                          "); use tf.config.list_physical_devices('GPU') to see what is there");
}

// PYFAST_TAPE_POISON_GPU=1 fills every new GPU buffer with 0xFF bytes (NaN for floats, -1 for
// integers), so a kernel that leaves part of its output unwritten fails the device tests.
static bool poison_gpu() {
  static const bool on = [] {
    const char* v = std::getenv("PYFAST_TAPE_POISON_GPU");
    return v && v[0] && std::strcmp(v, "0") != 0;
  }();
  return on;
}

void* gpu_malloc(size_t nbytes, int index) {
  if (gpu_emulated()) {
    void* p = std::aligned_alloc(64, (nbytes + 63) & ~size_t(63));
    if (!p) throw ResourceExhausted("OOM when allocating " + std::to_string(nbytes) + " bytes on the emulated GPU");
    if (poison_gpu()) std::memset(p, 0xFF, nbytes);
    return p;
  }
  void* p = cudart::malloc_async(nbytes, index);
  if (poison_gpu()) cudart::memset_bytes(p, 0xFF, nbytes, index);
  return p;
}

void gpu_free(void* p, int index) {
  if (gpu_emulated())
    std::free(p);
  else
    cudart::free_async(p, index);
}

// cudaMemcpyKind: 1 host to device, 2 device to host, 4 default (device to device, any pair).
void copy_bytes(void* dst, const Device& dst_dev, const void* src, const Device& src_dev, size_t nbytes) {
  if (nbytes == 0) return;
  const bool dg = on_gpu(dst_dev), sg = on_gpu(src_dev);
  if (!dg && !sg) {
    std::memcpy(dst, src, nbytes);
    return;
  }
  if (dg && sg) {
    // Between two GPUs the copy runs on the destination's stream: wait for the source's producers first,
    // and for the copy before the source may be freed (and reused) on its own stream.
    const bool peers = dst_dev.index != src_dev.index;
    if (peers) cudart::synchronize(src_dev.index);
    cudart::memcpy(dst, src, nbytes, 4, dst_dev.index);  // cudaMemcpyDefault (UVA)
    if (peers) cudart::synchronize(dst_dev.index);
    return;
  }
  cudart::memcpy(dst, src, nbytes, dg ? 1 : 2, dg ? dst_dev.index : src_dev.index);
}

void gpu_memset_zero(void* p, size_t nbytes, int index) {
  if (gpu_emulated())
    std::memset(p, 0, nbytes);
  else
    cudart::memset_zero(p, nbytes, index);
}

void gpu_synchronize(int index) {
  if (!gpu_emulated()) cudart::synchronize(index);
}

void gpu_set_current(int index) {
  if (!gpu_emulated()) cudart::set_device(index);
}

}  // namespace pft
