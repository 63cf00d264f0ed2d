// Per-element math shared by the CPU kernels and the CUDA kernels (__host__ __device__), so the CPU
// tests cover the formulas the GPU runs. Each helper is the single definition of its formula.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "op_tables.h"

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

// max(x, 0) as std::max and TF's Relu (Eigen cwiseMax) compute it: NaN propagates, -0 stays -0.
template <class T>
PFT_HD T relu(T x) { return x < T(0) ? T(0) : x; }

template <class T>
PFT_HD T sign(T x) { return x != x ? x : T((T(0) < x) - (x < T(0))); }  // NaN stays NaN

// Integer +, -, *, negation wrap modulo 2^bits (two's complement), as TF's int32/int64 kernels do. They
// are computed in the unsigned type: signed overflow is undefined behaviour in C++ (UBSan aborts on it),
// unsigned arithmetic wraps by definition. For floating types these are the plain operations.
template <class T>
constexpr bool is_wrapping_int = std::is_integral<T>::value && !std::is_same<T, bool>::value;
template <class T>
PFT_HD T wrap_add(T a, T b) {
  if constexpr (is_wrapping_int<T>) {
    using U = typename std::make_unsigned<T>::type;
    return T(U(a) + U(b));
  } else {
    return T(a + b);
  }
}
template <class T>
PFT_HD T wrap_sub(T a, T b) {
  if constexpr (is_wrapping_int<T>) {
    using U = typename std::make_unsigned<T>::type;
    return T(U(a) - U(b));
  } else {
    return T(a - b);
  }
}
template <class T>
PFT_HD T wrap_mul(T a, T b) {
  if constexpr (is_wrapping_int<T>) {
    using U = typename std::make_unsigned<T>::type;
    return T(U(a) * U(b));
  } else {
    return T(a * b);
  }
}
template <class T>
PFT_HD T wrap_neg(T a) {
  if constexpr (is_wrapping_int<T>) {
    using U = typename std::make_unsigned<T>::type;
    return T(U(0) - U(a));
  } else {
    return T(-a);
  }
}
// Integer division never traps: the glue rejects zero divisors before a kernel runs (TF's "Integer
// division by zero"); here x / 0 gives 0 and min / -1 wraps to min instead of raising SIGFPE.
template <class T>
PFT_HD T safe_div(T a, T b) {
  if constexpr (is_wrapping_int<T>) {
    if (b == T(0)) return T(0);
    if (b == T(-1)) return wrap_neg(a);
    return T(a / b);
  } else {
    return T(a / b);
  }
}

// A float -> integer conversion as TF's x86 CPU kernels give it (cvttss2si/cvttsd2si): truncation toward
// zero, and the integer minimum ("integer indefinite") for NaN and values outside the range, computed by
// defined code (a plain static_cast of those values is undefined behaviour). Other conversions are casts.
template <class To, class From>
PFT_HD To convert(From x) {
  if constexpr (std::is_same<To, bool>::value) {
    return x != From(0);
  } else if constexpr (is_wrapping_int<To> && std::is_floating_point<From>::value) {
    // 2^(bits-1) is exact in every float type; the range is [-2^(bits-1), 2^(bits-1)).
    constexpr From lim = From(sizeof(To) == 8 ? 9223372036854775808.0 : 2147483648.0);
    // NaN fails both tests; (-lim - 1, -lim] truncates to the minimum anyway.
    if (!(x > -lim && x < lim)) return std::numeric_limits<To>::min();
    return static_cast<To>(x);
  } else {
    return static_cast<To>(x);
  }
}

