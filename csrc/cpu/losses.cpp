// Fused losses: one pass per row for the loss, one elementwise pass for the gradient, no temporaries.
// Per-sample losses are means over the last axis (Keras); the batch reduction is a separate tiny op.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>
#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "../math.h"
#include "kernels.h"

namespace pft {
namespace cpu {

// ---- softmax cross-entropy -------------------------------------------------------------------------
// Row max and sum of exp(z - max) with eight independent lanes, so both loops vectorise (a single
// running max/sum is a serial dependency the compiler may not reorder).
#if defined(__AVX__)
// GCC does not vectorise the eight-lane max below (it emits eight scalar maxss); the first pass over a row is
// also the one that waits for memory, so it is written with AVX. _mm256_max_ps(z, lane) is
// `z > lane ? z : lane` lane by lane, NaN included (an unordered compare keeps the lane), as below.
static inline float row_max(const float* z, int64_t C) {
  if (C < 16) {
    float m = z[0];
    for (int64_t c = 1; c < C; c++) m = z[c] > m ? z[c] : m;
    return m;
  }
  __m256 a = _mm256_loadu_ps(z), b = _mm256_loadu_ps(z + 8);
  int64_t c = 16;
  for (; c + 16 <= C; c += 16) {
    a = _mm256_max_ps(_mm256_loadu_ps(z + c), a);
    b = _mm256_max_ps(_mm256_loadu_ps(z + c + 8), b);
  }
  a = _mm256_max_ps(b, a);
  alignas(32) float lane[8];
  _mm256_store_ps(lane, a);
  float m = lane[0];
  for (int k = 1; k < 8; k++) m = lane[k] > m ? lane[k] : m;
  for (; c < C; c++) m = z[c] > m ? z[c] : m;
  return m;
}
#endif
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

// ---- sparse softmax cross-entropy with the batch mean fused in --------------------------------------------
// One pass over the logits: each row (1 KiB for 256 classes) is read from memory once and then worked on
// in L1: its max, exp(z - max) kept in a row buffer with their sum, the row's loss, and, when a gradient is
// wanted, (softmax - onehot) / N from the kept exps (one exp per logit, not two), written once with
// streaming stores (no read-for-ownership of the 64 MB gradient). So the loss and its gradient move 2 x 4
// bytes per logit, against 3 x 4 for a forward pass that saves only the log-sum-exp and a backward that
// reads the logits again. The row losses are summed in double by blocks of 256 rows, in row order
// (the same result for any thread count).
namespace {
#if defined(__AVX__)
inline void store_stream(float* dst, const float* src, int64_t n) {
  int64_t i = 0;
  if ((reinterpret_cast<uintptr_t>(dst) & 31) == 0) {
    for (; i + 8 <= n; i += 8) _mm256_stream_ps(dst + i, _mm256_loadu_ps(src + i));
  }
  for (; i < n; i++) dst[i] = src[i];
}
inline void store_stream(double* dst, const double* src, int64_t n) {
  int64_t i = 0;
  if ((reinterpret_cast<uintptr_t>(dst) & 31) == 0) {
    for (; i + 4 <= n; i += 4) _mm256_stream_pd(dst + i, _mm256_loadu_pd(src + i));
  }
  for (; i < n; i++) dst[i] = src[i];
}
inline void stream_fence() { _mm_sfence(); }
#else
template <class T>
inline void store_stream(T* dst, const T* src, int64_t n) { std::copy(src, src + n, dst); }
inline void stream_fence() {}
#endif
}  // namespace

#if defined(__AVX2__)
// math::exp_nonpos<float> on eight lanes: the same range reduction and polynomial, evaluated with fused
// multiply-adds (so within an ulp of it, not bit-identical; the dependency chain is half as long, and this
// loop is latency-bound: 1.1 -> 0.7 ns per logit), less its NaN and clamp selects: the caller passes
// x = z - max of a row with no NaN and a finite max, so x is in [-inf, 0]. Below -87 the result is 0.
static inline __m256 exp_nonpos8(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.0f);
  const __m256 xc = _mm256_max_ps(x, lo);
  const __m256 fx = _mm256_floor_ps(_mm256_fmadd_ps(xc, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
  __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(127)), 23);
  const __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
  return _mm256_and_ps(_mm256_cmp_ps(x, lo, _CMP_GE_OQ), y);
}

// True when the row has no NaN and a finite max m (then every z - m is in [-inf, 0]).
static inline bool row_is_plain(const float* z, int64_t C, float m) {
  if (!std::isfinite(m)) return false;
  __m256 bad = _mm256_setzero_ps();
  int64_t c = 0;
  for (; c + 8 <= C; c += 8) {
    const __m256 v = _mm256_loadu_ps(z + c);
    bad = _mm256_or_ps(bad, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  }
  bool any = _mm256_movemask_ps(bad) != 0;
  for (; c < C; c++) any |= z[c] != z[c];
  return !any;
}

// sum_c exp(z_c - m), the eight-lane order of row_sum_exp; with e, the exps are kept there.
static inline float row_exp_sum8(const float* z, int64_t C, float m, float* e) {
  const __m256 mv = _mm256_set1_ps(m);
  __m256 acc = _mm256_setzero_ps();
  int64_t c = 0;
  for (; c + 8 <= C; c += 8) {
    const __m256 v = exp_nonpos8(_mm256_sub_ps(_mm256_loadu_ps(z + c), mv));
    if (e) _mm256_storeu_ps(e + c, v);
    acc = _mm256_add_ps(acc, v);
  }
  alignas(32) float lane[8];
  _mm256_store_ps(lane, acc);
  float s = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
  for (; c < C; c++) {
    const float v = math::exp_nonpos(float(z[c] - m));
    if (e) e[c] = v;
    s += v;
  }
  return s;
}
#endif

// sum_c exp(z_c - m) in row_sum_exp's eight-lane order; with e, the exps are also kept there. Float rows
// with no NaN and a finite max take the AVX2 loop above.
template <class T>
static inline T row_exp_sum(const T* z, int64_t C, T m, T* e) {
#if defined(__AVX2__)
  if constexpr (std::is_same<T, float>::value)
    if (row_is_plain(z, C, m)) return row_exp_sum8(z, C, m, e);
#endif
  if (!e) return row_sum_exp(z, C, m);
  T lane[8] = {};
  int64_t c = 0;
  for (; c + 8 <= C; c += 8)
    for (int k = 0; k < 8; k++) {
      const T v = math::exp_nonpos(T(z[c + k] - m));
      e[c + k] = v;
      lane[k] += v;
    }
  T s = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
  for (; c < C; c++) {
    e[c] = math::exp_nonpos(T(z[c] - m));
    s += e[c];
  }
  return s;
}

template <class T, class I>
T sparse_softmax_xent_mean(T* dlogits, const T* logits, const I* labels, int64_t N, int64_t C) {
  constexpr int64_t kRows = 256, kAhead = 4;
  const int64_t blocks = (N + kRows - 1) / kRows;
  std::vector<double> partial(size_t(blocks), 0.0);
  const T gN = T(1) / T(N);  // d(mean)/d(row loss), as the unfused mean's backward computes it
  parallel_for(blocks, N * C >= kParallelThreshold, [&](int64_t b) {
    std::vector<T> buf(dlogits ? size_t(C) : 0);
    T* e = buf.data();
    double acc = 0;
    const int64_t end = std::min(N, (b + 1) * kRows);
    for (int64_t n = b * kRows; n < end; n++) {
      const T* z = logits + n * C;
#if defined(__AVX__)
      // Fetch a row a few rows ahead while this one is worked on in L1: the first pass over a row (its
      // max) otherwise waits for memory while the exp pass leaves the memory bus idle.
      if (n + kAhead < N) {
        const char* ahead = reinterpret_cast<const char*>(logits + (n + kAhead) * C);
        for (int64_t off = 0; off < C * int64_t(sizeof(T)); off += 64) _mm_prefetch(ahead + off, _MM_HINT_T0);
      }
#endif
      const T m = row_max(z, C);
      const T s = row_exp_sum(z, C, m, dlogits ? e : nullptr);
      const I l = labels[n];
      acc += double(std::log(s) - (z[l] - m));
      if (dlogits) {
        const T k = gN / s;
        for (int64_t c = 0; c < C; c++) e[c] *= k;
        e[l] -= gN;
        store_stream(dlogits + n * C, e, C);
      }
    }
    if (dlogits) stream_fence();  // this thread's streaming stores are visible before the op returns
    partial[size_t(b)] = acc;
  });
  double total = 0;
  for (double p : partial) total += p;
  return T(total / double(N));
}
template float sparse_softmax_xent_mean<float, int32_t>(float*, const float*, const int32_t*, int64_t, int64_t);
template float sparse_softmax_xent_mean<float, int64_t>(float*, const float*, const int64_t*, int64_t, int64_t);
template double sparse_softmax_xent_mean<double, int32_t>(double*, const double*, const int32_t*, int64_t, int64_t);
template double sparse_softmax_xent_mean<double, int64_t>(double*, const double*, const int64_t*, int64_t, int64_t);

// ---- elementwise regression losses: loss_n = mean_d f(pred_nd, target_nd) ---------------------------
// Each element's loss and derivative: math::point_loss / point_grad (csrc/math.h, shared with CUDA), the
// kind a template parameter so each inner loop is branch-free and vectorises.
// Sum of point losses over [0, n): blocks of 256 summed in T by eight vector lanes, each block added in
// double. float32 error stays ~1e-7 over 2^24 terms and the inner loop runs at full vector width.
template <PointwiseLoss KIND, class T>
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

template <PointwiseLoss KIND, class T>
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

template <PointwiseLoss KIND, class T>
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
void pointwise_loss_forward(PointwiseLoss kind, T* loss, const T* pred, const T* target, int64_t N, int64_t D, T param) {
  switch (kind) {  // the loss as a template argument (formulas: csrc/math.h)
#define PFT_CASE(E, ...) \
  case PointwiseLoss::E: return pointwise_forward_impl<PointwiseLoss::E>(loss, pred, target, N, D, param);
    PFT_POINTWISE_LOSSES(PFT_CASE)
#undef PFT_CASE
  }
}

template <class T>
void pointwise_loss_backward(PointwiseLoss kind, T* dpred, const T* dloss, const T* pred, const T* target, int64_t N, int64_t D,
                             T param) {
  switch (kind) {  // the loss as a template argument (formulas: csrc/math.h)
#define PFT_CASE(E, ...) \
  case PointwiseLoss::E: return pointwise_backward_impl<PointwiseLoss::E>(dpred, dloss, pred, target, N, D, param);
    PFT_POINTWISE_LOSSES(PFT_CASE)
#undef PFT_CASE
  }
}

PFT_INSTANCES_LOSSES()

}  // namespace cpu
}  // namespace pft
