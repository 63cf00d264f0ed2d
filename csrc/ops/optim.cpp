// Glue for optimizer updates: every variable of one apply_gradients() in one native call.
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
