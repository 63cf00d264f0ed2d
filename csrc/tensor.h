// Core value types: DType, Device, Shape, Storage, TensorImpl.
//
// A TensorImpl is an immutable (shape, dtype) view of a contiguous Storage. Storage carries a version
// counter bumped on every in-place write (Variables and optimizer slots only); copy-on-write
// (csrc/variable.cpp) is what keeps recorded values intact, and nothing reads the counter yet. Tensor ids are unique per process and are what the tape
// keys gradients by; a Variable's reads all carry the Variable's id.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace pft {

// ---------------------------------------------------------------------------------------------------
// errors: thrown by the glue layer, translated to Python exceptions at the binding boundary.
struct InvalidArgument : std::runtime_error { using std::runtime_error::runtime_error; };  // errors.InvalidArgumentError
struct TypeError : std::runtime_error { using std::runtime_error::runtime_error; };        // TypeError
struct NotImplemented : std::runtime_error { using std::runtime_error::runtime_error; };   // NotImplementedError
struct RuntimeError : std::runtime_error { using std::runtime_error::runtime_error; };     // RuntimeError
struct ResourceExhausted : std::runtime_error { using std::runtime_error::runtime_error; };  // errors.ResourceExhaustedError

// ---------------------------------------------------------------------------------------------------
enum class DType : uint8_t { Float32 = 0, Float64 = 1, Int32 = 2, Int64 = 3, Bool = 4 };
constexpr int kNumDTypes = 5;

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Int32: return 4;
    case DType::Int64: return 8;
    case DType::Bool: return 1;
  }
  return 0;
}
inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::Bool: return "bool";
  }
  return "?";
}
inline bool is_floating(DType t) { return t == DType::Float32 || t == DType::Float64; }
inline bool is_integer(DType t) { return t == DType::Int32 || t == DType::Int64; }

// Calls f(T{}) with the C++ type of a dtype: DISPATCH(dt, [&](auto tag){ using T = decltype(tag); ... }).
template <class F>
inline auto dispatch_all(DType t, F&& f) {
  switch (t) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    case DType::Int32: return f(int32_t{});
    case DType::Int64: return f(int64_t{});
    case DType::Bool: return f(bool{});
  }
  return f(float{});
}
template <class F>
inline auto dispatch_float(DType t, const char* op, F&& f) {
  if (t == DType::Float32) return f(float{});
  if (t == DType::Float64) return f(double{});
  throw TypeError(std::string(op) + ": expected a float32 or float64 tensor, got " + dtype_name(t) +
                  " (use tf.cast(x, tf.float32) first)");
}
template <class F>
inline auto dispatch_numeric(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    case DType::Int32: return f(int32_t{});
    case DType::Int64: return f(int64_t{});
    default: break;
  }
  throw TypeError(std::string(op) + ": bool tensors are not supported (use tf.cast first)");
}

// ---------------------------------------------------------------------------------------------------
enum class DeviceType : uint8_t { CPU = 0, CUDA = 1 };
struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const {
    return std::string("/job:localhost/replica:0/task:0/device:") + (type == DeviceType::CPU ? "CPU:" : "GPU:") +
           std::to_string(index);
  }
};

// ---------------------------------------------------------------------------------------------------
constexpr int kMaxRank = 8;

