#include "tensor.h"

#include <cblas.h>
#include <omp.h>

#include <sys/mman.h>

#include <cstdlib>
#include <list>
#include <mutex>

#include "cpu/kernels.h"
#include "device.h"

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

// ---- per-thread state (tensor.h) ---------------------------------------------------------------------
thread_local ThreadState* t_thread_state = nullptr;

namespace {
ThreadState g_closed_state = [] {
  ThreadState s;
  s.closed = true;
  return s;
}();
void free_thread_lists(ThreadState& s);
struct ThreadStateOwner {  // a default-TLS object whose destructor runs at its thread's exit
  ThreadState* state = nullptr;
  ~ThreadStateOwner() {
    if (!state) return;
    t_thread_state = &g_closed_state;  // frees from here on (later destructors) go straight to the heap
    free_thread_lists(*state);
    delete state;
  }
};
thread_local ThreadStateOwner t_state_owner;
}  // namespace

ThreadState& init_thread_state() {
  auto* s = new ThreadState();
  t_state_owner.state = s;  // constructs the owner: its destructor is registered for this thread's exit
  t_thread_state = s;
  return *s;
}

// ---- tensor headers: TensorImpl and Storage (with their shared_ptr control blocks) come from per-thread
// free lists by 64-byte size class instead of malloc. Every op makes two of them, and malloc/free were
// the largest single cost of a small training step. A block freed on another thread joins that thread's
// list; each list keeps at most kPoolCap blocks and is emptied when its thread exits.
namespace {
constexpr size_t kPoolClasses = ThreadState::kPoolClasses, kPoolCap = 4096;  // classes of 64 .. 512 bytes
struct PoolNode {
  PoolNode* next;
};

void* pool_alloc(size_t bytes) {
  const size_t c = (bytes - 1) / 64;
  if (c >= kPoolClasses) return ::operator new(bytes);
  ThreadState& p = thread_state();
  if (auto* n = static_cast<PoolNode*>(p.pool_head[c])) {
    p.pool_head[c] = n->next;
    p.pool_count[c]--;
    return n;
  }
  return ::operator new((c + 1) * 64);
}
void pool_free(void* ptr, size_t bytes) {
  const size_t c = (bytes - 1) / 64;
  ThreadState& p = thread_state();
  if (c >= kPoolClasses || p.pool_count[c] >= kPoolCap || p.closed) {
    ::operator delete(ptr);
    return;
  }
  auto* n = static_cast<PoolNode*>(ptr);
  n->next = static_cast<PoolNode*>(p.pool_head[c]);
  p.pool_head[c] = n;
  p.pool_count[c]++;
}

template <class T>
struct PoolAllocator {
  using value_type = T;
  PoolAllocator() = default;
  template <class U>
  PoolAllocator(const PoolAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(pool_alloc(n * sizeof(T))); }
  void deallocate(T* p, size_t n) { pool_free(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const PoolAllocator<U>&) const { return true; }
  template <class U>
  bool operator!=(const PoolAllocator<U>&) const { return false; }
};
static_assert(alignof(std::max_align_t) >= alignof(Storage), "pool blocks are max_align_t aligned");
}  // namespace

static TensorPtr new_impl() { return std::__allocate_shared<TensorImpl, __gnu_cxx::_S_single>(PoolAllocator<TensorImpl>()); }
static StoragePtr new_storage() { return std::__allocate_shared<Storage, __gnu_cxx::_S_single>(PoolAllocator<Storage>()); }

static std::atomic<int64_t> g_next_id{1};
// Ids come from per-thread blocks of the global counter: unique across threads, increasing within one
// (creation order), and no atomic read-modify-write per tensor.
int64_t next_tensor_id() {
  constexpr int64_t kBlock = 1 << 12;
  ThreadState& s = thread_state();
  if (s.closed) return g_next_id.fetch_add(1, std::memory_order_relaxed);
  if (s.id_next == s.id_end) {
    s.id_next = g_next_id.fetch_add(kBlock, std::memory_order_relaxed);
    s.id_end = s.id_next + kBlock;
  }
  return s.id_next++;
}

static void free_heap(void*, void* data) { std::free(data); }

// Medium buffers (65 B .. 64 KiB) come from per-thread free lists by power-of-two size class: a small
// model's step allocates the same few sizes every iteration, and glibc's memalign (with the fastbin
// consolidation that larger requests trigger) cost about 10% of such a step. Each thread keeps at most
// kMediumCap blocks per class and kMediumBytes in all; a block freed on another thread joins that
// thread's lists; the lists are emptied when their thread exits.
namespace {
constexpr size_t kMediumClasses = ThreadState::kMediumClasses, kMediumCap = 64,
                 kMediumBytes = size_t(4) << 20;  // classes of 128 B .. 64 KiB
constexpr size_t kMediumMax = size_t(128) << (kMediumClasses - 1);
struct MediumNode {
  MediumNode* next;
};

inline size_t medium_class(size_t nbytes) {  // smallest c with 128 << c >= nbytes
  size_t c = 0;
  while ((size_t(128) << c) < nbytes) c++;
  return c;
}

void* medium_alloc(size_t c) {
  ThreadState& p = thread_state();
  if (auto* n = static_cast<MediumNode*>(p.medium_head[c])) {
    p.medium_head[c] = n->next;
    p.medium_count[c]--;
    p.medium_bytes -= size_t(128) << c;
    return n;
  }
  return std::aligned_alloc(64, size_t(128) << c);
}

void release_medium(void* ctx, void* data) {
  const size_t c = size_t(reinterpret_cast<uintptr_t>(ctx)), size = size_t(128) << c;
  ThreadState& p = thread_state();
  if (p.closed || p.medium_count[c] >= kMediumCap || p.medium_bytes + size > kMediumBytes) {
    std::free(data);
    return;
  }
  auto* n = static_cast<MediumNode*>(data);
  n->next = static_cast<MediumNode*>(p.medium_head[c]);
  p.medium_head[c] = n;
  p.medium_count[c]++;
  p.medium_bytes += size;
}

void free_thread_lists(ThreadState& s) {
  for (size_t c = 0; c < kPoolClasses; c++)
    while (auto* n = static_cast<PoolNode*>(s.pool_head[c])) {
      s.pool_head[c] = n->next;
      ::operator delete(n);
    }
  for (size_t c = 0; c < kMediumClasses; c++)
    while (auto* n = static_cast<MediumNode*>(s.medium_head[c])) {
      s.medium_head[c] = n->next;
      std::free(n);
    }
  while (s.n_chunks) ::operator delete(s.chunks[--s.n_chunks]);
}
}  // namespace

// Large buffers (>= 1 MiB) are recycled by exact (rounded) size: a training step allocates the same
// sizes every iteration, and a fresh mapping costs a page fault per 4 KiB, a large part of a
// memory-bound kernel's time. New blocks of 8 MiB and more are 2 MiB aligned and advised for huge pages. The cache
// holds at most PYFAST_TAPE_CACHE_MB (default 1024) MiB of free blocks.
namespace {
constexpr size_t kLargeBlock = size_t(1) << 20;
struct BlockCache {
  std::mutex mu;
  std::list<std::pair<size_t, void*>> free_blocks;  // most recently freed first; the oldest go first
  size_t cached = 0;
  size_t limit = [] {
    const char* env = std::getenv("PYFAST_TAPE_CACHE_MB");
    return (env ? size_t(std::strtoull(env, nullptr, 10)) : size_t(1024)) << 20;
  }();
};
BlockCache& block_cache() {
  static BlockCache* c = new BlockCache();  // never destroyed: storages may be freed during interpreter exit
  return *c;
}
}  // namespace

static void release_large(void* ctx, void* data) {
  const size_t size = size_t(reinterpret_cast<uintptr_t>(ctx));
  BlockCache& c = block_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  if (size > c.limit) {
    std::free(data);
    return;
  }
  c.free_blocks.emplace_front(size, data);
  c.cached += size;
  while (c.cached > c.limit) {  // evict the least recently freed (an earlier phase's sizes), not this one
    auto& old = c.free_blocks.back();
    c.cached -= old.first;
    std::free(old.second);
    c.free_blocks.pop_back();
  }
}

static void* alloc_large(size_t size) {
  BlockCache& c = block_cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    for (auto it = c.free_blocks.begin(); it != c.free_blocks.end(); ++it) {
      if (it->first != size) continue;
      void* p = it->second;
      c.free_blocks.erase(it);
      c.cached -= size;
      return p;
    }
  }
  const bool huge = size >= (size_t(8) << 20);  // huge pages only where the 2 MiB rounding is cheap
  void* p = std::aligned_alloc(huge ? (size_t(2) << 20) : 64, size);
  if (p && huge) madvise(p, size, MADV_HUGEPAGE);
  return p;
}

