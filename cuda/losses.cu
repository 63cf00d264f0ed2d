// Fused losses on the GPU (mirror of csrc/cpu/losses.cpp): a block per row for the softmax
// cross-entropies and the row means, one elementwise pass for the gradients. Per-element formulas come
// from csrc/math.h, so the CPU tests cover them.
#include "block_reduce.cuh"
#include "common.cuh"

namespace pft {
namespace cuda {
namespace {

constexpr int kRowBlock = 256;  // threads per row

// ---- softmax cross-entropy -------------------------------------------------------------------------
// Running max m and sum s of exp(z - m) over part of a row, so one read pass gives both (the online
// softmax of llm.c's fused classifier). Empty: {-inf, 0}; any other part has s >= 1 or NaN.
template <class T>
struct MaxSum {
  T m, s;
  // -inf contributes exactly 0, as exp(-inf - max) does on the CPU (an all -inf row is handled by
  // row_logsumexp). +inf and NaN give s = NaN, as on the CPU.
  __host__ __device__ void add(T z) {
    if (z == T(-INFINITY)) return;
    const T mn = z > m ? z : m;
    s = s * math::exp_nonpos(T(m - mn)) + math::exp_nonpos(T(z - mn));
    m = mn;
  }
};
struct MaxSumOp {  // combines two parts: both sums rescaled to the larger max
  template <class T>
  __host__ __device__ MaxSum<T> operator()(MaxSum<T> a, MaxSum<T> b) const {
    if (b.s == T(0)) return a;
    if (a.s == T(0)) return b;
    const T mn = b.m > a.m ? b.m : a.m;
    return {mn, a.s * math::exp_nonpos(T(a.m - mn)) + b.s * math::exp_nonpos(T(b.m - mn))};
  }
};

// The row's max m and log-sum-exp ls = log sum_c exp(z_c - m), computed by the whole block, to every
// thread. A row of -inf gives ls = NaN, as the CPU's exp(-inf - (-inf)).
template <class T>
__device__ void row_logsumexp(const T* z, int64_t C, T& m, T& ls) {
  MaxSum<T> part{T(-INFINITY), T(0)};
  for (int64_t c = threadIdx.x; c < C; c += kRowBlock) part.add(z[c]);
  part = block_all_reduce<kRowBlock>(part, MaxSumOp());
  m = part.m;
  ls = std::log(part.s == T(0) ? T(NAN) : part.s);
}

// logits, labels (N, C), loss (N,), lse (N, 2) = {m, ls}; a block per row. Labels smoothed to
// y * keep + add. loss_n = sum_c y_nc (ls_n - (z_nc - m_n)): m and ls kept apart, z - m is exact.
template <class T>
__global__ void softmax_xent_forward_kernel(T* loss, T* lse, const T* logits, const T* labels, int64_t N, int64_t C,
                                            T keep, T add) {
  for (int64_t n = blockIdx.x; n < N; n += gridDim.x) {
    const T* z = logits + n * C;
    const T* y = labels + n * C;
    T m, ls;
    row_logsumexp(z, C, m, ls);
    T acc = T(0);  // summed in T, as the CPU
    for (int64_t c = threadIdx.x; c < C; c += kRowBlock) acc += (y[c] * keep + add) * (ls - (z[c] - m));
    acc = block_all_reduce<kRowBlock>(acc, SumOp());
    if (threadIdx.x == 0) {
      lse[2 * n] = m;
      lse[2 * n + 1] = ls;
      loss[n] = acc;
    }
  }
}

// dz_nc = dloss_n (softmax_nc sum_c y_nc - y_nc), softmax from the saved {m, ls}; a block per row (the
// label sum is a row reduction).
template <class T>
__global__ void softmax_xent_backward_kernel(T* dlogits, const T* dloss, const T* logits, const T* lse, const T* labels,
                                             int64_t N, int64_t C, T keep, T add) {
  for (int64_t n = blockIdx.x; n < N; n += gridDim.x) {
    const T* z = logits + n * C;
    const T* y = labels + n * C;
    T sy = T(0);
    for (int64_t c = threadIdx.x; c < C; c += kRowBlock) sy += y[c] * keep + add;
    sy = block_all_reduce<kRowBlock>(sy, SumOp());
    const T g = dloss[n], m = lse[2 * n], ls = lse[2 * n + 1];
    for (int64_t c = threadIdx.x; c < C; c += kRowBlock)
      dlogits[n * C + c] = g * (math::exp_nonpos(T((z[c] - m) - ls)) * sy - (y[c] * keep + add));
  }
}

// labels (N,) class indices, checked to lie in [0, C) by the glue; loss_n = ls_n - (z_n,label - m_n).
template <class T, class I>
__global__ void sparse_softmax_xent_forward_kernel(T* loss, T* lse, const T* logits, const I* labels, int64_t N,
                                                   int64_t C) {
  for (int64_t n = blockIdx.x; n < N; n += gridDim.x) {
    const T* z = logits + n * C;
    T m, ls;
    row_logsumexp(z, C, m, ls);
    if (threadIdx.x == 0) {
      lse[2 * n] = m;
      lse[2 * n + 1] = ls;
      loss[n] = ls - (z[int64_t(labels[n])] - m);
    }
  }
}

// dz_nc = dloss_n (softmax_nc - [c == label_n]), elementwise over (N, C).
template <class T, class I>
__global__ void sparse_softmax_xent_backward_kernel(T* dlogits, const T* dloss, const T* logits, const T* lse,
                                                    const I* labels, int64_t N, int64_t C) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N * C; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / C, c = i - n * C;
    const T g = dloss[n];
    T dz = g * math::exp_nonpos(T((logits[i] - lse[2 * n]) - lse[2 * n + 1]));
    if (c == int64_t(labels[n])) dz -= g;
    dlogits[i] = dz;
  }
}

}  // namespace

