// Glue for reductions (sum/mean/max/min over any axis set), argmax/argmin, softmax/log_softmax.
#include "ops.h"

namespace pft {
namespace ops {

static Shape reduced_shape(const Shape& s, uint32_t mask, bool keepdims) {
  Shape out;
  for (int i = 0; i < s.ndim; i++) {
    if (mask & (1u << i)) {
      if (keepdims) out.push_back(1);
    } else {
      out.push_back(s.d[i]);
    }
  }
  return out;
}

// Reduces the axes in `mask` of x into a freshly allocated tensor with the kept dims (keepdims shape).
// Each maximal run of adjacent reduced axes is one (outer, r, inner) kernel call.
static TensorPtr reduce_raw(ReduceOp op, const TensorPtr& x, uint32_t mask) {
  if (x->numel == 0) {  // an empty input: the identity wherever the output has elements, at once
    const Shape kept = reduced_shape(x->shape, mask, true);
    checked_nbytes(x->dtype, kept, reduce_name(op));
    auto dst = empty(x->dtype, kept, x->device());
    if (dst->numel)
      dispatch_numeric(x->dtype, reduce_name(op), [&](auto tag) {
        using T = decltype(tag);
        PFT_KERNEL_FOR(dst->device(), fill_forward<T>)(dst->data<T>(), reduce_identity<T>(op), dst->numel);
      });
    return dst;
  }
  Shape cur = x->shape;
  TensorPtr src = x;
  // Innermost run first, so `outer` stays large (better parallelism) for the remaining runs.
  int i = cur.ndim - 1;
  bool did = false;
  while (i >= 0) {
    if (!(mask & (1u << i))) {
      i--;
      continue;
    }
    int hi = i;
    while (i >= 0 && (mask & (1u << i))) i--;
    int lo = i + 1;  // axes [lo, hi] are reduced
    int64_t outer = 1, r = 1, inner = 1;
    for (int k = 0; k < lo; k++) outer *= cur.d[k];
    for (int k = lo; k <= hi; k++) r *= cur.d[k];
    for (int k = hi + 1; k < cur.ndim; k++) inner *= cur.d[k];
    Shape next = cur;
    for (int k = lo; k <= hi; k++) next.d[k] = 1;
    auto dst = empty(x->dtype, next, x->device());
    dispatch_numeric(x->dtype, reduce_name(op), [&](auto tag) {
      using T = decltype(tag);
      GILRelease nogil(outer * r * inner >= kReleaseGILWork);
      PFT_KERNEL_FOR(dst->device(), reduce_forward<T>)(op, dst->data<T>(), src->data<T>(), outer, r, inner);
    });
    src = dst;
    cur = next;
    did = true;
  }
  if (!did) {  // nothing to reduce: a copy, so the output is a distinct tensor
    auto dst = empty(x->dtype, x->shape, x->device());
    copy_bytes(dst->raw(), dst->device(), x->raw(), x->device(), x->nbytes());
    return dst;
  }
  return src;
}

static void reduce_backward(const TapeEntry& e, const TensorPtr* dout, TensorPtr* din);
static const OpDef kReduce[] = {  // one OpDef per op (its tape name), all with the family's backward rule
#define PFT_ROW(E, stem) {"reduce_" #stem, reduce_backward},
    PFT_REDUCE_OPS(PFT_ROW)
#undef PFT_ROW
};

TensorPtr reduce(ReduceOp op, const TensorPtr& x, uint32_t mask, bool keepdims) {
  if (misplaced({x.get()})) return reduce(op, to_device(x, op_device(reduce_name(op), {x.get()})), mask, keepdims);
  if (x->dtype == DType::Bool)
    throw TypeError(std::string(reduce_name(op)) + ": unsupported dtype bool (input " + describe(*x) +
                    "); cast to a numeric dtype first");
  auto kept = reduce_raw(op, x, mask);
  if (!keepdims) kept->shape = reduced_shape(x->shape, mask, false);  // fresh and unshared: relabel in place
  const TensorPtr& out = kept;
  int64_t attr[3] = {int64_t(op), int64_t(mask), int64_t(keepdims)};
  finish_op(&kReduce[int(op)], reduce_name(op), {x}, out, attr, 3);
  return out;
}

static void reduce_backward(const TapeEntry& e, const TensorPtr* dout, TensorPtr* din) {
  const TensorPtr& x = e.in[0];
  const ReduceOp op = ReduceOp(e.attr[0]);
  const uint32_t mask = uint32_t(e.attr[1]);
  const Shape kept = reduced_shape(x->shape, mask, true);
  auto dy = reshape(dout[0], kept);
  if (op == ReduceOp::Sum) {
    din[0] = broadcast_to(dy, x->shape);
  } else if (op == ReduceOp::Max || op == ReduceOp::Min) {
    // TF: the gradient is split evenly between all elements equal to the extremum (ties).
    auto y = reshape(e.out, kept);
    auto ind = cast(binary(BinaryOp::Equal, y, x), x->dtype);
    auto count = reduce(ReduceOp::Sum, ind, mask, true);
    din[0] = mul(div(ind, count), dy);
  } else {
    throw NotImplemented("reduce_prod: gradient is not implemented");
  }
}

static void reduce_mean_backward(const TapeEntry& e, const TensorPtr* dout, TensorPtr* din) {
  // y = sum(x) / n: dx = broadcast(dy) / n
  const TensorPtr& x = e.in[0];
  const uint32_t mask = uint32_t(e.attr[0]);
  auto dy = reshape(dout[0], reduced_shape(x->shape, mask, true));
  double n = double(x->numel) / double(std::max<int64_t>(1, reduced_shape(x->shape, mask, true).numel()));
  // dy / n before broadcasting: each element is the same division as TF's broadcast(dy) / n, on the
  // small reduced tensor instead of x-sized data.
  din[0] = broadcast_to(div(dy, full(x->dtype, Shape{}, n, x->device())), x->shape);
}
static const OpDef kReduceMean = {"reduce_mean", reduce_mean_backward};

TensorPtr reduce_mean(const TensorPtr& x, uint32_t mask, bool keepdims) {
  if (misplaced({x.get()})) return reduce_mean(to_device(x, op_device("reduce_mean", {x.get()})), mask, keepdims);
  if (x->dtype == DType::Bool)
    throw TypeError("reduce_mean: unsupported dtype bool (input " + describe(*x) + "); cast to a numeric dtype first");
  auto kept = reduce_raw(ReduceOp::Sum, x, mask);
  const int64_t count = kept->numel == 0 ? 0 : x->numel / kept->numel;
  // sum / n in place, like TF (a division, not a multiplication by 1/n: the same rounding; integers
  // truncate). An empty input's sums stay 0 for integers (no division by zero).
  if (count > 0 || is_floating(x->dtype)) {
    auto n = full(x->dtype, Shape{}, double(count), x->device());
    const Shape* ins[2] = {&kept->shape, &n->shape};
    BroadcastPlan plan = make_broadcast_plan(kept->shape, ins, 2);
    dispatch_numeric(x->dtype, "reduce_mean", [&](auto tag) {
      using T = decltype(tag);
      PFT_KERNEL_FOR(kept->device(), binary_forward<T, T>)(BinaryOp::Div, kept->data<T>(), kept->data<T>(),
                                                          n->data<T>(), plan);
    });
  }
  if (!keepdims) kept->shape = reduced_shape(x->shape, mask, false);  // fresh and unshared: relabel in place
  const TensorPtr& out = kept;
  int64_t attr[2] = {int64_t(mask), int64_t(keepdims)};
  finish_op(&kReduceMean, "reduce_mean", {x}, out, attr, 2);
  return out;
}

TensorPtr argmax(const TensorPtr& x, int64_t axis, bool is_min, DType out_dtype) {
  const char* name = is_min ? "argmin" : "argmax";
  if (misplaced({x.get()})) return argmax(to_device(x, op_device(name, {x.get()})), axis, is_min, out_dtype);
  int ax = normalize_axis(name, axis, x->ndim());
  if (x->shape.d[ax] == 0)
    throw InvalidArgument(std::string(name) + ": reduction dimension " + std::to_string(axis) + " of " + describe(*x) +
                          " is empty");
  if (out_dtype != DType::Int32 && out_dtype != DType::Int64)
    throw TypeError(std::string(name) + ": output_type must be int32 or int64");
  const Shape os = reduced_shape(x->shape, 1u << ax, false);
  checked_nbytes(DType::Int64, os, name);
  auto idx = empty(DType::Int64, os, x->device());
  int64_t outer = 1, inner = 1;  // products of x's dimensions: in range when x has elements
  if (x->numel)
    for (int k = 0; k < x->ndim(); k++) (k < ax ? outer : inner) *= k == ax ? 1 : x->shape.d[k];
  dispatch_numeric(x->dtype, name, [&](auto tag) {
    using T = decltype(tag);
    if (x->numel) PFT_KERNEL_FOR(idx->device(), argmax_forward<T>)(idx->data<int64_t>(), x->data<T>(), outer, x->shape.d[ax], inner, is_min);
  });
  finish_op(nullptr, name, {x}, idx);  // not differentiable: never recorded
  return out_dtype == DType::Int64 ? idx : cast(idx, out_dtype);
}

static void softmax_backward(const TapeEntry& e, const TensorPtr* dout, TensorPtr* din) {
  const TensorPtr& dy = dout[0];
  const TensorPtr& y = e.out;
  const uint32_t mask = 1u << e.attr[0];
  if (e.attr[1]) {  // y = log_softmax(x): dx = dy - softmax(x) * sum(dy)
    din[0] = sub(dy, mul(unary(UnaryOp::Exp, y), reduce(ReduceOp::Sum, dy, mask, true)));
  } else {  // y = softmax(x): dx = (dy - sum(dy * y)) * y
    din[0] = mul(sub(dy, reduce(ReduceOp::Sum, mul(dy, y), mask, true)), y);
  }
}
static const OpDef kSoftmax = {"softmax", softmax_backward};

TensorPtr softmax(const TensorPtr& x, int64_t axis, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  if (misplaced({x.get()})) return softmax(to_device(x, op_device(name, {x.get()})), axis, log);
  int ax = normalize_axis(name, axis, x->ndim());
  int64_t outer = 1, inner = 1;  // products of x's dimensions: in range when x has elements
  if (x->numel)
    for (int k = 0; k < x->ndim(); k++) (k < ax ? outer : inner) *= k == ax ? 1 : x->shape.d[k];
  auto out = empty(x->dtype, x->shape, x->device());
  dispatch_float(x->dtype, name, [&](auto tag) {
    using T = decltype(tag);
    GILRelease nogil(x->numel >= kReleaseGILWork);
    if (x->numel > 0) PFT_KERNEL_FOR(out->device(), softmax_forward<T>)(out->data<T>(), x->data<T>(), outer, x->shape.d[ax], inner, log);
  });
  int64_t attr[2] = {ax, int64_t(log)};
  finish_op(&kSoftmax, name, {x}, out, attr, 2);
  return out;
}

}  // namespace ops
}  // namespace pft
