// Reductions over the middle axis of an (outer, r, inner) view, argmax, and softmax along an axis
// (mirror of csrc/cpu/reduce.cpp). Every op has two layouts:
//  - rows (inner == 1, r >= kRowMin): one block per contiguous row x[o, :], threads stride the row and
//    their partials meet in cub::BlockReduce;
//  - columns (everything else): one thread per output (o, i) walking j = 0..r-1; consecutive threads
//    read consecutive i, so the loads coalesce when inner > 1.
// No scratch memory: each output is finished by the block or thread that owns it.
#include <cmath>
#include <cub/cub.cuh>

#include <limits>
#include <type_traits>

#include "common.cuh"

namespace pft {
namespace cuda {

constexpr int kBlock = 256;      // threads per block of the column kernels
constexpr int kRowBlock = 256;   // threads per row of the row kernels
constexpr int64_t kRowMin = 64;  // shorter rows get a thread each: a block would mostly idle

static unsigned column_grid(int64_t n) { return grid_for(n, kBlock); }
static unsigned row_grid(int64_t rows) { return grid_for(rows, 1); }  // a block per row, grid-stride beyond the cap

// Grid-stride loop over [0, n) with int64 indices (grids are capped by grid_for).
#define PFT_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

// ---- reduce ----------------------------------------------------------------------------------------
// Accumulator as on the CPU: float32 sums of at least kWideSumMin terms accumulate in double (a short
// sum adds sequentially in T, TF's rounding for tiny reductions); everything else in T.
template <class T> struct Acc { using type = T; };
template <> struct Acc<float> { using type = double; };
constexpr int64_t kWideSumMin = 16;

// Max/Min propagate NaN (math::maximum / minimum), as on the CPU.
template <ReduceOp Op>
struct Combine {
  template <class A>
  __device__ __forceinline__ A operator()(const A& a, const A& b) const {
    if constexpr (Op == ReduceOp::Sum) return math::wrap_add(A(a), A(b));
    else if constexpr (Op == ReduceOp::Prod) return math::wrap_mul(A(a), A(b));
    else if constexpr (Op == ReduceOp::Max) return math::maximum(a, b);
    else return math::minimum(a, b);
  }
};

// init combined with p[j * stride] for j = j0, j0 + step, ... < r, in that order.
template <ReduceOp Op, class A, class T>
__device__ __forceinline__ A reduce_strided(const T* p, int64_t j0, int64_t step, int64_t r, int64_t stride, A init) {
  A acc = init;
  for (int64_t j = j0; j < r; j += step) acc = Combine<Op>()(acc, A(p[j * stride]));
  return acc;
}

// x is (outer, r, inner), out is (outer, inner): out[o, i] = reduce_j x[o, j, i], a thread per output.
template <ReduceOp Op, class A, class T>
__global__ void reduce_cols_forward_kernel(T* out, const T* x, int64_t outer, int64_t r, int64_t inner, A init) {
  PFT_GRID_STRIDE(idx, outer * inner) {
    const int64_t o = idx / inner, i = idx % inner;
    out[idx] = T(reduce_strided<Op>(x + o * r * inner + i, 0, 1, r, inner, init));
  }
}

// x is (outer, r), out is (outer,): out[o] = reduce_j x[o, j], a block per row.
template <ReduceOp Op, class A, class T>
__global__ void reduce_rows_forward_kernel(T* out, const T* x, int64_t outer, int64_t r, A init) {
  using BlockReduce = cub::BlockReduce<A, kRowBlock>;
  __shared__ typename BlockReduce::TempStorage temp;
  for (int64_t o = blockIdx.x; o < outer; o += gridDim.x) {
    const A part = reduce_strided<Op>(x + o * r, threadIdx.x, kRowBlock, r, 1, init);
    const A total = BlockReduce(temp).Reduce(part, Combine<Op>());
    if (threadIdx.x == 0) out[o] = T(total);
    __syncthreads();  // temp is reused by the next row
  }
}

template <ReduceOp Op, class A, class T>
static void launch_reduce_in(T* out, const T* x, int64_t outer, int64_t r, int64_t inner) {
  const A init = A(reduce_identity<T>(Op));
  if (inner == 1 && r >= kRowMin) {
    reduce_rows_forward_kernel<Op><<<row_grid(outer), kRowBlock, 0, current_stream()>>>(out, x, outer, r, init);
  } else {
    reduce_cols_forward_kernel<Op><<<column_grid(outer * inner), kBlock, 0, current_stream()>>>(out, x, outer, r,
                                                                                                inner, init);
  }
  PFT_LAUNCH_CHECK();
}

template <ReduceOp Op, class T>
static void launch_reduce(T* out, const T* x, int64_t outer, int64_t r, int64_t inner) {
  using Wide = typename Acc<T>::type;
  if constexpr (Op == ReduceOp::Sum && !std::is_same<Wide, T>::value) {
    if (r >= kWideSumMin) return launch_reduce_in<Op, Wide>(out, x, outer, r, inner);
  }
  launch_reduce_in<Op, T>(out, x, outer, r, inner);
}

template <class T>
void reduce_forward(ReduceOp op, T* out, const T* x, int64_t outer, int64_t r, int64_t inner) {
  if (outer * inner == 0) return;
  switch (op) {
    case ReduceOp::Sum: return launch_reduce<ReduceOp::Sum>(out, x, outer, r, inner);
    case ReduceOp::Max: return launch_reduce<ReduceOp::Max>(out, x, outer, r, inner);
    case ReduceOp::Min: return launch_reduce<ReduceOp::Min>(out, x, outer, r, inner);
    case ReduceOp::Prod: return launch_reduce<ReduceOp::Prod>(out, x, outer, r, inner);
  }
}

// ---- argmax ----------------------------------------------------------------------------------------
// A candidate value and its index along r; j < 0 is "none yet".
template <class T>
struct Candidate {
  T v;
  int64_t j;
};

// The better of two candidates: a NaN beats any number, then the larger (IsMin: smaller) value, then the
// lower index. This is a max under a total order, so it is associative and commutative and any tree
// gives the CPU's sequential answer: the first NaN if there is one (NumPy), else the first extremum.
template <bool IsMin>
struct BetterOf {
  template <class T>
  __device__ __forceinline__ Candidate<T> operator()(const Candidate<T>& a, const Candidate<T>& b) const {
    if (a.j < 0) return b;
    if (b.j < 0) return a;
    const bool a_nan = a.v != a.v, b_nan = b.v != b.v;
    if (a_nan != b_nan) return a_nan ? a : b;
    if (!a_nan) {
      if (IsMin ? b.v < a.v : b.v > a.v) return b;
      if (IsMin ? a.v < b.v : a.v > b.v) return a;
    }
    return a.j < b.j ? a : b;  // equal values (or both NaN)
  }
};

// The best of p[j * stride] for j = j0, j0 + step, ... < r.
template <bool IsMin, class T>
__device__ __forceinline__ Candidate<T> best_strided(const T* p, int64_t j0, int64_t step, int64_t r, int64_t stride) {
  Candidate<T> best{T(0), -1};
  for (int64_t j = j0; j < r; j += step) best = BetterOf<IsMin>()(best, Candidate<T>{p[j * stride], j});
  return best;
}

// r == 0 gives index 0 (the CPU's initial best), without reading x.
__device__ __forceinline__ int64_t index_or_zero(int64_t j) { return j < 0 ? 0 : j; }

// x is (outer, r, inner), out is (outer, inner) int64: a thread per output.
template <bool IsMin, class T>
__global__ void argmax_cols_forward_kernel(int64_t* out, const T* x, int64_t outer, int64_t r, int64_t inner) {
  PFT_GRID_STRIDE(idx, outer * inner) {
    const int64_t o = idx / inner, i = idx % inner;
    out[idx] = index_or_zero(best_strided<IsMin>(x + o * r * inner + i, 0, 1, r, inner).j);
  }
}

// x is (outer, r), out is (outer,) int64: a block per row.
template <bool IsMin, class T>
__global__ void argmax_rows_forward_kernel(int64_t* out, const T* x, int64_t outer, int64_t r) {
  using BlockReduce = cub::BlockReduce<Candidate<T>, kRowBlock>;
  __shared__ typename BlockReduce::TempStorage temp;
  for (int64_t o = blockIdx.x; o < outer; o += gridDim.x) {
    const Candidate<T> part = best_strided<IsMin>(x + o * r, threadIdx.x, kRowBlock, r, 1);
    const Candidate<T> best = BlockReduce(temp).Reduce(part, BetterOf<IsMin>());
    if (threadIdx.x == 0) out[o] = index_or_zero(best.j);
    __syncthreads();  // temp is reused by the next row
  }
}

template <bool IsMin, class T>
static void launch_argmax(int64_t* out, const T* x, int64_t outer, int64_t r, int64_t inner) {
  if (inner == 1 && r >= kRowMin) {
    argmax_rows_forward_kernel<IsMin><<<row_grid(outer), kRowBlock, 0, current_stream()>>>(out, x, outer, r);
  } else {
    argmax_cols_forward_kernel<IsMin><<<column_grid(outer * inner), kBlock, 0, current_stream()>>>(out, x, outer, r,
                                                                                                   inner);
  }
  PFT_LAUNCH_CHECK();
}

template <class T>
void argmax_forward(int64_t* out, const T* x, int64_t outer, int64_t r, int64_t inner, bool is_min) {
  if (outer * inner == 0) return;
  if (is_min) launch_argmax<true>(out, x, outer, r, inner);
  else launch_argmax<false>(out, x, outer, r, inner);
}

// ---- softmax ---------------------------------------------------------------------------------------
// Sum of exp(p[j * stride] - m) over j = j0, j0 + step, ... < r; every argument is <= 0 (m is the max).
template <class T>
__device__ __forceinline__ T sum_exp_strided(const T* p, T m, int64_t j0, int64_t step, int64_t r, int64_t stride) {
  T s = T(0);
  for (int64_t j = j0; j < r; j += step) s += math::exp_nonpos(T(p[j * stride] - m));
  return s;
}

// y = softmax (exp(x - m) / s) or log_softmax (x - m - log s) over the same j's, the CPU's roundings.
template <class T>
__device__ __forceinline__ void softmax_write_strided(T* y, const T* p, T m, T s, bool log, int64_t j0, int64_t step,
                                                      int64_t r, int64_t stride) {
  if (log) {
    const T ls = std::log(s);
    for (int64_t j = j0; j < r; j += step) y[j * stride] = p[j * stride] - m - ls;
  } else {
    const T inv = T(1) / s;
    for (int64_t j = j0; j < r; j += step) y[j * stride] = math::exp_nonpos(T(p[j * stride] - m)) * inv;
  }
}

// The row max propagates NaN (the CPU's std::max keeps a NaN only in first place), which changes no
// output: a NaN anywhere in the row makes s NaN, so the whole row is NaN either way.
template <class T>
__device__ __forceinline__ T max_strided(const T* p, int64_t j0, int64_t step, int64_t r, int64_t stride) {
  return reduce_strided<ReduceOp::Max>(p, j0, step, r, stride, -std::numeric_limits<T>::infinity());
}

// x, out are (outer, r, inner), softmax along r: a thread per (o, i) column, three passes over it.
template <class T>
__global__ void softmax_cols_forward_kernel(T* out, const T* x, int64_t outer, int64_t r, int64_t inner, bool log) {
  PFT_GRID_STRIDE(idx, outer * inner) {
    const int64_t o = idx / inner, i = idx % inner;
    const T* p = x + o * r * inner + i;
    const T m = max_strided(p, 0, 1, r, inner);
    const T s = sum_exp_strided(p, m, 0, 1, r, inner);
    softmax_write_strided(out + o * r * inner + i, p, m, s, log, 0, 1, r, inner);
  }
}

// x, out are (outer, r), softmax along r: a block per row; the max and the sum are block reductions
// broadcast through shared memory.
template <class T>
__global__ void softmax_rows_forward_kernel(T* out, const T* x, int64_t outer, int64_t r, bool log) {
  using BlockReduce = cub::BlockReduce<T, kRowBlock>;
  __shared__ typename BlockReduce::TempStorage temp;
  __shared__ T row_max, row_sum;
  for (int64_t o = blockIdx.x; o < outer; o += gridDim.x) {
    const T* p = x + o * r;
    const T m_part = max_strided(p, threadIdx.x, kRowBlock, r, 1);
    const T m = BlockReduce(temp).Reduce(m_part, Combine<ReduceOp::Max>());
    if (threadIdx.x == 0) row_max = m;
    __syncthreads();  // row_max visible; temp free again
    const T s_part = sum_exp_strided(p, row_max, threadIdx.x, kRowBlock, r, 1);
    const T s = BlockReduce(temp).Sum(s_part);
    if (threadIdx.x == 0) row_sum = s;
    __syncthreads();
    softmax_write_strided(out + o * r, p, row_max, row_sum, log, threadIdx.x, kRowBlock, r, 1);
    __syncthreads();  // everyone has read row_max / row_sum before the next row overwrites them
  }
}

template <class T>
void softmax_forward(T* out, const T* x, int64_t outer, int64_t r, int64_t inner, bool log) {
  if (outer * r * inner == 0) return;
  if (inner == 1 && r >= kRowMin) {
    softmax_rows_forward_kernel<<<row_grid(outer), kRowBlock, 0, current_stream()>>>(out, x, outer, r, log);
  } else {
    softmax_cols_forward_kernel<<<column_grid(outer * inner), kBlock, 0, current_stream()>>>(out, x, outer, r, inner,
                                                                                             log);
  }
  PFT_LAUNCH_CHECK();
}

#undef PFT_GRID_STRIDE

// ---- explicit instantiations (the CPU's list) ------------------------------------------------------
PFT_INSTANCES_REDUCE()

}  // namespace cuda
}  // namespace pft
