#include "variable.h"

#include <cstring>

#include "ops/ops.h"
#include "provenance.h"

namespace pft {

TensorPtr variable_initial_value(const TensorPtr& src, Device dev) {
  auto t = empty(src->dtype, src->shape, dev);
  if (src->nbytes()) copy_bytes(t->raw(), dev, src->raw(), src->device(), src->nbytes());
  t->flags = kFlagVariable;
  return t;
}

TensorImpl& variable_writable(TensorPtr& cur, bool keep_old) {
  if (cur.use_count() > 1 || cur->storage.use_count() > 1) {
    auto fresh = empty(cur->dtype, cur->shape, cur->device());
    if (keep_old && cur->nbytes()) copy_bytes(fresh->raw(), fresh->device(), cur->raw(), cur->device(), cur->nbytes());
    fresh->id = cur->id;
    fresh->flags = cur->flags;
    cur = std::move(fresh);
  }
  cur->storage->version++;
  return *cur;
}

void variable_assign(TensorPtr& value, const TensorPtr& v, AssignOp kind, const char* op) {
  if (v->dtype != value->dtype)
    throw InvalidArgument(std::string(op) + ": the value has dtype " + dtype_name(v->dtype) + " but the variable is " +
                          describe(*value) + "; cast it with tf.cast");
  if (v->shape != value->shape)
    throw InvalidArgument(std::string(op) + ": cannot assign a value of shape " + v->shape.str() +
                          " to a variable of shape " + value->shape.str());
  if (gen_of(v->flags) || any_tape_active())  // state stops gradients: remember where, for explain()
    log_event(Cause::Assign, op, {v->id}, value->id, v->dtype);
  TensorImpl& dst = variable_writable(value, kind != AssignOp::Assign);
  if (kind == AssignOp::Assign) {
    if (dst.nbytes()) {
      if (v->storage == dst.storage)
        std::memmove(dst.raw(), v->raw(), dst.nbytes());
      else
        copy_bytes(dst.raw(), dst.device(), v->raw(), v->device(), dst.nbytes());
    }
    return;
  }
  // d = d +/- s in place, with the binary kernel of the variable's device.
  const TensorPtr s = ops::to_device(v, dst.device());
  const Shape* ins[2] = {&dst.shape, &s->shape};
  BroadcastPlan plan = make_broadcast_plan(dst.shape, ins, 2);
  dispatch_numeric(dst.dtype, op, [&](auto tag) {
    using T = decltype(tag);
    PFT_KERNEL_FOR(dst.device(), binary_forward<T, T>)(kind == AssignOp::Add ? BinaryOp::Add : BinaryOp::Sub,
                                                       dst.data<T>(), dst.data<T>(), s->data<T>(), plan);
  });
}

}  // namespace pft