void release_cached_blocks() {
  BlockCache& c = block_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& kv : c.free_blocks) std::free(kv.second);
  c.free_blocks.clear();
  c.cached = 0;
}

StoragePtr alloc_storage(size_t nbytes, Device dev) {
  auto s = new_storage();
  s->nbytes = nbytes;
  s->device = dev;
  if (dev.type == DeviceType::CUDA) {
    s->data = gpu_malloc(nbytes, dev.index);
    s->release = [](void* ctx, void* p) { gpu_free(p, int(reinterpret_cast<uintptr_t>(ctx))); };
    s->release_ctx = reinterpret_cast<void*>(uintptr_t(dev.index));
    return s;
  }
  if (nbytes <= sizeof(s->small)) {
    s->data = s->small;  // one allocation for control block, storage and data
  } else if (nbytes >= kLargeBlock) {
    const size_t unit = nbytes >= (size_t(8) << 20) ? (size_t(2) << 20) : (size_t(64) << 10);
    const size_t rounded = (nbytes + unit - 1) & ~(unit - 1);
    void* p = alloc_large(rounded);
    if (!p) {
      release_cached_blocks();
      p = alloc_large(rounded);
    }
    if (!p)
      throw ResourceExhausted("out of memory allocating " + std::to_string(nbytes) + " bytes on the CPU");
    s->data = p;
    s->release = release_large;
    s->release_ctx = reinterpret_cast<void*>(uintptr_t(rounded));
  } else if (nbytes <= kMediumMax) {
    const size_t c = medium_class(nbytes);
    void* p = medium_alloc(c);
    if (!p)
      throw ResourceExhausted("out of memory allocating " + std::to_string(nbytes) + " bytes on the CPU");
    s->data = p;
    s->release = release_medium;
    s->release_ctx = reinterpret_cast<void*>(uintptr_t(c));
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

// ---- checked size arithmetic (tensor.h) --------------------------------------------------------------
void Shape::throw_bad_shape(const char* op) const {
  const std::string where = op ? std::string(op) + ": shape " : std::string("shape ");
  int64_t n = 1;
  for (int i = 0; i < ndim; i++)
    if (d[i] < 0) throw InvalidArgument(where + str() + " has a negative dimension (" + std::to_string(d[i]) + ")");
  for (int i = 0; i < ndim; i++) {
    int64_t next;
    if (d[i] != 0 && __builtin_mul_overflow(n, d[i], &next))
      throw InvalidArgument(where + str() + " has more than 2**63 - 1 elements (its non-zero dimensions " +
                            "overflow int64 when multiplying " + std::to_string(n) + " by " + std::to_string(d[i]) + ")");
    if (d[i] != 0) n = next;
  }
  throw InvalidArgument(where + str() + " is invalid");
}

int64_t check_shape(const Shape& s, const char* op) {
  int64_t n;
  if (!s.try_numel(&n)) s.throw_bad_shape(op);
  return n;
}

void throw_bad_nbytes(DType dt, const Shape& s, const char* op) {
  const int64_t n = check_shape(s, op);  // throws for a bad element count
  if (n == 0)  // an empty shape whose non-zero dimensions span more than 2**63 bytes (strides would overflow)
    throw InvalidArgument(std::string(op ? op : "allocation") + ": shape " + s.str() + " of dtype " + dtype_name(dt) +
                          " is empty, but its non-zero dimensions span more than 2**63 bytes");
  throw InvalidArgument(std::string(op ? op : "allocation") + ": a tensor of dtype " + dtype_name(dt) + " and shape " +
                        s.str() + " would need more than 2**63 bytes (" + std::to_string(n) + " elements of " +
                        std::to_string(dtype_size(dt)) + " bytes)");
}

int64_t checked_mul(int64_t a, int64_t b, const char* op, const char* what) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r))
    throw InvalidArgument(std::string(op) + ": " + what + " overflows int64 (" + std::to_string(a) + " * " +
                          std::to_string(b) + ")");
  return r;
}
int64_t checked_add(int64_t a, int64_t b, const char* op, const char* what) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r))
    throw InvalidArgument(std::string(op) + ": " + what + " overflows int64 (" + std::to_string(a) + " + " +
                          std::to_string(b) + ")");
  return r;
}

