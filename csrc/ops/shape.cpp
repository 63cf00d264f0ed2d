// Glue for shape ops (reshape, transpose, one_hot) and tensor creation (range, random).
#include <cmath>
#include <cstdio>

#include "ops.h"

namespace pft {
namespace ops {

static void reshape_backward(const TapeEntry& e, const TensorPtr* dout, TensorPtr* din) {
  din[0] = reshape(dout[0], e.in[0]->shape);
}
static const OpDef kReshape = {"reshape", reshape_backward};

TensorPtr reshape(const TensorPtr& x, const Shape& shape) {
  if (misplaced({x.get()})) return reshape(to_device(x, op_device("reshape", {x.get()})), shape);
  const int64_t n = check_shape(shape, "reshape");
  if (n != x->numel)
    throw InvalidArgument("reshape: cannot reshape " + describe(*x) + " (" + std::to_string(x->numel) +
                          " elements) to shape " + shape.str() + " (" + std::to_string(n) + " elements)");
  auto out = alias(x, shape);  // zero-copy: storage is contiguous and immutable
  finish_op(&kReshape, "reshape", {x}, out);
  return out;
}

static std::string shape_text(const std::vector<int64_t>& dims) {
  std::string t = "[";
  for (size_t i = 0; i < dims.size(); i++) t += (i ? "," : "") + std::to_string(dims[i]);
  return t + "]";
}

TensorPtr reshape(const TensorPtr& x, const std::vector<int64_t>& dims) {
  if (dims.size() > size_t(kMaxRank))
    throw InvalidArgument("reshape: rank " + std::to_string(dims.size()) + " is above the supported maximum of 8");
  Shape s;
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < dims.size(); i++) {
    if (dims[i] == -1) {
      if (infer >= 0) throw InvalidArgument("reshape: only one dimension of the new shape may be -1");
      infer = int(i);
      s.push_back(1);
    } else if (dims[i] < 0) {
      throw InvalidArgument("reshape: invalid dimension " + std::to_string(dims[i]) + " in the new shape");
    } else {
      s.push_back(dims[i]);
      known = checked_mul(known, dims[i], "reshape", ("the element count of shape " + shape_text(dims)).c_str());
    }
  }
  if (infer >= 0) {
    if (known == 0 || x->numel % known != 0)
      throw InvalidArgument("reshape: cannot reshape " + describe(*x) + " (" + std::to_string(x->numel) +
                            " elements) to a shape with -1 and " + std::to_string(known) + " known elements");
    s.d[infer] = x->numel / known;
  }
  return reshape(x, s);
}

static void transpose_backward(const TapeEntry& e, const TensorPtr* dout, TensorPtr* din) {
  // out dim i is x dim perm[i]; the inverse permutation undoes it.
  const int nd = e.in[0]->ndim();
  std::vector<int64_t> inv(size_t(nd), 0);
  for (int i = 0; i < nd; i++) inv[size_t(e.attr[i])] = i;
  din[0] = transpose(dout[0], inv);
}
static const OpDef kTranspose = {"transpose", transpose_backward};

TensorPtr transpose(const TensorPtr& x, const std::optional<std::vector<int64_t>>& perm_in) {
  if (misplaced({x.get()})) return transpose(to_device(x, op_device("transpose", {x.get()})), perm_in);
  const int nd = x->ndim();
  std::vector<int64_t> perm;
  if (perm_in) perm = *perm_in;
  else
    for (int i = nd - 1; i >= 0; i--) perm.push_back(i);  // TF default: reverse the dimensions
  if (int(perm.size()) != nd)
    throw InvalidArgument("transpose: perm has " + std::to_string(perm.size()) + " entries but the input " +
                          describe(*x) + " has rank " + std::to_string(nd));
  uint32_t seen = 0;
  for (auto& p : perm) {
    p = normalize_axis("transpose", p, nd);
    if (seen & (1u << p)) throw InvalidArgument("transpose: perm is not a permutation (repeated " + std::to_string(p) + ")");
    seen |= 1u << p;
  }
  if (nd == 0) return identity(x);
  int64_t xstride[kMaxRank];
  int64_t st = 1;
  for (int i = nd - 1; i >= 0; i--) {
    xstride[i] = st;
    st *= x->shape.d[i];
  }
  Shape os;
  int64_t ps[kMaxRank];
  for (int i = 0; i < nd; i++) {
    os.push_back(x->shape.d[perm[size_t(i)]]);
    ps[i] = xstride[perm[size_t(i)]];
  }
  auto out = empty(x->dtype, os, x->device());
  dispatch_all(x->dtype, [&](auto tag) {
    using T = decltype(tag);
    GILRelease nogil(x->numel >= kReleaseGILWork);
    PFT_KERNEL_FOR(out->device(), transpose_forward<T>)(out->data<T>(), x->data<T>(), os, ps);
  });
  int64_t attr[kMaxRank];
  for (int i = 0; i < nd; i++) attr[i] = perm[size_t(i)];
  finish_op(&kTranspose, "transpose", {x}, out, attr, nd);
  return out;
}

// ---- strided slice --------------------------------------------------------------------------------------
// The slice parameters (begin, size, step per dimension) ride along as a small int64 tensor.
static TensorPtr slice_params(const std::vector<int64_t>& begin, const std::vector<int64_t>& size,
                              const std::vector<int64_t>& step) {
  const int64_t nd = int64_t(begin.size());
  auto p = empty(DType::Int64, Shape{3, nd});
  for (int64_t i = 0; i < nd; i++) {
    p->data<int64_t>()[i] = begin[size_t(i)];
    p->data<int64_t>()[nd + i] = size[size_t(i)];
    p->data<int64_t>()[2 * nd + i] = step[size_t(i)];
  }
  return p;
}
static void unpack_params(const TensorPtr& p, std::vector<int64_t>& begin, std::vector<int64_t>& size,
                          std::vector<int64_t>& step) {
  const int64_t nd = p->shape.d[1];
  const int64_t* q = p->data<int64_t>();
  begin.assign(q, q + nd);
  size.assign(q + nd, q + 2 * nd);
  step.assign(q + 2 * nd, q + 3 * nd);
}
// The element offset of the first gathered element and the per-dimension strides of the gather.
static int64_t gather_strides(const Shape& xs, const std::vector<int64_t>& begin, const std::vector<int64_t>& step,
                              int64_t* st) {
  int64_t off = 0, s = 1;
  for (int i = xs.ndim - 1; i >= 0; i--) {
    // Overflow only where that dimension's slice has one element (the bounds check bounds |step| by the
    // dimension otherwise), so the stride is never used: 0 then, without undefined behaviour.
    if (__builtin_mul_overflow(s, step[size_t(i)], &st[i])) st[i] = 0;
    off += s * begin[size_t(i)];
    s *= xs.d[i];
  }
  return off;
}

static TensorPtr slice_grad(const TensorPtr& dy, const Shape& x_shape, const TensorPtr& params);

static void slice_backward(const TapeEntry& e, const TensorPtr* dout, TensorPtr* din) {
  din[0] = slice_grad(dout[0], e.in[0]->shape, e.saved);
}
static const OpDef kStridedSlice = {"strided_slice", slice_backward};

static void slice_grad_backward(const TapeEntry& e, const TensorPtr* dout, TensorPtr* din) {
  std::vector<int64_t> b, s, st;
  unpack_params(e.saved, b, s, st);
  din[0] = strided_slice(dout[0], b, s, st);  // the adjoint of a scatter is the gather
}
static const OpDef kSliceGrad = {"strided_slice_grad", slice_grad_backward};

static TensorPtr slice_grad(const TensorPtr& dy, const Shape& x_shape, const TensorPtr& params) {
  std::vector<int64_t> b, s, st;
  unpack_params(params, b, s, st);
  auto dx = full(dy->dtype, x_shape, 0.0, dy->device());
  int64_t strides[kMaxRank];
  const int64_t off = gather_strides(x_shape, b, st, strides);
  dispatch_float(dy->dtype, "strided_slice", [&](auto tag) {
    using T = decltype(tag);
    PFT_KERNEL_FOR(dx->device(), transpose_backward<T>)(dx->data<T>() + off, dy->data<T>(), dy->shape, strides);
  });
  finish_op(&kSliceGrad, "strided_slice_grad", {dy}, dx, nullptr, 0, 0.0, params);
  return dx;
}

TensorPtr strided_slice(const TensorPtr& x, const std::vector<int64_t>& begin, const std::vector<int64_t>& size,
                        const std::vector<int64_t>& step) {
  if (misplaced({x.get()})) return strided_slice(to_device(x, op_device("strided_slice", {x.get()})), begin, size, step);
  const int nd = x->ndim();
  if (int(begin.size()) != nd || int(size.size()) != nd || int(step.size()) != nd)
    throw InvalidArgument("strided_slice: begin/size/step need one entry per dimension of " + describe(*x));
  for (int i = 0; i < nd; i++) {
    const int64_t b = begin[size_t(i)], n = size[size_t(i)], s = step[size_t(i)];
    int64_t last = 0;  // b + (n - 1) * s, checked: an overflowing slice is out of bounds
    const bool wraps = n > 0 && (__builtin_mul_overflow(n - 1, s, &last) || __builtin_add_overflow(b, last, &last));
    if (s == 0 || n < 0 || wraps || (n > 0 && (b < 0 || b >= x->shape.d[i] || last < 0 || last >= x->shape.d[i])))
      throw InvalidArgument("strided_slice: slice [" + std::to_string(b) + " : +" + std::to_string(n) + " step " +
                            std::to_string(s) + "] is out of bounds for dimension " + std::to_string(i) + " of " +
                            describe(*x));
  }
  Shape os = Shape::of(size.data(), nd);
  auto out = empty(x->dtype, os, x->device());
  int64_t strides[kMaxRank];
  const int64_t off = os.numel() ? gather_strides(x->shape, begin, step, strides) : 0;
  dispatch_all(x->dtype, [&](auto tag) {
    using T = decltype(tag);
    if (os.numel()) PFT_KERNEL_FOR(out->device(), transpose_forward<T>)(out->data<T>(), x->data<T>() + off, os, strides);
  });
  finish_op(&kStridedSlice, "strided_slice", {x}, out, nullptr, 0, 0.0, slice_params(begin, size, step));
  return out;
}

TensorPtr one_hot(const TensorPtr& indices, int64_t depth, double on, double off, int64_t axis, DType dt) {
  if (misplaced({indices.get()}))
    return one_hot(to_device(indices, op_device("one_hot", {indices.get()})), depth, on, off, axis, dt);
  if (!is_integer(indices->dtype))
    throw TypeError("one_hot: indices must be int32 or int64, got " + describe(*indices));
  if (depth < 0) throw InvalidArgument("one_hot: depth must be non-negative, got " + std::to_string(depth));
  const int nd = indices->ndim();
  int64_t ax = axis == -1 ? nd : axis;
  if (ax < 0 || ax > nd)
    throw InvalidArgument("one_hot: axis " + std::to_string(axis) + " is out of range for output rank " +
                          std::to_string(nd + 1));
  Shape os;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < nd; i++) {
    if (i == ax) os.push_back(depth);
    os.push_back(indices->shape.d[i]);
    if (i < ax) outer *= indices->shape.d[i];
    else inner *= indices->shape.d[i];
  }
  if (ax == nd) os.push_back(depth);
  checked_nbytes(dt, os, "one_hot");  // depth x size, checked
  auto out = empty(dt, os, indices->device());
  dispatch_all(dt, [&](auto tag) {
    using T = decltype(tag);
    if (out->numel == 0) return;  // empty: no loop over depth (depth may be 2**62)
    if (indices->dtype == DType::Int32)
      PFT_KERNEL_FOR(out->device(), one_hot_forward<T, int32_t>)(out->data<T>(), indices->data<int32_t>(), outer, depth, inner, math::convert<T, double>(on), math::convert<T, double>(off));
    else
      PFT_KERNEL_FOR(out->device(), one_hot_forward<T, int64_t>)(out->data<T>(), indices->data<int64_t>(), outer, depth, inner, math::convert<T, double>(on), math::convert<T, double>(off));
  });
  finish_op(nullptr, "one_hot", {indices}, out);
  return out;
}

