// Glue for elementwise ops: unary, broadcasting binary ops and comparisons, where, broadcast_to, cast.
// Each forward is followed by its OpDef's backward rule.
#include <algorithm>

#include "ops.h"
#include "../provenance.h"

namespace pft {
namespace ops {

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  Shape out;
  out.ndim = std::max(a.ndim, b.ndim);
  int64_t n = 1;
  bool odd = false;
  for (int i = 0; i < out.ndim; i++) {
    int ia = i - (out.ndim - a.ndim), ib = i - (out.ndim - b.ndim);
    int64_t da = ia >= 0 ? a.d[ia] : 1, db = ib >= 0 ? b.d[ib] : 1;
    if (da != db && da != 1 && db != 1)
      throw InvalidArgument(std::string(op) + ": shapes " + a.str() + " and " + b.str() +
                            " are not broadcast-compatible (dimension " + std::to_string(i) + ": " +
                            std::to_string(da) + " vs " + std::to_string(db) +
                            "); reshape one operand so each dimension matches or is 1");
    out.d[i] = da == 1 ? db : da;
    odd |= __builtin_mul_overflow(n, out.d[i], &n);  // the element count, in the same pass
  }
  // [2**32, 1] with [1, 2**32] has 2**64 elements. Inputs are valid shapes (no negative dims), so an
  // overflow-free non-zero count is valid; an overflow or an empty result takes the exact rule.
  if (__builtin_expect(odd || n == 0, 0) && !out.try_numel_slow(&n)) out.throw_bad_shape(op);
  return out;
}

int normalize_axis(const char* op, int64_t axis, int ndim) {
  int64_t a = axis < 0 ? axis + ndim : axis;
  if (a < 0 || a >= std::max(ndim, 1) || (ndim == 0))
    throw InvalidArgument(std::string(op) + ": axis " + std::to_string(axis) + " is out of range for a tensor of rank " +
                          std::to_string(ndim) + " (valid: [" + std::to_string(-ndim) + ", " +
                          std::to_string(ndim) + "))");
  return int(a);
}

uint32_t axes_mask(const char* op, const std::vector<int64_t>& axes, bool all, int ndim) {
  if (all) return ndim == 0 ? 0u : ((1u << ndim) - 1u);
  uint32_t m = 0;
  for (int64_t a : axes) {
    int ax = normalize_axis(op, a, ndim);
    if (m & (1u << ax))
      throw InvalidArgument(std::string(op) + ": axis " + std::to_string(a) + " appears twice in the axis list");
    m |= 1u << ax;
  }
  return m;
}

// ---- unary -------------------------------------------------------------------------------------------
static void unary_backward(const TapeEntry& e, const TensorPtr* dout, TensorPtr* din);
// One OpDef per op (its name on the tape), all with the family's backward rule.
static const OpDef kUnary[] = {
#define PFT_ROW(E, stem, ...) {#stem, unary_backward},
    PFT_UNARY_OPS(PFT_ROW)
#undef PFT_ROW
};

TensorPtr unary(UnaryOp op, const TensorPtr& x) {
  const char* name = unary_name(op);
  if (misplaced({x.get()})) return unary(op, to_device(x, op_device(name, {x.get()})));
  if (x->dtype == DType::Bool || (unary_float_only(op) && !is_floating(x->dtype)))
    throw TypeError(std::string(name) + ": unsupported dtype " + dtype_name(x->dtype) + " (input " + describe(*x) +
                    "); cast it first, e.g. tf.cast(x, tf.float32)");
  auto out = empty_as(*x, x->dtype, x->device());
  dispatch_numeric(x->dtype, name, [&](auto tag) {
    using T = decltype(tag);
    GILRelease nogil(x->numel >= kReleaseGILWork);
    PFT_KERNEL_FOR(out->device(), unary_forward<T>)(op, out->data<T>(), x->data<T>(), x->numel);
  });
  int64_t attr = int64_t(op);
  finish_op(&kUnary[int(op)], name, {x}, out, &attr, 1);
  return out;
}

static void unary_backward(const TapeEntry& e, const TensorPtr* dout, TensorPtr* din) {
  const TensorPtr& dy = dout[0];
  const TensorPtr& x = e.in[0];
  const TensorPtr& y = e.out;
  const UnaryOp op = UnaryOp(e.attr[0]);
  switch (op) {  // TF registers no gradient (None) for the rounding ops: din stays null
    case UnaryOp::Floor:
    case UnaryOp::Ceil:
    case UnaryOp::Round:
    case UnaryOp::Rint: return;
    default: break;
  }
  if (!outer_tape_records(e, dy) && dy->shape == x->shape && dy->dtype == x->dtype && dy->device() == x->device()) {
    // One fused kernel (the same float operations as the composition below, which an outer tape needs).
    auto dx = empty(x->dtype, x->shape, x->device());
    dispatch_float(x->dtype, unary_name(op), [&](auto tag) {
      using T = decltype(tag);
      GILRelease nogil(x->numel >= kReleaseGILWork);
      PFT_KERNEL_FOR(dx->device(), unary_backward<T>)(op, dx->data<T>(), dy->data<T>(), x->data<T>(), y->data<T>(),
                                                      x->numel);
    });
    din[0] = dx;
    return;
  }
  switch (op) {
    case UnaryOp::Neg: din[0] = neg(dy); break;                                  // y = -x
    case UnaryOp::Abs: din[0] = mul(dy, unary(UnaryOp::Sign, x)); break;         // y = |x|
    case UnaryOp::Square: din[0] = mul(dy, mul_scalar(x, 2.0)); break;           // y = x^2
    case UnaryOp::Sqrt: din[0] = div(mul_scalar(dy, 0.5), y); break;             // y = sqrt(x): dy * 0.5 / y
    case UnaryOp::Exp: din[0] = mul(dy, y); break;                               // y = e^x
    case UnaryOp::Log: din[0] = div(dy, x); break;                               // y = log x
    case UnaryOp::Log1p: din[0] = mul(dy, unary(UnaryOp::Reciprocal, add_scalar(x, 1.0))); break;  // dy / (1 + x)
    case UnaryOp::Tanh: din[0] = mul(dy, sub(ones_like(y), mul(y, y))); break;   // 1 - y^2
    case UnaryOp::Sigmoid: din[0] = mul(dy, mul(y, sub(ones_like(y), y))); break;  // y (1 - y)
    case UnaryOp::Relu:                                                           // dy where x > 0
      din[0] = where(binary(BinaryOp::Greater, x, zeros_like(x)), dy, zeros_like(dy));
      break;
    case UnaryOp::Sign: din[0] = zeros_like(x); break;                            // piecewise constant
    case UnaryOp::Reciprocal: din[0] = neg(mul(dy, mul(y, y))); break;            // y = 1/x: -dy y^2
    case UnaryOp::Rsqrt: din[0] = mul_scalar(mul(dy, mul(y, mul(y, y))), -0.5); break;  // -0.5 dy y^3
    // TF's math_grad.py / nn_grad.py, operation by operation (the formulas in csrc/math.h do the same):
    case UnaryOp::Sin: din[0] = mul(dy, unary(UnaryOp::Cos, x)); break;             // dy cos x
    case UnaryOp::Cos: din[0] = mul(neg(dy), unary(UnaryOp::Sin, x)); break;        // -dy sin x
    case UnaryOp::Tan:                                                               // sec(x)^2 dy
      din[0] = mul(unary(UnaryOp::Square, unary(UnaryOp::Reciprocal, unary(UnaryOp::Cos, x))), dy);
      break;
    case UnaryOp::Asin:                                                              // dy / sqrt(1 - x^2)
      din[0] = mul(dy, unary(UnaryOp::Reciprocal, unary(UnaryOp::Sqrt, sub(ones_like(x), unary(UnaryOp::Square, x)))));
      break;
    case UnaryOp::Acos:                                                              // -dy / sqrt(1 - x^2)
      din[0] = mul(neg(dy),
                   unary(UnaryOp::Reciprocal, unary(UnaryOp::Sqrt, sub(ones_like(x), unary(UnaryOp::Square, x)))));
      break;
    case UnaryOp::Atan:                                                              // dy / (x^2 + 1)
      din[0] = mul(dy, unary(UnaryOp::Reciprocal, add_scalar(unary(UnaryOp::Square, x), 1.0)));
      break;
    case UnaryOp::Sinh: din[0] = mul(dy, unary(UnaryOp::Cosh, x)); break;           // dy cosh x
    case UnaryOp::Cosh: din[0] = mul(dy, unary(UnaryOp::Sinh, x)); break;           // dy sinh x
    case UnaryOp::Asinh: din[0] = div(dy, unary(UnaryOp::Cosh, y)); break;          // dy / cosh y
    case UnaryOp::Acosh: din[0] = div(dy, unary(UnaryOp::Sinh, y)); break;          // dy / sinh y
    case UnaryOp::Atanh:                                                             // dy / (1 - x^2)
      din[0] = mul(dy, unary(UnaryOp::Reciprocal, sub(ones_like(x), unary(UnaryOp::Square, x))));
      break;
    case UnaryOp::Expm1: din[0] = mul(dy, unary(UnaryOp::Exp, x)); break;          // dy e^x
    case UnaryOp::Softplus: din[0] = mul(dy, unary(UnaryOp::Sigmoid, x)); break;   // dy sigmoid(x)
    case UnaryOp::Softsign:                                                          // dy / (|x| + 1)^2
      din[0] = div(dy, unary(UnaryOp::Square, add_scalar(unary(UnaryOp::Abs, x), 1.0)));
      break;
    case UnaryOp::Erf:                                                               // dy 2/sqrt(pi) e^(-x^2)
    case UnaryOp::Erfc:                                                              // -dy 2/sqrt(pi) e^(-x^2)
      din[0] = mul(mul_scalar(dy, op == UnaryOp::Erf ? 1.1283791670955126 : -1.1283791670955126),
                   unary(UnaryOp::Exp, neg(unary(UnaryOp::Square, x))));
      break;
    case UnaryOp::ReciprocalNoNan: {  // div_no_nan(1, x): dy * div_no_nan(div_no_nan(-1, x), x)
      auto minus_one = full(x->dtype, Shape{}, -1.0, x->device());
      din[0] = mul(dy, binary(BinaryOp::DivNoNan, binary(BinaryOp::DivNoNan, minus_one, x), x));
      break;
    }
    case UnaryOp::Floor:
    case UnaryOp::Ceil:
    case UnaryOp::Round:
    case UnaryOp::Rint: break;  // no gradient (returned above)
  }
}

// ---- binary ------------------------------------------------------------------------------------------
static void binary_backward(const TapeEntry& e, const TensorPtr* dout, TensorPtr* din);
static const OpDef kBinary[] = {  // the arithmetic ops; comparisons are not differentiable (no OpDef)
#define PFT_ROW(E, stem, ...) {#stem, binary_backward},
    PFT_BINARY_OPS(PFT_ROW)
#undef PFT_ROW
};

TensorPtr binary(BinaryOp op, const TensorPtr& a, const TensorPtr& b) {
  const char* name = binary_name(op);
  if (misplaced({a.get(), b.get()})) {
    const Device d = op_device(name, {a.get(), b.get()});
    return binary(op, to_device(a, d), to_device(b, d));
  }
  if (is_logical(op) && (a->dtype != DType::Bool || b->dtype != DType::Bool))
    throw TypeError(std::string(name) + ": expects bool inputs, got " + describe(*a) + " and " + describe(*b) +
                    " (use a comparison or tf.cast(x, tf.bool))");
  if (a->dtype != b->dtype)
    throw InvalidArgument(std::string(name) + ": dtype mismatch, x is " + describe(*a) + " and y is " + describe(*b) +
                          " (no implicit promotion); cast one with tf.cast so both have the same dtype");
  const bool cmp = is_comparison(op);
  if (a->dtype == DType::Bool && !is_logical(op) && !(cmp && (op == BinaryOp::Equal || op == BinaryOp::NotEqual)))
    throw TypeError(std::string(name) + ": unsupported dtype bool (inputs " + describe(*a) + ", " + describe(*b) +
                    "); cast to a numeric dtype first");
  if (binary_float_only(op) && !is_floating(a->dtype))
    throw TypeError(std::string(name) + ": unsupported dtype " + dtype_name(a->dtype) + " (inputs " + describe(*a) +
                    ", " + describe(*b) + "); cast them first, e.g. tf.cast(x, tf.float32)");
  if (op == BinaryOp::DivNoNan && is_integer(a->dtype))  // TF: integers are divided as float64 (its truediv table)
    return binary(op, cast(a, DType::Float64), cast(b, DType::Float64));
  if ((op == BinaryOp::FloorDiv || op == BinaryOp::FloorMod || op == BinaryOp::TruncateDiv) && is_integer(a->dtype)) {
    bool zero = dispatch_all(b->dtype, [&](auto tag) {  // TF checks every divisor before it divides
      using T = decltype(tag);
      const TensorPtr hb = host_copy(b);
      const T* p = hb->data<T>();
      for (int64_t i = 0; i < b->numel; i++)
        if (p[i] == T(0)) return true;
      return false;
    });
    if (zero) throw InvalidArgument(std::string(name) + ": Integer division by zero (divisor " + describe(*b) + ")");
  }
  if (op == BinaryOp::Pow && is_integer(a->dtype)) {
    // TF: "Integers to negative integer powers are not allowed"
    bool neg_exp = dispatch_all(b->dtype, [&](auto tag) {
      using T = decltype(tag);
      const TensorPtr hb = host_copy(b);
      const T* p = hb->data<T>();
      for (int64_t i = 0; i < b->numel; i++)
        if (p[i] < T(0)) return true;
      return false;
    });
    if (neg_exp) throw InvalidArgument("pow: integers to negative integer powers are not allowed (cast to float first)");
  }
  const bool same = a->shape == b->shape;
  Shape shape = same ? a->shape : broadcast_shapes(name, a->shape, b->shape);
  auto out = same ? empty_as(*a, cmp ? DType::Bool : a->dtype, a->device())
                  : empty(cmp ? DType::Bool : a->dtype, shape, a->device());
  const Shape* ins[2] = {&a->shape, &b->shape};
  BroadcastPlan plan = make_broadcast_plan(shape, ins, 2);
  dispatch_all(a->dtype, [&](auto tag) {
    using T = decltype(tag);
GILRelease nogil(plan.numel >= kReleaseGILWork);
    if (cmp) {
      PFT_KERNEL_FOR(out->device(), binary_forward<T, bool>)(op, out->data<bool>(), a->data<T>(), b->data<T>(), plan);
    } else if constexpr (!std::is_same<T, bool>::value) {
      PFT_KERNEL_FOR(out->device(), binary_forward<T, T>)(op, out->data<T>(), a->data<T>(), b->data<T>(), plan);
    }
  });
  int64_t attr = int64_t(op);
  finish_op(cmp ? nullptr : &kBinary[int(op)], name, {a, b}, out, &attr, 1);
  return out;
}

static void binary_backward(const TapeEntry& e, const TensorPtr* dout, TensorPtr* din) {
  const TensorPtr& dy = dout[0];
  const TensorPtr& a = e.in[0];
  const TensorPtr& b = e.in[1];
  TensorPtr da, db;
  const bool na = e.need(0), nb = e.need(1);  // only the inputs that lead to a source
  switch (BinaryOp(e.attr[0])) {
    case BinaryOp::Add: da = dy; db = dy; break;
    case BinaryOp::Sub:
      da = dy;
      if (nb) db = neg(dy);
      break;
    case BinaryOp::Mul:
      if (na) da = mul(dy, b);
      if (nb) db = mul(a, dy);
      break;
    case BinaryOp::Div:  // z = a / b: da = dy / b, db = dy * (-a / b / b) (TF's RealDiv gradient)
      if (na) da = div(dy, b);
      if (nb) db = mul(dy, div(div(neg(a), b), b));
      break;
    case BinaryOp::Pow: {  // z = a^b: da = dy * b * a^(b-1); db = dy * z * log(a) where a > 0, else 0
      if (na) da = mul(dy, mul(b, binary(BinaryOp::Pow, a, add_scalar(b, -1.0))));
      if (nb) {
        auto pos = binary(BinaryOp::Greater, a, zeros_like(a));
        auto safe = where(pos, a, ones_like(a));
        auto log_a = where(pos, unary(UnaryOp::Log, safe), zeros_like(a));
        db = mul(dy, mul(e.out, log_a));
      }
      break;
    }
    case BinaryOp::Maximum:
    case BinaryOp::Minimum: {  // the gradient goes to x where x >= y (x <= y for minimum), else to y
      auto xmask = binary(BinaryOp(e.attr[0]) == BinaryOp::Maximum ? BinaryOp::GreaterEqual : BinaryOp::LessEqual, a, b);
      auto zero = full(dy->dtype, Shape{}, 0.0, dy->device());
      if (na) da = where(xmask, dy, zero);
      if (nb) db = where(xmask, zero, dy);
      break;
    }
    case BinaryOp::Atan2: {  // z = atan2(a = y, b = x): g = dy / (x^2 + y^2); da = x g, db = -y g
      auto g = div(dy, add(unary(UnaryOp::Square, b), unary(UnaryOp::Square, a)));
      if (na) da = mul(b, g);
      if (nb) db = mul(neg(a), g);
      break;
    }
    case BinaryOp::FloorMod:  // z = a - floor(a / b) b: da = dy, db = dy * -floordiv(a, b)
      if (na) da = dy;
      if (nb) db = mul(dy, neg(binary(BinaryOp::FloorDiv, a, b)));
      break;
    case BinaryOp::SquaredDifference: {  // z = (a - b)^2: g = (2 dy) (a - b); da = g, db = -g
      auto g = mul(mul_scalar(dy, 2.0), sub(a, b));
      if (na) da = g;
      if (nb) db = neg(g);
      break;
    }
    case BinaryOp::DivNoNan:  // da = div_no_nan(dy, b), db = dy * div_no_nan(div_no_nan(-a, b), b)
      if (na) da = binary(BinaryOp::DivNoNan, dy, b);
      if (nb) db = mul(dy, binary(BinaryOp::DivNoNan, binary(BinaryOp::DivNoNan, neg(a), b), b));
      break;
    case BinaryOp::Xlogy:  // da = xlogy(a != 0, b) dy, db = xdivy(a, b) dy
    case BinaryOp::Xdivy: {  // da = xdivy(a != 0, b) dy, db = xdivy(-a, b^2) dy
      const BinaryOp op = BinaryOp(e.attr[0]);
      if (na) {
        auto nonzero = cast(binary(BinaryOp::NotEqual, a, zeros_like(a)), a->dtype);
        da = mul(binary(op, nonzero, b), dy);
      }
      if (nb) {
        db = op == BinaryOp::Xlogy ? mul(binary(BinaryOp::Xdivy, a, b), dy)
                                   : mul(binary(BinaryOp::Xdivy, neg(a), unary(UnaryOp::Square, b)), dy);
      }
      break;
    }
    case BinaryOp::FloorDiv:     // TF registers None for both inputs: piecewise constant
    case BinaryOp::TruncateDiv:  // likewise
    default: return;
  }
  if (na && da) din[0] = sum_to_shape(da, a->shape);
  if (nb && db) din[1] = sum_to_shape(db, b->shape);
}

// ---- predicates (bool out, not differentiable) ---------------------------------------------------------
TensorPtr predicate(PredicateOp op, const TensorPtr& x) {
  const char* name = predicate_name(op);
  if (misplaced({x.get()})) return predicate(op, to_device(x, op_device(name, {x.get()})));
  const bool logical = op == PredicateOp::LogicalNot;
  if (logical ? x->dtype != DType::Bool : !is_floating(x->dtype))
    throw TypeError(std::string(name) + ": unsupported dtype " + dtype_name(x->dtype) + " (input " + describe(*x) +
                    (logical ? "); expects bool (use a comparison or tf.cast(x, tf.bool))"
                             : "); expects float32 or float64"));
  auto out = empty(DType::Bool, x->shape, x->device());
  auto run = [&](auto tag) {
    using T = decltype(tag);
    GILRelease nogil(x->numel >= kReleaseGILWork);
    PFT_KERNEL_FOR(out->device(), predicate_forward<T>)(op, out->data<bool>(), x->data<T>(), x->numel);
  };
  switch (x->dtype) {
    case DType::Float32: run(float{}); break;
    case DType::Float64: run(double{}); break;
    default: run(bool{}); break;
  }
  finish_op(nullptr, name, {x}, out);
  return out;
}

TensorPtr mul_scalar(const TensorPtr& x, double s) { return mul(x, full(x->dtype, Shape{}, s, x->device())); }
TensorPtr add_scalar(const TensorPtr& x, double s) { return add(x, full(x->dtype, Shape{}, s, x->device())); }
TensorPtr zeros_like(const TensorPtr& x) { return full(x->dtype, x->shape, 0.0, x->device()); }
TensorPtr ones_like(const TensorPtr& x) { return full(x->dtype, x->shape, 1.0, x->device()); }

// ---- where -------------------------------------------------------------------------------------------
static void where_backward(const TapeEntry& e, const TensorPtr* dout, TensorPtr* din);
static const OpDef kWhere = {"where", where_backward};

TensorPtr where_indices(const TensorPtr& c) {
  const TensorPtr h = host_copy(c);
  const int nd = h->ndim();
  int64_t count = 0;
  dispatch_all(h->dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* p = h->data<T>();
    for (int64_t i = 0; i < h->numel; i++) count += p[i] != T(0);
  });
  Shape os{count, int64_t(nd)};
  auto out = empty(DType::Int64, os);
  int64_t* o = out->data<int64_t>();
  dispatch_all(h->dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* p = h->data<T>();
    for (int64_t i = 0; i < h->numel; i++) {
      if (p[i] == T(0)) continue;
      int64_t r = i;
      for (int k = nd - 1; k >= 0; k--) {  // row-major coordinates of element i
        o[k] = r % h->shape.d[k];
        r /= h->shape.d[k];
      }
      o += nd;
    }
  });
  finish_op(nullptr, "where", {c}, out);  // not differentiable: never recorded
  return c->device() == out->device() ? out : to_device(out, c->device());
}