TensorPtr empty(DType dt, const Shape& shape, Device dev) {
  // checked_nbytes's rule, inline (every op allocates here); the entry points have named the op already
  int64_t n, nbytes;
  if (!shape.try_numel(&n) || __builtin_mul_overflow(n, int64_t(dtype_size(dt)), &nbytes) || nbytes > kMaxTensorBytes ||
      (n == 0 && !shape.empty_extent_fits(int64_t(dtype_size(dt)), kMaxTensorBytes)))
    throw_bad_nbytes(dt, shape, nullptr);
  auto t = new_impl();
  t->id = next_tensor_id();
  t->dtype = dt;
  t->shape = shape;
  t->numel = n;
  t->storage = alloc_storage(size_t(nbytes), dev);
  return t;
}

TensorPtr empty_as(const TensorImpl& x, DType dt, Device dev) {
  int64_t nbytes;
  if (__builtin_mul_overflow(x.numel, int64_t(dtype_size(dt)), &nbytes) || nbytes > kMaxTensorBytes ||
      (x.numel == 0 && !x.shape.empty_extent_fits(int64_t(dtype_size(dt)), kMaxTensorBytes)))
    throw_bad_nbytes(dt, x.shape, nullptr);
  auto t = new_impl();
  t->id = next_tensor_id();
  t->dtype = dt;
  t->shape = x.shape;
  t->numel = x.numel;
  t->storage = alloc_storage(size_t(nbytes), dev);
  return t;
}