TensorPtr one_hot(const TensorPtr& indices, int64_t depth, const TensorPtr& on, const TensorPtr& off, int64_t axis,
                  std::optional<DType> dtype) {
  const DType dt = dtype ? *dtype : on ? on->dtype : off ? off->dtype : DType::Float32;
  for (const auto& [v, what] : {std::pair{&on, "on_value"}, std::pair{&off, "off_value"}}) {
    if (!*v) continue;
    if ((*v)->dtype != dt)
      throw TypeError(std::string("one_hot: dtype ") + dtype_name((*v)->dtype) + " of " + what +
                      " does not match the output dtype " + dtype_name(dt));
    if ((*v)->numel != 1) throw InvalidArgument(std::string("one_hot: ") + what + " must be a scalar, got " + describe(**v));
  }
  return one_hot(indices, depth, on ? item_as_double(*on) : 1.0, off ? item_as_double(*off) : 0.0, axis, dt);
}

static std::string number_text(double v) {  // %.17g: 1e+30, 0.5, 3
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

TensorPtr range(double start, double limit, double delta, DType dt) {
  if (dt == DType::Bool) throw TypeError("range: dtype bool is not supported (use a numeric dtype)");
  if (!std::isfinite(start) || !std::isfinite(limit) || !std::isfinite(delta))
    throw InvalidArgument("range: start, limit and delta must be finite, got start=" + std::to_string(start) +
                          " limit=" + std::to_string(limit) + " delta=" + std::to_string(delta));
  if (delta == 0) throw InvalidArgument("range: delta must not be 0");
  if ((delta > 0 && start > limit) || (delta < 0 && start < limit))
    throw InvalidArgument("range: requires start <= limit when delta > 0 (start >= limit when delta < 0); got start=" +
                          std::to_string(start) + " limit=" + std::to_string(limit) + " delta=" + std::to_string(delta));
  if (is_integer(dt)) {  // TF converts start, limit and delta to the dtype first: out of its range is an error
    const double lo = dt == DType::Int32 ? -2147483648.0 : -9223372036854775808.0;
    const double hi = dt == DType::Int32 ? 2147483647.0 : 9223372036854775807.0;
    for (double v : {start, limit, delta})
      if (!(v >= lo && v <= hi))
        throw InvalidArgument(std::string("range: ") + number_text(v) + " is out of range for dtype " + dtype_name(dt));
  }
  const double count = is_integer(dt) ? std::floor((std::abs(limit - start) + std::abs(delta) - 1) / std::abs(delta))
                                      : std::ceil(std::abs((limit - start) / delta));
  if (!(count < 9223372036854775808.0))  // 2**63: the length must be an int64 (a double cast beyond is UB)
    throw InvalidArgument("range: start=" + number_text(start) + " limit=" + number_text(limit) + " delta=" +
                          number_text(delta) + " gives " + number_text(count) + " elements, more than 2**63 - 1");
  const int64_t n = int64_t(count);
  checked_nbytes(dt, Shape{n}, "range");
  auto out = empty(dt, Shape{n}, scope_device() ? *scope_device() : Device{});
  dispatch_all(dt, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same<T, bool>::value) PFT_KERNEL_FOR(out->device(), range_forward<T>)(out->data<T>(), start, delta, n);
  });
  return out;
}

TensorPtr random_normal(const Shape& shape, double mean, double stddev, DType dt, uint64_t seed) {
  checked_nbytes(dt, shape, "random.normal");
  auto out = empty(dt, shape);
  dispatch_float(dt, "random.normal", [&](auto tag) {
    using T = decltype(tag);
    cpu::random_normal_forward<T>(out->data<T>(), out->numel, mean, stddev, seed);
  });
  return scope_device() ? to_device(out, *scope_device()) : out;  // drawn on the host for every device
}

TensorPtr random_uniform(const Shape& shape, double lo, double hi, DType dt, uint64_t seed) {
  if (!(lo < hi))
    throw InvalidArgument("random.uniform: minval must be less than maxval (got " + std::to_string(lo) + ", " +
                          std::to_string(hi) + ")");
  checked_nbytes(dt, shape, "random.uniform");
  auto out = empty(dt, shape);
  dispatch_numeric(dt, "random.uniform", [&](auto tag) {
    using T = decltype(tag);
    cpu::random_uniform_forward<T>(out->data<T>(), out->numel, lo, hi, seed);
  });
  return scope_device() ? to_device(out, *scope_device()) : out;  // drawn on the host for every device
}

}  // namespace ops
}  // namespace pft