TensorPtr where(const TensorPtr& c, const TensorPtr& x, const TensorPtr& y) {
  if (c->dtype != DType::Bool)
    throw TypeError("where: condition must be a bool tensor, got " + describe(*c) + " (use a comparison or tf.cast(c, tf.bool))");
  if (x->dtype != y->dtype)
    throw InvalidArgument("where: x and y must have the same dtype, got " + describe(*x) + " and " + describe(*y) +
                          "; cast one with tf.cast");
  if (misplaced({c.get(), x.get(), y.get()})) {
    const Device d = op_device("where", {c.get(), x.get(), y.get()});
    return where(to_device(c, d), to_device(x, d), to_device(y, d));
  }
  Shape shape = broadcast_shapes("where", broadcast_shapes("where", c->shape, x->shape), y->shape);
  auto out = empty(x->dtype, shape, x->device());
  const Shape* ins[3] = {&c->shape, &x->shape, &y->shape};
  BroadcastPlan plan = make_broadcast_plan(shape, ins, 3);
  dispatch_all(x->dtype, [&](auto tag) {
    using T = decltype(tag);
    GILRelease nogil(plan.numel >= kReleaseGILWork);
    PFT_KERNEL_FOR(out->device(), where_forward<T>)(out->data<T>(), c->data<bool>(), x->data<T>(), y->data<T>(), plan);
  });
  finish_op(&kWhere, "where", {x, y, c}, out);
  return out;
}