// Integer power by squaring; negative exponents are rejected by the glue before the kernel runs.
template <class T>
PFT_HD T ipow(T base, T e) {
  T r = 1;
  while (e > 0) {
    if (e & 1) r = wrap_mul(r, base);
    base = wrap_mul(base, base);
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

// ---- the unary family (PFT_UNARY_OPS): y = <stem>(x) and dx = <stem>_grad(x, y, dy) ------------------
// The gradients use the float operations of the composed backward rules (csrc/ops/elementwise.cpp,
// unary_backward), so the fused kernel and the composition an outer tape records round the same.
// Integer inputs reach only the ops that are not float_only; the others still compile for integers.
template <class T> PFT_HD T negative(T x) { return wrap_neg(x); }
template <class T> PFT_HD T negative_grad(T, T, T dy) { return wrap_neg(dy); }
template <class T> PFT_HD T abs(T x) { return x < T(0) ? wrap_neg(x) : x; }
template <class T> PFT_HD T abs_grad(T x, T, T dy) { return wrap_mul(dy, sign(x)); }
template <class T> PFT_HD T square(T x) { return wrap_mul(x, x); }
template <class T> PFT_HD T square_grad(T x, T, T dy) { return wrap_mul(dy, wrap_mul(x, T(2))); }
template <class T> PFT_HD T sqrt(T x) { return T(std::sqrt(x)); }
template <class T> PFT_HD T sqrt_grad(T, T y, T dy) { return T(T(dy * T(0.5)) / y); }
template <class T> PFT_HD T exp(T x) { return T(std::exp(x)); }
template <class T> PFT_HD T exp_grad(T, T y, T dy) { return T(dy * y); }
template <class T> PFT_HD T log(T x) { return T(std::log(x)); }
template <class T> PFT_HD T log_grad(T x, T, T dy) { return T(dy / x); }
template <class T> PFT_HD T log1p(T x) { return T(std::log1p(x)); }
template <class T> PFT_HD T log1p_grad(T x, T, T dy) { return T(dy * T(T(1) / T(x + T(1)))); }  // TF: dy * 1/(1+x)
template <class T> PFT_HD T tanh(T x) { return T(std::tanh(x)); }
template <class T> PFT_HD T tanh_grad(T, T y, T dy) { return T(dy * T(T(1) - T(y * y))); }
template <class T> PFT_HD T sigmoid_grad(T, T y, T dy) { return T(dy * T(y * T(T(1) - y))); }
template <class T> PFT_HD T relu_grad(T x, T, T dy) { return x > T(0) ? dy : T(0); }
template <class T> PFT_HD T sign_grad(T, T, T) { return T(0); }
template <class T> PFT_HD T reciprocal(T x) { return T(T(1) / x); }
template <class T> PFT_HD T reciprocal_grad(T, T y, T dy) { return T(-T(dy * T(y * y))); }
template <class T> PFT_HD T rsqrt(T x) { return T(T(1) / std::sqrt(x)); }  // 1/sqrt, not an approximate rsqrt
template <class T> PFT_HD T rsqrt_grad(T, T y, T dy) { return T(T(dy * T(y * T(y * y))) * T(-0.5)); }

// log(1 + e^x) as TF's Softplus kernel computes it, with its threshold log(eps) + 2 (float -13.94,
// double -34.04): x where e^x is negligible against x, e^x where log1p(e^x) rounds to e^x, else log1p(e^x).
template <class T>
PFT_HD T softplus(T x) {
  const T threshold = sizeof(T) == 4 ? T(-13.942385152878742) : T(-34.04365338911715);
  if (x > -threshold) return x;
  if (x < threshold) return T(std::exp(x));
  return T(std::log1p(std::exp(x)));
}

// The float_only rows below are compiled for the integer instantiations too (never reached: the glue raises
// TypeError first); real_t<T> is the type they compute in: T for float/double, double for integers, so the
// float instantiations call the float functions (sinf ...), on the host and on the device alike.
template <class T>
using real_t = typename std::conditional<std::is_floating_point<T>::value, T, double>::type;
template <class T>
PFT_HD real_t<T> re(T x) { return real_t<T>(x); }

// Trigonometric and hyperbolic functions; gradients as TF's math_grad.py, operation by operation.
template <class T> PFT_HD T sin(T x) { return T(std::sin(re(x))); }
template <class T> PFT_HD T sin_grad(T x, T, T dy) { return T(dy * T(std::cos(re(x)))); }
template <class T> PFT_HD T cos(T x) { return T(std::cos(re(x))); }
template <class T> PFT_HD T cos_grad(T x, T, T dy) { return T(T(-dy) * T(std::sin(re(x)))); }  // -dy * sin(x)
template <class T> PFT_HD T tan(T x) { return T(std::tan(re(x))); }
template <class T>
PFT_HD T tan_grad(T x, T, T dy) {  // square(reciprocal(cos(x))) * dy
  const T sec = T(T(1) / T(std::cos(re(x))));
  return T(T(sec * sec) * dy);
}
template <class T> PFT_HD T asin(T x) { return T(std::asin(re(x))); }
template <class T>
PFT_HD T asin_grad(T x, T, T dy) {  // dy * reciprocal(sqrt(1 - square(x)))
  return T(dy * T(T(1) / T(std::sqrt(re(T(T(1) - T(x * x)))))));
}
template <class T> PFT_HD T acos(T x) { return T(std::acos(re(x))); }
template <class T>
PFT_HD T acos_grad(T x, T, T dy) {  // -dy * reciprocal(sqrt(1 - square(x)))
  return T(T(-dy) * T(T(1) / T(std::sqrt(re(T(T(1) - T(x * x)))))));
}
template <class T> PFT_HD T atan(T x) { return T(std::atan(re(x))); }
template <class T> PFT_HD T atan_grad(T x, T, T dy) { return T(dy * T(T(1) / T(T(x * x) + T(1)))); }  // dy / (x^2 + 1)
template <class T> PFT_HD T sinh(T x) { return T(std::sinh(re(x))); }
template <class T> PFT_HD T sinh_grad(T x, T, T dy) { return T(dy * T(std::cosh(re(x)))); }
template <class T> PFT_HD T cosh(T x) { return T(std::cosh(re(x))); }
template <class T> PFT_HD T cosh_grad(T x, T, T dy) { return T(dy * T(std::sinh(re(x)))); }
template <class T> PFT_HD T asinh(T x) { return T(std::asinh(re(x))); }
template <class T> PFT_HD T asinh_grad(T, T y, T dy) { return T(dy / T(std::cosh(re(y)))); }  // dy / cosh(y)
template <class T> PFT_HD T acosh(T x) { return T(std::acosh(re(x))); }
template <class T> PFT_HD T acosh_grad(T, T y, T dy) { return T(dy / T(std::sinh(re(y)))); }  // dy / sinh(y)
template <class T> PFT_HD T atanh(T x) { return T(std::atanh(re(x))); }
template <class T> PFT_HD T atanh_grad(T x, T, T dy) { return T(dy * T(T(1) / T(T(1) - T(x * x)))); }  // dy / (1 - x^2)

// e^x - 1; TF's gradient is dy * exp(x) (not dy * (y + 1)).
template <class T> PFT_HD T expm1(T x) { return T(std::expm1(re(x))); }
template <class T> PFT_HD T expm1_grad(T x, T, T dy) { return T(dy * T(std::exp(re(x)))); }
// softplus (above); TF's gradient is dy * sigmoid(x).
template <class T> PFT_HD T softplus_grad(T x, T, T dy) { return T(dy * sigmoid(re(x))); }
// x / (|x| + 1); TF's SoftsignGrad: dy / (|x| + 1)^2.
template <class T>
PFT_HD T softsign(T x) {
  const T a = T((x < T(0) ? T(-x) : x) + T(1));
  return T(x / a);
}
template <class T>
PFT_HD T softsign_grad(T x, T, T dy) {
  const T a = T((x < T(0) ? T(-x) : x) + T(1));
  return T(dy / T(a * a));
}
// erf / erfc; gradients dy * (+-2/sqrt(pi)) * exp(-x^2), in TF's order: (dy * c) * exp(-square(x)).
template <class T> PFT_HD T erf(T x) { return T(std::erf(re(x))); }
template <class T>
PFT_HD T erf_grad(T x, T, T dy) {
  return T(T(dy * T(1.1283791670955126)) * T(std::exp(re(T(-T(x * x))))));
}
template <class T> PFT_HD T erfc(T x) { return T(std::erfc(re(x))); }
template <class T>
PFT_HD T erfc_grad(T x, T, T dy) {
  return T(T(dy * T(-1.1283791670955126)) * T(std::exp(re(T(-T(x * x))))));
}
// Rounding. TF registers no gradient for them (None): the glue records no gradient (csrc/ops/elementwise.cpp,
// unary_backward); the _grad formulas exist for Unary<> and are never called. round and rint are TF's
// half-to-even rounding (Eigen's rint); round of an integer is the integer (TF's Round has integer kernels).
template <class T> PFT_HD T floor(T x) { return T(std::floor(re(x))); }
template <class T> PFT_HD T floor_grad(T, T, T) { return T(0); }
template <class T> PFT_HD T ceil(T x) { return T(std::ceil(re(x))); }
template <class T> PFT_HD T ceil_grad(T, T, T) { return T(0); }
template <class T>
PFT_HD T round(T x) {
  if constexpr (std::is_floating_point<T>::value) return T(std::rint(x));
  else return x;
}
template <class T> PFT_HD T round_grad(T, T, T) { return T(0); }
template <class T> PFT_HD T rint(T x) { return T(std::rint(re(x))); }
template <class T> PFT_HD T rint_grad(T, T, T) { return T(0); }
// TF's reciprocal_no_nan is div_no_nan(1, x): 0 where x == 0. Its gradient, DivNoNan's for the divisor:
// dy * div_no_nan(div_no_nan(-1, x), x).
template <class T> PFT_HD T reciprocal_no_nan(T x) { return x == T(0) ? T(0) : T(T(1) / x); }
template <class T>
PFT_HD T reciprocal_no_nan_grad(T x, T, T dy) {
  const T q = x == T(0) ? T(0) : T(T(T(-1) / x) / x);
  return T(dy * q);
}

// ---- the binary arithmetic ops beyond + - * / pow max min (PFT_BINARY_OPS) ---------------------------
// Integer division by zero never reaches these: the glue raises TF's "Integer division by zero" first.
// atan2(y, x) (TF's argument order).
template <class T> PFT_HD T atan2(T y, T x) { return T(std::atan2(re(y), re(x))); }
// Python's floor division: floor(x / y) for floats (TF's floor_div_real); for integers the truncated quotient
// minus one where there is a remainder and the signs differ (TF's google_floor_div). min // -1 wraps to min.
template <class T>
PFT_HD T floordiv(T x, T y) {
  if constexpr (is_wrapping_int<T>) {
    const T z = safe_div(x, y);
    return (wrap_mul(z, y) != x && ((x < T(0)) != (y < T(0)))) ? wrap_sub(z, T(1)) : z;
  } else {
    return T(std::floor(re(T(x / y))));
  }
}
// The remainder of floordiv, with the divisor's sign (TF's google_floor_mod / google_floor_fmod).
template <class T>
PFT_HD T floormod(T x, T y) {
  T r;
  if constexpr (is_wrapping_int<T>) {
    r = (y == T(0) || y == T(-1)) ? T(0) : T(x % y);  // % by -1 would trap for the minimum
  } else {
    r = T(std::fmod(re(x), re(y)));
  }
  return (r != T(0) && ((y < T(0)) != (r < T(0)))) ? T(r + y) : r;
}
// C's division: the quotient rounded toward zero (integers: the truncated quotient; floats: trunc(x / y)).
template <class T>
PFT_HD T truncatediv(T x, T y) {
  if constexpr (is_wrapping_int<T>) return safe_div(x, y);
  else return T(std::trunc(re(T(x / y))));
}
// (x - y)^2, wrapping for integers.
template <class T>
PFT_HD T squared_difference(T x, T y) {
  const T d = wrap_sub(x, y);
  return wrap_mul(d, d);
}
// x / y, 0 where y == 0 (TF's div_no_nan: even for x NaN or infinite). Integers are divided as float64 by the glue.
template <class T> PFT_HD T divide_no_nan(T x, T y) { return y == T(0) ? T(0) : safe_div(x, y); }
// x * log(y), 0 where x == 0 (TF's xlogy_op); x / y, 0 where x == 0 (xdivy_op).
template <class T> PFT_HD T xlogy(T x, T y) { return x == T(0) ? T(0) : T(x * T(std::log(re(y)))); }
template <class T> PFT_HD T xdivy(T x, T y) { return x == T(0) ? T(0) : safe_div(x, y); }

// ---- the predicates (PFT_PREDICATE_OPS): bool out = <stem>(x) ------------------------------------------
template <class T> PFT_HD bool is_nan(T x) { return x != x; }
template <class T>
PFT_HD bool is_inf(T x) {
  if constexpr (std::is_floating_point<T>::value) {
    return x == std::numeric_limits<T>::infinity() || x == -std::numeric_limits<T>::infinity();
  } else {
    return false;
  }
}
template <class T> PFT_HD bool is_finite(T x) { return !is_nan(x) && !is_inf(x); }
template <class T> PFT_HD bool logical_not(T x) { return !bool(x); }

// ---- the activations fused into dense (PFT_ACTIVATIONS): y = activate(a, z), dz from y ---------------
template <class T> PFT_HD T linear(T z) { return z; }
template <class T> PFT_HD T linear_activation_grad(T, T dy) { return dy; }
template <class T> PFT_HD T relu_activation_grad(T y, T dy) { return y > T(0) ? dy : T(0); }
template <class T> PFT_HD T sigmoid_activation_grad(T y, T dy) { return dy * (y * (T(1) - y)); }
template <class T> PFT_HD T tanh_activation_grad(T y, T dy) { return dy * (T(1) - y * y); }
using ::pft::Activation;
template <class T>
PFT_HD T activate(Activation a, T z) {  // softmax normalises a whole row: the dense kernels do that part
  switch (a) {
    case Activation::Relu: return relu(z);
    case Activation::Sigmoid: return sigmoid(z);
    case Activation::Tanh: return std::tanh(z);
    case Activation::Linear:
    case Activation::Softmax: return linear(z);
  }
  return z;
}
template <class T>
PFT_HD T activation_grad(Activation a, T y, T dy) {  // elementwise activations only (not softmax)
  switch (a) {
    case Activation::Relu: return relu_activation_grad(y, dy);
    case Activation::Sigmoid: return sigmoid_activation_grad(y, dy);
    case Activation::Tanh: return tanh_activation_grad(y, dy);
    case Activation::Linear:
    case Activation::Softmax: return linear_activation_grad(y, dy);
  }
  return dy;
}

// ---- the pointwise losses (PFT_POINTWISE_LOSSES): <stem>(pred, target, param) and d/dpred ------------
template <class T>
PFT_HD T mean_squared_error(T pred, T target, T) {
  const T e = pred - target;
  return e * e;
}
template <class T> PFT_HD T mean_squared_error_grad(T pred, T target, T) { return T(2) * (pred - target); }
// Keras's Huber on the error e = pred - target: e^2/2 inside [-delta, delta], linear outside.
template <class T>
PFT_HD T huber(T pred, T target, T delta) {
  const T e = pred - target;
  const T a = e < T(0) ? -e : e;
  return a <= delta ? T(0.5) * e * e : delta * a - T(0.5) * delta * delta;
}
template <class T>
PFT_HD T huber_grad(T pred, T target, T delta) {
  const T e = pred - target;
  return e > delta ? delta : (e < -delta ? -delta : e);
}
// Binary cross-entropy on probabilities: Keras clips p to [eps, 1 - eps]; zero gradient where clipped.
template <class T>
PFT_HD T binary_crossentropy(T p, T z, T eps) {
  p = p < eps ? eps : (p > T(1) - eps ? T(1) - eps : p);
  return -(z * std::log(p) + (T(1) - z) * std::log(T(1) - p));
}
template <class T>
PFT_HD T binary_crossentropy_grad(T p, T z, T eps) {
  if (p < eps || p > T(1) - eps) return T(0);
  return -(z / p) + (T(1) - z) / (T(1) - p);
}
// On logits, TF's sigmoid_cross_entropy_with_logits: max(x, 0) - x z + log1p(exp(-|x|)), stable for any x.
template <class T>
PFT_HD T binary_crossentropy_from_logits(T x, T z, T) {
  T ax = x < T(0) ? -x : x;
  return (x > T(0) ? x : T(0)) - x * z + std::log1p(exp_nonpos(-ax));
}
template <class T> PFT_HD T binary_crossentropy_from_logits_grad(T x, T z, T) { return sigmoid(x) - z; }
// Keras's LogCosh: log(cosh(e)) = e + softplus(-2 e) - log 2, e = pred - target; d/dpred = tanh(e).
template <class T>
PFT_HD T log_cosh(T pred, T target, T) {
  const T e = pred - target;
  return T(e + softplus(T(e * T(-2)))) - T(0.6931471805599453);
}
template <class T> PFT_HD T log_cosh_grad(T pred, T target, T) { return T(std::tanh(T(pred - target))); }

// The loss as a template parameter, so the kernels' inner loops are branch-free.
template <PointwiseLoss K, class T>
PFT_HD T point_loss(T pred, T target, T p) {
#define PFT_POINT_LOSS_ROW(E, stem) \
  if constexpr (K == PointwiseLoss::E) return stem(pred, target, p);
  PFT_POINTWISE_LOSSES(PFT_POINT_LOSS_ROW)
#undef PFT_POINT_LOSS_ROW
  return T(0);
}
template <PointwiseLoss K, class T>
PFT_HD T point_grad(T pred, T target, T p) {  // d loss / d pred
#define PFT_POINT_GRAD_ROW(E, stem) \
  if constexpr (K == PointwiseLoss::E) return stem##_grad(pred, target, p);
  PFT_POINTWISE_LOSSES(PFT_POINT_GRAD_ROW)
#undef PFT_POINT_GRAD_ROW
  return T(0);
}

}  // namespace math
}  // namespace pft
