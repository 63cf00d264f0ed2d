// Per-element math shared by the CPU kernels and the CUDA kernels (__host__ __device__), so the CPU
// tests cover the formulas the GPU runs. Each helper is the single definition of its formula.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define PFT_HD __host__ __device__ __forceinline__
#else
#define PFT_HD inline
#endif

namespace pft {
namespace math {

// e^x for x <= 0 (every exp in softmax, cross-entropy and sigmoid has a non-positive argument after the
// max subtraction). float: Cephes' range reduction and degree-6 polynomial, within 2 ulp of expf, written
// so loops over it vectorise (glibc's vector expf needs -ffast-math, which would break TF's rounding
// elsewhere); arguments below -87 (results below 1.7e-38) give 0, NaN stays NaN. double: std::exp.
template <class T>
PFT_HD T exp_nonpos(T x) {
  return std::exp(x);
}
template <>
PFT_HD float exp_nonpos<float>(float x) {
  const float xc = x >= -87.0f ? x : -87.0f;  // NaN compares false: clamped here, restored below
  const float fx = std::floor(xc * 1.44269504088896341f + 0.5f);
  float r = xc - fx * 0.693359375f;
  r = r - fx * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  const uint32_t bits = uint32_t(int32_t(fx) + 127) << 23;  // 2^fx, fx in [-126, 0]
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  const float y = x >= -87.0f ? p * scale : 0.0f;
  return x != x ? x : y;
}

// Logistic sigmoid without overflow: exp of a non-positive argument only.
template <class T>
PFT_HD T sigmoid(T x) {
  const T z = exp_nonpos(x >= T(0) ? -x : x);
  return x >= T(0) ? T(1) / (T(1) + z) : z / (T(1) + z);
}

template <class T>
PFT_HD T relu(T x) { return x > T(0) ? x : T(0); }

template <class T>
PFT_HD T sign(T x) { return x != x ? x : T((T(0) < x) - (x < T(0))); }  // NaN stays NaN

// Integer power by squaring; negative exponents are rejected by the glue before the kernel runs.
template <class T>
PFT_HD T ipow(T base, T e) {
  T r = 1;
  while (e > 0) {
    if (e & 1) r *= base;
    base *= base;
    e >>= 1;
  }
  return r;
}

// max/min that propagate NaN like TF's Maximum/Minimum (Eigen scalar_max_op with PropagateNaN).
template <class T>
PFT_HD T maximum(T a, T b) {
  if (a != a) return a;
  if (b != b) return b;
  return a > b ? a : b;
}
template <class T>
PFT_HD T minimum(T a, T b) {
  if (a != a) return a;
  if (b != b) return b;
  return a < b ? a : b;
}

// Huber loss and its derivative with respect to the error e = y_pred - y_true (Keras formula).
template <class T>
PFT_HD T huber(T e, T delta) {
  T a = e < T(0) ? -e : e;
  return a <= delta ? T(0.5) * e * e : delta * a - T(0.5) * delta * delta;
}
template <class T>
PFT_HD T huber_grad(T e, T delta) { return e > delta ? delta : (e < -delta ? -delta : e); }

// Binary cross-entropy on probabilities (Keras: p clipped to [eps, 1 - eps]) and on logits
// (TF's sigmoid_cross_entropy_with_logits: max(x, 0) - x z + log1p(exp(-|x|)), stable for any x).
template <class T>
PFT_HD T bce_prob(T z, T p, T eps) {
  p = p < eps ? eps : (p > T(1) - eps ? T(1) - eps : p);
  return -(z * std::log(p) + (T(1) - z) * std::log(T(1) - p));
}
template <class T>
PFT_HD T bce_prob_grad(T z, T p, T eps) {  // d/dp; zero where the clip is active
  if (p < eps || p > T(1) - eps) return T(0);
  return -(z / p) + (T(1) - z) / (T(1) - p);
}
template <class T>
PFT_HD T bce_logit(T z, T x) {
  T ax = x < T(0) ? -x : x;
  return (x > T(0) ? x : T(0)) - x * z + std::log1p(exp_nonpos(-ax));
}
template <class T>
PFT_HD T bce_logit_grad(T z, T x) { return sigmoid(x) - z; }

// Fused dense activations. y is the activation output; the derivative is written in terms of y.
enum class Activation : int { Linear = 0, Relu = 1, Sigmoid = 2, Tanh = 3, Softmax = 4 };
template <class T>
PFT_HD T activate(Activation a, T z) {
  switch (a) {
    case Activation::Relu: return relu(z);
    case Activation::Sigmoid: return sigmoid(z);
    case Activation::Tanh: return std::tanh(z);
    default: return z;
  }
}
template <class T>
PFT_HD T activation_grad(Activation a, T y, T dy) {  // elementwise activations only (not softmax)
  switch (a) {
    case Activation::Relu: return y > T(0) ? dy : T(0);
    case Activation::Sigmoid: return dy * (y * (T(1) - y));
    case Activation::Tanh: return dy * (T(1) - y * y);
    default: return dy;
  }
}

// The pointwise losses of the fused kernels (kind: 0 mse, 1 huber (p = delta), 2 bce on probabilities
// (p = epsilon), 3 bce on logits) and their derivatives with respect to pred. The kind is a template
// parameter so the kernels' inner loops are branch-free.
template <int KIND, class T>
PFT_HD T point_loss(T pred, T target, T p) {
  if constexpr (KIND == 0) {
    const T e = pred - target;
    return e * e;
  } else if constexpr (KIND == 1) {
    return huber(T(pred - target), p);
  } else if constexpr (KIND == 2) {
    return bce_prob(target, pred, p);
  } else {
    return bce_logit(target, pred);
  }
}
template <int KIND, class T>
PFT_HD T point_grad(T pred, T target, T p) {  // d loss / d pred
  if constexpr (KIND == 0) return T(2) * (pred - target);
  else if constexpr (KIND == 1) return huber_grad(T(pred - target), p);
  else if constexpr (KIND == 2) return bce_prob_grad(target, pred, p);
  else return bce_logit_grad(target, pred);
}

}  // namespace math
}  // namespace pft