static void where_backward(const TapeEntry& e, const TensorPtr* dout, TensorPtr* din) {
  // out = c ? x : y: the gradient flows to x where c holds and to y elsewhere.
  const TensorPtr& dy = dout[0];
  const TensorPtr& c = e.in[2];
  auto zero = full(dy->dtype, Shape{}, 0.0, dy->device());  // broadcast by where: no dy-sized zeros
  if (e.need(0)) din[0] = sum_to_shape(where(c, dy, zero), e.in[0]->shape);
  if (e.need(1)) din[1] = sum_to_shape(where(c, zero, dy), e.in[1]->shape);
}

// ---- broadcast_to / sum_to_shape ---------------------------------------------------------------------
static void broadcast_to_backward(const TapeEntry& e, const TensorPtr* dout, TensorPtr* din) {
  din[0] = sum_to_shape(dout[0], e.in[0]->shape);
}
static const OpDef kBroadcastTo = {"broadcast_to", broadcast_to_backward};

TensorPtr broadcast_to(const TensorPtr& x, const Shape& shape) {
  if (misplaced({x.get()})) return broadcast_to(to_device(x, op_device("broadcast_to", {x.get()})), shape);
  if (x->shape == shape) return x;
  Shape b = broadcast_shapes("broadcast_to", x->shape, shape);
  if (b != shape)
    throw InvalidArgument("broadcast_to: cannot broadcast " + describe(*x) + " to shape " + shape.str());
  checked_nbytes(x->dtype, shape, "broadcast_to");
  auto out = empty(x->dtype, shape, x->device());
  const Shape* ins[1] = {&x->shape};
  BroadcastPlan plan = make_broadcast_plan(shape, ins, 1);
  dispatch_all(x->dtype, [&](auto tag) {
    using T = decltype(tag);
    GILRelease nogil(plan.numel >= kReleaseGILWork);
    PFT_KERNEL_FOR(out->device(), broadcast_forward<T>)(out->data<T>(), x->data<T>(), plan);
  });
  finish_op(&kBroadcastTo, "broadcast_to", {x}, out);
  return out;
}

