// Fused losses: one pass per row for the loss, one elementwise pass for the gradient, no temporaries.
// Per-sample losses are means over the last axis (Keras); the batch reduction is a separate tiny op.
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "../math.h"
#include "kernels.h"

namespace pft {
namespace cpu {

// ---- softmax cross-entropy -------------------------------------------------------------------------
// Row max and sum of exp(z - max) with eight independent lanes, so both loops vectorise (a single
// running max/sum is a serial dependency the compiler may not reorder).
template <class T>
static inline T row_max(const T* z, int64_t C) {
  T lane[8];
  for (int k = 0; k < 8; k++) lane[k] = z[0];
  int64_t c = 0;
  for (; c + 8 <= C; c += 8)
    for (int k = 0; k < 8; k++) lane[k] = z[c + k] > lane[k] ? z[c + k] : lane[k];
  T m = lane[0];
  for (int k = 1; k < 8; k++) m = lane[k] > m ? lane[k] : m;
  for (; c < C; c++) m = z[c] > m ? z[c] : m;
  return m;
}
template <class T>
static inline T row_sum_exp(const T* z, int64_t C, T m) {
  T lane[8] = {};
  int64_t c = 0;
  for (; c + 8 <= C; c += 8)
    for (int k = 0; k < 8; k++) lane[k] += math::exp_nonpos(T(z[c + k] - m));
  T s = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
  for (; c < C; c++) s += math::exp_nonpos(T(z[c] - m));
  return s;
}

template <class T>
void softmax_xent_forward(T* loss, T* lse, const T* logits, const T* labels, int64_t N, int64_t C, T smoothing) {
  // logits (N, C), labels (N, C) rows of probabilities, smoothed to y*(1-s) + s/C; loss (N,), lse (N, 2).
  // loss_n = sum_c y_nc * (log s_n - (z_nc - m_n)) with m_n the row max and s_n = sum_c exp(z_nc - m_n).
  // m and log s are kept apart (lse[n] = {m, log s}): z - m is exact, so even |z| ~ 1e4 in float32 loses
  // nothing (m + log s rounded to float32 would cost ~1e-3 there).
  const T keep = T(1) - smoothing, add = smoothing / T(C);
  parallel_for(N, N * C >= kParallelThreshold, [&](int64_t n) {
    const T* z = logits + n * C;
    const T* y = labels + n * C;
    const T m = row_max(z, C);
    const T ls = std::log(row_sum_exp(z, C, m));
    T acc = T(0);
    for (int64_t c = 0; c < C; c++) acc += (y[c] * keep + add) * (ls - (z[c] - m));
    lse[2 * n] = m;
    lse[2 * n + 1] = ls;
    loss[n] = acc;
  });
}

template <class T>
void softmax_xent_backward(T* dlogits, const T* dloss, const T* logits, const T* lse, const T* labels, int64_t N,
                           int64_t C, T smoothing) {
  // dz_nc = dloss_n * (softmax_nc * sum_c y_nc - y_nc), softmax recomputed from the saved {m, log s}.
  const T keep = T(1) - smoothing, add = smoothing / T(C);
  parallel_for(N, N * C >= kParallelThreshold, [&](int64_t n) {
    const T* z = logits + n * C;
    const T* y = labels + n * C;
    T* dz = dlogits + n * C;
    T sy = T(0);
    for (int64_t c = 0; c < C; c++) sy += y[c] * keep + add;
    const T g = dloss[n], m = lse[2 * n], ls = lse[2 * n + 1];
    for (int64_t c = 0; c < C; c++) dz[c] = g * (math::exp_nonpos(T((z[c] - m) - ls)) * sy - (y[c] * keep + add));
  });
}

template <class T, class I>
void sparse_softmax_xent_forward(T* loss, T* lse, const T* logits, const I* labels, int64_t N, int64_t C) {
  // labels (N,) class indices, already checked to lie in [0, C); loss_n = log s_n - (z_n,label - m_n)
  parallel_for(N, N * C >= kParallelThreshold, [&](int64_t n) {
    const T* z = logits + n * C;
    const T m = row_max(z, C);
    const T ls = std::log(row_sum_exp(z, C, m));
    lse[2 * n] = m;
    lse[2 * n + 1] = ls;
    loss[n] = ls - (z[labels[n]] - m);
  });
}

template <class T, class I>
void sparse_softmax_xent_backward(T* dlogits, const T* dloss, const T* logits, const T* lse, const I* labels,
                                  int64_t N, int64_t C) {
  // dz_nc = dloss_n * (softmax_nc - [c == label_n])
  parallel_for(N, N * C >= kParallelThreshold, [&](int64_t n) {
    const T* z = logits + n * C;
    T* dz = dlogits + n * C;
    const T g = dloss[n], m = lse[2 * n], ls = lse[2 * n + 1];
    for (int64_t c = 0; c < C; c++) dz[c] = g * math::exp_nonpos(T((z[c] - m) - ls));
    dz[labels[n]] -= g;
  });
}

// ---- elementwise regression losses: loss_n = mean_d f(pred_nd, target_nd) ---------------------------
// Each element's loss and derivative: math::point_loss / point_grad (csrc/math.h, shared with CUDA), the
// kind a template parameter so each inner loop is branch-free and vectorises.
// Sum of point losses over [0, n): blocks of 256 summed in T by eight vector lanes, each block added in
// double. float32 error stays ~1e-7 over 2^24 terms and the inner loop runs at full vector width.
template <int KIND, class T>
static double point_loss_sum(const T* pred, const T* target, int64_t n, T param) {
  double s = 0;
  int64_t i = 0;
  for (; i + 256 <= n; i += 256) {
    T acc[8] = {};
    for (int64_t j = 0; j < 256; j += 8)
      for (int k = 0; k < 8; k++) acc[k] += math::point_loss<KIND>(pred[i + j + k], target[i + j + k], param);
    s += double(((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])));
  }
  for (; i < n; i++) s += double(math::point_loss<KIND>(pred[i], target[i], param));
  return s;
}

template <int KIND, class T>
static void pointwise_forward_impl(T* loss, const T* pred, const T* target, int64_t N, int64_t D, T param) {
  // pred, target (N, D); loss (N,). Sequential sum per row then / D, as Keras's mean(axis=-1).
  if (N == 1 && D >= kParallelThreshold) {
    // One long row (e.g. a flat 2^24 vector): per-thread partial sums combined in thread order.
    double partial[256] = {};
    int used = 1;
#pragma omp parallel num_threads(intra_op_threads())
    {
      int t = omp_get_thread_num(), nt = omp_get_num_threads();
      if (t == 0) used = nt;
      int64_t chunk = (D + nt - 1) / nt, b = std::min(D, chunk * t), e = std::min(D, b + chunk);
      if (t < 256) partial[t] = point_loss_sum<KIND>(pred + b, target + b, e - b, param);
    }
    double s = 0;
    for (int k = 0; k < used && k < 256; k++) s += partial[k];
    loss[0] = T(s) / T(D);
    return;
  }
  parallel_for(N, N * D >= kParallelThreshold, [&](int64_t n) {
    const T* p = pred + n * D;
    const T* y = target + n * D;
    if (D < 16) {  // short rows: a plain sequential sum in T, the same rounding as Keras's mean
      T s = T(0);
      for (int64_t d = 0; d < D; d++) s += math::point_loss<KIND>(p[d], y[d], param);
      loss[n] = s / T(D);
    } else {
      loss[n] = T(point_loss_sum<KIND>(p, y, D, param)) / T(D);
    }
  });
}

template <int KIND, class T>
static void pointwise_backward_impl(T* dpred, const T* dloss, const T* pred, const T* target, int64_t N, int64_t D,
                                    T param) {
  // dpred_nd = f'(pred_nd, target_nd) * dloss_n / D
  const T invD = T(1) / T(D);
  if (N == 1) {
    const T g = dloss[0] * invD;
    parallel_for(D, D >= kParallelThreshold, [&](int64_t d) { dpred[d] = math::point_grad<KIND>(pred[d], target[d], param) * g; });
    return;
  }
  parallel_for(N, N * D >= kParallelThreshold, [&](int64_t n) {
    const T g = dloss[n] * invD;
    for (int64_t d = 0; d < D; d++) dpred[n * D + d] = math::point_grad<KIND>(pred[n * D + d], target[n * D + d], param) * g;
  });
}

template <class T>
void pointwise_loss_forward(int kind, T* loss, const T* pred, const T* target, int64_t N, int64_t D, T param) {
  switch (kind) {
    case 0: return pointwise_forward_impl<0>(loss, pred, target, N, D, param);
    case 1: return pointwise_forward_impl<1>(loss, pred, target, N, D, param);
    case 2: return pointwise_forward_impl<2>(loss, pred, target, N, D, param);
    default: return pointwise_forward_impl<3>(loss, pred, target, N, D, param);
  }
}

template <class T>
void pointwise_loss_backward(int kind, T* dpred, const T* dloss, const T* pred, const T* target, int64_t N, int64_t D,
                             T param) {
  switch (kind) {
    case 0: return pointwise_backward_impl<0>(dpred, dloss, pred, target, N, D, param);
    case 1: return pointwise_backward_impl<1>(dpred, dloss, pred, target, N, D, param);
    case 2: return pointwise_backward_impl<2>(dpred, dloss, pred, target, N, D, param);
    default: return pointwise_backward_impl<3>(dpred, dloss, pred, target, N, D, param);
  }
}

PFT_INSTANCES_LOSSES()

}  // namespace cpu
}  // namespace pft
