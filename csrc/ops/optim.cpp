// Glue for optimizer updates: every variable of one apply_gradients() in one native call.
#include <cmath>

#include "ops.h"

namespace pft {
namespace ops {

// Every (gradient, variable) pair is checked before any variable changes: an update is all or nothing.
static void check_pairs(const char* op, const std::vector<TensorPtr>& vars, const std::vector<TensorPtr>& grads) {
  for (size_t i = 0; i < vars.size(); i++) {
    if (grads[i]->shape != vars[i]->shape || grads[i]->dtype != vars[i]->dtype)
      throw InvalidArgument(std::string(op) + ": gradient " + describe(*grads[i]) + " does not match variable " +
                            std::to_string(i) + " " + describe(*vars[i]) + "; nothing was updated");
    if (!is_floating(vars[i]->dtype))
      throw TypeError(std::string(op) + ": variable " + std::to_string(i) + " " + describe(*vars[i]) +
                      " is not floating point; nothing was updated");
  }
}

void sgd_apply(const std::vector<TensorPtr>& vars, const std::vector<TensorPtr>& grads,
               const std::vector<TensorPtr>& moms, double lr, double momentum, bool nesterov) {
  check_pairs("SGD.apply_gradients", vars, grads);
  for (size_t i = 0; i < vars.size(); i++) {
    const TensorPtr& v = vars[i];
    const TensorPtr& g = grads[i];
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
  check_pairs("Adam.apply_gradients", vars, grads);
  for (size_t i = 0; i < vars.size(); i++) {
    const TensorPtr& v = vars[i];
    const TensorPtr& g = grads[i];
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