TensorPtr alias(const TensorPtr& x, const Shape& shape) {
  auto t = new_impl();
  t->id = next_tensor_id();
  t->dtype = x->dtype;
  t->shape = shape;
  t->numel = shape.numel();
  t->storage = x->storage;
  t->offset = x->offset;
  return t;
}

TensorPtr from_external(void* data, DType dt, const Shape& shape, void (*release)(void*, void*), void* ctx) {
  auto st = new_storage();
  st->data = data;
  st->nbytes = size_t(checked_nbytes(dt, shape, "from_external"));
  st->release = release;
  st->release_ctx = ctx;
  auto t = new_impl();
  t->id = next_tensor_id();
  t->dtype = dt;
  t->shape = shape;
  t->numel = shape.numel();
  t->storage = std::move(st);
  return t;
}

TensorPtr full(DType dt, const Shape& shape, double v, Device dev) {
  auto t = empty(dt, shape, dev);
  dispatch_all(dt, [&](auto tag) {
    using T = decltype(tag);
    if (on_gpu(dev)) {
      gpu_set_current(dev.index);
      cuda::fill_forward<T>(t->data<T>(), math::convert<T, double>(v), t->numel);
    } else {
      cpu::fill_forward<T>(t->data<T>(), math::convert<T, double>(v), t->numel);
    }
  });
  return t;
}

TensorPtr scalar(DType dt, double v, Device dev) { return full(dt, Shape{}, v, dev); }

double item_as_double(const TensorImpl& t, int64_t i) {
  return dispatch_all(t.dtype, [&](auto tag) -> double {
    using T = decltype(tag);
    T v;
    copy_bytes(&v, Device{}, t.data<T>() + i, t.device(), sizeof(T));
    return static_cast<double>(v);
  });
}

int64_t item_as_int64(const TensorImpl& t, int64_t i) {
  return dispatch_all(t.dtype, [&](auto tag) -> int64_t {
    using T = decltype(tag);
    T v;
    copy_bytes(&v, Device{}, t.data<T>() + i, t.device(), sizeof(T));
    return math::convert<int64_t, T>(v);
  });
}

std::string describe(const TensorImpl& t) { return std::string(dtype_name(t.dtype)) + t.shape.str(); }

}  // namespace pft