struct Shape {
  int ndim = 0;
  int64_t d[kMaxRank] = {};
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) {
    for (int64_t x : dims) d[ndim++] = x;
  }
  static Shape of(const int64_t* dims, int n) {
    if (n > kMaxRank) throw InvalidArgument("tensors of rank > 8 are not supported (rank " + std::to_string(n) + ")");
    Shape s;
    s.ndim = n;
    for (int i = 0; i < n; i++) s.d[i] = dims[i];
    return s;
  }
  // The element count: the product of the dimensions, checked. False where a dimension is negative or
  // the product of the non-zero dimensions overflows int64. That is stricter than a product taken in
  // order (TF's TensorShape accepts [0, 2**40, 2**40]) and it makes every partial product of a valid
  // shape's dimensions (the outer/inner/stride products the kernels take) fit in int64, empty or not.
  bool try_numel(int64_t* out) const {
    int64_t n = 1;
    bool odd = false;  // a negative dimension or an overflow: one flag, no branch per dimension
    for (int i = 0; i < ndim; i++) odd |= (d[i] < 0) | __builtin_mul_overflow(n, d[i], &n);
    if (__builtin_expect(odd || n == 0, 0)) return try_numel_slow(out);  // empty or bad: check the rule
    *out = n;
    return true;
  }
  // An empty shape's extent: its non-zero dimensions times the item size must fit in int64 too, or NumPy's
  // strides of a view (products of trailing dimensions, in bytes) overflow: [0, 1, 2**62] of float32.
  bool empty_extent_fits(int64_t itemsize, int64_t limit) const {
    int64_t n = itemsize;
    for (int i = 0; i < ndim; i++)
      if (d[i] != 0 && __builtin_mul_overflow(n, d[i], &n)) return false;
    return n <= limit;
  }
  bool try_numel_slow(int64_t* out) const {
    int64_t n = 1;
    bool empty = false;
    for (int i = 0; i < ndim; i++) {
      if (d[i] < 0) return false;
      if (d[i] == 0) empty = true;
      else if (__builtin_mul_overflow(n, d[i], &n)) return false;
    }
    *out = empty ? 0 : n;
    return true;
  }
  // The element count of a valid shape; an InvalidArgument (never a wrapped count) otherwise. Every
  // shape a tensor holds passed this check when the tensor was made; entry points check user shapes
  // first with check_shape(shape, op) so the error names the op.
  int64_t numel() const {
    int64_t n;
    if (!try_numel(&n)) throw_bad_shape(nullptr);
    return n;
  }
  [[noreturn]] void throw_bad_shape(const char* op) const;  // tensor.cpp
  // The product of a shape already checked (a tensor's shape, or one made under check_shape): no overflow
  // test, for hot paths. In order, a valid shape's partial products fit in int64 (see try_numel).
  int64_t numel_valid() const {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= d[i];
    return n;
  }
  int64_t operator[](int i) const { return d[i]; }
  int64_t& operator[](int i) { return d[i]; }
  bool operator==(const Shape& o) const {
    if (ndim != o.ndim) return false;
    for (int i = 0; i < ndim; i++)
      if (d[i] != o.d[i]) return false;
    return true;
  }
  bool operator!=(const Shape& o) const { return !(*this == o); }
  void push_back(int64_t x) {
    if (ndim >= kMaxRank) throw InvalidArgument("tensors of rank > 8 are not supported");
    d[ndim++] = x;
  }
  std::string str() const {
    std::string s = "[";
    for (int i = 0; i < ndim; i++) {
      if (i) s += ",";
      s += std::to_string(d[i]);
    }
    return s + "]";
  }
};

// ---------------------------------------------------------------------------------------------------
// Checked size arithmetic: every place a shape becomes an element count, a byte count, a stride or an
// allocation size goes through these (docs/ARCHITECTURE.md, "Sizes"). A count that overflows int64 is
// an InvalidArgument naming the op and the shape; a representable size too large to allocate is a
// ResourceExhausted from the allocator.
//
// The shape's element count, or InvalidArgument "<op>: shape [...] ..." (negative dimension, overflow).
int64_t check_shape(const Shape& s, const char* op);
[[noreturn]] void throw_bad_nbytes(DType dt, const Shape& s, const char* op);  // tensor.cpp
// The largest byte count: the allocator rounds sizes up by at most 2 MiB, and that must not wrap either.
constexpr int64_t kMaxTensorBytes = INT64_MAX - (int64_t(2) << 20);
// The byte count of a dtype[shape] tensor, checked as above (numel * itemsize must fit in int64). Inline:
// empty() runs it for every tensor.
inline int64_t checked_nbytes(DType dt, const Shape& s, const char* op) {
  int64_t n, bytes;
  if (s.try_numel(&n) && !__builtin_mul_overflow(n, int64_t(dtype_size(dt)), &bytes) && bytes <= kMaxTensorBytes &&
      (n != 0 || s.empty_extent_fits(int64_t(dtype_size(dt)), kMaxTensorBytes)))
    return bytes;
  throw_bad_nbytes(dt, s, op);
}
// a * b and a + b for sizes and offsets: InvalidArgument "<op>: <what> overflows int64" on overflow.
int64_t checked_mul(int64_t a, int64_t b, const char* op, const char* what);
int64_t checked_add(int64_t a, int64_t b, const char* op, const char* what);

// ---------------------------------------------------------------------------------------------------
// Storage: one buffer. Small buffers live inline (one allocation for storage + data with make_shared);
// external buffers (a NumPy array's memory) are released through a callback.
struct Storage {
  void* data = nullptr;
  size_t nbytes = 0;
  Device device;
  uint64_t version = 0;
  void (*release)(void* ctx, void* data) = nullptr;  // external/heap owner; null for inline
  void* release_ctx = nullptr;
  alignas(16) unsigned char small[64];  // 16, not 64: over-aligned make_shared costs ~40 ns per tensor

  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage() {
    if (release) release(release_ctx, data);
  }
};
// Reference counts are not atomic (libstdc++'s single-threaded policy). Every copy and release of a
// TensorPtr or StoragePtr happens with the GIL held: ops run from Python; the regions that release the
// GIL (ops::GILRelease around large kernels, device-to-host copies) pass raw pointers only; OpenMP and
// OpenBLAS threads see raw pointers only; an exported DLPack tensor is released under the GIL (its deleter
// takes it, whatever thread the consumer frees it on); and no thread_local holds a tensor (thread-exit
// destructors run without the GIL). An atomic increment and decrement per copy cost about 9% of a small
// training step (measured on the seed Huber step: 9.7 -> 8.9 us).
template <class T>
using RcPtr = std::__shared_ptr<T, __gnu_cxx::_S_single>;
using StoragePtr = RcPtr<Storage>;

