// Elementwise kernels: unary maps, broadcasting binary ops and comparisons, where, broadcast_to, cast.
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "../math.h"
#include "kernels.h"

namespace pft {

BroadcastPlan make_broadcast_plan(const Shape& out, const Shape* const* in, int k) {
  // The common case: every operand has the output's shape, so one flat dimension of contiguous strides.
  bool same = true;
  for (int j = 0; j < k; j++) same = same && *in[j] == out;
  if (same) {
    BroadcastPlan p;
    p.ndim = 1;
    p.numel = out.numel_valid();  // out: the op checked it (broadcast_shapes)
    p.shape[0] = p.numel;
    for (int j = 0; j < 3; j++) p.stride[j][0] = p.numel == 1 ? 0 : 1;
    return p;
  }
  // Right-align every operand against the output; a size-1 (or missing) dimension gets stride 0.
  BroadcastPlan full;
  full.ndim = out.ndim;
  for (int i = 0; i < out.ndim; i++) full.shape[i] = out.d[i];
  for (int j = 0; j < k; j++) {
    const Shape& s = *in[j];
    int64_t st = 1;
    for (int i = out.ndim - 1; i >= 0; i--) {
      int si = i - (out.ndim - s.ndim);
      int64_t dim = si >= 0 ? s.d[si] : 1;
      full.stride[j][i] = (dim == 1) ? 0 : st;
      st *= dim;
    }
  }
  // Collapse: drop size-1 dims, merge dim i into the one before it when every operand is contiguous
  // across the pair (stride[i-1] == stride[i] * shape[i]; broadcast pairs are 0 == 0).
  BroadcastPlan p;
  p.numel = out.numel_valid();  // out: the op checked it (broadcast_shapes)
  for (int i = 0; i < full.ndim; i++) {
    if (full.shape[i] == 1) continue;
    if (p.ndim > 0) {
      int last = p.ndim - 1;
      bool merge = true;
      for (int j = 0; j < k; j++)
        if (p.stride[j][last] != full.stride[j][i] * full.shape[i]) merge = false;
      if (merge) {
        p.shape[last] *= full.shape[i];
        for (int j = 0; j < k; j++) p.stride[j][last] = full.stride[j][i];
        continue;
      }
    }
    p.shape[p.ndim] = full.shape[i];
    for (int j = 0; j < k; j++) p.stride[j][p.ndim] = full.stride[j][i];
    p.ndim++;
  }
  if (p.ndim == 0) {  // a single element (or all size-1 dims)
    p.ndim = 1;
    p.shape[0] = 1;
    for (int j = 0; j < k; j++) p.stride[j][0] = 0;
  }
  return p;
}

namespace cpu {

template <class T>
void fill_forward(T* out, T value, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = value;
}

// Runs body(out_index, offsets[K], inner_strides[K], len) over row segments of the plan, in parallel
// above kParallelThreshold. Each thread owns a contiguous range of output elements.
template <int K, class Body>
static void for_each_segment(const BroadcastPlan& p, Body body) {
  const int nd = p.ndim;
  const int64_t inner = p.shape[nd - 1];
  int64_t istride[K];
  for (int j = 0; j < K; j++) istride[j] = p.stride[j][nd - 1];
  auto run_range = [&](int64_t begin, int64_t end) {
    int64_t idx = begin;
    while (idx < end) {
      int64_t row = idx / inner, col = idx % inner;
      int64_t len = std::min(inner - col, end - idx);
      int64_t off[K];
      for (int j = 0; j < K; j++) off[j] = col * istride[j];
      int64_t r = row;
      for (int i = nd - 2; i >= 0 && r > 0; i--) {
        int64_t c = r % p.shape[i];
        r /= p.shape[i];
        for (int j = 0; j < K; j++) off[j] += c * p.stride[j][i];
      }
      body(idx, off, istride, len);
      idx += len;
    }
  };
  const int64_t n = p.numel;
  if (n < kParallelThreshold) {
    run_range(0, n);
    return;
  }
#pragma omp parallel num_threads(intra_op_threads())
  {
    int nt = omp_get_num_threads(), t = omp_get_thread_num();
    int64_t chunk = (n + nt - 1) / nt;
    int64_t b = std::min(n, chunk * t), e = std::min(n, b + chunk);
    if (b < e) run_range(b, e);
  }
}

// Plain contiguous map, in parallel above the threshold.
template <class F>
static void parallel_range(int64_t n, F f) {
  if (n < kParallelThreshold) {
    f(0, n);
    return;
  }
#pragma omp parallel num_threads(intra_op_threads())
  {
    int nt = omp_get_num_threads(), t = omp_get_thread_num();
    int64_t chunk = (n + nt - 1) / nt;
    int64_t b = std::min(n, chunk * t), e = std::min(n, b + chunk);
    if (b < e) f(b, e);
  }
}

template <class T, class F>
static void map1(T* out, const T* x, int64_t n, F f) {
  parallel_range(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) out[i] = f(x[i]);
  });
}

