// The ops as module functions, one pybind11 function per op (the hot ones are METH_FASTCALL, in
// fast_calls.cpp). Each converts its arguments (args.cpp, convert.cpp) and calls the op (csrc/ops/);
// the families are generated from their tables (csrc/op_tables.h).
#include <pybind11/stl.h>

#include <algorithm>

#include "common.h"

namespace pft::python {
// ---------------------------------------------------------------------------------------------------
#define UNARY_FN(pyname, OP)                                                                      \
  m.def(                                                                                          \
      pyname, [](py::handle x, py::handle) { return wrap_obj(ops::unary(OP, arg_tensor(x, pyname))); }, \
      py::arg(unary_arg_name(OP)), py::arg("name") = py::none())
#define BINARY_FN(pyname, OP)                                                                       \
  m.def(                                                                                            \
      pyname, [](py::handle x, py::handle y, py::handle) { return wrap_obj(binary_any(OP, x.ptr(), y.ptr())); }, \
      py::arg(binary_arg_name(OP, 0)), py::arg(binary_arg_name(OP, 1)), py::arg("name") = py::none())


void init_functions(py::module_& m) {
  // ---- creation / conversion
  m.def(
      "convert", [](py::handle value, py::handle dtype) {
        int hint = opt_dtype(dtype);
        TensorPtr t = to_tensor(value.ptr(), hint, "convert_to_tensor");
        if (hint >= 0 && t->dtype != DType(hint)) {
          if (is_tensorlike(value.ptr()))
            throw InvalidArgument(std::string("convert_to_tensor: requested dtype ") + dtype_name(DType(hint)) +
                                  " for a tensor of dtype " + dtype_name(t->dtype) + " (use tf.cast to change it)");
          t = cast_checked(t, DType(hint), value.ptr(), "convert_to_tensor");
        }
        if (is_tensor(value.ptr())) return py::reinterpret_borrow<py::object>(value);
        return wrap_obj(t);
      },
      py::arg("value"), py::arg("dtype") = py::none());
  m.def("fill_", [](py::handle shape, double value, py::handle dtype) {
    const DType dt = dtype_from_py(dtype);
    const Shape s = parse_shape(shape, "fill");
    checked_nbytes(dt, s, "fill");
    return wrap_obj(full(dt, s, value, scope_device() ? *scope_device() : Device{}));
  });
  m.def("fill_like", [](py::handle x, double value, py::handle dtype) {
    TensorPtr t = arg_tensor(x, "zeros_like");
    DType dt = dtype.is_none() ? t->dtype : dtype_from_py(dtype);
    return wrap_obj(full(dt, t->shape, value, t->device()));
  });
  m.def("range_", [](double start, double limit, double delta, py::handle dtype) {
    return wrap_obj(ops::range(start, limit, delta, dtype_from_py(dtype)));
  });
  m.def("random_normal_", [](py::handle shape, double mean, double stddev, py::handle dtype, uint64_t seed) {
    return wrap_obj(ops::random_normal(parse_shape(shape, "random.normal"), mean, stddev, dtype_from_py(dtype), seed));
  });
  m.def("random_uniform_", [](py::handle shape, double lo, double hi, py::handle dtype, uint64_t seed) {
    return wrap_obj(ops::random_uniform(parse_shape(shape, "random.uniform"), lo, hi, dtype_from_py(dtype), seed));
  });

  // ---- elementwise
  // One function per row of the op tables (csrc/op_tables.h), named by its stem: _core.log1p, _core.add ...
#define PFT_UNARY_BINDING(E, stem, ...) UNARY_FN(#stem, UnaryOp::E);
  PFT_UNARY_OPS(PFT_UNARY_BINDING)
#undef PFT_UNARY_BINDING
#define PFT_BINARY_BINDING(E, stem, ...) BINARY_FN(#stem, BinaryOp::E);
  PFT_BINARY_OPS(PFT_BINARY_BINDING)
  PFT_COMPARISON_OPS(PFT_BINARY_BINDING)
  PFT_LOGICAL_OPS(PFT_BINARY_BINDING)
#undef PFT_BINARY_BINDING
#define PFT_PREDICATE_BINDING(E, stem)                                                                       \
  m.def(                                                                                                     \
      #stem, [](py::handle x, py::handle) { return wrap_obj(ops::predicate(PredicateOp::E, arg_tensor(x, #stem))); }, \
      py::arg("x"), py::arg("name") = py::none());
  PFT_PREDICATE_OPS(PFT_PREDICATE_BINDING)
#undef PFT_PREDICATE_BINDING
  m.def(
      "cast", [](py::handle x, py::handle dtype, py::handle) {
        return wrap_obj(ops::cast(arg_tensor(x, "cast"), dtype_from_py(dtype)));
      },
      py::arg("x"), py::arg("dtype"), py::arg("name") = py::none());
  m.def(
      "identity", [](py::handle x, py::handle) { return wrap_obj(ops::identity(arg_tensor(x, "identity"))); },
      py::arg("input"), py::arg("name") = py::none());
  m.def(
      "stop_gradient",
      [](py::handle x, py::handle) { return wrap_obj(ops::stop_gradient(arg_tensor(x, "stop_gradient"))); },
      py::arg("input"), py::arg("name") = py::none());
  m.def(
      "broadcast_to",
      [](py::handle x, py::handle shape, py::handle) {
        return wrap_obj(ops::broadcast_to(arg_tensor(x, "broadcast_to"), parse_shape(shape, "broadcast_to")));
      },
      py::arg("input"), py::arg("shape"), py::arg("name") = py::none());

  // ---- reductions
  m.def(
      "argmax",
      [](py::handle x, py::handle axis, py::handle output_type, py::handle) {
        int64_t ax = opt_int_arg(axis, 0, "argmax", "axis");
        DType dt = output_type.is_none() ? DType::Int64 : dtype_from_py(output_type);
        return wrap_obj(ops::argmax(arg_tensor(x, "argmax"), ax, false, dt));
      },
      py::arg("input"), py::arg("axis") = py::none(), py::arg("output_type") = py::none(), py::arg("name") = py::none());
  m.def(
      "argmin",
      [](py::handle x, py::handle axis, py::handle output_type, py::handle) {
        int64_t ax = opt_int_arg(axis, 0, "argmin", "axis");
        DType dt = output_type.is_none() ? DType::Int64 : dtype_from_py(output_type);
        return wrap_obj(ops::argmax(arg_tensor(x, "argmin"), ax, true, dt));
      },
      py::arg("input"), py::arg("axis") = py::none(), py::arg("output_type") = py::none(), py::arg("name") = py::none());
  m.def(
      "softmax",
      [](py::handle x, py::handle axis, py::handle) {
        return wrap_obj(ops::softmax(arg_tensor(x, "softmax"), opt_int_arg(axis, -1, "softmax", "axis"), false));
      },
      py::arg("logits"), py::arg("axis") = py::none(), py::arg("name") = py::none());
  m.def(
      "log_softmax",
      [](py::handle x, py::handle axis, py::handle) {
        return wrap_obj(ops::softmax(arg_tensor(x, "log_softmax"), opt_int_arg(axis, -1, "log_softmax", "axis"), true));
      },
      py::arg("logits"), py::arg("axis") = py::none(), py::arg("name") = py::none());

  // ---- linalg / shape
  m.def(
      "reshape",
      [](py::handle x, py::handle shape, py::handle) {
        return wrap_obj(ops::reshape(arg_tensor(x, "reshape"), parse_int_list(shape, "reshape", "shape")));
      },
      py::arg("tensor"), py::arg("shape"), py::arg("name") = py::none());
  m.def(
      "transpose",
      [](py::handle x, py::handle perm, bool, py::handle) {
        std::optional<std::vector<int64_t>> p;
        if (!perm.is_none()) p = parse_int_list(perm, "transpose", "perm");
        return wrap_obj(ops::transpose(arg_tensor(x, "transpose"), p));
      },
      py::arg("a"), py::arg("perm") = py::none(), py::arg("conjugate") = false, py::arg("name") = py::none());
  m.def(
      "one_hot",
      [](py::handle indices, py::handle depth, py::handle on, py::handle off, py::handle axis, py::handle dtype,
         py::handle) {
        const int hint = opt_dtype(dtype);  // with a dtype, Python scalars for on/off take it
        TensorPtr ton = on.is_none() ? nullptr : arg_tensor(on, "one_hot", hint);
        TensorPtr toff = off.is_none() ? nullptr : arg_tensor(off, "one_hot", hint);
        return wrap_obj(ops::one_hot(arg_tensor(indices, "one_hot"), int_arg(depth, "one_hot", "depth"), ton, toff,
                                     opt_int_arg(axis, -1, "one_hot", "axis"),
                                     hint < 0 ? std::nullopt : std::optional<DType>(DType(hint))));
      },
      py::arg("indices"), py::arg("depth"), py::arg("on_value") = py::none(), py::arg("off_value") = py::none(),
      py::arg("axis") = py::none(), py::arg("dtype") = py::none(), py::arg("name") = py::none());

  // ---- fused ops
  m.def(
      "dense",
      [](py::handle x, py::handle w, py::handle b, int act) {
        TensorPtr tx, tw;
        convert_pair(x.ptr(), w.ptr(), "dense", tx, tw);
        TensorPtr tb = b.is_none() ? nullptr : to_tensor(b.ptr(), int(tx->dtype), "dense");
        return wrap_obj(ops::dense(tx, tw, tb, Activation(act)));
      },
      py::arg("x"), py::arg("kernel"), py::arg("bias") = py::none(), py::arg("activation") = int(Activation::Linear));
  {  // the activation codes dense takes, by Keras name: _core.ACTIVATIONS["relu"]
    py::dict acts;
#define PFT_ACTIVATION_CODE(E, stem) acts[#stem] = int(Activation::E);
    PFT_ACTIVATIONS(PFT_ACTIVATION_CODE)
#undef PFT_ACTIVATION_CODE
    m.attr("ACTIVATIONS") = acts;
  }
  m.def(
      "softmax_cross_entropy",
      [](py::handle labels, py::handle logits, double smoothing) {
        TensorPtr z = to_tensor(logits.ptr(), -1, "softmax_cross_entropy");
        TensorPtr y = to_tensor(labels.ptr(), int(z->dtype), "softmax_cross_entropy");
        return wrap_obj(ops::softmax_cross_entropy(y, z, smoothing));
      },
      py::arg("labels"), py::arg("logits"), py::arg("label_smoothing") = 0.0);
  m.def(
      "sparse_softmax_cross_entropy",
      [](py::handle labels, py::handle logits) {
        TensorPtr z = to_tensor(logits.ptr(), -1, "sparse_softmax_cross_entropy");
        TensorPtr y = to_tensor(labels.ptr(), -1, "sparse_softmax_cross_entropy");
        return wrap_obj(ops::sparse_softmax_cross_entropy(y, z));
      },
      py::arg("labels"), py::arg("logits"));
  m.def(
      "sparse_softmax_cross_entropy_mean",
      [](py::handle labels, py::handle logits) {
        TensorPtr z = to_tensor(logits.ptr(), -1, "sparse_softmax_cross_entropy");
        TensorPtr y = to_tensor(labels.ptr(), -1, "sparse_softmax_cross_entropy");
        return wrap_obj(ops::sparse_softmax_cross_entropy_mean(y, z));
      },
      py::arg("labels"), py::arg("logits"));
  // The pointwise losses, one function per row of PFT_POINTWISE_LOSSES: _core.huber(y_true, y_pred, delta) ...
#define PFT_POINTWISE_LOSS_BINDING(E, stem)                                         \
  m.def(                                                                            \
      #stem,                                                                        \
      [](py::handle target, py::handle pred, double param) {                        \
        TensorPtr p = to_tensor(pred.ptr(), -1, #stem);                             \
        TensorPtr t = to_tensor(target.ptr(), int(p->dtype), #stem);                \
        return wrap_obj(ops::pointwise_loss(PointwiseLoss::E, t, p, param));        \
      },                                                                            \
      py::arg("y_true"), py::arg("y_pred"), py::arg("param") = 0.0);
  PFT_POINTWISE_LOSSES(PFT_POINTWISE_LOSS_BINDING)
#undef PFT_POINTWISE_LOSS_BINDING
  m.def("strided_slice", [](py::handle x, std::vector<int64_t> begin, std::vector<int64_t> size,
                            std::vector<int64_t> step) {
    return wrap_obj(ops::strided_slice(arg_tensor(x, "strided_slice"), begin, size, step));
  });
}

}  // namespace pft::python
