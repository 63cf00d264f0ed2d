// The op families as named tables (X-macros, as ggml's op enum). From each table come: the enum
// (UnaryOp::Log1p ...), the TF names (unary_name(op) == "log1p"), the count kNum... (pinned by the
// static_asserts below) and one OpDef per differentiable op (its tape name); for the unary, predicate and
// pointwise-loss families also the CPU and CUDA dispatch switches (csrc/cpu/*.cpp, cuda/*.cu), and for all but
// reduce and activations the Python bindings (csrc/python/functions.cpp: one function per row,
// `_core.<stem>`). The columns:
//
//   X(Enum, stem, ...)   stem: the TF name, and the name of the per-element formulas in csrc/math.h
//                        (math::<stem>(...) and math::<stem>_grad(...)).
//
// A new unary op or pointwise loss is one row, its formulas in csrc/math.h, one case in the composed form
// in csrc/ops/ and the Python side; the other families need hand-written cases too. The checklist, with
// worked examples: docs/ADDING_AN_OP.md.
#pragma once
#include <cstdint>

namespace pft {

// ---- unary: y = f(x), dx = dy * f'(x) from x and y ---------------------------------------------------
// X(Enum, stem, float_only): float_only ops reject integer inputs (TF has no integer kernel for them).
#define PFT_UNARY_OPS(X)          \
  X(Neg, negative, false)         \
  X(Abs, abs, false)              \
  X(Square, square, false)        \
  X(Sqrt, sqrt, true)             \
  X(Exp, exp, true)               \
  X(Log, log, true)               \
  X(Log1p, log1p, true)           \
  X(Tanh, tanh, true)             \
  X(Sigmoid, sigmoid, true)       \
  X(Relu, relu, false)            \
  X(Sign, sign, false)            \
  X(Reciprocal, reciprocal, true) \
  X(Rsqrt, rsqrt, true)           \
  X(Sin, sin, true)               \
  X(Cos, cos, true)               \
  X(Tan, tan, true)               \
  X(Asin, asin, true)             \
  X(Acos, acos, true)             \
  X(Atan, atan, true)             \
  X(Sinh, sinh, true)             \
  X(Cosh, cosh, true)             \
  X(Asinh, asinh, true)           \
  X(Acosh, acosh, true)           \
  X(Atanh, atanh, true)           \
  X(Expm1, expm1, true)           \
  X(Softplus, softplus, true)     \
  X(Softsign, softsign, true)     \
  X(Erf, erf, true)               \
  X(Erfc, erfc, true)             \
  X(Floor, floor, true)           \
  X(Ceil, ceil, true)             \
  X(Round, round, false)          \
  X(Rint, rint, true)             \
  X(ReciprocalNoNan, reciprocal_no_nan, true)

// ---- binary (broadcasting, same dtype out): z = f(a, b) ------------------------------------------------
// X(Enum, stem, float_only): float_only ops reject integer inputs (TF has no integer kernel for them).
// divide_no_nan is not float_only: like TF's, it divides integer inputs as float64 (csrc/ops/elementwise.cpp).
#define PFT_BINARY_OPS(X)                           \
  X(Add, add, false)                                \
  X(Sub, subtract, false)                           \
  X(Mul, multiply, false)                           \
  X(Div, divide, false)                             \
  X(Pow, pow, false)                                \
  X(Maximum, maximum, false)                        \
  X(Minimum, minimum, false)                        \
  X(Atan2, atan2, true)                             \
  X(FloorDiv, floordiv, false)                      \
  X(FloorMod, floormod, false)                      \
  X(TruncateDiv, truncatediv, false)                \
  X(SquaredDifference, squared_difference, false)   \
  X(DivNoNan, divide_no_nan, false)                 \
  X(Xlogy, xlogy, true)                             \
  X(Xdivy, xdivy, true)

// ---- comparisons (broadcasting, bool out; not differentiable) -----------------------------------------
#define PFT_COMPARISON_OPS(X)    \
  X(Less, less)                  \
  X(LessEqual, less_equal)       \
  X(Greater, greater)            \
  X(GreaterEqual, greater_equal) \
  X(Equal, equal)                \
  X(NotEqual, not_equal)

// ---- logical ops (broadcasting, bool in, bool out; not differentiable) ----------------------------------
// They follow the comparisons in BinaryOp, so is_comparison() (bool out, no OpDef) holds for them too.
#define PFT_LOGICAL_OPS(X)     \
  X(LogicalAnd, logical_and)   \
  X(LogicalOr, logical_or)     \
  X(LogicalXor, logical_xor)

// ---- predicates (bool out; not differentiable): X(Enum, stem), out = math::<stem>(x) -------------------
// is_nan/is_inf/is_finite take float inputs, logical_not bool inputs (TypeError otherwise).
#define PFT_PREDICATE_OPS(X) \
  X(IsNan, is_nan)           \
  X(IsInf, is_inf)           \
  X(IsFinite, is_finite)     \
  X(LogicalNot, logical_not)

// ---- reductions over a set of axes: X(Enum, stem); the TF name is reduce_<stem> -------------------------
#define PFT_REDUCE_OPS(X) \
  X(Sum, sum)             \
  X(Max, max)             \
  X(Min, min)             \
  X(Prod, prod)

// ---- activations fused into dense's epilogue (Keras names): X(Enum, stem) -------------------------------
// y = math::<stem>(z) and dz = math::<stem>_activation_grad(y, dy), in terms of the output y. Softmax is a
// row operation, written out in the dense kernels.
#define PFT_ACTIVATIONS(X) \
  X(Linear, linear)        \
  X(Relu, relu)            \
  X(Sigmoid, sigmoid)      \
  X(Tanh, tanh)            \
  X(Softmax, softmax)

// ---- pointwise losses (per-example mean over the last axis; Keras names): X(Enum, stem) ---------------
// loss = mean_d math::<stem>(pred, target, param), dpred = math::<stem>_grad(pred, target, param) / D.
// param: Huber's delta, binary_crossentropy's epsilon, unused by the others.
#define PFT_POINTWISE_LOSSES(X)                                   \
  X(MeanSquaredError, mean_squared_error)                         \
  X(Huber, huber)                                                 \
  X(BinaryCrossentropy, binary_crossentropy)                      \
  X(BinaryCrossentropyFromLogits, binary_crossentropy_from_logits) \
  X(LogCosh, log_cosh)

#define PFT_ENUM_ROW(E, ...) E,
#define PFT_COUNT_ROW(...) +1
enum class UnaryOp : uint8_t { PFT_UNARY_OPS(PFT_ENUM_ROW) };
enum class BinaryOp : uint8_t {
  PFT_BINARY_OPS(PFT_ENUM_ROW) PFT_COMPARISON_OPS(PFT_ENUM_ROW) PFT_LOGICAL_OPS(PFT_ENUM_ROW)
};
enum class PredicateOp : uint8_t { PFT_PREDICATE_OPS(PFT_ENUM_ROW) };
enum class ReduceOp : uint8_t { PFT_REDUCE_OPS(PFT_ENUM_ROW) };
enum class Activation : int { PFT_ACTIVATIONS(PFT_ENUM_ROW) };
enum class PointwiseLoss : int { PFT_POINTWISE_LOSSES(PFT_ENUM_ROW) };

constexpr int kNumUnaryOps = 0 PFT_UNARY_OPS(PFT_COUNT_ROW);
constexpr int kNumBinaryOps = 0 PFT_BINARY_OPS(PFT_COUNT_ROW);  // the arithmetic ones
constexpr int kNumComparisonOps = 0 PFT_COMPARISON_OPS(PFT_COUNT_ROW);
constexpr int kNumLogicalOps = 0 PFT_LOGICAL_OPS(PFT_COUNT_ROW);
constexpr int kNumPredicateOps = 0 PFT_PREDICATE_OPS(PFT_COUNT_ROW);
constexpr int kNumReduceOps = 0 PFT_REDUCE_OPS(PFT_COUNT_ROW);
constexpr int kNumActivations = 0 PFT_ACTIVATIONS(PFT_COUNT_ROW);
constexpr int kNumPointwiseLosses = 0 PFT_POINTWISE_LOSSES(PFT_COUNT_ROW);
// Change a count only together with its table: the enums index name arrays and OpDef arrays.
static_assert(kNumUnaryOps == 34, "PFT_UNARY_OPS changed: update kNumUnaryOps");
static_assert(kNumBinaryOps == 15 && kNumComparisonOps == 6, "PFT_BINARY_OPS/PFT_COMPARISON_OPS changed");
static_assert(kNumLogicalOps == 3 && kNumPredicateOps == 4, "PFT_LOGICAL_OPS/PFT_PREDICATE_OPS changed");
static_assert(kNumReduceOps == 4, "PFT_REDUCE_OPS changed: update kNumReduceOps");
static_assert(kNumActivations == 5, "PFT_ACTIVATIONS changed: update kNumActivations");
static_assert(kNumPointwiseLosses == 5, "PFT_POINTWISE_LOSSES changed: update kNumPointwiseLosses");
#undef PFT_COUNT_ROW
#undef PFT_ENUM_ROW

// Comparisons and logical ops: bool out, not differentiable.
inline bool is_comparison(BinaryOp op) { return int(op) >= kNumBinaryOps; }
inline bool is_logical(BinaryOp op) { return int(op) >= kNumBinaryOps + kNumComparisonOps; }

#define PFT_NAME_ROW(E, stem, ...) #stem,
inline const char* unary_name(UnaryOp op) {
  static const char* const names[] = {PFT_UNARY_OPS(PFT_NAME_ROW)};
  return names[int(op)];
}
inline const char* binary_name(BinaryOp op) {  // TF's name: "add", "less_equal", ...
  static const char* const names[] = {PFT_BINARY_OPS(PFT_NAME_ROW) PFT_COMPARISON_OPS(PFT_NAME_ROW)
                                          PFT_LOGICAL_OPS(PFT_NAME_ROW)};
  return names[int(op)];
}
inline const char* predicate_name(PredicateOp op) {  // TF's name: "is_nan", "logical_not", ...
  static const char* const names[] = {PFT_PREDICATE_OPS(PFT_NAME_ROW)};
  return names[int(op)];
}
inline const char* reduce_name(ReduceOp op) {  // TF's name: "reduce_sum", ...
  static const char* const names[] = {
#define PFT_REDUCE_NAME_ROW(E, stem) "reduce_" #stem,
      PFT_REDUCE_OPS(PFT_REDUCE_NAME_ROW)
#undef PFT_REDUCE_NAME_ROW
  };
  return names[int(op)];
}
inline const char* activation_name(Activation a) {
  static const char* const names[] = {PFT_ACTIVATIONS(PFT_NAME_ROW)};
  return names[int(a)];
}
inline const char* pointwise_loss_name(PointwiseLoss k) {
  static const char* const names[] = {PFT_POINTWISE_LOSSES(PFT_NAME_ROW)};
  return names[int(k)];
}
#undef PFT_NAME_ROW

inline bool unary_float_only(UnaryOp op) {
#define PFT_FLOAT_ROW(E, stem, float_only) float_only,
  static const bool table[] = {PFT_UNARY_OPS(PFT_FLOAT_ROW)};
#undef PFT_FLOAT_ROW
  return table[int(op)];
}
inline bool binary_float_only(BinaryOp op) {  // false for comparisons and logical ops (their own rules)
  if (is_comparison(op)) return false;
#define PFT_FLOAT_ROW(E, stem, float_only) float_only,
  static const bool table[] = {PFT_BINARY_OPS(PFT_FLOAT_ROW)};
#undef PFT_FLOAT_ROW
  return table[int(op)];
}

// TF's parameter names where they are not (x) / (x, y): atan2(y, x), softplus/softsign(features).
inline const char* unary_arg_name(UnaryOp op) {
  return (op == UnaryOp::Softplus || op == UnaryOp::Softsign) ? "features" : "x";
}
inline const char* binary_arg_name(BinaryOp op, int i) {
  if (op == BinaryOp::Atan2) return i == 0 ? "y" : "x";
  return i == 0 ? "x" : "y";
}

}  // namespace pft
