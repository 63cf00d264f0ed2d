// Kernel declarations shared by the CPU and CUDA backends: op enums, the broadcast plan, and the
// launcher list (kernel_list.inc) in namespace cpu and namespace cuda. Without the CUDA backend the
// cuda:: launchers are inline stubs that throw, so the glue compiles the same either way (and never
// reaches them: no tensor can live on a GPU then).
#pragma once
#include <cstdint>
#include <limits>

#include "math.h"
#include "op_tables.h"
#include "tensor.h"

namespace pft {

// A broadcast of up to 3 operands onto an output, with dimensions collapsed as far as strides allow.
// stride[k][i] is operand k's element stride along dimension i (0 where it is broadcast).
// Only the first ndim entries of shape and stride are meaningful (the rest stay uninitialised: zeroing
// 256 bytes per op was a visible part of a tiny op).
struct BroadcastPlan {
  int ndim = 0;
  int64_t shape[kMaxRank];
  int64_t stride[3][kMaxRank];
  int64_t numel = 1;
};
// Builds the plan for operands `in[0..k)` broadcast to `out` (shapes already checked compatible).
BroadcastPlan make_broadcast_plan(const Shape& out, const Shape* const* in, int k);

// The per-element formulas of each unary op as a type: kernels take the op as a template argument, so
// each loop is branch-free. Generated from PFT_UNARY_OPS (csrc/op_tables.h); the formulas are math::<stem>.
template <UnaryOp Op>
struct Unary;
#define PFT_UNARY_ROW(E, stem, float_only)                                     \
  template <>                                                                  \
  struct Unary<UnaryOp::E> {                                                   \
    template <class T>                                                         \
    static PFT_HD T fwd(T x) { return math::stem(x); }                         \
    template <class T>                                                         \
    static PFT_HD T grad(T x, T y, T dy) { return math::stem##_grad(x, y, dy); } \
  };
PFT_UNARY_OPS(PFT_UNARY_ROW)
#undef PFT_UNARY_ROW

// The value of an empty reduction (r == 0), on both backends: 0, 1, -inf (lowest), +inf (max).
template <class T>
PFT_HD T reduce_identity(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return T(0);
    case ReduceOp::Prod: return T(1);
    case ReduceOp::Max:
      if constexpr (std::numeric_limits<T>::has_infinity) return -std::numeric_limits<T>::infinity();
      else return std::numeric_limits<T>::lowest();
    case ReduceOp::Min:
      if constexpr (std::numeric_limits<T>::has_infinity) return std::numeric_limits<T>::infinity();
      else return std::numeric_limits<T>::max();
  }
  return T(0);
}

[[noreturn]] void throw_no_cuda();  // RuntimeError: built without CUDA (tensor.cpp)

#define PFT_KERNEL(...) __VA_ARGS__;
namespace cpu {
#include "kernel_list.inc"
}  // namespace cpu
#undef PFT_KERNEL

#if PYFAST_TAPE_WITH_CUDA
#define PFT_KERNEL(...) __VA_ARGS__;
#else
#define PFT_KERNEL(...) inline __VA_ARGS__ { throw_no_cuda(); }
#endif
namespace cuda {
#include "kernel_list.inc"
}  // namespace cuda
#undef PFT_KERNEL

}  // namespace pft

#include "kernel_instances.inc"  // PFT_INSTANCES_<FAMILY>(): expanded by each backend
