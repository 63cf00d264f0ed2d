// Reductions over the middle axis of an (outer, r, inner) view, argmax, and softmax along an axis.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "../math.h"
#include "kernels.h"

namespace pft {
namespace cpu {

template <class T>
static inline T combine(ReduceOp op, T a, T b) {
  switch (op) {
    case ReduceOp::Sum: return math::wrap_add(a, b);
    case ReduceOp::Prod: return math::wrap_mul(a, b);
    case ReduceOp::Max: return math::maximum(a, b);
    case ReduceOp::Min: return math::minimum(a, b);
  }
  return a;
}

// Accumulator: double for float32 (the error of a 2^24-term float32 sum is then ~1e-7, not ~1e-3),
// the type itself otherwise.
template <class T> struct Acc { using type = T; };
template <> struct Acc<float> { using type = double; };

// Sum of a contiguous run in the wide accumulator, eight lanes so the compiler vectorises.
template <class T>
static typename Acc<T>::type sum_contiguous_acc(const T* x, int64_t n) {
  using A = typename Acc<T>::type;
  A acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; k++) acc[k] = math::wrap_add(acc[k], A(x[i + k]));
  using math::wrap_add;  // integers wrap as TF's; floats add plainly
  A s = wrap_add(wrap_add(wrap_add(acc[0], acc[1]), wrap_add(acc[2], acc[3])),
                 wrap_add(wrap_add(acc[4], acc[5]), wrap_add(acc[6], acc[7])));
  for (; i < n; i++) s = wrap_add(s, A(x[i]));
  return s;
}

// Short runs add sequentially in T (TF's rounding for the tiny reductions of the seed programs).
template <class T>
static T sum_contiguous(const T* x, int64_t n) {
  if (n < 16) {
    T s = T(0);
    for (int64_t i = 0; i < n; i++) s = math::wrap_add(s, x[i]);
    return s;
  }
  return T(sum_contiguous_acc(x, n));
}

template <class T>
void reduce_forward(ReduceOp op, T* out, const T* x, int64_t outer, int64_t r, int64_t inner) {
  const int64_t total = outer * r * inner;
  if (inner == 1) {
    // out[o] = reduce_j x[o, j]: one contiguous row per output.
    auto row = [&](int64_t o) {
      const T* p = x + o * r;
      if (op == ReduceOp::Sum) {
        out[o] = sum_contiguous(p, r);
        return;
      }
      T acc = reduce_identity<T>(op);
      for (int64_t j = 0; j < r; j++) acc = combine(op, acc, p[j]);
      out[o] = acc;
    };
    if (outer == 1 && op == ReduceOp::Sum && total >= kParallelThreshold) {
      // One long row: per-thread partial sums, combined in a fixed order (deterministic).
      int nt = intra_op_threads();
      typename Acc<T>::type partial[256];
      nt = std::min(nt, 256);
#pragma omp parallel num_threads(nt)  // nt = intra_op_threads(), capped
      {
        int t = omp_get_thread_num(), n = omp_get_num_threads();
        int64_t chunk = (r + n - 1) / n;
        int64_t b = std::min(r, chunk * t), e = std::min(r, b + chunk);
        partial[t] = sum_contiguous_acc(x + b, e - b);
        if (t == 0)
          for (int k = n; k < nt; k++) partial[k] = 0;
      }
      typename Acc<T>::type s = 0;
      for (int k = 0; k < nt; k++) s = math::wrap_add(s, partial[k]);
      out[0] = T(s);
      return;
    }
    parallel_for(outer, total >= kParallelThreshold && outer > 1, row);
    return;
  }
  // out[o, i] = reduce_j x[o, j, i]: accumulate whole inner rows so the loop over i vectorises.
  parallel_for(outer, total >= kParallelThreshold && outer > 1, [&](int64_t o) {
    T* y = out + o * inner;
    const T* p = x + o * r * inner;
    if (op == ReduceOp::Sum && r >= 16 && !std::is_same<typename Acc<T>::type, T>::value) {
      // Long float32 columns: accumulate tiles of the inner rows in double (on the stack).
      using A = typename Acc<T>::type;
      constexpr int64_t kTile = 256;
      for (int64_t i0 = 0; i0 < inner; i0 += kTile) {
        const int64_t len = std::min(kTile, inner - i0);
        A acc[kTile];
        for (int64_t i = 0; i < len; i++) acc[i] = 0;
        for (int64_t j = 0; j < r; j++) {
          const T* q = p + j * inner + i0;
          for (int64_t i = 0; i < len; i++) acc[i] += A(q[i]);
        }
        for (int64_t i = 0; i < len; i++) y[i0 + i] = T(acc[i]);
      }
      return;
    }
    const T init = reduce_identity<T>(op);
    for (int64_t i = 0; i < inner; i++) y[i] = init;
    for (int64_t j = 0; j < r; j++) {
      const T* q = p + j * inner;
      switch (op) {
        case ReduceOp::Sum:
          for (int64_t i = 0; i < inner; i++) y[i] = math::wrap_add(y[i], q[i]);
          break;
        case ReduceOp::Prod:
          for (int64_t i = 0; i < inner; i++) y[i] = math::wrap_mul(y[i], q[i]);
          break;
        case ReduceOp::Max:
          for (int64_t i = 0; i < inner; i++) y[i] = math::maximum(y[i], q[i]);
          break;
        case ReduceOp::Min:
          for (int64_t i = 0; i < inner; i++) y[i] = math::minimum(y[i], q[i]);
          break;
      }
    }
  });
}

template <class T>
void argmax_forward(int64_t* out, const T* x, int64_t outer, int64_t r, int64_t inner, bool is_min) {
  const int64_t total = outer * r * inner;
  parallel_for((outer) * (inner), total >= kParallelThreshold, [&](int64_t idx_) {
    const int64_t o = idx_ / (inner), i = idx_ % (inner);
      const T* p = x + o * r * inner + i;
      int64_t best = 0;
      T bv = p[0];
      for (int64_t j = 1; j < r && bv == bv; j++) {  // the first NaN wins (NumPy), wherever it is
        T v = p[j * inner];
        if (v != v || (is_min ? (v < bv) : (v > bv))) {
          bv = v;
          best = j;
        }
      }
      out[o * inner + i] = best;
    });
}

template <class T>
void softmax_forward(T* out, const T* x, int64_t outer, int64_t r, int64_t inner, bool log) {
  const int64_t total = outer * r * inner;
  parallel_for((outer) * (inner), total >= kParallelThreshold, [&](int64_t idx_) {
    const int64_t o = idx_ / (inner), i = idx_ % (inner);
      const T* p = x + o * r * inner + i;
      T* y = out + o * r * inner + i;
      // Subtracting the row max keeps exp() in (0, 1]: stable for any finite logits.
      T m = p[0];
      for (int64_t j = 1; j < r; j++) m = std::max(m, p[j * inner]);
      T s = T(0);
      for (int64_t j = 0; j < r; j++) {
        T e = math::exp_nonpos(T(p[j * inner] - m));
        if (!log) y[j * inner] = e;
        s += e;
      }
      if (log) {
        T ls = std::log(s);
        for (int64_t j = 0; j < r; j++) y[j * inner] = p[j * inner] - m - ls;
      } else {
        T inv = T(1) / s;
        for (int64_t j = 0; j < r; j++) y[j * inner] *= inv;
      }
    });
}

PFT_INSTANCES_REDUCE()

}  // namespace cpu
}  // namespace pft
