// Glue for optimizer updates: every variable of one apply_gradients() in one native call.
#include <cmath>

#include "ops.h"

namespace pft {
namespace ops {

void sgd_apply(const std::vector<TensorPtr>& vars, const std::vector<TensorPtr>& grads,
               const std::vector<TensorPtr>& moms, double lr, double momentum, bool nesterov) {
  for (size_t i = 0; i < vars.size(); i++) {
    const TensorPtr& v = vars[i];
    const TensorPtr& g = grads[i];
    if (g->shape != v->shape)
      throw InvalidArgument("SGD.apply_gradients: gradient " + describe(*g) + " does not match variable " +
                            describe(*v));
    if (g->dtype != v->dtype)
      throw InvalidArgument("SGD.apply_gradients: gradient dtype " + describe(*g) + " does not match variable " +
                            describe(*v));
    dispatch_float(v->dtype, "SGD.apply_gradients", [&](auto tag) {
      using T = decltype(tag);
      T* m = moms.empty() ? nullptr : moms[i]->data<T>();
      cpu::sgd_update<T>(v->data<T>(), m, g->data<T>(), v->numel, T(lr), T(momentum), nesterov);
    });
    v->storage->version++;
    if (!moms.empty()) moms[i]->storage->version++;
  }
}

}  // namespace ops
}  // namespace pft

namespace pft {
namespace ops {

void adam_apply(const std::vector<TensorPtr>& vars, const std::vector<TensorPtr>& grads,
                const std::vector<TensorPtr>& ms, const std::vector<TensorPtr>& vs,
                const std::vector<TensorPtr>& vhats, double lr, double beta_1, double beta_2, double epsilon,
                int64_t step) {
  for (size_t i = 0; i < vars.size(); i++) {
    const TensorPtr& v = vars[i];
    const TensorPtr& g = grads[i];
    if (g->shape != v->shape || g->dtype != v->dtype)
      throw InvalidArgument("Adam.apply_gradients: gradient " + describe(*g) + " does not match variable " + describe(*v));
    dispatch_float(v->dtype, "Adam.apply_gradients", [&](auto tag) {
      using T = decltype(tag);
      // Keras computes these in the variable's dtype: alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)
      const T b1p = std::pow(T(beta_1), T(step)), b2p = std::pow(T(beta_2), T(step));
      const T alpha = T(lr) * std::sqrt(T(1) - b2p) / (T(1) - b1p);
      cpu::adam_update<T>(v->data<T>(), ms[i]->data<T>(), vs[i]->data<T>(), vhats.empty() ? nullptr : vhats[i]->data<T>(),
                          g->data<T>(), v->numel, alpha, T(1.0 - beta_1), T(1.0 - beta_2), T(epsilon));
    });
  }
}

}  // namespace ops
}  // namespace pft
