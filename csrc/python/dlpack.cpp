#include <cstring>

#include "common.h"

namespace pft::python {
// ---- DLPack (legacy DLManagedTensor, "dltensor" capsules: what NumPy, PyTorch and JAX all accept) ---------
namespace dlpack {
struct DLDevice { int32_t device_type, device_id; };  // kDLCPU = 1, kDLCUDA = 2
struct DLDataType { uint8_t code, bits; uint16_t lanes; };  // kDLInt 0, kDLUInt 1, kDLFloat 2, kDLBool 6
struct DLTensor {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;
  uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor* self);
};
// What an exported capsule owns: the tensor (so the storage stays alive) and its shape.
struct Export {
  DLManagedTensor mt;
  TensorPtr keep;
  int64_t shape[kMaxRank];
};
// The consumer may free its tensor on any thread: the reference is dropped under the GIL (tensor.h), and
// left alone once the interpreter is finalizing (the memory is reclaimed with the process).
static void export_deleter(DLManagedTensor* self) {
  if (!Py_IsInitialized() || _Py_IsFinalizing()) return;
  const PyGILState_STATE st = PyGILState_Ensure();
  delete static_cast<Export*>(self->manager_ctx);
  PyGILState_Release(st);
}
static void capsule_destructor(PyObject* cap) {
  if (!PyCapsule_IsValid(cap, "dltensor")) return;  // consumed ("used_dltensor"): the consumer owns it
  auto* mt = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap, "dltensor"));
  if (mt && mt->deleter) mt->deleter(mt);
}
static DLDataType dl_dtype(DType t) {
  switch (t) {
    case DType::Float32: return {2, 32, 1};
    case DType::Float64: return {2, 64, 1};
    case DType::Int32: return {0, 32, 1};
    case DType::Int64: return {0, 64, 1};
    case DType::Bool: return {6, 8, 1};
  }
  return {2, 32, 1};
}
static PyObject* to_capsule(const TensorPtr& t) {
  if (t->device().type != DeviceType::CPU)
    throw NotImplemented("__dlpack__: only CPU tensors can be exported in this build");
  auto* e = new Export();
  e->keep = t;
  for (int i = 0; i < t->ndim(); i++) e->shape[i] = t->shape.d[i];
  e->mt.dl_tensor = {t->raw(), {1, 0}, t->ndim(), dl_dtype(t->dtype), e->shape, nullptr, 0};
  e->mt.manager_ctx = e;
  e->mt.deleter = export_deleter;
  PyObject* cap = PyCapsule_New(&e->mt, "dltensor", capsule_destructor);
  if (!cap) {
    delete e;
    throw py::error_already_set();
  }
  return cap;
}
static void release_managed(void* ctx, void*) {
  auto* mt = static_cast<DLManagedTensor*>(ctx);
  if (mt->deleter) mt->deleter(mt);
}
// A tensor over a consumed "dltensor" capsule's memory (zero-copy when C-contiguous on the CPU).
static TensorPtr from_capsule(PyObject* cap) {
  if (!PyCapsule_IsValid(cap, "dltensor"))
    throw pft::TypeError("from_dlpack: expected an object with __dlpack__ or an unconsumed 'dltensor' capsule");
  auto* mt = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap, "dltensor"));
  const DLTensor& d = mt->dl_tensor;
  if (d.device.device_type != 1)
    throw InvalidArgument("from_dlpack: the tensor is on device type " + std::to_string(d.device.device_type) +
                          "; this build accepts CPU tensors only (move it to the CPU first)");
  DType dt;
  if (d.dtype.lanes != 1) throw pft::TypeError("from_dlpack: vector (lanes > 1) dtypes are not supported");
  if (d.dtype.code == 2 && d.dtype.bits == 32) dt = DType::Float32;
  else if (d.dtype.code == 2 && d.dtype.bits == 64) dt = DType::Float64;
  else if (d.dtype.code == 0 && d.dtype.bits == 32) dt = DType::Int32;
  else if (d.dtype.code == 0 && d.dtype.bits == 64) dt = DType::Int64;
  else if (d.dtype.code == 6 && d.dtype.bits == 8) dt = DType::Bool;
  else
    throw pft::TypeError("from_dlpack: unsupported dtype (code " + std::to_string(d.dtype.code) + ", " +
                         std::to_string(d.dtype.bits) + " bits); supported: float32, float64, int32, int64, bool");
  if (d.ndim > kMaxRank) throw InvalidArgument("from_dlpack: rank " + std::to_string(d.ndim) + " is above 8");
  Shape s = Shape::of(d.shape, d.ndim);
  bool compact = true;
  if (d.strides) {
    int64_t st = 1;
    for (int i = d.ndim - 1; i >= 0; i--) {
      if (d.shape[i] != 1 && d.strides[i] != st) compact = false;
      st *= d.shape[i];
    }
  }
  PyCapsule_SetName(cap, "used_dltensor");  // we own it now: the producer's deleter runs when we are done
  char* base = static_cast<char*>(d.data) + d.byte_offset;
  if (compact && reinterpret_cast<uintptr_t>(base) % dtype_size(dt) == 0)
    return from_external(base, dt, s, release_managed, mt);
  // Strided (or misaligned) producer memory: one gathered copy.
  auto t = empty(dt, s);
  const size_t es = dtype_size(dt);
  for (int64_t i = 0; i < t->numel; i++) {
    int64_t r = i, off = 0;
    for (int k = d.ndim - 1; k >= 0; k--) {
      off += (r % d.shape[k]) * (d.strides ? d.strides[k] : 0);
      r /= d.shape[k];
    }
    std::memcpy(static_cast<char*>(t->raw()) + i * es, base + off * int64_t(es), es);
  }
  if (mt->deleter) mt->deleter(mt);
  return t;
}
}  // namespace dlpack

