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

template <class T>
void sgd_update_many(T* const* vars, T* const* moms, const T* const* grads, const int64_t* sizes, int count, T lr,
                     T momentum, bool nesterov) {
  for (int i = 0; i < count; i++) sgd_update<T>(vars[i], moms ? moms[i] : nullptr, grads[i], sizes[i], lr, momentum, nesterov);
}

template <class T>
void adam_update_many(T* const* vars, T* const* ms, T* const* vs, T* const* vhats, const T* const* grads,
                      const int64_t* sizes, int count, T alpha, T one_minus_b1, T one_minus_b2, T epsilon) {
  for (int i = 0; i < count; i++)
    adam_update<T>(vars[i], ms[i], vs[i], vhats ? vhats[i] : nullptr, grads[i], sizes[i], alpha, one_minus_b1,
                   one_minus_b2, epsilon);
}

PFT_INSTANCES_OPTIM()

}  // namespace cpu
}  // namespace pft
