// Data movement: transpose (strided gather), one_hot, range.
#include <omp.h>

#include "../math.h"
#include "kernels.h"

namespace pft {
namespace cpu {

template <class T>
void transpose_forward(T* out, const T* x, const Shape& out_shape, const int64_t* xs) {
  // out is out_shape, contiguous; xs[i] is x's element stride along out dimension i.
  const int nd = out_shape.ndim;
  const int64_t n = out_shape.numel();
  if (n == 0) return;
  if (nd == 0) {
    out[0] = x[0];
    return;
  }
  const int64_t inner = out_shape.d[nd - 1];
  const int64_t rows = n / inner;
  parallel_for(rows, n >= kParallelThreshold, [&](int64_t row) {
    int64_t off = 0, r = row;
    for (int i = nd - 2; i >= 0; i--) {
      off += (r % out_shape.d[i]) * xs[i];
      r /= out_shape.d[i];
    }
    T* y = out + row * inner;
    const T* p = x + off;
    const int64_t s = xs[nd - 1];
    for (int64_t j = 0; j < inner; j++) y[j] = p[j * s];
  });
}

template <class T>
void transpose_backward(T* dx, const T* dy, const Shape& dy_shape, const int64_t* xs) {
  const int nd = dy_shape.ndim;
  const int64_t n = dy_shape.numel();
  if (n == 0) return;
  if (nd == 0) {
    dx[0] = dy[0];
    return;
  }
  const int64_t inner = dy_shape.d[nd - 1];
  const int64_t rows = n / inner;
  parallel_for(rows, n >= kParallelThreshold, [&](int64_t row) {
    int64_t off = 0, r = row;
    for (int i = nd - 2; i >= 0; i--) {
      off += (r % dy_shape.d[i]) * xs[i];
      r /= dy_shape.d[i];
    }
    const T* g = dy + row * inner;
    T* p = dx + off;
    const int64_t s = xs[nd - 1];
    for (int64_t j = 0; j < inner; j++) p[j * s] = g[j];
  });
}

template <class T, class I>
void one_hot_forward(T* out, const I* idx, int64_t outer, int64_t depth, int64_t inner, T on, T off) {
  // out is (outer, depth, inner); idx is (outer, inner). Out-of-range indices give an all-`off` row (TF).
  for (int64_t o = 0; o < outer; o++)
    for (int64_t d = 0; d < depth; d++)
      for (int64_t i = 0; i < inner; i++)
        out[(o * depth + d) * inner + i] = (int64_t(idx[o * inner + i]) == d) ? on : off;
}

template <class T>
void range_forward(T* out, double start, double delta, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = math::convert<T, double>(start + double(i) * delta);
}

PFT_INSTANCES_SHAPE()

}  // namespace cpu
}  // namespace pft