PyObject* tensor_dlpack(PyObject* self, PyObject* args, PyObject* kwargs) {
  PFT_TRY
  static const char* kw[] = {"stream", "max_version", "dl_device", "copy", nullptr};
  PyObject *stream = Py_None, *max_version = Py_None, *dl_device = Py_None, *copy = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$OOOO", const_cast<char**>(kw), &stream, &max_version, &dl_device,
                                   &copy))
    return nullptr;
  const TensorPtr& t = impl_of(self);
  if (copy == Py_True) {  // the consumer asked for its own buffer
    auto c = empty(t->dtype, t->shape, t->device());
    if (t->nbytes()) std::memcpy(c->raw(), t->raw(), t->nbytes());
    return dlpack::to_capsule(c);
  }
  return dlpack::to_capsule(t);
  PFT_CATCH(nullptr)
}
PyObject* tensor_dlpack_device(PyObject* self, PyObject*) {
  const TensorPtr& t = impl_of(self);
  return Py_BuildValue("(ii)", t->device().type == DeviceType::CPU ? 1 : 2, t->device().index);
}
void init_dlpack(py::module_& m) {
  m.def("from_dlpack", [](py::handle obj) {
    py::object cap;
    if (PyCapsule_CheckExact(obj.ptr())) {
      cap = py::reinterpret_borrow<py::object>(obj);
    } else if (py::hasattr(obj, "__dlpack__")) {
      cap = obj.attr("__dlpack__")();
    } else {
      throw pft::TypeError("from_dlpack: " + value_repr(obj.ptr()) + " has no __dlpack__ and is not a DLPack capsule");
    }
    return wrap_obj(dlpack::from_capsule(cap.ptr()));
  });
  m.def("to_dlpack", [](py::handle x) {
    return py::reinterpret_steal<py::object>(dlpack::to_capsule(arg_tensor(x, "to_dlpack")));
  });
}

}  // namespace pft::python