template <class T>
void softmax_xent_forward(T* loss, T* lse, const T* logits, const T* labels, int64_t N, int64_t C, T smoothing) {
  if (N == 0) return;
  const T keep = T(1) - smoothing, add = smoothing / T(C);
  softmax_xent_forward_kernel<T><<<grid_for(N, 1), kRowBlock, 0, current_stream()>>>(loss, lse, logits, labels, N, C,
                                                                                    keep, add);
  PFT_LAUNCH_CHECK();
}

template <class T>
void softmax_xent_backward(T* dlogits, const T* dloss, const T* logits, const T* lse, const T* labels, int64_t N,
                           int64_t C, T smoothing) {
  if (N == 0 || C == 0) return;
  const T keep = T(1) - smoothing, add = smoothing / T(C);
  softmax_xent_backward_kernel<T><<<grid_for(N, 1), kRowBlock, 0, current_stream()>>>(dlogits, dloss, logits, lse,
                                                                                     labels, N, C, keep, add);
  PFT_LAUNCH_CHECK();
}

template <class T, class I>
void sparse_softmax_xent_forward(T* loss, T* lse, const T* logits, const I* labels, int64_t N, int64_t C) {
  if (N == 0) return;
  sparse_softmax_xent_forward_kernel<T, I><<<grid_for(N, 1), kRowBlock, 0, current_stream()>>>(loss, lse, logits,
                                                                                              labels, N, C);
  PFT_LAUNCH_CHECK();
}

template <class T, class I>
void sparse_softmax_xent_backward(T* dlogits, const T* dloss, const T* logits, const T* lse, const I* labels,
                                  int64_t N, int64_t C) {
  if (N * C == 0) return;
  sparse_softmax_xent_backward_kernel<T, I><<<grid_for(N * C), 256, 0, current_stream()>>>(dlogits, dloss, logits,
                                                                                          lse, labels, N, C);
  PFT_LAUNCH_CHECK();
}

