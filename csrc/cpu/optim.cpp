// Optimizer updates, in place, one variable per call (the glue loops over all variables in one
// native call).
#include <cmath>

#include "kernels.h"

namespace pft {
namespace cpu {

template <class T>
void sgd_update(T* var, T* m, const T* g, int64_t n, T lr, T momentum, bool nesterov) {
  // Keras 3 SGD, same float operation order:
  //   m = -g*lr + m*momentum;  var += nesterov ? (-g*lr + m*momentum) : m     (momentum != 0)
  //   var -= g*lr                                                            (momentum == 0)
  if (!m) {
    for (int64_t i = 0; i < n; i++) var[i] = var[i] - g[i] * lr;
    return;
  }
  for (int64_t i = 0; i < n; i++) {
    T mi = -g[i] * lr + m[i] * momentum;
    m[i] = mi;
    var[i] = var[i] + (nesterov ? T(-g[i] * lr + mi * momentum) : mi);
  }
}

template void sgd_update<float>(float*, float*, const float*, int64_t, float, float, bool);
template void sgd_update<double>(double*, double*, const double*, int64_t, double, double, bool);

}  // namespace cpu
}  // namespace pft

namespace pft {
namespace cpu {

template <class T>
void adam_update(T* var, T* m, T* v, T* vhat, const T* g, int64_t n, T alpha, T one_minus_b1, T one_minus_b2,
                 T epsilon) {
  // Keras 3 Adam, same float operation order:
  //   m += (g - m) * (1 - b1);  v += (g^2 - v) * (1 - b2);  [vhat = max(vhat, v); v = vhat]
  //   var -= (m * alpha) / (sqrt(v) + eps)
  parallel_for(n, n >= kParallelThreshold, [&](int64_t i) {
    T mi = m[i] + (g[i] - m[i]) * one_minus_b1;
    T vi = v[i] + (g[i] * g[i] - v[i]) * one_minus_b2;
    m[i] = mi;
    v[i] = vi;
    if (vhat) {
      vi = vhat[i] > vi ? vhat[i] : vi;
      vhat[i] = vi;
    }
    var[i] = var[i] - (mi * alpha) / (std::sqrt(vi) + epsilon);
  });
}

template void adam_update<float>(float*, float*, float*, float*, const float*, int64_t, float, float, float, float);
template void adam_update<double>(double*, double*, double*, double*, const double*, int64_t, double, double, double,
                                  double);

}  // namespace cpu
}  // namespace pft
