// Optimizer updates, in place, one variable per call (the glue loops over all variables in one
// native call).
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