// ---- elementwise regression losses: loss_n = mean_d f(pred_nd, target_nd) ---------------------------
namespace {

// Per-element loss and derivative: math::point_loss / point_grad (csrc/math.h), shared with the CPU.

// Rows shorter than this are summed by one thread in T, the same rounding as the CPU (and Keras's mean).
constexpr int64_t kShortRow = 16;
// Longer rows are summed in double by a block, split into chunks of at least kChunk elements over more
// blocks while there are few rows (a single flat 2^24 vector is a common case), at most kMaxPartials
// chunk sums in all; the last block to finish adds each row's chunk sums in order (deterministic).
constexpr int64_t kChunk = 16384;
constexpr int kMaxPartials = 4096;
__device__ double pointwise_partials[kMaxPartials];
__device__ unsigned pointwise_blocks_done = 0;  // reset by the last block: the next launch starts at 0

// pred, target (N, D), loss (N,); a thread per row.
template <PointwiseLoss KIND, class T>
__global__ void pointwise_loss_forward_short_kernel(T* loss, const T* pred, const T* target, int64_t N, int64_t D,
                                                    T param) {
  for (int64_t n = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; n < N; n += int64_t(gridDim.x) * blockDim.x) {
    T s = T(0);
    for (int64_t d = 0; d < D; d++) s += math::point_loss<KIND>(pred[n * D + d], target[n * D + d], param);
    loss[n] = s / T(D);
  }
}

// pred, target (N, D), loss (N,); block (x, y) sums chunk y of rows x, x + gridDim.x, ... With one chunk
// per row (gridDim.y == 1) it writes the means; otherwise gridDim.x == N and the chunk sums go through
// pointwise_partials (N * gridDim.y <= kMaxPartials).
template <PointwiseLoss KIND, class T>
__global__ void pointwise_loss_forward_kernel(T* loss, const T* pred, const T* target, int64_t N, int64_t D, T param) {
  const int64_t chunks = gridDim.y, chunk = (D + chunks - 1) / chunks;
  const int64_t begin = blockIdx.y * chunk, end = begin + chunk < D ? begin + chunk : D;
  for (int64_t n = blockIdx.x; n < N; n += gridDim.x) {
    double acc = 0;
    for (int64_t d = begin + threadIdx.x; d < end; d += kRowBlock)
      acc += double(math::point_loss<KIND>(pred[n * D + d], target[n * D + d], param));
    acc = block_all_reduce<kRowBlock>(acc, SumOp());
    if (threadIdx.x == 0) {
      if (chunks == 1) loss[n] = T(acc) / T(D);
      else pointwise_partials[n * chunks + blockIdx.y] = acc;
    }
  }
  if (chunks == 1) return;
  // The last block to finish (CUDA's threadFenceReduction sample): a fence publishes each block's partial
  // before its count, the last one reads them all from L2 (__ldcg, past the non-coherent L1).
  __shared__ bool last;
  if (threadIdx.x == 0) {
    __threadfence();
    last = atomicAdd(&pointwise_blocks_done, 1u) == gridDim.x * gridDim.y - 1;
  }
  __syncthreads();
  if (!last) return;
  __threadfence();
  for (int64_t r = threadIdx.x; r < N; r += kRowBlock) {
    double s = 0;
    for (int64_t k = 0; k < chunks; k++) s += __ldcg(&pointwise_partials[r * chunks + k]);
    loss[r] = T(s) / T(D);
  }
  if (threadIdx.x == 0) pointwise_blocks_done = 0;
}

// dpred_nd = f'(pred_nd, target_nd) * dloss_n / D, elementwise over (N, D).
template <PointwiseLoss KIND, class T>
__global__ void pointwise_loss_backward_kernel(T* dpred, const T* dloss, const T* pred, const T* target, int64_t N,
                                               int64_t D, T param, T inv_d) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N * D; i += int64_t(gridDim.x) * blockDim.x)
    dpred[i] = math::point_grad<KIND>(pred[i], target[i], param) * (dloss[i / D] * inv_d);
}

template <PointwiseLoss KIND, class T>
void pointwise_forward_launch(T* loss, const T* pred, const T* target, int64_t N, int64_t D, T param) {
  if (D < kShortRow) {  // includes D == 0: 0 / 0 = NaN, as on the CPU
    pointwise_loss_forward_short_kernel<KIND, T><<<grid_for(N), 256, 0, current_stream()>>>(loss, pred, target, N, D,
                                                                                          param);
    PFT_LAUNCH_CHECK();
    return;
  }
  int64_t chunks = ceil_div(D, kChunk);
  if (chunks > kMaxPartials / N) chunks = kMaxPartials / N;
  if (chunks < 1) chunks = 1;
  const dim3 grid(chunks == 1 ? grid_for(N, 1) : unsigned(N), unsigned(chunks));
  pointwise_loss_forward_kernel<KIND, T><<<grid, kRowBlock, 0, current_stream()>>>(loss, pred, target, N, D, param);
  PFT_LAUNCH_CHECK();
}

template <PointwiseLoss KIND, class T>
void pointwise_backward_launch(T* dpred, const T* dloss, const T* pred, const T* target, int64_t N, int64_t D,
                               T param) {
  pointwise_loss_backward_kernel<KIND, T><<<grid_for(N * D), 256, 0, current_stream()>>>(dpred, dloss, pred, target, N,
                                                                                       D, param, T(1) / T(D));
  PFT_LAUNCH_CHECK();
}

}  // namespace

template <class T>
void pointwise_loss_forward(PointwiseLoss kind, T* loss, const T* pred, const T* target, int64_t N, int64_t D, T param) {
  if (N == 0) return;
  switch (kind) {  // the loss as a template argument (formulas: csrc/math.h)
#define PFT_CASE(E, ...) \
  case PointwiseLoss::E: return pointwise_forward_launch<PointwiseLoss::E>(loss, pred, target, N, D, param);
    PFT_POINTWISE_LOSSES(PFT_CASE)
#undef PFT_CASE
  }
}

template <class T>
void pointwise_loss_backward(PointwiseLoss kind, T* dpred, const T* dloss, const T* pred, const T* target, int64_t N, int64_t D,
                             T param) {
  if (N * D == 0) return;
  switch (kind) {  // the loss as a template argument (formulas: csrc/math.h)
#define PFT_CASE(E, ...) \
  case PointwiseLoss::E: return pointwise_backward_launch<PointwiseLoss::E>(dpred, dloss, pred, target, N, D, param);
    PFT_POINTWISE_LOSSES(PFT_CASE)
#undef PFT_CASE
  }
}

PFT_INSTANCES_LOSSES()

}  // namespace cuda
}  // namespace pft