template <class T>
void unary_forward(UnaryOp op, T* out, const T* x, int64_t n) {
  switch (op) {  // the op as a template argument: each loop is branch-free (formulas: csrc/math.h)
#define PFT_CASE(E, ...) \
  case UnaryOp::E: return map1(out, x, n, [](T v) { return Unary<UnaryOp::E>::fwd(v); });
    PFT_UNARY_OPS(PFT_CASE)
#undef PFT_CASE
  }
}

template <UnaryOp OP, class T>
static void unary_grad_loop(T* dx, const T* dy, const T* x, const T* y, int64_t n) {
  parallel_range(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) dx[i] = Unary<OP>::grad(x[i], y[i], dy[i]);
  });
}

template <class T>
void unary_backward(UnaryOp op, T* dx, const T* dy, const T* x, const T* y, int64_t n) {
  switch (op) {
#define PFT_CASE(E, ...) \
  case UnaryOp::E: return unary_grad_loop<UnaryOp::E>(dx, dy, x, y, n);
    PFT_UNARY_OPS(PFT_CASE)
#undef PFT_CASE
  }
}

template <class T>
void predicate_forward(PredicateOp op, bool* out, const T* x, int64_t n) {
  switch (op) {  // formulas: csrc/math.h
#define PFT_CASE(E, stem)                                                       \
  case PredicateOp::E:                                                          \
    return parallel_range(n, [&](int64_t b, int64_t e) {                        \
      for (int64_t i = b; i < e; i++) out[i] = math::stem(x[i]);                \
    });
    PFT_PREDICATE_OPS(PFT_CASE)
#undef PFT_CASE
  }
}

// The inner loop is specialised on the operand strides (1/0) so the common cases vectorise.
template <class T, class R, class F>
static void binary_loop(R* out, const T* a, const T* b, const BroadcastPlan& p, F f) {
  for_each_segment<2>(p, [&](int64_t o, const int64_t* off, const int64_t* st, int64_t len) {
    R* y = out + o;
    const T* pa = a + off[0];
    const T* pb = b + off[1];
    if (st[0] == 1 && st[1] == 1) {
      for (int64_t i = 0; i < len; i++) y[i] = f(pa[i], pb[i]);
    } else if (st[0] == 1 && st[1] == 0) {
      const T vb = *pb;
      for (int64_t i = 0; i < len; i++) y[i] = f(pa[i], vb);
    } else if (st[0] == 0 && st[1] == 1) {
      const T va = *pa;
      for (int64_t i = 0; i < len; i++) y[i] = f(va, pb[i]);
    } else {
      for (int64_t i = 0; i < len; i++) y[i] = f(pa[i * st[0]], pb[i * st[1]]);
    }
  });
}

template <class T>
static T pow_elem(T a, T b) {
  if constexpr (std::is_integral<T>::value) return math::ipow(a, b);
  else return std::pow(a, b);
}

