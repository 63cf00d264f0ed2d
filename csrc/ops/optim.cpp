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

// Slots (momentum, Adam's m and v) live with their variable.
static void check_slots(const char* op, const std::vector<TensorPtr>& vars, const std::vector<TensorPtr>& slots) {
  for (size_t i = 0; i < slots.size() && i < vars.size(); i++)
    if (slots[i]->device() != vars[i]->device() || slots[i]->shape != vars[i]->shape)
      throw InvalidArgument(std::string(op) + ": slot " + describe(*slots[i]) + " on " + slots[i]->device().str() +
                            " does not match variable " + std::to_string(i) + " " + describe(*vars[i]) + " on " +
                            vars[i]->device().str() + "; nothing was updated");
}

// The variables of one update split by (device, dtype): each group is one *_many kernel call.
static std::vector<std::vector<size_t>> groups_of(const std::vector<TensorPtr>& vars) {
  std::vector<std::vector<size_t>> groups;
  for (size_t i = 0; i < vars.size(); i++) {
    bool placed = false;
    for (auto& g : groups) {
      const TensorPtr& f = vars[g[0]];
      if (f->device() == vars[i]->device() && f->dtype == vars[i]->dtype) {
        g.push_back(i);
        placed = true;
        break;
      }
    }
    if (!placed) groups.push_back({i});
  }
  return groups;
}

// Gradients computed on another device than their variable are copied to it first (as TF does).
static std::vector<TensorPtr> grads_on_var_devices(const std::vector<TensorPtr>& vars, const std::vector<TensorPtr>& grads) {
  std::vector<TensorPtr> out(grads);
  for (size_t i = 0; i < vars.size(); i++)
    if (out[i]->device() != vars[i]->device()) out[i] = to_device(out[i], vars[i]->device());
  return out;
}

template <class T>
static T* ptr(const TensorPtr& t) { return t->data<T>(); }

void sgd_apply(const std::vector<TensorPtr>& vars, const std::vector<TensorPtr>& grads_in,
               const std::vector<TensorPtr>& moms, double lr, double momentum, bool nesterov) {
  check_pairs("SGD.apply_gradients", vars, grads_in);
  check_slots("SGD.apply_gradients", vars, moms);
  const std::vector<TensorPtr> grads = grads_on_var_devices(vars, grads_in);
  for (const auto& group : groups_of(vars)) {
    const TensorPtr& v0 = vars[group[0]];
    dispatch_float(v0->dtype, "SGD.apply_gradients", [&](auto tag) {
      using T = decltype(tag);
      thread_local std::vector<T*> vp, mp;  // reused: no allocation per step
      thread_local std::vector<const T*> gp;
      thread_local std::vector<int64_t> n;
      vp.clear(), mp.clear(), gp.clear(), n.clear();
      for (size_t i : group) {
        vp.push_back(ptr<T>(vars[i]));
        if (!moms.empty()) mp.push_back(ptr<T>(moms[i]));
        gp.push_back(ptr<T>(grads[i]));
        n.push_back(vars[i]->numel);
      }
      PFT_KERNEL_FOR(v0->device(), sgd_update_many<T>)(vp.data(), moms.empty() ? nullptr : mp.data(), gp.data(),
                                                       n.data(), int(group.size()), T(lr), T(momentum), nesterov);
    });
  }
  for (size_t i = 0; i < vars.size(); i++) {
    vars[i]->storage->version++;
    if (!moms.empty()) moms[i]->storage->version++;
  }
}

void adam_apply(const std::vector<TensorPtr>& vars, const std::vector<TensorPtr>& grads_in,
                const std::vector<TensorPtr>& ms, const std::vector<TensorPtr>& vs,
                const std::vector<TensorPtr>& vhats, double lr, double beta_1, double beta_2, double epsilon,
                int64_t step) {
  check_pairs("Adam.apply_gradients", vars, grads_in);
  check_slots("Adam.apply_gradients", vars, ms);
  check_slots("Adam.apply_gradients", vars, vs);
  check_slots("Adam.apply_gradients", vars, vhats);
  const std::vector<TensorPtr> grads = grads_on_var_devices(vars, grads_in);
  for (const auto& group : groups_of(vars)) {
    const TensorPtr& v0 = vars[group[0]];
    dispatch_float(v0->dtype, "Adam.apply_gradients", [&](auto tag) {
      using T = decltype(tag);
      // Keras computes these in the variable's dtype: alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)
      const T b1p = std::pow(T(beta_1), T(step)), b2p = std::pow(T(beta_2), T(step));
      const T alpha = T(lr) * std::sqrt(T(1) - b2p) / (T(1) - b1p);
      thread_local std::vector<T*> vp, mp, sp, hp;  // reused: no allocation per step
      thread_local std::vector<const T*> gp;
      thread_local std::vector<int64_t> n;
      vp.clear(), mp.clear(), sp.clear(), hp.clear(), gp.clear(), n.clear();
      for (size_t i : group) {
        vp.push_back(ptr<T>(vars[i]));
        mp.push_back(ptr<T>(ms[i]));
        sp.push_back(ptr<T>(vs[i]));
        if (!vhats.empty()) hp.push_back(ptr<T>(vhats[i]));
        gp.push_back(ptr<T>(grads[i]));
        n.push_back(vars[i]->numel);
      }
      PFT_KERNEL_FOR(v0->device(), adam_update_many<T>)(vp.data(), mp.data(), sp.data(),
                                                        vhats.empty() ? nullptr : hp.data(), gp.data(), n.data(),
                                                        int(group.size()), alpha, T(1.0 - beta_1), T(1.0 - beta_2),
                                                        T(epsilon));
    });
  }
}

}  // namespace ops
}  // namespace pft
