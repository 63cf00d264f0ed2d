// Kernel declarations shared by the CPU and CUDA backends: op enums, the broadcast plan, and the
// launcher list (kernel_list.inc) in namespace cpu and namespace cuda. Without the CUDA backend the
// cuda:: launchers are inline stubs that throw, so the glue compiles the same either way (and never
// reaches them: no tensor can live on a GPU then).
#pragma once
#include <cstdint>
#include <limits>

#include "math.h"
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

enum class UnaryOp : uint8_t { Neg, Abs, Square, Sqrt, Exp, Log, Tanh, Sigmoid, Relu, Sign, Reciprocal, Rsqrt };
// dy * d/dx of a unary op, from x and y = op(x), in the float operations of the composed backward rule
// (ops/elementwise.cpp, unary_backward), so the fused kernel and the composition round the same.
template <class T>
PFT_HD T unary_grad(UnaryOp op, T x, T y, T dy) {
  switch (op) {
    case UnaryOp::Neg: return T(-dy);
    case UnaryOp::Abs: return T(dy * math::sign(x));
    case UnaryOp::Square: return T(dy * T(x * T(2)));
    case UnaryOp::Sqrt: return T(T(dy * T(0.5)) / y);
    case UnaryOp::Exp: return T(dy * y);
    case UnaryOp::Log: return T(dy / x);
    case UnaryOp::Tanh: return T(dy * T(T(1) - T(y * y)));
    case UnaryOp::Sigmoid: return T(dy * T(y * T(T(1) - y)));
    case UnaryOp::Relu: return x > T(0) ? dy : T(0);
    case UnaryOp::Sign: return T(0);
    case UnaryOp::Reciprocal: return T(-T(dy * T(y * y)));
    case UnaryOp::Rsqrt: return T(T(dy * T(y * T(y * y))) * T(-0.5));
  }
  return T(0);
}
enum class BinaryOp : uint8_t {
  Add, Sub, Mul, Div, Pow, Maximum, Minimum,                      // same dtype out
  Less, LessEqual, Greater, GreaterEqual, Equal, NotEqual,        // bool out
};
inline bool is_comparison(BinaryOp op) { return op >= BinaryOp::Less; }
enum class ReduceOp : uint8_t { Sum, Max, Min, Prod };

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