template <class T, class R>
void binary_forward(BinaryOp op, R* out, const T* a, const T* b, const BroadcastPlan& p) {
  if constexpr (std::is_same<R, bool>::value) {
    switch (op) {
      case BinaryOp::Less: return binary_loop(out, a, b, p, [](T x, T y) { return x < y; });
      case BinaryOp::LessEqual: return binary_loop(out, a, b, p, [](T x, T y) { return x <= y; });
      case BinaryOp::Greater: return binary_loop(out, a, b, p, [](T x, T y) { return x > y; });
      case BinaryOp::GreaterEqual: return binary_loop(out, a, b, p, [](T x, T y) { return x >= y; });
      case BinaryOp::Equal: return binary_loop(out, a, b, p, [](T x, T y) { return x == y; });
      case BinaryOp::NotEqual: return binary_loop(out, a, b, p, [](T x, T y) { return x != y; });
      default: break;
    }
    if constexpr (std::is_same<T, bool>::value) {  // logical ops on bool share the arithmetic names
      switch (op) {
        case BinaryOp::Maximum: return binary_loop(out, a, b, p, [](T x, T y) { return x || y; });
        case BinaryOp::Minimum: return binary_loop(out, a, b, p, [](T x, T y) { return x && y; });
        case BinaryOp::LogicalAnd: return binary_loop(out, a, b, p, [](T x, T y) { return x && y; });
        case BinaryOp::LogicalOr: return binary_loop(out, a, b, p, [](T x, T y) { return x || y; });
        case BinaryOp::LogicalXor: return binary_loop(out, a, b, p, [](T x, T y) { return x != y; });
        default: break;
      }
    }
  } else {
    switch (op) {
      case BinaryOp::Add: return binary_loop(out, a, b, p, [](T x, T y) { return math::wrap_add(x, y); });
      case BinaryOp::Sub: return binary_loop(out, a, b, p, [](T x, T y) { return math::wrap_sub(x, y); });
      case BinaryOp::Mul: return binary_loop(out, a, b, p, [](T x, T y) { return math::wrap_mul(x, y); });
      case BinaryOp::Div: return binary_loop(out, a, b, p, [](T x, T y) { return math::safe_div(x, y); });
      case BinaryOp::Pow: return binary_loop(out, a, b, p, [](T x, T y) { return pow_elem(x, y); });
      case BinaryOp::Maximum: return binary_loop(out, a, b, p, [](T x, T y) { return math::maximum(x, y); });
      case BinaryOp::Minimum: return binary_loop(out, a, b, p, [](T x, T y) { return math::minimum(x, y); });
      case BinaryOp::Atan2: return binary_loop(out, a, b, p, [](T x, T y) { return math::atan2(x, y); });
      case BinaryOp::FloorDiv: return binary_loop(out, a, b, p, [](T x, T y) { return math::floordiv(x, y); });
      case BinaryOp::FloorMod: return binary_loop(out, a, b, p, [](T x, T y) { return math::floormod(x, y); });
      case BinaryOp::TruncateDiv: return binary_loop(out, a, b, p, [](T x, T y) { return math::truncatediv(x, y); });
      case BinaryOp::SquaredDifference:
        return binary_loop(out, a, b, p, [](T x, T y) { return math::squared_difference(x, y); });
      case BinaryOp::DivNoNan: return binary_loop(out, a, b, p, [](T x, T y) { return math::divide_no_nan(x, y); });
      case BinaryOp::Xlogy: return binary_loop(out, a, b, p, [](T x, T y) { return math::xlogy(x, y); });
      case BinaryOp::Xdivy: return binary_loop(out, a, b, p, [](T x, T y) { return math::xdivy(x, y); });
      default: break;
    }
  }
}

template <class T>
void where_forward(T* out, const bool* cond, const T* x, const T* y, const BroadcastPlan& p) {
  for_each_segment<3>(p, [&](int64_t o, const int64_t* off, const int64_t* st, int64_t len) {
    T* r = out + o;
    const bool* c = cond + off[0];
    const T* px = x + off[1];
    const T* py = y + off[2];
    if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
      for (int64_t i = 0; i < len; i++) r[i] = c[i] ? px[i] : py[i];
    } else {
      for (int64_t i = 0; i < len; i++) r[i] = c[i * st[0]] ? px[i * st[1]] : py[i * st[2]];
    }
  });
}

template <class T>
void broadcast_forward(T* out, const T* x, const BroadcastPlan& p) {
  for_each_segment<1>(p, [&](int64_t o, const int64_t* off, const int64_t* st, int64_t len) {
    T* r = out + o;
    const T* px = x + off[0];
    if (st[0] == 0) {
      const T v = *px;
      for (int64_t i = 0; i < len; i++) r[i] = v;
    } else {
      for (int64_t i = 0; i < len; i++) r[i] = px[i * st[0]];
    }
  });
}

template <class To, class From>
void cast_forward(To* out, const From* x, int64_t n) {
  parallel_range(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) {
      out[i] = math::convert<To, From>(x[i]);
    }
  });
}

// ---- explicit instantiations ----------------------------------------------------------------------
PFT_INSTANCES_ELEMENTWISE()

}  // namespace cpu
}  // namespace pft
