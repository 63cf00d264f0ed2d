// DLPack exchange, both protocols: the versioned DLPack 1.x (DLManagedTensorVersioned in a
// "dltensor_versioned" capsule, with the read-only and is-copied flags; what a consumer asking with
// max_version=(1, x) gets) and the legacy DLManagedTensor in a "dltensor" capsule (what older consumers and
// to_dlpack get). Zero-copy both ways on the CPU: exported tensors are flagged read-only (tensors are
// immutable), and imported read-only memory is safe because no op writes into its inputs.
#include <cstring>

#include "common.h"

namespace pft::python {
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
struct DLManagedTensor {  // legacy (DLPack < 1.0)
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor* self);
};
struct DLPackVersion { uint32_t major, minor; };
struct DLManagedTensorVersioned {  // DLPack >= 1.0
  DLPackVersion version;
  void* manager_ctx;
  void (*deleter)(DLManagedTensorVersioned* self);
  uint64_t flags;
  DLTensor dl_tensor;
};
constexpr uint64_t kFlagReadOnly = 1ull << 0, kFlagIsCopied = 1ull << 1;
constexpr DLPackVersion kVersion = {1, 0};  // the struct layout this file implements
constexpr const char* kLegacyName = "dltensor";
constexpr const char* kVersionedName = "dltensor_versioned";

// What an exported capsule owns: the tensor (so the storage stays alive) and its shape; one of the two
// managed structs is handed out.
struct Export {
  DLManagedTensor mt;
  DLManagedTensorVersioned mtv;
  TensorPtr keep;
  int64_t shape[kMaxRank];
};
// The consumer may free its tensor on any thread: the reference is dropped under the GIL (tensor.h), and
// left alone once the interpreter is finalizing (the memory is reclaimed with the process).
static void delete_export(void* ctx) {
  if (!Py_IsInitialized() || _Py_IsFinalizing()) return;
  const PyGILState_STATE st = PyGILState_Ensure();
  delete static_cast<Export*>(ctx);
  PyGILState_Release(st);
}
static void export_deleter(DLManagedTensor* self) { delete_export(self->manager_ctx); }
static void export_deleter_v(DLManagedTensorVersioned* self) { delete_export(self->manager_ctx); }
// An unconsumed capsule (still under its first name) frees what it holds; a consumed one was renamed
// "used_..." and its consumer owns it.
static void capsule_destructor(PyObject* cap) {
  if (PyCapsule_IsValid(cap, kLegacyName)) {
    auto* mt = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap, kLegacyName));
    if (mt && mt->deleter) mt->deleter(mt);
  } else if (PyCapsule_IsValid(cap, kVersionedName)) {
    auto* mt = static_cast<DLManagedTensorVersioned*>(PyCapsule_GetPointer(cap, kVersionedName));
    if (mt && mt->deleter) mt->deleter(mt);
  }
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
// A capsule over t's memory: versioned (flags as given) or legacy.
static PyObject* to_capsule(const TensorPtr& t, bool versioned, uint64_t flags) {
  if (t->device().type != DeviceType::CPU)
    throw NotImplemented("__dlpack__: only CPU tensors can be exported in this build; use .cpu() first");
  auto* e = new Export();
  e->keep = t;
  for (int i = 0; i < t->ndim(); i++) e->shape[i] = t->shape.d[i];
  const DLTensor dl = {t->raw(), {1, 0}, t->ndim(), dl_dtype(t->dtype), e->shape, nullptr, 0};
  PyObject* cap;
  if (versioned) {
    e->mtv = {kVersion, e, export_deleter_v, flags, dl};
    cap = PyCapsule_New(&e->mtv, kVersionedName, capsule_destructor);
  } else {
    e->mt = {dl, e, export_deleter};
    cap = PyCapsule_New(&e->mt, kLegacyName, capsule_destructor);
  }
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
static void release_managed_v(void* ctx, void*) {
  auto* mt = static_cast<DLManagedTensorVersioned*>(ctx);
  if (mt->deleter) mt->deleter(mt);
}
// A tensor over a DLTensor's memory (zero-copy when C-contiguous and aligned on the CPU); `release(ctx)`
// hands the producer's memory back once the tensor is done with it.
static TensorPtr import(const DLTensor& d, void (*release)(void*, void*), void* ctx) {
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
  if (d.ndim > kMaxRank || d.ndim < 0)
    throw InvalidArgument("from_dlpack: rank " + std::to_string(d.ndim) + " is outside [0, 8]");
  if (d.ndim > 0 && !d.shape) throw InvalidArgument("from_dlpack: the producer gave no shape");
  Shape s = Shape::of(d.shape, d.ndim);
  checked_nbytes(dt, s, "from_dlpack");  // non-negative dimensions, element and byte counts in range
  bool compact = true;
  if (d.strides) {
    int64_t st = 1;
    for (int i = d.ndim - 1; i >= 0; i--) {
      if (d.shape[i] != 1 && d.strides[i] != st) compact = false;
      st *= d.shape[i];
    }
  }
  char* base = static_cast<char*>(d.data) + d.byte_offset;
  if (compact && reinterpret_cast<uintptr_t>(base) % dtype_size(dt) == 0) return from_external(base, dt, s, release, ctx);
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
  release(ctx, nullptr);
  return t;
}
// A tensor from an unconsumed capsule of either kind; the capsule is marked consumed.
static TensorPtr from_capsule(PyObject* cap) {
  if (PyCapsule_IsValid(cap, kVersionedName)) {
    auto* mt = static_cast<DLManagedTensorVersioned*>(PyCapsule_GetPointer(cap, kVersionedName));
    if (mt->version.major != kVersion.major)
      throw py::buffer_error("from_dlpack: the producer's DLPack version is " + std::to_string(mt->version.major) +
                             "." + std::to_string(mt->version.minor) + "; this build reads major version " +
                             std::to_string(kVersion.major));
    PyCapsule_SetName(cap, "used_dltensor_versioned");  // ours now: the producer's deleter runs when we are done
    return import(mt->dl_tensor, release_managed_v, mt);
  }
  if (PyCapsule_IsValid(cap, kLegacyName)) {
    auto* mt = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap, kLegacyName));
    PyCapsule_SetName(cap, "used_dltensor");
    return import(mt->dl_tensor, release_managed, mt);
  }
  throw pft::TypeError("from_dlpack: expected an object with __dlpack__ or an unconsumed DLPack capsule "
                       "('dltensor' or 'dltensor_versioned')");
}
}  // namespace dlpack

