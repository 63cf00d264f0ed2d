// Data movement (mirror of csrc/cpu/shape.cpp): transpose (strided gather) and its scatter backward,
// one_hot, range. One thread per output element in a grid-stride loop.
#include "common.cuh"

namespace pft {
namespace cuda {

constexpr int kBlock = 256;

// Grid-stride loop over [0, n) with int64 indices (grids are capped by grid_for).
#define PFT_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

// A contiguous shape and, per dimension, the element stride of the strided side (x): the launchers'
// host arguments (Shape&, x_strides_permuted) copied into one by-value kernel argument.
struct StridedShape {
  int ndim;
  int64_t d[kMaxRank];
  int64_t xs[kMaxRank];
};

static StridedShape strided_shape(const Shape& s, const int64_t* xs) {
  StridedShape p{};
  p.ndim = s.ndim;
  for (int i = 0; i < s.ndim; i++) {
    p.d[i] = s.d[i];
    p.xs[i] = xs[i];
  }
  return p;
}

// x's element offset of contiguous element idx: idx split into coordinates from the last dimension,
// the first dimension taking the remaining quotient. A rank-0 shape (one element) gives 0.
__device__ __forceinline__ int64_t strided_offset(const StridedShape& p, int64_t idx) {
  if (p.ndim == 0) return 0;
  int64_t off = 0;
  for (int i = p.ndim - 1; i > 0; i--) {
    off += (idx % p.d[i]) * p.xs[i];
    idx /= p.d[i];
  }
  return off + idx * p.xs[0];
}

// out is out_shape (contiguous); out[idx] = x[offset(idx)], xs[i] = x's stride along out dimension i.
template <class T>
__global__ void transpose_forward_kernel(T* out, const T* x, StridedShape p, int64_t n) {
  PFT_GRID_STRIDE(i, n) out[i] = x[strided_offset(p, i)];
}

template <class T>
void transpose_forward(T* out, const T* x, const Shape& out_shape, const int64_t* xs) {
  const int64_t n = out_shape.numel();
  if (n == 0) return;
  transpose_forward_kernel<<<grid_for(n, kBlock), kBlock, 0, current_stream()>>>(out, x, strided_shape(out_shape, xs), n);
  PFT_LAUNCH_CHECK();
}

// dy is dy_shape (contiguous); dx[offset(idx)] = dy[idx], the inverse of the gather above. The offsets
// are distinct, so this is a plain scatter (no atomics).
template <class T>
__global__ void transpose_backward_kernel(T* dx, const T* dy, StridedShape p, int64_t n) {
  PFT_GRID_STRIDE(i, n) dx[strided_offset(p, i)] = dy[i];
}

template <class T>
void transpose_backward(T* dx, const T* dy, const Shape& dy_shape, const int64_t* xs) {
  const int64_t n = dy_shape.numel();
  if (n == 0) return;
  transpose_backward_kernel<<<grid_for(n, kBlock), kBlock, 0, current_stream()>>>(dx, dy, strided_shape(dy_shape, xs),
                                                                                  n);
  PFT_LAUNCH_CHECK();
}

// out is (outer, depth, inner), indices (outer, inner): out[o, d, i] = indices[o, i] == d ? on : off.
// An out-of-range index matches no d, giving an all-`off` row (TF).
template <class T, class I>
__global__ void one_hot_forward_kernel(T* out, const I* indices, int64_t outer, int64_t depth, int64_t inner, T on,
                                       T off) {
  PFT_GRID_STRIDE(idx, outer * depth * inner) {
    const int64_t i = idx % inner, d = (idx / inner) % depth, o = idx / (inner * depth);
    out[idx] = int64_t(indices[o * inner + i]) == d ? on : off;
  }
}

template <class T, class I>
void one_hot_forward(T* out, const I* indices, int64_t outer, int64_t depth, int64_t inner, T on, T off) {
  const int64_t n = outer * depth * inner;
  if (n == 0) return;
  one_hot_forward_kernel<<<grid_for(n, kBlock), kBlock, 0, current_stream()>>>(out, indices, outer, depth, inner, on,
                                                                               off);
  PFT_LAUNCH_CHECK();
}

// out is (n,): out[i] = T(start + i * delta), computed in double. The explicit roundings keep nvcc from
// fusing the multiply-add into an FMA, which would round differently from the CPU and could move an
// integer range's truncation by one.
template <class T>
__global__ void range_forward_kernel(T* out, double start, double delta, int64_t n) {
  PFT_GRID_STRIDE(i, n) out[i] = math::convert<T, double>(__dadd_rn(start, __dmul_rn(double(i), delta)));
}

template <class T>
void range_forward(T* out, double start, double delta, int64_t n) {
  if (n <= 0) return;
  range_forward_kernel<<<grid_for(n, kBlock), kBlock, 0, current_stream()>>>(out, start, delta, n);
  PFT_LAUNCH_CHECK();
}

#undef PFT_GRID_STRIDE

// ---- explicit instantiations (the CPU's list) ------------------------------------------------------
PFT_INSTANCES_SHAPE()

}  // namespace cuda
}  // namespace pft
