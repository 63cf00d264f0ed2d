// PYBIND11_MODULE(_core): the Python face of the native core, assembled from the parts of csrc/python/
// (docs/ARCHITECTURE.md). Tensor, Variable and the tape are hand-written CPython types; module functions
// are pybind11 functions taking py::handle (one binding per op, no overload sets), the hot ones
// METH_FASTCALL.
#include <omp.h>

#include "common.h"

namespace pft::python {

// Registration, devices, threads, and the few introspection helpers the tests and benchmarks use.
void init_runtime(py::module_& m) {
  m.def("_register", [](py::list dtypes, py::object as_code, py::object shape_cls) {
    for (int i = 0; i < kNumDTypes; i++) g_dtype_objects[i] = py::object(dtypes[size_t(i)]).release().ptr();
    g_as_dtype_code = as_code.inc_ref().ptr();
    g_tensor_shape_cls = shape_cls.inc_ref().ptr();
    set_package_dir(py::str(py::module_::import("os.path").attr("dirname")(py::module_::import("pyfast_tape").attr("__file__"))).ptr());
  });
  m.attr("built_with_cuda") = built_with_cuda();
  m.attr("gpu_emulated") = gpu_emulated();
  m.def("gpu_count", []() { return gpu_count(); }, "GPUs usable now (0 without a CUDA build, driver or device).");
  m.def("gpu_name", [](int i) { check_gpu("gpu_name", i); return gpu_name(i); });
  m.def("push_device", [](int kind, int index) {
        if (kind == 1) check_gpu("tf.device", index);
        push_scope_device(Device{kind == 1 ? DeviceType::CUDA : DeviceType::CPU, index});
      }, "Enters a tf.device scope (kind 0 CPU, 1 GPU); Python's tf.device() calls this.");
  m.def("pop_device", []() { pop_scope_device(); });
  m.def("synchronize", [](int index) {
        check_gpu("synchronize", index);
        py::gil_scoped_release nogil;
        gpu_synchronize(index);
      }, py::arg("index") = 0, "Waits until every kernel queued on /GPU:index has finished.");

  m.def("attach_logits", [](py::handle y, py::handle logits) {
    if (!is_tensor(y.ptr()) || !is_tensor(logits.ptr())) throw pft::TypeError("attach_logits: expected two tensors");
    impl_of(y.ptr())->keras_logits = impl_of(logits.ptr());
  });
  m.def("get_logits", [](py::handle y) -> py::object {
    if (!is_tensor(y.ptr()) || !impl_of(y.ptr())->keras_logits) return py::none();
    return wrap_obj(impl_of(y.ptr())->keras_logits);
  });
  m.def("num_threads", []() { return intra_op_threads(); });
  m.def("set_num_threads", [](int n) {
    if (n < 1) throw InvalidArgument("set_num_threads: the thread count must be >= 1, got " + std::to_string(n));
    set_intra_op_threads(n);
  });

  m.def("device_copy", [](py::handle x) {  // a plain copy on x's device (bench/gpu_bench.py's bandwidth reference)
    TensorPtr t = arg_tensor(x, "device_copy");
    auto out = empty(t->dtype, t->shape, t->device());
    copy_bytes(out->raw(), out->device(), t->raw(), t->device(), t->nbytes());
    return wrap_obj(out);
  });
  m.def("_use_count", [](py::handle x) {  // tests: references to the tensor's header and to its storage
    TensorPtr t = arg_tensor(x, "_use_count");
    return py::make_tuple(t.use_count() - 1, t->storage.use_count());  // less the local copy above
  });
  m.def("alias", [](py::handle x) {
    TensorPtr t = arg_tensor(x, "alias");
    return wrap_obj(alias(t, t->shape));
  });
}

}  // namespace pft::python

PYBIND11_MODULE(_core, m) {
  using namespace pft::python;
  m.doc() = "pyfast_tape native core: tensors, ops, the tape";
  init_errors(m);
  init_tensor_type(m);
  init_variable_type(m);
  init_fast_calls(m);
  init_runtime(m);
  init_functions(m);
  init_dlpack(m);
  init_tape(m);
}
