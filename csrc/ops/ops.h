// The op layer: check shapes/dtypes/devices, allocate outputs, dispatch to a kernel, record on the
// tape. Backward rules are written with these same functions (so they record under an outer tape).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "../cpu/kernels.h"
#include "../device.h"
#include "../tape.h"
#include "../tensor.h"

namespace pft {
namespace ops {

// ---- helpers ---------------------------------------------------------------------------------------
// Kernels of at least this many elements (or multiply-adds) run with the GIL released, so other Python
// threads go on meanwhile; below it the release (26-42 ns; docs/ARCHITECTURE.md, Invariants) costs more than it gives. Kernels
// touch no Python object; every op runs with the GIL held, so releasing it here is always valid.
constexpr int64_t kReleaseGILWork = 1 << 16;
struct GILRelease {
  PyThreadState* state = nullptr;
  explicit GILRelease(bool big) {
    if (big && PyGILState_Check()) state = PyEval_SaveThread();
  }
  ~GILRelease() {
    if (state) PyEval_RestoreThread(state);
  }
  GILRelease(const GILRelease&) = delete;
  GILRelease& operator=(const GILRelease&) = delete;
};

// The backend of one kernel call, from the device the op runs on: the CUDA launcher on a GPU (after
// making that GPU the thread's current one), else the CPU kernel of the same name and signature:
//   PFT_KERNEL_FOR(out->device(), unary_forward<T>)(op, out->data<T>(), x->data<T>(), n);
#define PFT_KERNEL_FOR(dev, ...) \
  (::pft::on_gpu(dev) ? ::pft::ops::on_gpu_index((dev).index, &::pft::cuda::__VA_ARGS__) : &::pft::cpu::__VA_ARGS__)
template <class F>
inline F* on_gpu_index(int index, F* launcher) {
  gpu_set_current(index);
  return launcher;
}

// ---- placement.cpp: which device an op runs on ------------------------------------------------------
// Inside a tf.device scope, the scope's device: inputs elsewhere are copied there (TF's behaviour).
// Without one, the inputs' common device; a 0-d CPU tensor (a Python scalar) joins a GPU op, any other
// mix raises, naming the op and the devices. `misplaced` is the hot-path test (no scope, one device).
inline bool misplaced(std::initializer_list<const TensorImpl*> ins) {
  const Device* scope = scope_device();
  const Device* first = nullptr;
  for (const TensorImpl* t : ins) {
    if (!t) continue;
    const Device& d = t->device();
    if (scope ? d != *scope : (first && d != *first)) return true;
    if (!first) first = &d;
  }
  return false;
}
// The device for an op whose inputs are `ins` (nulls skipped); raises on a mix outside a scope.
Device op_device(const char* op, std::initializer_list<const TensorImpl*> ins);
// x on device d: x itself when it is there already, else a copy recorded on the tape (its gradient is
// copied back to x's device).
TensorPtr to_device(const TensorPtr& x, const Device& d);
// Host copy of a tensor's bytes for glue that must read values (label range checks): x itself on the CPU.
TensorPtr host_copy(const TensorPtr& x);

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);
// Normalises an axis into [0, ndim) or throws naming the op.
int normalize_axis(const char* op, int64_t axis, int ndim);
// Bitmask of reduced axes from a list (all axes when `all`).
uint32_t axes_mask(const char* op, const std::vector<int64_t>& axes, bool all, int ndim);

// ---- elementwise.cpp ---------------------------------------------------------------------------------
TensorPtr unary(UnaryOp op, const TensorPtr& x);
TensorPtr binary(BinaryOp op, const TensorPtr& a, const TensorPtr& b);
TensorPtr predicate(PredicateOp op, const TensorPtr& x);  // is_nan, is_inf, is_finite, logical_not: bool out
inline TensorPtr add(const TensorPtr& a, const TensorPtr& b) { return binary(BinaryOp::Add, a, b); }
inline TensorPtr sub(const TensorPtr& a, const TensorPtr& b) { return binary(BinaryOp::Sub, a, b); }
inline TensorPtr mul(const TensorPtr& a, const TensorPtr& b) { return binary(BinaryOp::Mul, a, b); }
inline TensorPtr div(const TensorPtr& a, const TensorPtr& b) { return binary(BinaryOp::Div, a, b); }
inline TensorPtr neg(const TensorPtr& x) { return unary(UnaryOp::Neg, x); }
// x (op) a scalar of x's dtype
TensorPtr mul_scalar(const TensorPtr& x, double s);
TensorPtr add_scalar(const TensorPtr& x, double s);
TensorPtr where(const TensorPtr& cond, const TensorPtr& x, const TensorPtr& y);
// where(cond) with one argument: the int64 [num_true, rank] coordinates of cond's true (non-zero) elements,
// in row-major order, on cond's device (found on the host).
TensorPtr where_indices(const TensorPtr& cond);
TensorPtr broadcast_to(const TensorPtr& x, const Shape& shape);
// Sums a broadcast gradient back to `shape` (the inverse of broadcasting).
TensorPtr sum_to_shape(const TensorPtr& g, const Shape& shape);
TensorPtr cast(const TensorPtr& x, DType dt);
TensorPtr identity(const TensorPtr& x);
TensorPtr stop_gradient(const TensorPtr& x);  // identity that cuts the path (not recorded)
TensorPtr zeros_like(const TensorPtr& x);
TensorPtr ones_like(const TensorPtr& x);

// ---- reduce.cpp ------------------------------------------------------------------------------------
TensorPtr reduce(ReduceOp op, const TensorPtr& x, uint32_t mask, bool keepdims);
TensorPtr reduce_mean(const TensorPtr& x, uint32_t mask, bool keepdims);
TensorPtr argmax(const TensorPtr& x, int64_t axis, bool is_min, DType out_dtype);
TensorPtr softmax(const TensorPtr& x, int64_t axis, bool log);

// ---- linalg.cpp ------------------------------------------------------------------------------------
TensorPtr matmul(const TensorPtr& a, const TensorPtr& b, bool trans_a, bool trans_b);

// ---- losses.cpp: fused ops (one forward kernel, one backward kernel, one tape entry) ----------------
// act(x @ W + b): x (..., D), W (D, K), b (K,) or null -> (..., K); act one of PFT_ACTIVATIONS
TensorPtr dense(const TensorPtr& x, const TensorPtr& W, const TensorPtr& b, Activation act);
// Per-example cross-entropy of logits (..., C) against probability rows (..., C) -> (...)
TensorPtr softmax_cross_entropy(const TensorPtr& labels, const TensorPtr& logits, double label_smoothing);
// Per-example cross-entropy of logits (..., C) against integer labels (...) -> (...)
TensorPtr sparse_softmax_cross_entropy(const TensorPtr& labels, const TensorPtr& logits);
// The batch mean of the above (a scalar); see losses.cpp.
TensorPtr sparse_softmax_cross_entropy_mean(const TensorPtr& labels, const TensorPtr& logits);
// Per-example mean over the last axis of a pointwise loss (PFT_POINTWISE_LOSSES); param: Huber's delta,
// binary_crossentropy's epsilon.
TensorPtr pointwise_loss(PointwiseLoss kind, const TensorPtr& target, const TensorPtr& pred, double param);

// Backward of a fused op by differentiating its composition of primitive ops under a private tape:
// used when an outer tape records the backward pass (higher order) and for rarely needed inputs.
template <class F>
void backward_by_composition(const TapeEntry& e, const TensorPtr& dout, TensorPtr* din, F compose);

// ---- shape.cpp -------------------------------------------------------------------------------------
TensorPtr reshape(const TensorPtr& x, const std::vector<int64_t>& dims);
TensorPtr reshape(const TensorPtr& x, const Shape& shape);
TensorPtr transpose(const TensorPtr& x, const std::optional<std::vector<int64_t>>& perm);  // none: reverse the dims
// out[i] = x[begin + i * step] per dimension, out shape = size (steps may be negative, never 0).
TensorPtr strided_slice(const TensorPtr& x, const std::vector<int64_t>& begin, const std::vector<int64_t>& size,
                        const std::vector<int64_t>& step);
TensorPtr one_hot(const TensorPtr& indices, int64_t depth, double on, double off, int64_t axis, DType dt);
// TF's dtype rule: `dtype` if given (on/off must match it), else on's, else off's, else float32. on/off
// may be null (1 and 0).
TensorPtr one_hot(const TensorPtr& indices, int64_t depth, const TensorPtr& on, const TensorPtr& off, int64_t axis,
                  std::optional<DType> dtype);
TensorPtr range(double start, double limit, double delta, DType dt);
TensorPtr random_normal(const Shape& shape, double mean, double stddev, DType dt, uint64_t seed);
TensorPtr random_uniform(const Shape& shape, double lo, double hi, DType dt, uint64_t seed);

// ---- optim.cpp -------------------------------------------------------------------------------------
// Keras Adam over many variables in one call (vhats empty unless amsgrad); step is iterations + 1.
void adam_apply(const std::vector<TensorPtr>& vars, const std::vector<TensorPtr>& grads,
                const std::vector<TensorPtr>& ms, const std::vector<TensorPtr>& vs,
                const std::vector<TensorPtr>& vhats, double lr, double beta_1, double beta_2, double epsilon,
                int64_t step);
// Keras SGD over many variables in one call. vars[i] and moms[i] are updated in place (moms may be
// empty when momentum == 0).
void sgd_apply(const std::vector<TensorPtr>& vars, const std::vector<TensorPtr>& grads,
               const std::vector<TensorPtr>& moms, double lr, double momentum, bool nesterov);

template <class F>
void backward_by_composition(const TapeEntry& e, const TensorPtr& dout, TensorPtr* din, F compose) {
  Tape t;
  std::vector<int64_t> ids;
  std::vector<int> which;
  for (int k = 0; k < e.n_in; k++)
    if (e.need(k) && e.in[k]) {
      t.watch(e.in[k]->id);
      ids.push_back(e.in[k]->id);
      which.push_back(k);
    }
  if (ids.empty()) return;
  auto& stack = tape_stack();
  stack.push_back(&t);
  TensorPtr y;
  try {
    y = compose();
  } catch (...) {
    stack.pop_back();
    throw;
  }
  stack.pop_back();
  auto g = t.gradient({y}, ids, {dout}, true);
  for (size_t i = 0; i < which.size(); i++) din[which[i]] = g[i];
}

// True when some recording tape would record ops on these tensors (the backward pass must then be
// built from recordable ops).
bool outer_tape_records(const TapeEntry& e, const TensorPtr& dout);

}  // namespace ops
}  // namespace pft