TensorPtr sum_to_shape(const TensorPtr& g, const Shape& shape) {
  if (g->shape == shape) return g;
  // Reduce the leading dims g has beyond `shape`, and every dim where shape has 1 and g does not.
  const int lead = g->shape.ndim - shape.ndim;
  uint32_t mask = 0;
  for (int i = 0; i < g->shape.ndim; i++) {
    if (i < lead) mask |= 1u << i;
    else if (shape.d[i - lead] == 1 && g->shape.d[i] != 1) mask |= 1u << i;
  }
  auto s = reduce(ReduceOp::Sum, g, mask, /*keepdims=*/true);
  return reshape(s, shape);
}

// ---- cast / identity ---------------------------------------------------------------------------------
static void cast_backward(const TapeEntry& e, const TensorPtr* dout, TensorPtr* din) {
  din[0] = cast(dout[0], e.in[0]->dtype);  // float -> float only; integer inputs get no gradient
}
static const OpDef kCast = {"cast", cast_backward};

TensorPtr cast(const TensorPtr& x, DType dt) {
  if (misplaced({x.get()})) return cast(to_device(x, op_device("cast", {x.get()})), dt);
  if (x->dtype == dt) return x;
  auto out = empty(dt, x->shape, x->device());
  dispatch_all(dt, [&](auto to_tag) {
    using To = decltype(to_tag);
    dispatch_all(x->dtype, [&](auto from_tag) {
      using From = decltype(from_tag);
      PFT_KERNEL_FOR(out->device(), cast_forward<To, From>)(out->data<To>(), x->data<From>(), x->numel);
    });
  });
  finish_op(is_floating(x->dtype) ? &kCast : nullptr, "cast", {x}, out);
  return out;
}

static void identity_backward(const TapeEntry&, const TensorPtr* dout, TensorPtr* din) { din[0] = dout[0]; }
static const OpDef kIdentity = {"identity", identity_backward};

TensorPtr identity(const TensorPtr& x) {
  // A new tensor id over the same (immutable) storage: no copy.
  auto out = alias(x, x->shape);
  finish_op(&kIdentity, "identity", {x}, out);
  return out;
}

TensorPtr stop_gradient(const TensorPtr& x) {
  // A new id over the same storage that no tape watches: the path is cut. Logged (for explain()) when a
  // tape is active or x descends from a traced value.
  auto out = alias(x, x->shape);
  if (gen_of(x->flags) || any_tape_active()) {
    log_event(Cause::StopGradient, "stop_gradient", {x->id}, out->id, out->dtype);
    out->flags = with_gen(out->flags, std::max<uint32_t>(gen_of(x->flags), 1) + 1);
  }
  return out;
}

}  // namespace ops
}  // namespace pft
