// Kernel declarations shared by the CPU and CUDA backends: op enums, the broadcast plan, and the
// launcher list (kernel_list.inc) in namespace cpu and namespace cuda. Without the CUDA backend the
// cuda:: launchers are inline stubs that throw, so the glue compiles the same either way (and never
// reaches them: no tensor can live on a GPU then).
#pragma once
#include <cstdint>

#include "tensor.h"

namespace pft {

// A broadcast of up to 3 operands onto an output, with dimensions collapsed as far as strides allow.
// stride[k][i] is operand k's element stride along dimension i (0 where it is broadcast).
struct BroadcastPlan {
  int ndim = 0;
  int64_t shape[kMaxRank] = {};
  int64_t stride[3][kMaxRank] = {};
  int64_t numel = 1;
};
// Builds the plan for operands `in[0..k)` broadcast to `out` (shapes already checked compatible).
BroadcastPlan make_broadcast_plan(const Shape& out, const Shape* const* in, int k);

enum class UnaryOp : uint8_t { Neg, Abs, Square, Sqrt, Exp, Log, Tanh, Sigmoid, Relu, Sign, Reciprocal, Rsqrt };
enum class BinaryOp : uint8_t {
  Add, Sub, Mul, Div, Pow, Maximum, Minimum,                      // same dtype out
  Less, LessEqual, Greater, GreaterEqual, Equal, NotEqual,        // bool out
};
inline bool is_comparison(BinaryOp op) { return op >= BinaryOp::Less; }
enum class ReduceOp : uint8_t { Sum, Max, Min, Prod };

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