// Tensor.__dlpack__(*, stream=None, max_version=None, dl_device=None, copy=None), as the Python array API
// specifies: a versioned capsule when the consumer's max_version has major >= 1, else a legacy one.
PyObject* tensor_dlpack(PyObject* self, PyObject* args, PyObject* kwargs) {
  PFT_TRY
  static const char* kw[] = {"stream", "max_version", "dl_device", "copy", nullptr};
  PyObject *stream = Py_None, *max_version = Py_None, *dl_device = Py_None, *copy = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$OOOO", const_cast<char**>(kw), &stream, &max_version, &dl_device,
                                   &copy))
    return nullptr;
  const TensorPtr& t = impl_of(self);
  bool versioned = false;
  if (max_version != Py_None) {
    if (!PyTuple_Check(max_version) || PyTuple_GET_SIZE(max_version) != 2)
      throw pft::TypeError("__dlpack__: max_version must be a (major, minor) tuple, got " + value_repr(max_version));
    versioned = int_arg(PyTuple_GET_ITEM(max_version, 0), "__dlpack__", "max_version[0]") >= 1;
  }
  if (dl_device != Py_None) {
    const auto want = py::reinterpret_borrow<py::tuple>(dl_device);
    const int type = t->device().type == DeviceType::CPU ? 1 : 2, index = t->device().index;
    if (want.size() != 2 || want[0].cast<int>() != type || want[1].cast<int>() != index)
      throw py::buffer_error("__dlpack__: the tensor is on " + t->device().str() + " (DLPack device (" +
                             std::to_string(type) + ", " + std::to_string(index) + ")), not on the requested " +
                             value_repr(dl_device) + "; move it first (.cpu() / .gpu())");
  }
  if (copy == Py_True) {  // the consumer asked for its own buffer: a writable copy
    auto c = empty(t->dtype, t->shape, t->device());
    if (t->nbytes()) copy_bytes(c->raw(), c->device(), t->raw(), t->device(), t->nbytes());
    return dlpack::to_capsule(c, versioned, dlpack::kFlagIsCopied);
  }
  if (!versioned) return dlpack::to_capsule(t, false, 0);
  return dlpack::to_capsule(t, true, dlpack::kFlagReadOnly);  // tensors are immutable: the consumer must not write
  PFT_CATCH(nullptr)
}
PyObject* tensor_dlpack_device(PyObject* self, PyObject*) {
  const TensorPtr& t = impl_of(self);
  return Py_BuildValue("(ii)", t->device().type == DeviceType::CPU ? 1 : 2, t->device().index);
}

void init_dlpack(py::module_& m) {
  m.def("from_dlpack", [](py::handle obj) {
    if (PyCapsule_CheckExact(obj.ptr())) return wrap_obj(dlpack::from_capsule(obj.ptr()));
    if (!py::hasattr(obj, "__dlpack__"))
      throw pft::TypeError("from_dlpack: " + value_repr(obj.ptr()) + " has no __dlpack__ and is not a DLPack capsule");
    py::object producer = obj.attr("__dlpack__"), cap;
    try {  // ask for the versioned protocol (it can say read-only); a producer that predates it takes no arguments
      cap = producer(py::arg("max_version") = py::make_tuple(dlpack::kVersion.major, dlpack::kVersion.minor));
    } catch (py::error_already_set& e) {
      if (!e.matches(PyExc_TypeError)) throw;
      cap = producer();
    }
    return wrap_obj(dlpack::from_capsule(cap.ptr()));
  });
  m.def("to_dlpack", [](py::handle x) {  // tf.experimental.dlpack.to_dlpack: a legacy capsule, as TF gives
    return py::reinterpret_steal<py::object>(dlpack::to_capsule(arg_tensor(x, "to_dlpack"), false, 0));
  });
}

}  // namespace pft::python
