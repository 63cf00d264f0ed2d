#include "tensor.h"

#include <cblas.h>
#include <omp.h>

#include <cstdlib>

#include "cpu/kernels.h"

namespace pft {

static std::atomic<int> g_threads{0};
int intra_op_threads() {
  int n = g_threads.load(std::memory_order_relaxed);
  if (n > 0) return n;
  n = omp_get_max_threads();
  g_threads.store(n, std::memory_order_relaxed);
  return n;
}
void set_intra_op_threads(int n) {
  g_threads.store(n, std::memory_order_relaxed);
  scipy_openblas_set_num_threads(n);
}

static std::atomic<int64_t> g_next_id{1};
int64_t next_tensor_id() { return g_next_id.fetch_add(1, std::memory_order_relaxed); }

static void free_heap(void*, void* data) { std::free(data); }

StoragePtr alloc_storage(size_t nbytes, Device dev) {
  if (dev.type != DeviceType::CPU)
    throw RuntimeError("pyfast_tape was built without CUDA support; GPU tensors are unavailable");
  auto s = std::make_shared<Storage>();
  s->nbytes = nbytes;
  s->device = dev;
  if (nbytes <= sizeof(s->small)) {
    s->data = s->small;  // one allocation for control block, storage and data
  } else {
    // 64-byte alignment for AVX loads and to keep threads off each other's cache lines.
    size_t rounded = (nbytes + 63) & ~size_t(63);
    void* p = std::aligned_alloc(64, rounded);
    if (!p)
      throw ResourceExhausted("out of memory allocating " + std::to_string(nbytes) + " bytes on the CPU");
    s->data = p;
    s->release = free_heap;
  }
  return s;
}

TensorPtr empty(DType dt, const Shape& shape, Device dev) {
  for (int i = 0; i < shape.ndim; i++)
    if (shape.d[i] < 0) throw InvalidArgument("negative dimension in shape " + shape.str());
  auto t = std::make_shared<TensorImpl>();
  t->id = next_tensor_id();
  t->dtype = dt;
  t->shape = shape;
  t->numel = shape.numel();
  t->storage = alloc_storage(t->nbytes(), dev);
  return t;
}

TensorPtr alias(const TensorPtr& x, const Shape& shape) {
  auto t = std::make_shared<TensorImpl>();
  t->id = next_tensor_id();
  t->dtype = x->dtype;
  t->shape = shape;
  t->numel = shape.numel();
  t->storage = x->storage;
  t->offset = x->offset;
  return t;
}

TensorPtr full(DType dt, const Shape& shape, double v, Device dev) {
  auto t = empty(dt, shape, dev);
  dispatch_all(dt, [&](auto tag) {
    using T = decltype(tag);
    cpu::fill_forward<T>(t->data<T>(), static_cast<T>(v), t->numel);
  });
  return t;
}

TensorPtr scalar(DType dt, double v, Device dev) { return full(dt, Shape{}, v, dev); }

double item_as_double(const TensorImpl& t, int64_t i) {
  return dispatch_all(t.dtype, [&](auto tag) -> double {
    using T = decltype(tag);
    return static_cast<double>(t.data<T>()[i]);
  });
}

std::string describe(const TensorImpl& t) { return std::string(dtype_name(t.dtype)) + t.shape.str(); }

}  // namespace pft
