// Elementwise kernels (mirror of csrc/cpu/elementwise.cpp): fill, unary maps, broadcasting binary ops
// and comparisons, where, broadcast_to, cast. One thread per output element in a grid-stride loop; the
// per-element formulas are the CPU's (math.h helpers and the same casts), selected at launch by a
// template parameter so the op switch is not evaluated per element.
#include <type_traits>

#include "common.cuh"

namespace pft {
namespace cuda {

constexpr int kBlock = 256;

// Grid-stride loop over [0, n) with int64 indices (grids are capped by grid_for).
#define PFT_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

// out is (n,)
template <class T>
__global__ void fill_forward_kernel(T* out, T value, int64_t n) {
  PFT_GRID_STRIDE(i, n) out[i] = value;
}

template <class T>
void fill_forward(T* out, T value, int64_t n) {
  if (n == 0) return;
  fill_forward_kernel<<<grid_for(n, kBlock), kBlock, 0, current_stream()>>>(out, value, n);
  PFT_LAUNCH_CHECK();
}

// ---- unary -----------------------------------------------------------------------------------------
// The CPU's formulas (Unary<Op>, csrc/math.h), including its integer behaviour: std::sqrt/exp/log/tanh of
// an integer compute in double and truncate back, Reciprocal of an integer is an integer division.
template <UnaryOp Op, class T>
__global__ void unary_forward_kernel(T* out, const T* x, int64_t n) {
  PFT_GRID_STRIDE(i, n) out[i] = Unary<Op>::fwd(x[i]);
}

template <UnaryOp Op, class T>
static void launch_unary(T* out, const T* x, int64_t n) {
  unary_forward_kernel<Op><<<grid_for(n, kBlock), kBlock, 0, current_stream()>>>(out, x, n);
  PFT_LAUNCH_CHECK();
}

template <class T>
void unary_forward(UnaryOp op, T* out, const T* x, int64_t n) {
  if (n == 0) return;
  switch (op) {
#define PFT_CASE(E, ...) \
  case UnaryOp::E: return launch_unary<UnaryOp::E>(out, x, n);
    PFT_UNARY_OPS(PFT_CASE)
#undef PFT_CASE
  }
}

template <UnaryOp Op, class T>
__global__ void unary_backward_kernel(T* dx, const T* dy, const T* x, const T* y, int64_t n) {
  PFT_GRID_STRIDE(i, n) dx[i] = Unary<Op>::grad(x[i], y[i], dy[i]);
}

template <class T>
void unary_backward(UnaryOp op, T* dx, const T* dy, const T* x, const T* y, int64_t n) {
  if (n == 0) return;
  switch (op) {
#define PFT_CASE(E, ...)                                                                                        \
  case UnaryOp::E:                                                                                              \
    unary_backward_kernel<UnaryOp::E><<<grid_for(n, kBlock), kBlock, 0, current_stream()>>>(dx, dy, x, y, n); \
    break;
    PFT_UNARY_OPS(PFT_CASE)
#undef PFT_CASE
  }
  PFT_LAUNCH_CHECK();
}

// ---- predicates (bool out) -------------------------------------------------------------------------
template <PredicateOp Op, class T>
__global__ void predicate_forward_kernel(bool* out, const T* x, int64_t n) {
  PFT_GRID_STRIDE(i, n) {
#define PFT_CASE(E, stem) \
  if constexpr (Op == PredicateOp::E) out[i] = math::stem(x[i]);
    PFT_PREDICATE_OPS(PFT_CASE)
#undef PFT_CASE
  }
}

template <class T>
void predicate_forward(PredicateOp op, bool* out, const T* x, int64_t n) {
  if (n == 0) return;
  switch (op) {
#define PFT_CASE(E, ...)                                                                                   \
  case PredicateOp::E:                                                                                     \
    predicate_forward_kernel<PredicateOp::E><<<grid_for(n, kBlock), kBlock, 0, current_stream()>>>(out, x, n); \
    break;
    PFT_PREDICATE_OPS(PFT_CASE)
#undef PFT_CASE
  }
  PFT_LAUNCH_CHECK();
}

// ---- broadcasting ----------------------------------------------------------------------------------
// Element offsets of K operands for output element idx: idx is split into plan coordinates from the
// last dimension; the first dimension takes the remaining quotient (no division), so a fully collapsed
// plan (ndim 1: contiguous or scalar operands) costs one multiply per operand.
template <int K>
struct Offsets {
  int64_t at[K];
};
template <int K>
__device__ __forceinline__ Offsets<K> broadcast_offsets(const BroadcastPlan& p, int64_t idx) {
  Offsets<K> off;
  for (int k = 0; k < K; k++) off.at[k] = 0;
  for (int i = p.ndim - 1; i > 0; i--) {
    const int64_t c = idx % p.shape[i];
    idx /= p.shape[i];
    for (int k = 0; k < K; k++) off.at[k] += c * p.stride[k][i];
  }
  for (int k = 0; k < K; k++) off.at[k] += idx * p.stride[k][0];
  return off;
}

template <class T>
__device__ __forceinline__ T pow_elem(T a, T b) {
  if constexpr (std::is_integral<T>::value) return math::ipow(a, b);
  else return std::pow(a, b);
}

// Arithmetic ops return T, comparisons bool; on bool operands Maximum/Minimum are logical or/and.
template <BinaryOp Op, class T>
__device__ __forceinline__ auto binary_apply(T x, T y) {
  if constexpr (Op == BinaryOp::Add) return math::wrap_add(x, y);
  else if constexpr (Op == BinaryOp::Sub) return math::wrap_sub(x, y);
  else if constexpr (Op == BinaryOp::Mul) return math::wrap_mul(x, y);
  else if constexpr (Op == BinaryOp::Div) return math::safe_div(x, y);
  else if constexpr (Op == BinaryOp::Pow) return pow_elem(x, y);
  else if constexpr (Op == BinaryOp::Maximum) {
    if constexpr (std::is_same<T, bool>::value) return bool(x || y);
    else return math::maximum(x, y);
  } else if constexpr (Op == BinaryOp::Minimum) {
    if constexpr (std::is_same<T, bool>::value) return bool(x && y);
    else return math::minimum(x, y);
  }
  else if constexpr (Op == BinaryOp::Atan2) return math::atan2(x, y);
  else if constexpr (Op == BinaryOp::FloorDiv) return math::floordiv(x, y);
  else if constexpr (Op == BinaryOp::FloorMod) return math::floormod(x, y);
  else if constexpr (Op == BinaryOp::TruncateDiv) return math::truncatediv(x, y);
  else if constexpr (Op == BinaryOp::SquaredDifference) return math::squared_difference(x, y);
  else if constexpr (Op == BinaryOp::DivNoNan) return math::divide_no_nan(x, y);
  else if constexpr (Op == BinaryOp::Xlogy) return math::xlogy(x, y);
  else if constexpr (Op == BinaryOp::Xdivy) return math::xdivy(x, y);
  else if constexpr (Op == BinaryOp::LogicalAnd) return bool(x && y);
  else if constexpr (Op == BinaryOp::LogicalOr) return bool(x || y);
  else if constexpr (Op == BinaryOp::LogicalXor) return bool(x != y);
  else if constexpr (Op == BinaryOp::Less) return bool(x < y);
  else if constexpr (Op == BinaryOp::LessEqual) return bool(x <= y);
  else if constexpr (Op == BinaryOp::Greater) return bool(x > y);
  else if constexpr (Op == BinaryOp::GreaterEqual) return bool(x >= y);
  else if constexpr (Op == BinaryOp::Equal) return bool(x == y);
  else return bool(x != y);
}

// out is plan.shape (contiguous, plan.numel elements); a, b broadcast through plan.stride[0], [1].
template <BinaryOp Op, class T, class R>
__global__ void binary_forward_kernel(R* out, const T* a, const T* b, BroadcastPlan p) {
  PFT_GRID_STRIDE(i, p.numel) {
    const Offsets<2> off = broadcast_offsets<2>(p, i);
    out[i] = R(binary_apply<Op>(a[off.at[0]], b[off.at[1]]));
  }
}

template <BinaryOp Op, class T, class R>
static void launch_binary(R* out, const T* a, const T* b, const BroadcastPlan& p) {
  binary_forward_kernel<Op><<<grid_for(p.numel, kBlock), kBlock, 0, current_stream()>>>(out, a, b, p);
  PFT_LAUNCH_CHECK();
}

// Like the CPU: an op that does not apply to (T, R) writes nothing (the glue never asks for one).
template <class T, class R>
void binary_forward(BinaryOp op, R* out, const T* a, const T* b, const BroadcastPlan& p) {
  if (p.numel == 0) return;
  if constexpr (std::is_same<R, bool>::value) {
    switch (op) {
      case BinaryOp::Less: return launch_binary<BinaryOp::Less>(out, a, b, p);
      case BinaryOp::LessEqual: return launch_binary<BinaryOp::LessEqual>(out, a, b, p);
      case BinaryOp::Greater: return launch_binary<BinaryOp::Greater>(out, a, b, p);
      case BinaryOp::GreaterEqual: return launch_binary<BinaryOp::GreaterEqual>(out, a, b, p);
      case BinaryOp::Equal: return launch_binary<BinaryOp::Equal>(out, a, b, p);
      case BinaryOp::NotEqual: return launch_binary<BinaryOp::NotEqual>(out, a, b, p);
      default: break;
    }
    if constexpr (std::is_same<T, bool>::value) {  // logical ops on bool share the arithmetic names
      switch (op) {
        case BinaryOp::Maximum: return launch_binary<BinaryOp::Maximum>(out, a, b, p);
        case BinaryOp::Minimum: return launch_binary<BinaryOp::Minimum>(out, a, b, p);
        case BinaryOp::LogicalAnd: return launch_binary<BinaryOp::LogicalAnd>(out, a, b, p);
        case BinaryOp::LogicalOr: return launch_binary<BinaryOp::LogicalOr>(out, a, b, p);
        case BinaryOp::LogicalXor: return launch_binary<BinaryOp::LogicalXor>(out, a, b, p);
        default: break;
      }
    }
  } else {
    switch (op) {
      case BinaryOp::Add: return launch_binary<BinaryOp::Add>(out, a, b, p);
      case BinaryOp::Sub: return launch_binary<BinaryOp::Sub>(out, a, b, p);
      case BinaryOp::Mul: return launch_binary<BinaryOp::Mul>(out, a, b, p);
      case BinaryOp::Div: return launch_binary<BinaryOp::Div>(out, a, b, p);
      case BinaryOp::Pow: return launch_binary<BinaryOp::Pow>(out, a, b, p);
      case BinaryOp::Maximum: return launch_binary<BinaryOp::Maximum>(out, a, b, p);
      case BinaryOp::Minimum: return launch_binary<BinaryOp::Minimum>(out, a, b, p);
      case BinaryOp::Atan2: return launch_binary<BinaryOp::Atan2>(out, a, b, p);
      case BinaryOp::FloorDiv: return launch_binary<BinaryOp::FloorDiv>(out, a, b, p);
      case BinaryOp::FloorMod: return launch_binary<BinaryOp::FloorMod>(out, a, b, p);
      case BinaryOp::TruncateDiv: return launch_binary<BinaryOp::TruncateDiv>(out, a, b, p);
      case BinaryOp::SquaredDifference: return launch_binary<BinaryOp::SquaredDifference>(out, a, b, p);
      case BinaryOp::DivNoNan: return launch_binary<BinaryOp::DivNoNan>(out, a, b, p);
      case BinaryOp::Xlogy: return launch_binary<BinaryOp::Xlogy>(out, a, b, p);
      case BinaryOp::Xdivy: return launch_binary<BinaryOp::Xdivy>(out, a, b, p);
      default: break;
    }
  }
}

// out = cond ? x : y; cond, x, y broadcast through plan.stride[0], [1], [2].
template <class T>
__global__ void where_forward_kernel(T* out, const bool* cond, const T* x, const T* y, BroadcastPlan p) {
  PFT_GRID_STRIDE(i, p.numel) {
    const Offsets<3> off = broadcast_offsets<3>(p, i);
    out[i] = cond[off.at[0]] ? x[off.at[1]] : y[off.at[2]];
  }
}

template <class T>
void where_forward(T* out, const bool* cond, const T* x, const T* y, const BroadcastPlan& p) {
  if (p.numel == 0) return;
  where_forward_kernel<<<grid_for(p.numel, kBlock), kBlock, 0, current_stream()>>>(out, cond, x, y, p);
  PFT_LAUNCH_CHECK();
}

// out is plan.shape, x broadcast through plan.stride[0].
template <class T>
__global__ void broadcast_forward_kernel(T* out, const T* x, BroadcastPlan p) {
  PFT_GRID_STRIDE(i, p.numel) out[i] = x[broadcast_offsets<1>(p, i).at[0]];
}

template <class T>
void broadcast_forward(T* out, const T* x, const BroadcastPlan& p) {
  if (p.numel == 0) return;
  broadcast_forward_kernel<<<grid_for(p.numel, kBlock), kBlock, 0, current_stream()>>>(out, x, p);
  PFT_LAUNCH_CHECK();
}

// ---- cast ------------------------------------------------------------------------------------------
// out, x are (n,); to bool is x != 0 (so NaN is true), otherwise a C++ conversion like the CPU.
template <class To, class From>
__global__ void cast_forward_kernel(To* out, const From* x, int64_t n) {
  PFT_GRID_STRIDE(i, n) {
    out[i] = math::convert<To, From>(x[i]);
  }
}

template <class To, class From>
void cast_forward(To* out, const From* x, int64_t n) {
  if (n == 0) return;
  cast_forward_kernel<<<grid_for(n, kBlock), kBlock, 0, current_stream()>>>(out, x, n);
  PFT_LAUNCH_CHECK();
}

// ---- explicit instantiations (the CPU's list) ------------------------------------------------------
PFT_INSTANCES_ELEMENTWISE()

#undef PFT_GRID_STRIDE

}  // namespace cuda
}  // namespace pft
