// Glue for device placement: the device an op runs on, and the recorded copy between devices.
#include "ops.h"

namespace pft {
namespace ops {

Device op_device(const char* op, std::initializer_list<const TensorImpl*> ins) {
  if (const Device* scope = scope_device()) return *scope;
  const TensorImpl* first = nullptr;
  const TensorImpl* gpu = nullptr;
  for (const TensorImpl* t : ins)
    if (t) {
      if (!first) first = t;
      if (t->device().type == DeviceType::CUDA && !gpu) gpu = t;
    }
  if (!first) return Device{};
  const TensorImpl* home = gpu ? gpu : first;
  for (const TensorImpl* t : ins) {
    if (!t || t->device() == home->device()) continue;
    if (t->device().type == DeviceType::CPU && t->ndim() == 0) continue;  // a scalar joins the op's device
    throw InvalidArgument(std::string(op) + ": inputs are on different devices (" + describe(*home) + " on " +
                          home->device().str() + ", " + describe(*t) + " on " + t->device().str() +
                          "); move one with .cpu() / .gpu(), or run the op inside tf.device(...), which copies its "
                          "inputs to that device");
  }
  return home->device();
}

static void copy_backward(const TapeEntry& e, const TensorPtr* dout, TensorPtr* din) {
  din[0] = to_device(dout[0], e.in[0]->device());
}
static const OpDef kCopy = {"copy_to_device", copy_backward};

TensorPtr to_device(const TensorPtr& x, const Device& d) {
  if (x->device() == d) return x;
  if (d.type == DeviceType::CUDA) check_gpu("copy to /GPU", d.index);
  TensorPtr out;
  if (x->ndim() == 0 && x->device().type == DeviceType::CPU && x->dtype != DType::Int64) {
    // A host scalar (a Python number): filled on the device from its value, no synchronising copy.
    out = full(x->dtype, Shape{}, item_as_double(*x), d);
  } else {
    out = empty(x->dtype, x->shape, d);
    copy_bytes(out->raw(), d, x->raw(), x->device(), x->nbytes());
  }
  finish_op(&kCopy, "copy_to_device", {x}, out);
  return out;
}

TensorPtr host_copy(const TensorPtr& x) {
  if (x->device().type == DeviceType::CPU) return x;
  auto out = empty(x->dtype, x->shape, Device{});
  copy_bytes(out->raw(), Device{}, x->raw(), x->device(), x->nbytes());
  return out;
}

}  // namespace ops
}  // namespace pft