StoragePtr alloc_storage(size_t nbytes, Device dev);
// Frees the cached large CPU blocks (tensor.cpp keeps freed blocks >= 1 MiB for reuse).
void release_cached_blocks();

int64_t next_tensor_id();

// Per-thread state on every op's path: the free lists of tensor headers, medium buffers and tape entry
// chunks, the tensor id block, the tape stack and the in-backward flag, in one object reached through one
// thread_local pointer. (The initial-exec TLS model would make that a plain %fs load instead of a
// __tls_get_addr call, but the static TLS block is already full once NumPy and OpenBLAS are loaded:
// the import then fails with "cannot allocate memory in static TLS block".) The state is allocated at a
// thread's first use and freed at its exit; after that the thread sees a shared, closed state whose lists
// are never used (allocations and frees go straight to the heap).
struct Tape;
struct ThreadState {
  static constexpr size_t kPoolClasses = 8, kMediumClasses = 10, kChunkCache = 4;
  void* pool_head[kPoolClasses] = {};  // TensorImpl/Storage blocks of 64 .. 512 bytes (tensor.cpp)
  size_t pool_count[kPoolClasses] = {};
  void* medium_head[kMediumClasses] = {};  // data buffers of 128 B .. 64 KiB (tensor.cpp)
  size_t medium_count[kMediumClasses] = {};
  size_t medium_bytes = 0;
  void* chunks[kChunkCache] = {};  // tape entry chunks of 8 (tape.cpp)
  size_t n_chunks = 0;
  int64_t id_next = 0, id_end = 0;  // this thread's block of tensor ids
  bool in_backward = false;         // inside Tape::gradient (provenance.h)
  bool closed = false;              // the shared state of threads that have exited
  std::vector<Tape*> tapes;         // the active tapes, innermost last (tape.h: tape_stack())
};
extern thread_local ThreadState* t_thread_state;
ThreadState& init_thread_state();
inline ThreadState& thread_state() {
  ThreadState* s = t_thread_state;
  return s ? *s : init_thread_state();
}

constexpr uint32_t kFlagVariable = 1u;
constexpr uint32_t kGenShift = 1, kGenMask = 0xFFu << kGenShift, kMaxGen = 200;
inline uint32_t gen_of(uint32_t flags) { return (flags & kGenMask) >> kGenShift; }
inline uint32_t with_gen(uint32_t flags, uint32_t g) { return (flags & ~kGenMask) | (g << kGenShift); }

struct TensorImpl {
  int64_t id;
  DType dtype;
  Shape shape;
  int64_t numel;
  StoragePtr storage;
  size_t offset = 0;  // bytes into storage
  // Provenance bits for "why is there no gradient?" (provenance.h): kFlagVariable on a Variable's
  // value; a small generation counter: 1 = produced by a recorded op (or watched), n > 1 = n - 1 ops
  // downstream of one through ops no tape recorded. 0 = nothing to explain: the hot path tests one word.
  uint32_t flags = 0;
  // Keras's `_keras_logits`: the pre-activation of a Keras softmax/sigmoid output, so the losses can
  // take the stable fused logits path (set only by keras.activations).
  RcPtr<TensorImpl> keras_logits;

  void* raw() const { return static_cast<char*>(storage->data) + offset; }
  template <class T>
  T* data() const { return reinterpret_cast<T*>(raw()); }
  size_t nbytes() const { return size_t(numel) * dtype_size(dtype); }
  int ndim() const { return shape.ndim; }
  const Device& device() const { return storage->device; }
};
using TensorPtr = RcPtr<TensorImpl>;

// Allocates an uninitialised contiguous tensor with a fresh id.
TensorPtr empty(DType dt, const Shape& shape, Device dev = Device{});
// The same, with x's shape: its element count is known valid, so only the byte count is checked (hot path).
TensorPtr empty_as(const TensorImpl& x, DType dt, Device dev);
// A new tensor (fresh id) sharing x's storage, with another shape of the same size (reshape, alias).
TensorPtr alias(const TensorPtr& x, const Shape& shape);
TensorPtr scalar(DType dt, double v, Device dev = Device{});
// A tensor (fresh id) over memory someone else owns (a NumPy array, a DLPack producer): release(ctx, data)
// runs when the last tensor over it is gone.
TensorPtr from_external(void* data, DType dt, const Shape& shape, void (*release)(void*, void*), void* ctx);
TensorPtr full(DType dt, const Shape& shape, double v, Device dev = Device{});
double item_as_double(const TensorImpl& t, int64_t i = 0);
int64_t item_as_int64(const TensorImpl& t, int64_t i = 0);  // exact for integers; floats as math::convert

std::string describe(const TensorImpl& t);  // "float32[2,3]"

}  // namespace pft
