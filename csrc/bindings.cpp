// PYBIND11_MODULE(_core): the Python face of the native core.
//
// Tensor and the Variable base are small hand-written CPython types (operator slots in C, each holding
// a shared_ptr<TensorImpl>): DESIGN §3 measured ~100 ns per recorded op this way against ~316 ns with
// py::class_. Module functions are pybind11 functions taking py::handle (one binding per op, no
// overload sets), converting scalars/arrays/lists in C++.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <random>

#include <omp.h>

#include "ops/ops.h"
#include "provenance.h"
#include "tape.h"
#include "tensor.h"

namespace py = pybind11;
using namespace pft;

// ---------------------------------------------------------------------------------------------------
// Exceptions
static PyObject* g_InvalidArgumentError = nullptr;
static PyObject* g_ResourceExhaustedError = nullptr;

// Converts the in-flight C++ exception into a Python error. Nothing escapes the bindings.
static void set_python_error() {
  try {
    throw;
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (const py::builtin_exception& e) {
    e.set_error();
  } catch (const InvalidArgument& e) {
    PyErr_SetString(g_InvalidArgumentError, e.what());
  } catch (const pft::TypeError& e) {
    PyErr_SetString(PyExc_TypeError, e.what());
  } catch (const NotImplemented& e) {
    PyErr_SetString(PyExc_NotImplementedError, e.what());
  } catch (const ResourceExhausted& e) {
    PyErr_SetString(g_ResourceExhaustedError, e.what());
  } catch (const pft::RuntimeError& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  } catch (const std::bad_alloc&) {
    PyErr_SetString(g_ResourceExhaustedError, "out of memory on the CPU");
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  } catch (...) {
    PyErr_SetString(PyExc_RuntimeError, "unknown C++ exception in pyfast_tape");
  }
}

#define PFT_TRY try {
#define PFT_CATCH(ret)    \
  }                       \
  catch (...) {           \
    set_python_error();   \
    return ret;           \
  }

// ---------------------------------------------------------------------------------------------------
// Registered Python objects (set once from pyfast_tape/__init__.py)
static PyObject* g_dtype_objects[kNumDTypes] = {};
static PyObject* g_as_dtype_code = nullptr;   // python callable: anything -> int code
static PyObject* g_tensor_shape_cls = nullptr;  // TensorShape(tuple)

// ---------------------------------------------------------------------------------------------------
// The Tensor type
struct PyTensor {
  PyObject_HEAD
  TensorPtr impl;
};
// The Variable base type: holds the current value; its impl id is the variable's id for its lifetime.
struct PyVariable {
  PyObject_HEAD
  TensorPtr value;
  bool trainable;
  PyObject* dict;
  PyObject* weakrefs;
};

extern PyTypeObject TensorType;
extern PyTypeObject VariableType;

static inline bool is_tensor(PyObject* o) { return Py_TYPE(o) == &TensorType; }
static const TensorPtr& impl_of(PyObject* self);
static inline bool is_variable(PyObject* o) { return PyObject_TypeCheck(o, &VariableType); }

static PyObject* wrap(TensorPtr t) {
  PyTensor* o = PyObject_New(PyTensor, &TensorType);
  if (!o) throw std::bad_alloc();
  new (&o->impl) TensorPtr(std::move(t));
  return reinterpret_cast<PyObject*>(o);
}
static py::object wrap_obj(TensorPtr t) { return py::reinterpret_steal<py::object>(wrap(std::move(t))); }

// A Variable read: the current value, watched on the active tapes (trainable variables).
static inline const TensorPtr& read_variable(PyObject* o) {
  PyVariable* v = reinterpret_cast<PyVariable*>(o);
  if (!v->value) throw pft::RuntimeError("Variable used before it was initialised");
  if (any_tape_active() || !variable_watchers().empty()) on_variable_read(v->value->id, o, v->trainable);
  return v->value;
}

// ---- NumPy <-> Tensor ------------------------------------------------------------------------------
static int numpy_typenum(DType t) {
  switch (t) {
    case DType::Float32: return py::detail::npy_api::NPY_FLOAT_;
    case DType::Float64: return py::detail::npy_api::NPY_DOUBLE_;
    case DType::Int32: return py::detail::npy_api::NPY_INT32_;
    case DType::Int64: return py::detail::npy_api::NPY_INT64_;
    case DType::Bool: return py::detail::npy_api::NPY_BOOL_;
  }
  return 0;
}

static py::dtype numpy_dtype(DType t) { return py::dtype(numpy_typenum(t)); }

// Maps a NumPy dtype to ours: exact for the five supported dtypes, value-preserving widening for the
// small integer/float types, an error for everything else.
static bool dtype_from_numpy(const py::dtype& d, DType* out, bool* widened) {
  char kind = d.kind();
  size_t size = d.itemsize();
  *widened = false;
  if (kind == 'f') {
    if (size == 4) { *out = DType::Float32; return true; }
    if (size == 8) { *out = DType::Float64; return true; }
    if (size == 2) { *out = DType::Float32; *widened = true; return true; }
    return false;
  }
  if (kind == 'i') {
    if (size == 4) { *out = DType::Int32; return true; }
    if (size == 8) { *out = DType::Int64; return true; }
    *out = DType::Int32; *widened = true; return true;
  }
  if (kind == 'u') {
    if (size <= 2) { *out = DType::Int32; *widened = true; return true; }
    *out = DType::Int64; *widened = true; return true;  // uint32 fits; uint64 may not (checked by numpy cast)
  }
  if (kind == 'b') { *out = DType::Bool; return true; }
  return false;
}

// A tensor rebuilt from NumPy memory that came out of a tensor (its .numpy() view, found through the
// array's base chain) or of a Variable (its .numpy() copy, by data pointer): log the round trip.
static void trace_numpy_round_trip(PyObject* arr, TensorImpl& t);

static void release_pyobject(void* ctx, void*) {
  PyGILState_STATE st = PyGILState_Ensure();
  Py_DECREF(reinterpret_cast<PyObject*>(ctx));
  PyGILState_Release(st);
}

// A tensor over an ndarray's memory (zero-copy) when it is C-contiguous, aligned and of a supported
// dtype; otherwise over a contiguous copy.
static TensorPtr from_numpy(py::array arr, const char* op) {
  DType dt;
  bool widened;
  const py::dtype npd = arr.dtype();
  if (!dtype_from_numpy(npd, &dt, &widened) || (npd.kind() == 'u' && npd.itemsize() == 8))
    throw pft::TypeError(std::string(op) + ": cannot convert a NumPy array of dtype " + std::string(py::str(npd)) +
                         " to a tensor (supported: float32, float64, int32, int64, bool, and the smaller integer and "
                         "float types, which are widened)");
  // Non-native byte order (e.g. '>f4' on x86) and widened types are converted to a native copy.
  if (widened || npd.byteorder() == '>' || npd.byteorder() == '<') {
    bool native = npd.attr("isnative").cast<bool>();
    if (widened || !native) arr = py::array(arr.attr("astype")(numpy_dtype(dt)));
  }
  const int flags = py::detail::array_proxy(arr.ptr())->flags;
  if (!(flags & py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_) || !(flags & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
    arr = py::array(arr.attr("copy")("C"));  // a fresh copy: C-contiguous and aligned (ensure() keeps misalignment)
  if (arr.ndim() > kMaxRank)
    throw InvalidArgument("tensors of rank > 8 are not supported (got an array of rank " + std::to_string(arr.ndim()) + ")");
  Shape s;
  for (py::ssize_t i = 0; i < arr.ndim(); i++) s.push_back(arr.shape(i));
  void* data = const_cast<void*>(arr.data());
  PyObject* owner = arr.release().ptr();  // the storage owns this reference
  auto t = from_external(data, dt, s, release_pyobject, owner);
  trace_numpy_round_trip(owner, *t);
  return t;
}

// A read-only ndarray over a tensor's memory; `owner` (the Python tensor) keeps the storage alive.
static py::array to_numpy_copy(const TensorPtr& t);
static py::array to_numpy_view(const TensorPtr& t, py::handle owner) {
  if (t->device().type != DeviceType::CPU) return to_numpy_copy(t);  // GPU memory: copied to the host
  std::vector<py::ssize_t> shape(t->shape.d, t->shape.d + t->shape.ndim);
  py::array arr(numpy_dtype(t->dtype), shape, {}, t->raw(), owner);
  py::detail::array_proxy(arr.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return arr;
}

static py::array to_numpy_copy(const TensorPtr& t) {
  std::vector<py::ssize_t> shape(t->shape.d, t->shape.d + t->shape.ndim);
  py::array arr(numpy_dtype(t->dtype), shape);
  if (t->nbytes()) {
    ops::GILRelease nogil(t->device().type != DeviceType::CPU);  // a device-to-host copy waits for the GPU
    copy_bytes(arr.mutable_data(), Device{}, t->raw(), t->device(), t->nbytes());
  }
  return arr;
}

static PyObject* np_asarray() {
  static PyObject* f = py::object(py::module_::import("numpy").attr("asarray")).release().ptr();  // never freed: outlives exit
  return f;
}

static void trace_numpy_round_trip(PyObject* arr, TensorImpl& t) {
  const void* data = py::detail::array_proxy(arr)->data;
  int64_t from = 0;
  uint32_t g = 0;
  PyObject* base = arr;
  for (int depth = 0; base && depth < 16; depth++) {
    if (is_tensor(base)) {
      from = impl_of(base)->id;
      g = gen_of(impl_of(base)->flags);
      break;
    }
    if (!py::isinstance<py::array>(base)) break;
    base = py::detail::array_proxy(base)->base;
  }
  if (!from) from = find_numpy_export(data);
  if (!from || (!g && !any_tape_active() && from != find_numpy_export(data))) return;
  log_event(Cause::NumpyRoundTrip, "numpy", {from}, t.id, t.dtype);
  t.flags = with_gen(t.flags, std::max<uint32_t>(g, 1) + 1);
}

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

// ---- Python value -> tensor --------------------------------------------------------------------------
static DType dtype_from_py(py::handle h) {
  if (!g_as_dtype_code) throw pft::RuntimeError("pyfast_tape._core used before pyfast_tape was imported");
  py::object code = py::reinterpret_steal<py::object>(PyObject_CallOneArg(g_as_dtype_code, h.ptr()));
  if (!code) throw py::error_already_set();
  return DType(code.cast<int>());
}

static const char* py_type_name(PyObject* o) { return Py_TYPE(o)->tp_name; }

static std::string value_repr(PyObject* o) {
  PyObject* r = PyObject_Repr(o);
  if (!r) {
    PyErr_Clear();
    return "<?>";
  }
  std::string s = PyUnicode_AsUTF8(r);
  Py_DECREF(r);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

static TensorPtr cast_checked(const TensorPtr& t, DType want, PyObject* src, const char* op) {
  if (t->dtype == want) return t;
  bool ok = (is_floating(want) && (is_floating(t->dtype) || is_integer(t->dtype))) ||
            (is_integer(want) && is_integer(t->dtype));
  if (!ok)
    throw pft::TypeError(std::string(op) + ": cannot convert " + value_repr(src) + " (" + dtype_name(t->dtype) +
                         ") to a tensor of dtype " + dtype_name(want) + " without losing information; use tf.cast");
  if (want == DType::Int32 && t->dtype == DType::Int64) {  // values, not bits: never wrap silently
    const int64_t* p = t->data<int64_t>();
    for (int64_t i = 0; i < t->numel; i++)
      if (p[i] > INT32_MAX || p[i] < INT32_MIN)
        throw InvalidArgument(std::string(op) + ": value " + std::to_string(p[i]) + " in " + value_repr(src) +
                              " is out of range for int32; use int64");
  }
  // A freshly converted value is not on any tape: cast it directly.
  return ops::cast(t, want);
}

// Converts any Python value to a tensor. `hint` (or -1) is the dtype the op needs: Python scalars take
// it, NumPy arrays are cast to it where no information is lost, tensors are returned as they are (the
// op checks dtypes and raises on a mismatch: no silent promotion).
static TensorPtr to_host_tensor(PyObject* o, int hint, const char* op);
static TensorPtr to_tensor(PyObject* o, int hint, const char* op) {
  if (is_tensor(o)) return reinterpret_cast<PyTensor*>(o)->impl;
  if (is_variable(o)) return read_variable(o);
  TensorPtr t = to_host_tensor(o, hint, op);
  // A new constant inside tf.device(...) lives on that device (a scalar is filled there, no copy).
  if (const Device* d = scope_device())
    if (t->device() != *d) return ops::to_device(t, *d);
  return t;
}
static TensorPtr to_host_tensor(PyObject* o, int hint, const char* op) {
  if (PyFloat_CheckExact(o)) {  // not np.float64 (a float subclass): NumPy scalars keep their dtype
    double v = PyFloat_AS_DOUBLE(o);
    if (hint < 0) return scalar(DType::Float32, v);
    DType h = DType(hint);
    if (!is_floating(h))
      throw pft::TypeError(std::string(op) + ": cannot convert " + value_repr(o) + " to a tensor of dtype " +
                           dtype_name(h) + " (a float into an integer/bool tensor); use tf.cast or an integer value");
    return scalar(h, v);
  }
  if (PyBool_Check(o)) {
    if (hint >= 0 && DType(hint) != DType::Bool)
      throw pft::TypeError(std::string(op) + ": cannot convert " + value_repr(o) + " to a tensor of dtype " +
                           dtype_name(DType(hint)));
    return scalar(DType::Bool, o == Py_True ? 1.0 : 0.0);
  }
  if (PyLong_CheckExact(o)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow) throw InvalidArgument(std::string(op) + ": integer " + value_repr(o) + " is out of range for int64");
    DType dt;
    if (hint >= 0) {
      dt = DType(hint);
      if (dt == DType::Bool)
        throw pft::TypeError(std::string(op) + ": cannot convert " + value_repr(o) + " to a tensor of dtype bool");
      if (dt == DType::Int32 && (v > INT32_MAX || v < INT32_MIN))
        throw InvalidArgument(std::string(op) + ": integer " + value_repr(o) + " is out of range for int32");
    } else {
      dt = (v > INT32_MAX || v < INT32_MIN) ? DType::Int64 : DType::Int32;
    }
    if (dt == DType::Int64) {
      auto t = empty(DType::Int64, Shape{});
      *t->data<int64_t>() = v;
      return t;
    }
    return scalar(dt, double(v));
  }
  if (py::isinstance<py::array>(o)) {
    auto t = from_numpy(py::reinterpret_borrow<py::array>(o), op);
    return hint >= 0 ? cast_checked(t, DType(hint), o, op) : t;
  }
  if (PyList_Check(o) || PyTuple_Check(o) || PyObject_HasAttrString(o, "__array__") ||
      PyObject_CheckBuffer(o) || PyNumber_Check(o)) {
    // Nested Python sequences and NumPy scalars: NumPy parses them; Python floats default to float32
    // and Python ints to int32 (TF's rules), NumPy scalars keep their dtype.
    bool python_seq = PyList_Check(o) || PyTuple_Check(o);
    py::array arr;
    try {
      arr = py::array(py::reinterpret_borrow<py::object>(np_asarray())(py::handle(o)));
    } catch (py::error_already_set& e) {
      if (e.matches(PyExc_ValueError))  // ragged nesting: a value error, as in TF
        throw InvalidArgument(std::string(op) + ": cannot convert " + value_repr(o) +
                              " to a tensor: nested lists must have one rectangular shape");
      throw pft::TypeError(std::string(op) + ": cannot convert " + value_repr(o) + " (" + py_type_name(o) +
                           ") to a tensor");
    }
    if (arr.dtype().kind() == 'O' || arr.dtype().kind() == 'U' || arr.dtype().kind() == 'S')
      throw pft::TypeError(std::string(op) + ": cannot convert " + value_repr(o) + " (" + py_type_name(o) +
                           ") to a tensor: it is not a (nested) list of numbers of one shape");
    auto t = from_numpy(arr, op);
    if (!python_seq && !py::isinstance<py::array>(o)) {  // a NumPy scalar: was it a tensor's .numpy()?
      if (int64_t from = find_numpy_export(o)) {
        log_event(Cause::NumpyRoundTrip, "numpy", {from}, t->id, t->dtype);
        t->flags = with_gen(t->flags, 2);
      }
    }
    if (hint >= 0) return cast_checked(t, DType(hint), o, op);
    if (python_seq) {
      if (t->dtype == DType::Float64) return ops::cast(t, DType::Float32);
      if (t->dtype == DType::Int64) {
        const int64_t* p = t->data<int64_t>();
        bool fits = true;
        for (int64_t i = 0; i < t->numel; i++)
          if (p[i] > INT32_MAX || p[i] < INT32_MIN) fits = false;
        if (fits) return ops::cast(t, DType::Int32);
      }
    }
    return t;
  }
  throw pft::TypeError(std::string(op) + ": cannot convert " + value_repr(o) + " (" + py_type_name(o) +
                       ") to a tensor; expected a tensor, Variable, number, list or NumPy array");
}

static bool is_convertible(PyObject* o) {
  return is_tensor(o) || is_variable(o) || PyFloat_Check(o) || PyLong_Check(o) || PyList_Check(o) ||
         PyTuple_Check(o) || py::isinstance<py::array>(o) || PyObject_HasAttrString(o, "__array__");
}
static inline bool is_tensorlike(PyObject* o) { return is_tensor(o) || is_variable(o); }

// Converts the inputs of a same-dtype op: the first tensor among them fixes the dtype and the others
// are converted to it (TF's args_to_matching_eager); with no tensor, the first value's own dtype.
// A Python float operand of a floating tensor op (`0.5 * x`, `x - delta`): the 0-d constant comes from a
// small cache keyed by dtype and value, so a loss written with literals does not build the same
// constants every step. The cached tensors never reach user code (only the op and its tape entry hold
// them), so sharing one among ops is invisible: tensors are immutable, and a Variable write is
// copy-on-write when its storage is shared.
static TensorPtr float_operand(PyObject* o, const TensorPtr& other, const char* op) {
  if (!PyFloat_CheckExact(o) || !is_floating(other->dtype) || scope_device()) return to_tensor(o, int(other->dtype), op);
  constexpr int kSlots = 16;
  struct Slot {
    uint64_t bits;
    DType dt;
    TensorPtr t;
  };
  static Slot cache[kSlots];  // used under the GIL; not thread_local (tensor.h: no tensor in thread-local storage)
  const double v = PyFloat_AS_DOUBLE(o);
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  Slot& s = cache[((bits * 0x9E3779B97F4A7C15ull) >> 60 ^ uint64_t(other->dtype)) & (kSlots - 1)];
  if (s.t && s.bits == bits && s.dt == other->dtype) return s.t;
  s.t = scalar(other->dtype, v);
  s.bits = bits;
  s.dt = other->dtype;
  return s.t;
}

static void convert_pair(PyObject* a, PyObject* b, const char* op, TensorPtr& ta, TensorPtr& tb) {
  if (is_tensorlike(a)) {
    ta = to_tensor(a, -1, op);
    tb = float_operand(b, ta, op);
  } else if (is_tensorlike(b)) {
    tb = to_tensor(b, -1, op);
    ta = float_operand(a, tb, op);
  } else {
    ta = to_tensor(a, -1, op);
    tb = to_tensor(b, int(ta->dtype), op);
  }
}

static TensorPtr binary_any(BinaryOp op, PyObject* a, PyObject* b) {
  TensorPtr ta, tb;
  convert_pair(a, b, binary_name(op), ta, tb);
  if (op == BinaryOp::Div && is_integer(ta->dtype) && ta->dtype == tb->dtype) {
    // TF's truediv: integer tensors are divided as float64
    ta = ops::cast(ta, DType::Float64);
    tb = ops::cast(tb, DType::Float64);
  }
  return ops::binary(op, ta, tb);
}

// ---- number slots (shared by Tensor and Variable) -----------------------------------------------------
template <BinaryOp OP>
static PyObject* nb_binary(PyObject* a, PyObject* b) {
  PFT_TRY
  if (!is_convertible(is_tensorlike(a) ? b : a)) Py_RETURN_NOTIMPLEMENTED;
  return wrap(binary_any(OP, a, b));
  PFT_CATCH(nullptr)
}
static PyObject* nb_power(PyObject* a, PyObject* b, PyObject* mod) {
  if (mod != Py_None) Py_RETURN_NOTIMPLEMENTED;
  return nb_binary<BinaryOp::Pow>(a, b);
}
static PyObject* nb_matmul(PyObject* a, PyObject* b) {
  PFT_TRY
  if (!is_convertible(is_tensorlike(a) ? b : a)) Py_RETURN_NOTIMPLEMENTED;
  TensorPtr ta, tb;
  convert_pair(a, b, "matmul", ta, tb);
  return wrap(ops::matmul(ta, tb, false, false));
  PFT_CATCH(nullptr)
}
template <UnaryOp OP>
static PyObject* nb_unary(PyObject* a) {
  PFT_TRY
  return wrap(ops::unary(OP, to_tensor(a, -1, unary_name(OP))));
  PFT_CATCH(nullptr)
}

static TensorPtr single_element(PyObject* self, const char* what) {
  TensorPtr t = to_tensor(self, -1, what);
  if (t->numel != 1)
    throw pft::TypeError(std::string(what) + "() needs a tensor with exactly one element, got " + describe(*t));
  return t;
}
static PyObject* nb_float(PyObject* self) {
  PFT_TRY
  return PyFloat_FromDouble(item_as_double(*single_element(self, "float")));
  PFT_CATCH(nullptr)
}
static PyObject* nb_int(PyObject* self) {
  PFT_TRY
  auto t = single_element(self, "int");
  if (t->dtype == DType::Int64) return PyLong_FromLongLong(*t->data<int64_t>());
  return PyLong_FromDouble(item_as_double(*t));
  PFT_CATCH(nullptr)
}
static PyObject* nb_index(PyObject* self) {
  PFT_TRY
  auto t = to_tensor(self, -1, "__index__");
  if (!is_integer(t->dtype) || t->ndim() != 0)
    throw pft::TypeError("only integer scalar tensors can be used as an index, got " + describe(*t));
  return PyLong_FromLongLong(int64_t(item_as_double(*t)));
  PFT_CATCH(nullptr)
}
static int nb_bool(PyObject* self) {
  PFT_TRY
  auto t = to_tensor(self, -1, "bool");
  if (t->numel != 1)
    throw InvalidArgument("The truth value of a tensor with " + std::to_string(t->numel) +
                          " elements is ambiguous (" + describe(*t) + "); reduce it to one element first");
  return item_as_double(*t) != 0.0;
  PFT_CATCH(-1)
}

static PyNumberMethods tensor_as_number = [] {
  PyNumberMethods m{};
  m.nb_add = nb_binary<BinaryOp::Add>;
  m.nb_subtract = nb_binary<BinaryOp::Sub>;
  m.nb_multiply = nb_binary<BinaryOp::Mul>;
  m.nb_true_divide = nb_binary<BinaryOp::Div>;
  m.nb_power = nb_power;
  m.nb_matrix_multiply = nb_matmul;
  m.nb_negative = nb_unary<UnaryOp::Neg>;
  m.nb_absolute = nb_unary<UnaryOp::Abs>;
  m.nb_float = nb_float;
  m.nb_int = nb_int;
  m.nb_index = nb_index;
  m.nb_bool = nb_bool;
  return m;
}();

static PyObject* tp_richcompare(PyObject* a, PyObject* b, int opid) {
  PFT_TRY
  if (!is_convertible(b)) {
    if (opid == Py_EQ) Py_RETURN_FALSE;  // TF: comparing with None or another type is False/True
    if (opid == Py_NE) Py_RETURN_TRUE;
    Py_RETURN_NOTIMPLEMENTED;
  }
  BinaryOp op;
  switch (opid) {
    case Py_LT: op = BinaryOp::Less; break;
    case Py_LE: op = BinaryOp::LessEqual; break;
    case Py_GT: op = BinaryOp::Greater; break;
    case Py_GE: op = BinaryOp::GreaterEqual; break;
    case Py_EQ: op = BinaryOp::Equal; break;
    default: op = BinaryOp::NotEqual; break;
  }
  if (op == BinaryOp::Equal || op == BinaryOp::NotEqual) {
    TensorPtr ta, tb;
    convert_pair(a, b, binary_name(op), ta, tb);
    if (ta->dtype == tb->dtype) {
      try {
        ops::broadcast_shapes("equal", ta->shape, tb->shape);
      } catch (const InvalidArgument&) {  // TF: incomparable shapes are simply not equal
        return wrap(scalar(DType::Bool, op == BinaryOp::NotEqual ? 1.0 : 0.0));
      }
    }
    return wrap(ops::binary(op, ta, tb));
  }
  return wrap(binary_any(op, a, b));
  PFT_CATCH(nullptr)
}

static Py_hash_t tensor_hash(PyObject* self) {
  PyErr_SetString(PyExc_TypeError, is_variable(self)
                                       ? "Variable is unhashable. Instead, use variable.ref() as the key."
                                       : "Tensor is unhashable. Instead, use tensor.ref() as the key.");
  return -1;
}

// ---- Tensor methods and properties ---------------------------------------------------------------------
static const TensorPtr& impl_of(PyObject* self) { return reinterpret_cast<PyTensor*>(self)->impl; }

static PyObject* shape_object(const Shape& s) {
  PyObject* tup = PyTuple_New(s.ndim);
  if (!tup) return nullptr;
  for (int i = 0; i < s.ndim; i++) PyTuple_SET_ITEM(tup, i, PyLong_FromLongLong(s.d[i]));
  if (!g_tensor_shape_cls) return tup;
  PyObject* r = PyObject_CallOneArg(g_tensor_shape_cls, tup);
  Py_DECREF(tup);
  return r;
}
static PyObject* dtype_object(DType t) {
  PyObject* o = g_dtype_objects[int(t)];
  if (!o) return PyUnicode_FromString(dtype_name(t));
  Py_INCREF(o);
  return o;
}

static PyObject* tensor_numpy(PyObject* self, PyObject*) {
  PFT_TRY
  const TensorPtr& t = impl_of(self);
  if (t->ndim() == 0) {  // TF returns a NumPy scalar for a rank-0 tensor
    py::array a = to_numpy_copy(t);
    PyObject* empty_tuple = PyTuple_New(0);
    PyObject* r = PyObject_GetItem(a.ptr(), empty_tuple);
    Py_DECREF(empty_tuple);
    if (r && gen_of(t->flags)) note_numpy_export(r, t->id);  // a round trip of the scalar can be traced
    return r;
  }
  return to_numpy_view(t, self).release().ptr();
  PFT_CATCH(nullptr)
}

static PyObject* tensor_array(PyObject* self, PyObject* args, PyObject* kwargs) {
  PFT_TRY
  static const char* kw[] = {"dtype", "copy", nullptr};
  PyObject* dtype = Py_None;
  PyObject* copy = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OO", const_cast<char**>(kw), &dtype, &copy)) return nullptr;
  const TensorPtr& t = impl_of(self);
  py::object arr = (copy == Py_True) ? py::object(to_numpy_copy(t)) : py::object(to_numpy_view(t, self));
  if (dtype != Py_None) arr = arr.attr("astype")(py::handle(dtype));
  return arr.release().ptr();
  PFT_CATCH(nullptr)
}

static PyObject* tensor_repr_impl(PyObject* self, bool as_str) {
  PFT_TRY
  const TensorPtr& t = impl_of(self);
  py::object arr = to_numpy_view(t, self);
  std::string shape = "(";
  for (int i = 0; i < t->ndim(); i++) shape += std::to_string(t->shape.d[i]) + (t->ndim() == 1 || i + 1 < t->ndim() ? (i + 1 < t->ndim() ? ", " : ",") : "");
  shape += ")";
  std::string s;
  if (as_str)
    s = "tf.Tensor(" + std::string(py::str(arr)) + ", shape=" + shape + ", dtype=" + dtype_name(t->dtype) + ")";
  else  // TF shows a rank-0 value bare (numpy=1.5), arrays by their repr
    s = "<tf.Tensor: shape=" + shape + ", dtype=" + dtype_name(t->dtype) + ", numpy=" +
        std::string(t->ndim() == 0 ? py::str(arr) : py::repr(arr)) + ">";
  return PyUnicode_FromString(s.c_str());
  PFT_CATCH(nullptr)
}
static PyObject* tensor_repr(PyObject* self) { return tensor_repr_impl(self, false); }
static PyObject* tensor_str(PyObject* self) { return tensor_repr_impl(self, true); }

static Py_ssize_t tensor_len(PyObject* self) {
  PFT_TRY
  const TensorPtr& t = is_variable(self) ? reinterpret_cast<PyVariable*>(self)->value : impl_of(self);
  if (t->ndim() == 0) throw pft::TypeError("len() of unsized object: the tensor is a scalar (rank 0)");
  return Py_ssize_t(t->shape.d[0]);
  PFT_CATCH(-1)
}

// The shape as a plain tuple of ints: what the library's own Python code reads (a TensorShape object
// costs about a microsecond to build).
static PyObject* shape_tuple(const Shape& s) {
  PyObject* t = PyTuple_New(s.ndim);
  if (!t) return nullptr;
  for (int i = 0; i < s.ndim; i++) PyTuple_SET_ITEM(t, i, PyLong_FromLongLong(s.d[i]));
  return t;
}
static PyObject* get_shape_tuple(PyObject* self, void*) { return shape_tuple(impl_of(self)->shape); }
static PyObject* get_shape(PyObject* self, void*) {
  PFT_TRY
  return shape_object(impl_of(self)->shape);
  PFT_CATCH(nullptr)
}
static PyObject* get_dtype(PyObject* self, void*) { return dtype_object(impl_of(self)->dtype); }
static PyObject* get_ndim(PyObject* self, void*) { return PyLong_FromLong(impl_of(self)->ndim()); }
static PyObject* get_device(PyObject* self, void*) { return PyUnicode_FromString(impl_of(self)->device().str().c_str()); }
static PyObject* get_id(PyObject* self, void*) { return PyLong_FromLongLong(impl_of(self)->id); }

static PyObject* tensor_dlpack(PyObject* self, PyObject* args, PyObject* kwargs) {
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
static PyObject* tensor_dlpack_device(PyObject* self, PyObject*) {
  const TensorPtr& t = impl_of(self);
  return Py_BuildValue("(ii)", t->device().type == DeviceType::CPU ? 1 : 2, t->device().index);
}

static PyObject* tensor_cpu(PyObject* self, PyObject*) {
  PFT_TRY
  return wrap(ops::to_device(impl_of(self), Device{}));
  PFT_CATCH(nullptr)
}
static PyObject* tensor_gpu(PyObject* self, PyObject* args, PyObject* kwargs) {
  PFT_TRY
  static const char* kw[] = {"index", nullptr};
  int index = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|i", const_cast<char**>(kw), &index)) return nullptr;
  check_gpu("Tensor.gpu", index);
  return wrap(ops::to_device(impl_of(self), Device{DeviceType::CUDA, index}));
  PFT_CATCH(nullptr)
}

static PyMethodDef tensor_methods[] = {
    {"__dlpack__", (PyCFunction)(void (*)(void))tensor_dlpack, METH_VARARGS | METH_KEYWORDS,
     "A DLPack capsule sharing this tensor's memory (read it, do not write it: tensors are immutable)."},
    {"__dlpack_device__", tensor_dlpack_device, METH_NOARGS, "(device_type, device_id): (1, 0) for the CPU."},
    {"numpy", tensor_numpy, METH_NOARGS,
     "The value as a NumPy array (read-only and zero-copy on the CPU, a host copy from a GPU; a NumPy scalar for rank 0)."},
    {"cpu", tensor_cpu, METH_NOARGS, "This tensor on the CPU (a copy recorded on the tape when it is on a GPU)."},
    {"gpu", (PyCFunction)(void (*)(void))tensor_gpu, METH_VARARGS | METH_KEYWORDS,
     "gpu(index=0): this tensor on /GPU:index (a copy recorded on the tape; InvalidArgumentError without that GPU)."},
    {"__array__", (PyCFunction)(void (*)(void))tensor_array, METH_VARARGS | METH_KEYWORDS, nullptr},
    {nullptr, nullptr, 0, nullptr}};

static PyGetSetDef tensor_getset[] = {
    {"shape", get_shape, nullptr, "TensorShape", nullptr},
    {"_shape", get_shape_tuple, nullptr, "the shape as a tuple of ints", nullptr},
    {"dtype", get_dtype, nullptr, "DType", nullptr},
    {"ndim", get_ndim, nullptr, "rank", nullptr},
    {"device", get_device, nullptr, "device name", nullptr},
    {"_id", get_id, nullptr, "unique tensor id (what the tape keys gradients by)", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

static PyObject* g_getitem = nullptr;  // pyfast_tape.indexing.getitem(tensor, key)
static PyObject* tensor_subscript(PyObject* self, PyObject* key) {
  if (!g_getitem) {
    PyErr_SetString(PyExc_TypeError, "tensor indexing is unavailable before pyfast_tape is imported");
    return nullptr;
  }
  return PyObject_CallFunctionObjArgs(g_getitem, self, key, nullptr);
}
static PyObject* tensor_item(PyObject* self, Py_ssize_t i) {  // iteration over the first dimension
  PyObject* key = PyLong_FromSsize_t(i);
  if (!key) return nullptr;
  PyObject* r = tensor_subscript(self, key);
  Py_DECREF(key);
  return r;
}
static PyMappingMethods tensor_as_mapping = [] {
  PyMappingMethods m{};
  m.mp_subscript = tensor_subscript;
  return m;
}();

static PySequenceMethods tensor_as_sequence = [] {
  PySequenceMethods m{};
  m.sq_length = tensor_len;
  m.sq_item = tensor_item;
  return m;
}();

static void tensor_dealloc(PyObject* self) {
  reinterpret_cast<PyTensor*>(self)->impl.~TensorPtr();
  Py_TYPE(self)->tp_free(self);
}

static PyObject* tensor_new(PyTypeObject*, PyObject*, PyObject*) {
  PyErr_SetString(PyExc_TypeError, "Tensor objects are created by ops; use tf.constant(value) or tf.convert_to_tensor(value)");
  return nullptr;
}

PyTypeObject TensorType = [] {
  PyTypeObject t{PyVarObject_HEAD_INIT(nullptr, 0)};
  t.tp_name = "pyfast_tape.Tensor";
  t.tp_basicsize = sizeof(PyTensor);
  t.tp_dealloc = tensor_dealloc;
  t.tp_repr = tensor_repr;
  t.tp_str = tensor_str;
  t.tp_as_number = &tensor_as_number;
  t.tp_as_sequence = &tensor_as_sequence;
  t.tp_as_mapping = &tensor_as_mapping;
  t.tp_hash = tensor_hash;
  t.tp_flags = Py_TPFLAGS_DEFAULT;
  t.tp_doc = "An immutable multi-dimensional array with a dtype and a device (TensorFlow's EagerTensor).";
  t.tp_richcompare = tp_richcompare;
  t.tp_methods = tensor_methods;
  t.tp_getset = tensor_getset;
  t.tp_new = tensor_new;
  return t;
}();

// ---- Variable base type ---------------------------------------------------------------------------------
static PyVariable* as_var(PyObject* self) { return reinterpret_cast<PyVariable*>(self); }

static const TensorPtr& var_value(PyObject* self) {
  PyVariable* v = as_var(self);
  if (!v->value) throw pft::RuntimeError("Variable used before it was initialised");
  return v->value;
}

// Copy-on-write: the value is written in place only when nothing else (a tape entry, a tensor returned
// by read_value(), a NumPy view) holds its storage; otherwise it moves to fresh storage first, so what
// was recorded keeps the old value. The id (the variable's identity on tapes) is kept.
static TensorImpl& var_writable(PyVariable* v, bool keep_old) {
  TensorPtr& cur = v->value;
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

static int variable_init(PyObject* self, PyObject* args, PyObject* kwargs) {
  PFT_TRY
  static const char* kw[] = {"value", "trainable", nullptr};
  PyObject* value;
  int trainable = 1;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|p", const_cast<char**>(kw), &value, &trainable)) return -1;
  TensorPtr src = to_tensor(value, -1, "Variable");
  // The variable owns a private copy with an id of its own, on the tf.device scope's device if any.
  const Device dev = scope_device() ? *scope_device() : src->device();
  auto t = empty(src->dtype, src->shape, dev);
  if (src->nbytes()) copy_bytes(t->raw(), dev, src->raw(), src->device(), src->nbytes());
  t->flags = kFlagVariable;
  as_var(self)->value = std::move(t);
  as_var(self)->trainable = trainable != 0;
  return 0;
  PFT_CATCH(-1)
}

static PyObject* variable_new(PyTypeObject* type, PyObject*, PyObject*) {
  PyObject* self = type->tp_alloc(type, 0);
  if (!self) return nullptr;
  new (&as_var(self)->value) TensorPtr();
  as_var(self)->trainable = true;
  return self;
}

static int variable_traverse(PyObject* self, visitproc visit, void* arg) {
  Py_VISIT(as_var(self)->dict);
  return 0;
}
static int variable_clear(PyObject* self) {
  Py_CLEAR(as_var(self)->dict);
  return 0;
}
static void variable_dealloc(PyObject* self) {
  PyObject_GC_UnTrack(self);
  if (as_var(self)->weakrefs) PyObject_ClearWeakRefs(self);
  variable_clear(self);
  as_var(self)->value.~TensorPtr();
  Py_TYPE(self)->tp_free(self);
}

// assign / assign_add / assign_sub: not differentiable (state stops gradients, as in TF).
static TensorPtr assign_source(PyObject* self, PyObject* value, const char* op) {
  const TensorPtr& cur = var_value(self);
  TensorPtr v = to_tensor(value, int(cur->dtype), op);
  if (v->dtype != cur->dtype)
    throw InvalidArgument(std::string(op) + ": the value has dtype " + dtype_name(v->dtype) + " but the variable is " +
                          describe(*cur) + "; cast it with tf.cast");
  if (v->shape != cur->shape)
    throw InvalidArgument(std::string(op) + ": cannot assign a value of shape " + v->shape.str() +
                          " to a variable of shape " + cur->shape.str());
  return v;
}

template <int MODE>  // 0 assign, 1 assign_add, 2 assign_sub
static PyObject* variable_assign(PyObject* self, PyObject* args, PyObject* kwargs) {
  PFT_TRY
  static const char* kw[] = {"value", "use_locking", "name", "read_value", nullptr};
  PyObject *value, *use_locking = nullptr, *name = nullptr, *read_value = nullptr;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|OOO", const_cast<char**>(kw), &value, &use_locking, &name,
                                   &read_value))
    return nullptr;
  const char* op = MODE == 0 ? "Variable.assign" : (MODE == 1 ? "Variable.assign_add" : "Variable.assign_sub");
  TensorPtr v = assign_source(self, value, op);
  if (gen_of(v->flags) || any_tape_active())  // state stops gradients: remember where, for explain()
    log_event(Cause::Assign, op, {v->id}, var_value(self)->id, v->dtype);
  TensorImpl& dst = var_writable(as_var(self), MODE != 0);
  if (MODE == 0) {
    if (dst.nbytes()) {
      if (v->storage == dst.storage)
        std::memmove(dst.raw(), v->raw(), dst.nbytes());
      else
        copy_bytes(dst.raw(), dst.device(), v->raw(), v->device(), dst.nbytes());
    }
  } else {
    // d = d +/- s in place, with the binary kernel of the variable's device.
    const TensorPtr s = ops::to_device(v, dst.device());
    const Shape* ins[2] = {&dst.shape, &s->shape};
    BroadcastPlan plan = make_broadcast_plan(dst.shape, ins, 2);
    dispatch_numeric(dst.dtype, op, [&](auto tag) {
      using T = decltype(tag);
      PFT_KERNEL_FOR(dst.device(), binary_forward<T, T>)(MODE == 1 ? BinaryOp::Add : BinaryOp::Sub, dst.data<T>(),
                                                         dst.data<T>(), s->data<T>(), plan);
    });
  }
  if (read_value == Py_False) Py_RETURN_NONE;
  Py_INCREF(self);
  return self;
  PFT_CATCH(nullptr)
}

static PyObject* variable_read_value(PyObject* self, PyObject*) {
  PFT_TRY
  // A read recorded on the tape like any op input (identity keeps it connected to the variable).
  return wrap(ops::identity(to_tensor(self, -1, "read_value")));
  PFT_CATCH(nullptr)
}
static PyObject* variable_numpy(PyObject* self, PyObject*) {
  PFT_TRY
  const TensorPtr& t = var_value(self);
  py::array a = to_numpy_copy(t);  // a copy: the variable changes in place later
  note_numpy_export(a.data(), t->id);
  if (t->ndim() == 0) {
    PyObject* empty_tuple = PyTuple_New(0);
    PyObject* r = PyObject_GetItem(a.ptr(), empty_tuple);
    Py_DECREF(empty_tuple);
    if (r) note_numpy_export(r, t->id);
    return r;
  }
  return a.release().ptr();
  PFT_CATCH(nullptr)
}
static PyObject* variable_array(PyObject* self, PyObject* args, PyObject* kwargs) {
  PFT_TRY
  static const char* kw[] = {"dtype", "copy", nullptr};
  PyObject* dtype = Py_None;
  PyObject* copy = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OO", const_cast<char**>(kw), &dtype, &copy)) return nullptr;
  py::object arr = to_numpy_copy(var_value(self));
  if (dtype != Py_None) arr = arr.attr("astype")(py::handle(dtype));
  return arr.release().ptr();
  PFT_CATCH(nullptr)
}

static PyObject* var_get_shape_tuple(PyObject* self, void*) {
  PFT_TRY
  return shape_tuple(var_value(self)->shape);
  PFT_CATCH(nullptr)
}
static PyObject* var_get_shape(PyObject* self, void*) {
  PFT_TRY
  return shape_object(var_value(self)->shape);
  PFT_CATCH(nullptr)
}
static PyObject* var_get_dtype(PyObject* self, void*) {
  PFT_TRY
  return dtype_object(var_value(self)->dtype);
  PFT_CATCH(nullptr)
}
static PyObject* var_get_ndim(PyObject* self, void*) {
  PFT_TRY
  return PyLong_FromLong(var_value(self)->ndim());
  PFT_CATCH(nullptr)
}
static PyObject* var_get_device(PyObject* self, void*) {
  PFT_TRY
  return PyUnicode_FromString(var_value(self)->device().str().c_str());
  PFT_CATCH(nullptr)
}
static PyObject* var_get_id(PyObject* self, void*) {
  PFT_TRY
  return PyLong_FromLongLong(var_value(self)->id);
  PFT_CATCH(nullptr)
}
static PyObject* var_get_trainable(PyObject* self, void*) { return PyBool_FromLong(as_var(self)->trainable); }
static int var_set_trainable(PyObject* self, PyObject* v, void*) {
  if (!v) {
    PyErr_SetString(PyExc_AttributeError, "cannot delete trainable");
    return -1;
  }
  int b = PyObject_IsTrue(v);
  if (b < 0) return -1;
  as_var(self)->trainable = b;
  return 0;
}

static PyMethodDef variable_methods[] = {
    {"assign", (PyCFunction)(void (*)(void))variable_assign<0>, METH_VARARGS | METH_KEYWORDS, "Writes a new value (same shape and dtype)."},
    {"assign_add", (PyCFunction)(void (*)(void))variable_assign<1>, METH_VARARGS | METH_KEYWORDS, "Adds to the value in place."},
    {"assign_sub", (PyCFunction)(void (*)(void))variable_assign<2>, METH_VARARGS | METH_KEYWORDS, "Subtracts from the value in place."},
    {"read_value", variable_read_value, METH_NOARGS, "The current value as a Tensor."},
    {"value", variable_read_value, METH_NOARGS, "The current value as a Tensor."},
    {"numpy", variable_numpy, METH_NOARGS, "A copy of the current value as a NumPy array."},
    {"__array__", (PyCFunction)(void (*)(void))variable_array, METH_VARARGS | METH_KEYWORDS, nullptr},
    {nullptr, nullptr, 0, nullptr}};

static PyGetSetDef variable_getset[] = {
    {"shape", var_get_shape, nullptr, "TensorShape", nullptr},
    {"_shape", var_get_shape_tuple, nullptr, "the shape as a tuple of ints", nullptr},
    {"dtype", var_get_dtype, nullptr, "DType", nullptr},
    {"ndim", var_get_ndim, nullptr, "rank", nullptr},
    {"device", var_get_device, nullptr, "device name", nullptr},
    {"_id", var_get_id, nullptr, "the id gradients are keyed by", nullptr},
    {"trainable", var_get_trainable, var_set_trainable, "watched automatically by tapes when read", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyTypeObject VariableType = [] {
  PyTypeObject t{PyVarObject_HEAD_INIT(nullptr, 0)};
  t.tp_name = "pyfast_tape._core.VariableBase";
  t.tp_basicsize = sizeof(PyVariable);
  t.tp_dealloc = variable_dealloc;
  t.tp_as_number = &tensor_as_number;
  t.tp_as_sequence = &tensor_as_sequence;
  t.tp_as_mapping = &tensor_as_mapping;
  t.tp_hash = tensor_hash;
  t.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC;
  t.tp_doc = "Mutable state read by ops; the Python class pyfast_tape.Variable derives from it.";
  t.tp_traverse = variable_traverse;
  t.tp_clear = variable_clear;
  t.tp_richcompare = tp_richcompare;
  t.tp_methods = variable_methods;
  t.tp_getset = variable_getset;
  t.tp_dictoffset = offsetof(PyVariable, dict);
  t.tp_weaklistoffset = offsetof(PyVariable, weakrefs);
  t.tp_init = variable_init;
  t.tp_new = variable_new;
  return t;
}();

// ---------------------------------------------------------------------------------------------------
// Argument parsing helpers for the module functions
static TensorPtr arg_tensor(py::handle h, const char* op, int hint = -1) { return to_tensor(h.ptr(), hint, op); }

static uint32_t parse_axes(py::handle axis, int ndim, const char* op) {
  if (axis.is_none()) return ops::axes_mask(op, {}, true, ndim);
  std::vector<int64_t> axes;
  if (PyLong_Check(axis.ptr()) || is_tensor(axis.ptr()) || py::isinstance<py::array>(axis) ||
      (PyIndex_Check(axis.ptr()) && !PySequence_Check(axis.ptr()))) {
    TensorPtr t = to_tensor(axis.ptr(), -1, op);
    if (!is_integer(t->dtype)) throw pft::TypeError(std::string(op) + ": axis must be an integer or a list of integers");
    for (int64_t i = 0; i < t->numel; i++) axes.push_back(int64_t(item_as_double(*t, i)));
  } else if (PyList_Check(axis.ptr()) || PyTuple_Check(axis.ptr())) {
    for (py::handle a : axis) {
      if (!PyLong_Check(a.ptr()) && !PyIndex_Check(a.ptr()))
        throw pft::TypeError(std::string(op) + ": axis must be an integer or a list of integers, got " +
                             value_repr(axis.ptr()));
      axes.push_back(py::int_(py::reinterpret_borrow<py::object>(a)).cast<int64_t>());
    }
  } else {
    throw pft::TypeError(std::string(op) + ": axis must be None, an integer or a list of integers, got " +
                         value_repr(axis.ptr()));
  }
  return ops::axes_mask(op, axes, false, ndim);
}

static std::vector<int64_t> parse_int_list(py::handle h, const char* op, const char* what) {
  std::vector<int64_t> out;
  if (PyLong_Check(h.ptr())) {
    out.push_back(h.cast<int64_t>());
    return out;
  }
  if (is_tensorlike(h.ptr()) || py::isinstance<py::array>(h)) {
    TensorPtr t = to_tensor(h.ptr(), -1, op);
    if (!is_integer(t->dtype))
      throw pft::TypeError(std::string(op) + ": " + what + " must be integers, got " + describe(*t));
    for (int64_t i = 0; i < t->numel; i++) out.push_back(int64_t(item_as_double(*t, i)));
    return out;
  }
  if (!PySequence_Check(h.ptr()))
    throw pft::TypeError(std::string(op) + ": " + what + " must be a list of integers, got " + value_repr(h.ptr()));
  for (py::handle a : h) {
    if (a.is_none())
      throw InvalidArgument(std::string(op) + ": " + what + " must be fully defined, got None in " + value_repr(h.ptr()));
    if (!PyIndex_Check(a.ptr()))
      throw pft::TypeError(std::string(op) + ": " + what + " must be a list of integers, got " + value_repr(h.ptr()));
    out.push_back(py::int_(py::reinterpret_borrow<py::object>(a)).cast<int64_t>());
  }
  return out;
}

static Shape parse_shape(py::handle h, const char* op) {
  auto v = parse_int_list(h, op, "shape");
  for (int64_t d : v)
    if (d < 0) throw InvalidArgument(std::string(op) + ": shape " + value_repr(h.ptr()) + " has a negative dimension");
  return Shape::of(v.data(), int(v.size()));
}

// An integer argument (Python int, NumPy integer, 0-d integer tensor), or a TypeError naming the op.
static int64_t int_arg(py::handle h, const char* op, const char* what) {
  if (PyBool_Check(h.ptr()) || !PyIndex_Check(h.ptr()))
    throw pft::TypeError(std::string(op) + ": " + what + " must be an integer, got " + value_repr(h.ptr()));
  return py::int_(py::reinterpret_borrow<py::object>(h)).cast<int64_t>();
}

static int opt_dtype(py::handle h) { return h.is_none() ? -1 : int(dtype_from_py(h)); }

// ---------------------------------------------------------------------------------------------------
// Tape bindings
struct PyTapeHandle {
  std::shared_ptr<Tape> tape;
  bool pushed = false;
  ~PyTapeHandle() {  // a tape dropped while active (an exception skipped __exit__) leaves no dangling entry
    auto& st = tape_stack();
    for (size_t i = st.size(); i-- > 0;)
      if (st[i] == tape.get()) st.erase(st.begin() + long(i));
  }
};

static std::vector<TensorPtr> call_custom_backward(PyObject* fn, const std::vector<TensorPtr>& douts, size_t n_inputs) {
  py::list args;
  for (const auto& d : douts) args.append(wrap_obj(d));
  py::object r = py::reinterpret_borrow<py::object>(fn)(args);
  std::vector<TensorPtr> out;
  for (py::handle g : r) out.push_back(g.is_none() ? nullptr : to_tensor(g.ptr(), -1, "custom_gradient"));
  if (out.size() != n_inputs)
    throw InvalidArgument("custom_gradient: the gradient function returned " + std::to_string(out.size()) +
                          " gradients for " + std::to_string(n_inputs) + " inputs (and variables)");
  return out;
}

static int64_t source_id(py::handle h) {
  if (is_variable(h.ptr())) return var_value(h.ptr())->id;
  if (is_tensor(h.ptr())) return impl_of(h.ptr())->id;
  throw pft::TypeError("GradientTape.gradient: sources must be Tensors or Variables, got " + value_repr(h.ptr()));
}

// The tape's Python type: written against the CPython API (as Tensor and Variable are) because a
// `with tf.GradientTape() as tape:` block runs once per training step: construction, __enter__ and
// __exit__ are plain C calls here (a pybind11 class and Python-level methods cost about 1 µs per step).
// GradientTape (pyfast_tape/tape.py) derives from it and adds the Python-facing methods.
struct PyTape {
  PyObject_HEAD
  PyTapeHandle h;
};

static PyObject* tape_new(PyTypeObject* type, PyObject*, PyObject*) {
  PyObject* self = type->tp_alloc(type, 0);
  if (!self) return nullptr;
  PFT_TRY
  auto* o = reinterpret_cast<PyTape*>(self);
  new (&o->h) PyTapeHandle();
  o->h.tape = std::make_shared<Tape>();
  return self;
  PFT_CATCH((Py_DECREF(self), nullptr))
}

static int tape_init(PyObject* self, PyObject* args, PyObject* kwargs) {
  static const char* kw[] = {"persistent", "watch_accessed_variables", nullptr};
  int persistent = 0, watch = 1;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|pp:GradientTape", const_cast<char**>(kw), &persistent, &watch))
    return -1;
  Tape& t = *reinterpret_cast<PyTape*>(self)->h.tape;
  t.persistent = persistent;
  t.watch_accessed_variables = watch;
  return 0;
}

static void tape_dealloc(PyObject* self) {
  reinterpret_cast<PyTape*>(self)->h.~PyTapeHandle();
  Py_TYPE(self)->tp_free(self);
}

static inline PyTapeHandle& tape_of(PyObject* self) { return reinterpret_cast<PyTape*>(self)->h; }

static void tape_check_thread(const PyTapeHandle& h, const char* what) {
  if (h.pushed && h.tape->owner != std::this_thread::get_id())
    throw pft::RuntimeError(std::string(what) + ": the tape is recording in another thread; use it from the thread "
                            "that entered it (after its `with` block)");
}

static PyObject* tape_enter(PyObject* self, PyObject*) {
  PFT_TRY
  PyTapeHandle& h = tape_of(self);
  if (h.pushed)
    throw pft::RuntimeError(h.tape->owner == std::this_thread::get_id()
                                ? "GradientTape: this tape is already active (nested `with` on the same tape)"
                                : "GradientTape: this tape is already active in another thread; a tape records "
                                  "the ops of one thread: create one tape per thread");
  tape_stack().push_back(h.tape.get());
  h.tape->owner = std::this_thread::get_id();
  h.pushed = true;
  Py_INCREF(self);
  return self;
  PFT_CATCH(nullptr)
}

static PyObject* tape_exit(PyObject* self, PyObject* const*, Py_ssize_t) {
  PFT_TRY
  PyTapeHandle& h = tape_of(self);
  if (h.pushed && h.tape->owner != std::this_thread::get_id())
    throw pft::RuntimeError("GradientTape: exited from a thread other than the one that entered it");
  auto& st = tape_stack();
  for (size_t i = st.size(); i-- > 0;)
    if (st[i] == h.tape.get()) {
      st.erase(st.begin() + long(i));
      break;
    }
  h.pushed = false;
  Py_RETURN_NONE;
  PFT_CATCH(nullptr)
}

static PyObject* tape_check_thread_m(PyObject* self, PyObject*) {
  PFT_TRY
  tape_check_thread(tape_of(self), "GradientTape");
  Py_RETURN_NONE;
  PFT_CATCH(nullptr)
}

static PyObject* tape_watch(PyObject* self, PyObject* x) {
  PFT_TRY
  PyTapeHandle& h = tape_of(self);
  if (is_variable(x)) {
    h.tape->watch_variable(var_value(x)->id, x);
  } else if (is_tensor(x)) {
    h.tape->watch(impl_of(x)->id);
    impl_of(x)->flags = with_gen(impl_of(x)->flags, std::max<uint32_t>(gen_of(impl_of(x)->flags), 1));
  } else {
    throw pft::TypeError("GradientTape.watch: expected a Tensor or Variable, got " + value_repr(x));
  }
  Py_RETURN_NONE;
  PFT_CATCH(nullptr)
}

static PyObject* tape_watched_variables(PyObject* self, PyObject*) {
  PFT_TRY
  // TF lists them in creation order: variable ids grow with creation.
  std::vector<PyObject*> vars = tape_of(self).tape->watched_variables;
  std::stable_sort(vars.begin(), vars.end(),
                   [](PyObject* a, PyObject* b) { return as_var(a)->value->id < as_var(b)->value->id; });
  py::tuple t(vars.size());
  for (size_t i = 0; i < vars.size(); i++) t[i] = py::reinterpret_borrow<py::object>(vars[i]);
  return t.release().ptr();
  PFT_CATCH(nullptr)
}

static PyObject* tape_reset(PyObject* self, PyObject*) {
  PFT_TRY
  tape_of(self).tape->reset();
  Py_RETURN_NONE;
  PFT_CATCH(nullptr)
}

// The gradients of `targets` (a list) with respect to `sources` (a list), as a new Python list with a Tensor
// or None per source. output_grads: a list (may hold None) or nullptr.
static PyObject* tape_gradient_list(PyTapeHandle& h, PyObject* targets, PyObject* sources, PyObject* output_grads,
                                    bool release) {
  if (h.pushed && h.tape->owner != std::this_thread::get_id())
    throw pft::RuntimeError("GradientTape.gradient: the tape is recording in another thread; call gradient() "
                            "from the thread that entered the tape (after its `with` block)");
  std::vector<TensorPtr> tg, og;
  tg.reserve(size_t(PyList_GET_SIZE(targets)));
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(targets); i++)
    tg.push_back(to_tensor(PyList_GET_ITEM(targets, i), -1, "GradientTape.gradient"));
  const Py_ssize_t n_og = output_grads ? PyList_GET_SIZE(output_grads) : 0;
  for (Py_ssize_t i = 0; i < n_og; i++) {
    PyObject* g = PyList_GET_ITEM(output_grads, i);
    if (g == Py_None || size_t(i) >= tg.size()) {
      og.push_back(nullptr);
      continue;
    }
    TensorPtr gt = to_tensor(g, int(tg[size_t(i)]->dtype), "GradientTape.gradient");
    if (gt->shape != tg[size_t(i)]->shape) gt = ops::broadcast_to(gt, tg[size_t(i)]->shape);
    og.push_back(gt);
  }
  std::vector<int64_t> ids;
  ids.reserve(size_t(PyList_GET_SIZE(sources)));
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(sources); i++) {
    int64_t id = source_id(PyList_GET_ITEM(sources, i));
    // TF: only watched tensors/variables (and tensors the tape computed) are differentiable sources;
    // a source that is itself a target gets the target's seed gradient.
    bool is_target = false;
    for (auto& t : tg) is_target |= t->id == id;
    ids.push_back(h.tape->watched.count(id) || is_target ? id : -1);
  }
  auto grads = h.tape->gradient(tg, ids, og, release);
  PyObject* out = PyList_New(Py_ssize_t(grads.size()));
  if (!out) throw py::error_already_set();
  for (size_t i = 0; i < grads.size(); i++) {
    PyObject* g;
    if (grads[i]) {
      g = wrap(std::move(grads[i]));
      if (!g) {
        Py_DECREF(out);
        throw py::error_already_set();
      }
    } else {
      g = Py_None;
      Py_INCREF(g);
    }
    PyList_SET_ITEM(out, Py_ssize_t(i), g);
  }
  return out;
}

// _gradient(targets, sources, output_grads, release): lists of Tensors/Variables (output_grads may hold
// None); returns a list with a Tensor or None per source.
static PyObject* tape_gradient(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  PFT_TRY
  if (nargs != 4 || !PyList_Check(args[0]) || !PyList_Check(args[1]) || !PyList_Check(args[2]))
    throw pft::TypeError("Tape._gradient(targets: list, sources: list, output_grads: list, release: bool)");
  return tape_gradient_list(tape_of(self), args[0], args[1], args[2], PyObject_IsTrue(args[3]) == 1);
  PFT_CATCH(nullptr)
}

// Set once by pyfast_tape/tape.py: the threading.local holding each thread's latest gradient() call (the
// optimizers explain None gradients from it).
static PyObject* g_last_gradient_call = nullptr;

// gradient(target, sources, ...): the common call, `tape.gradient(loss, var_or_flat_list)` with one
// tensor target and no other argument, is handled here in C; every other form (nested structures,
// output_gradients, unconnected_gradients, a persistent tape still inside its `with` block, which warns)
// goes to the Python implementation GradientTape._gradient_general with the same arguments.
static PyObject* tape_gradient_method(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  PyTapeHandle& h = tape_of(self);
  bool fast = nargs == 2 && !kwnames && is_tensorlike(args[0]) && !(h.pushed && h.tape->persistent) &&
              g_last_gradient_call;
  const bool single = fast && is_tensorlike(args[1]);
  if (fast && !single) {
    fast = PyList_CheckExact(args[1]);
    for (Py_ssize_t i = 0; fast && i < PyList_GET_SIZE(args[1]); i++) fast = is_tensorlike(PyList_GET_ITEM(args[1], i));
  }
  if (!fast) {
    static PyObject* name = PyUnicode_InternFromString("_gradient_general");
    const Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    std::vector<PyObject*> v(size_t(1 + nargs + nkw));  // [self, *args, *keyword values]
    v[0] = self;
    for (Py_ssize_t i = 0; i < nargs + nkw; i++) v[size_t(1 + i)] = args[i];
    return PyObject_VectorcallMethod(name, v.data(), size_t(1 + nargs), kwnames);
  }
  PFT_TRY
  py::object targets = py::reinterpret_steal<py::object>(PyList_New(1));
  Py_INCREF(args[0]);
  PyList_SET_ITEM(targets.ptr(), 0, args[0]);
  py::object sources;
  if (single) {
    sources = py::reinterpret_steal<py::object>(PyList_New(1));
    Py_INCREF(args[1]);
    PyList_SET_ITEM(sources.ptr(), 0, args[1]);
  } else {
    sources = py::reinterpret_borrow<py::object>(args[1]);
  }
  py::object grads = py::reinterpret_steal<py::object>(
      tape_gradient_list(h, targets.ptr(), sources.ptr(), nullptr, !h.tape->persistent));
  if (h.pushed && !h.tape->persistent) h.tape->recording = false;  // TF stops recording a used tape
  py::object last = py::reinterpret_steal<py::object>(PyTuple_Pack(4, self, targets.ptr(), sources.ptr(), grads.ptr()));
  if (!last) throw py::error_already_set();
  static PyObject* value = PyUnicode_InternFromString("value");
  if (PyObject_SetAttr(g_last_gradient_call, value, last.ptr()) < 0) throw py::error_already_set();
  if (single) {
    PyObject* g = PyList_GET_ITEM(grads.ptr(), 0);
    Py_INCREF(g);
    return g;
  }
  return grads.release().ptr();
  PFT_CATCH(nullptr)
}

static PyObject* tape_register(PyObject*, PyObject* local) {
  Py_XDECREF(g_last_gradient_call);
  Py_INCREF(local);
  g_last_gradient_call = local;
  Py_RETURN_NONE;
}

static PyMethodDef tape_methods[] = {
    {"__enter__", tape_enter, METH_NOARGS, "Pushes the tape on this thread's tape stack; returns it."},
    {"__exit__", (PyCFunction)(void (*)(void))tape_exit, METH_FASTCALL, "Pops the tape."},
    {"_check_thread", tape_check_thread_m, METH_NOARGS, "Raises unless called from the thread that entered the tape."},
    {"_watch", tape_watch, METH_O, "Watches one Tensor or Variable."},
    {"_watched_variables", tape_watched_variables, METH_NOARGS, "The watched variables in creation order."},
    {"_reset", tape_reset, METH_NOARGS, "Clears the entries and the watched set."},
    {"_gradient", (PyCFunction)(void (*)(void))tape_gradient, METH_FASTCALL,
     "_gradient(targets, sources, output_grads, release) -> list of Tensor or None"},
    {"gradient", (PyCFunction)(void (*)(void))tape_gradient_method, METH_FASTCALL | METH_KEYWORDS,
     "gradient($self, target, sources, output_gradients=None, unconnected_gradients='none')\n--\n\n"
     "Gradient of `target` (a tensor or nested structure, summed) with respect to `sources` (any nested\n"
     "structure of Tensors/Variables; the result mirrors it)."},
    {"_register_last_call", tape_register, METH_O | METH_STATIC, "Sets the threading.local of the latest gradient() call."},
    {nullptr, nullptr, 0, nullptr}};

static PyObject* tape_get_active(PyObject* self, void*) { return PyBool_FromLong(tape_of(self).pushed); }
static PyObject* tape_get_recording(PyObject* self, void*) { return PyBool_FromLong(tape_of(self).tape->recording); }
static int tape_set_recording(PyObject* self, PyObject* v, void*) {
  if (!v) {
    PyErr_SetString(PyExc_AttributeError, "cannot delete _recording");
    return -1;
  }
  const int r = PyObject_IsTrue(v);
  if (r < 0) return -1;
  tape_of(self).tape->recording = r;
  return 0;
}
static PyObject* tape_get_persistent(PyObject* self, void*) { return PyBool_FromLong(tape_of(self).tape->persistent); }
static PyObject* tape_get_watch_accessed(PyObject* self, void*) {
  return PyBool_FromLong(tape_of(self).tape->watch_accessed_variables);
}
static PyObject* tape_get_used(PyObject* self, void*) { return PyBool_FromLong(tape_of(self).tape->used); }
static PyObject* tape_get_num_entries(PyObject* self, void*) {
  return PyLong_FromSize_t(tape_of(self).tape->entries.size());
}

static PyGetSetDef tape_getset[] = {
    {"_active", tape_get_active, nullptr, "inside its `with` block", nullptr},
    {"_recording", tape_get_recording, tape_set_recording, "records ops (False inside stop_recording())", nullptr},
    {"_persistent", tape_get_persistent, nullptr, "gradient() may be called more than once", nullptr},
    {"_watch_accessed_variables", tape_get_watch_accessed, nullptr, "watches trainable variables it sees read", nullptr},
    {"_used", tape_get_used, nullptr, "a non-persistent tape after gradient()", nullptr},
    {"_num_entries", tape_get_num_entries, nullptr, "entries recorded", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyTypeObject TapeType = [] {
  PyTypeObject t{PyVarObject_HEAD_INIT(nullptr, 0)};
  t.tp_name = "pyfast_tape._core.Tape";
  t.tp_basicsize = sizeof(PyTape);
  t.tp_dealloc = tape_dealloc;
  t.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE;
  t.tp_doc = "The native tape: Tape(persistent=False, watch_accessed_variables=True); the base of GradientTape.";
  t.tp_methods = tape_methods;
  t.tp_getset = tape_getset;
  t.tp_init = tape_init;
  t.tp_new = tape_new;
  return t;
}();

// A gradient for an optimizer update, cast to the variable's dtype as Keras does.
static TensorPtr grad_for(PyObject* g, const TensorPtr& var, const char* op) {
  TensorPtr t = to_tensor(g, int(var->dtype), op);
  if (t->dtype != var->dtype && is_floating(t->dtype) && is_floating(var->dtype)) t = ops::cast(t, var->dtype);
  return t;
}

// The optimizer's int64 `iterations` Variable: read, and incremented in place after an update.
static int64_t iteration_count(py::handle it) {
  if (!is_variable(it.ptr()) || var_value(it.ptr())->dtype != DType::Int64 || var_value(it.ptr())->numel != 1)
    throw pft::TypeError("optimizer: iterations must be a scalar int64 Variable");
  return *var_value(it.ptr())->data<int64_t>();
}
static void bump_iterations(py::handle it) {
  iteration_count(it);
  *var_writable(as_var(it.ptr()), true).data<int64_t>() += 1;
}

struct PyVariableWatcher {
  VariableWatcher w;
  bool active = false;
};

// ---------------------------------------------------------------------------------------------------
#define UNARY_FN(pyname, OP)                                                                      \
  m.def(                                                                                          \
      pyname, [](py::handle x, py::handle) { return wrap_obj(ops::unary(OP, arg_tensor(x, pyname))); }, \
      py::arg("x"), py::arg("name") = py::none())
#define BINARY_FN(pyname, OP)                                                                       \
  m.def(                                                                                            \
      pyname, [](py::handle x, py::handle y, py::handle) { return wrap_obj(binary_any(OP, x.ptr(), y.ptr())); }, \
      py::arg("x"), py::arg("y"), py::arg("name") = py::none())

// ---------------------------------------------------------------------------------------------------
// Module functions on a training step's hot path, bound with METH_FASTCALL: pybind11 fills in and converts
// every defaulted parameter on each call (about 100 ns for matmul's seven, reduce_mean's four). Their
// docstrings keep pybind11's signature line, which tests/test_typing.py checks against _core.pyi.

// Binds positional and keyword arguments to the parameters `names` (all positional-or-keyword; the first
// n_required required); out[i] is a borrowed reference, or nullptr where not given. Python's messages.
static bool bind_args(const char* fn, const char* const* names, int n, int n_required, PyObject* const* args,
                      Py_ssize_t nargs, PyObject* kwnames, PyObject** out) {
  if (nargs > n) {
    PyErr_Format(PyExc_TypeError, "%s() takes at most %d arguments (%zd given)", fn, n, nargs);
    return false;
  }
  for (int i = 0; i < n; i++) out[i] = i < nargs ? args[i] : nullptr;
  const Py_ssize_t nk = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  for (Py_ssize_t k = 0; k < nk; k++) {
    PyObject* key = PyTuple_GET_ITEM(kwnames, k);
    int i = 0;
    while (i < n && PyUnicode_CompareWithASCIIString(key, names[i]) != 0) i++;
    if (i == n) {
      PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", fn, key);
      return false;
    }
    if (out[i]) {
      PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fn, names[i]);
      return false;
    }
    out[i] = args[nargs + k];
  }
  for (int i = 0; i < n_required; i++)
    if (!out[i]) {
      PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s' (pos %d)", fn, names[i], i + 1);
      return false;
    }
  return true;
}

// A bool parameter: absent or None means false (TF: `keepdims=None` is False); otherwise its truth value.
static bool flag_arg(PyObject* o) {
  if (!o || o == Py_False || o == Py_None) return false;
  if (o == Py_True) return true;
  const int r = PyObject_IsTrue(o);
  if (r < 0) throw py::error_already_set();
  return r == 1;
}

static PyObject* fast_matmul(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  static const char* const names[] = {"a", "b", "transpose_a", "transpose_b", "adjoint_a", "adjoint_b", "name"};
  PyObject* a[7];
  if (!bind_args("matmul", names, 7, 2, args, nargs, kwnames, a)) return nullptr;
  PFT_TRY
  TensorPtr x, y;
  convert_pair(a[0], a[1], "matmul", x, y);
  const bool ta = flag_arg(a[2]) || flag_arg(a[4]);
  const bool tb = flag_arg(a[3]) || flag_arg(a[5]);
  return wrap(ops::matmul(x, y, ta, tb));  // real dtypes: adjoint == transpose
  PFT_CATCH(nullptr)
}

template <int OP>  // ReduceOp, or -1 for the mean
static PyObject* fast_reduce(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  static const char* const names[] = {"input_tensor", "axis", "keepdims", "name"};
  const char* fn = OP < 0 ? "reduce_mean" : OP == int(ReduceOp::Sum) ? "reduce_sum"
                                         : OP == int(ReduceOp::Max) ? "reduce_max" : "reduce_min";
  PyObject* a[4];
  if (!bind_args(fn, names, 4, 1, args, nargs, kwnames, a)) return nullptr;
  PFT_TRY
  TensorPtr t = to_tensor(a[0], -1, fn);
  const uint32_t mask = parse_axes(a[1] ? a[1] : Py_None, t->ndim(), fn);
  const bool keepdims = flag_arg(a[2]);
  if constexpr (OP < 0) return wrap(ops::reduce_mean(t, mask, keepdims));
  else return wrap(ops::reduce(ReduceOp(OP), t, mask, keepdims));
  PFT_CATCH(nullptr)
}

static PyObject* fast_where(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  static const char* const names[] = {"condition", "x", "y", "name"};
  PyObject* a[4];
  if (!bind_args("where", names, 4, 1, args, nargs, kwnames, a)) return nullptr;
  PFT_TRY
  if (!a[1] || !a[2] || a[1] == Py_None || a[2] == Py_None)
    throw NotImplemented("where: the one-argument form (indices of true elements) is not supported; pass x and y");
  TensorPtr c = to_tensor(a[0], int(DType::Bool), "where");
  TensorPtr tx, ty;
  convert_pair(a[1], a[2], "where", tx, ty);
  return wrap(ops::where(c, tx, ty));
  PFT_CATCH(nullptr)
}

// ---- optimizer updates (one native call per apply_gradients), METH_FASTCALL as well: pybind11's dispatch
// of seven list and float arguments cost more than the update of a small model's variables.
static double float_arg(PyObject* o, const char* fn, const char* name) {
  const double v = PyFloat_AsDouble(o);
  if (v == -1.0 && PyErr_Occurred()) {
    PyErr_Clear();
    throw pft::TypeError(std::string(fn) + ": " + name + " must be a number, got " + value_repr(o));
  }
  return v;
}
static PyObject* list_arg(PyObject* o, const char* fn, const char* name) {
  if (!PyList_Check(o)) throw pft::TypeError(std::string(fn) + ": " + name + " must be a list, got " + value_repr(o));
  return o;
}
static TensorPtr writable_var(PyObject* var, const char* fn) {
  if (!is_variable(var)) throw pft::TypeError(std::string(fn) + ": " + value_repr(var) + " is not a Variable");
  var_writable(as_var(var), true);
  return as_var(var)->value;
}

// sgd_apply(vars, grads, moms, lr, momentum, nesterov, iterations): moms empty without momentum.
static PyObject* fast_sgd_apply(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  PFT_TRY
  const char* fn = "SGD.apply_gradients";
  if (nargs != 7) throw pft::TypeError("sgd_apply() takes 7 positional arguments");
  PyObject *vars = list_arg(args[0], fn, "vars"), *grads = list_arg(args[1], fn, "grads"),
           *moms = list_arg(args[2], fn, "moms");
  const Py_ssize_t n = PyList_GET_SIZE(vars);
  if (PyList_GET_SIZE(grads) != n || (PyList_GET_SIZE(moms) && PyList_GET_SIZE(moms) != n))
    throw pft::TypeError("sgd_apply: vars, grads (and moms) must have the same length");
  const double lr = float_arg(args[3], fn, "learning_rate"), momentum = float_arg(args[4], fn, "momentum");
  const bool nesterov = PyObject_IsTrue(args[5]) == 1;
  std::vector<TensorPtr> v, g, mo;
  v.reserve(size_t(n)), g.reserve(size_t(n));
  for (Py_ssize_t i = 0; i < n; i++) {
    PyObject* var = PyList_GET_ITEM(vars, i);
    if (!is_variable(var)) throw pft::TypeError(std::string(fn) + ": " + value_repr(var) + " is not a Variable");
    g.push_back(grad_for(PyList_GET_ITEM(grads, i), var_value(var), fn));
    v.push_back(writable_var(var, fn));
    if (PyList_GET_SIZE(moms)) mo.push_back(writable_var(PyList_GET_ITEM(moms, i), fn));
  }
  ops::sgd_apply(v, g, mo, lr, momentum, nesterov);
  bump_iterations(args[6]);
  Py_RETURN_NONE;
  PFT_CATCH(nullptr)
}

// adam_apply(vars, grads, ms, vs, vhats, lr, beta_1, beta_2, epsilon, iterations): vhats empty without amsgrad.
static PyObject* fast_adam_apply(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  PFT_TRY
  const char* fn = "Adam.apply_gradients";
  if (nargs != 10) throw pft::TypeError("adam_apply() takes 10 positional arguments");
  PyObject *vars = list_arg(args[0], fn, "vars"), *grads = list_arg(args[1], fn, "grads"),
           *ms = list_arg(args[2], fn, "ms"), *vs = list_arg(args[3], fn, "vs"), *vhats = list_arg(args[4], fn, "vhats");
  const Py_ssize_t n = PyList_GET_SIZE(vars);
  if (PyList_GET_SIZE(grads) != n || PyList_GET_SIZE(ms) != n || PyList_GET_SIZE(vs) != n ||
      (PyList_GET_SIZE(vhats) && PyList_GET_SIZE(vhats) != n))
    throw pft::TypeError("adam_apply: vars, grads, ms, vs (and vhats) must have the same length");
  const double lr = float_arg(args[5], fn, "learning_rate"), b1 = float_arg(args[6], fn, "beta_1"),
               b2 = float_arg(args[7], fn, "beta_2"), eps = float_arg(args[8], fn, "epsilon");
  const int64_t step = iteration_count(args[9]) + 1;
  std::vector<TensorPtr> v, g, m1, v1, vh;
  for (Py_ssize_t i = 0; i < n; i++) {
    PyObject* var = PyList_GET_ITEM(vars, i);
    if (!is_variable(var)) throw pft::TypeError(std::string(fn) + ": " + value_repr(var) + " is not a Variable");
    g.push_back(grad_for(PyList_GET_ITEM(grads, i), var_value(var), fn));
    v.push_back(writable_var(var, fn));
    m1.push_back(writable_var(PyList_GET_ITEM(ms, i), fn));
    v1.push_back(writable_var(PyList_GET_ITEM(vs, i), fn));
    if (PyList_GET_SIZE(vhats)) vh.push_back(writable_var(PyList_GET_ITEM(vhats, i), fn));
  }
  ops::adam_apply(v, g, m1, v1, vh, lr, b1, b2, eps, step);
  bump_iterations(args[9]);
  Py_RETURN_NONE;
  PFT_CATCH(nullptr)
}

// split_pairs(pairs, index): apply_gradients' loop over (gradient, variable) pairs for the common case, every
// pair a 2-tuple (or 2-list) of a gradient (not None) and a Variable the optimizer was built with. Returns
// (grads, variables, slot indices), or None for anything else (the Python loop then warns or raises as
// Keras does).
static PyObject* fast_split_pairs(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  PFT_TRY
  if (nargs != 2 || !PyDict_Check(args[1])) throw pft::TypeError("split_pairs(pairs, index: dict)");
  PyObject *pairs = args[0], *index = args[1];
  if (!PyList_Check(pairs)) Py_RETURN_NONE;
  const Py_ssize_t n = PyList_GET_SIZE(pairs);
  py::list grads(n), vars(n), idx(n);
  for (Py_ssize_t i = 0; i < n; i++) {
    PyObject* p = PyList_GET_ITEM(pairs, i);
    PyObject *g, *v;
    if (PyTuple_CheckExact(p) && PyTuple_GET_SIZE(p) == 2) {
      g = PyTuple_GET_ITEM(p, 0);
      v = PyTuple_GET_ITEM(p, 1);
    } else if (PyList_CheckExact(p) && PyList_GET_SIZE(p) == 2) {
      g = PyList_GET_ITEM(p, 0);
      v = PyList_GET_ITEM(p, 1);
    } else {
      Py_RETURN_NONE;
    }
    if (g == Py_None || !is_variable(v)) Py_RETURN_NONE;
    py::object key = py::reinterpret_steal<py::object>(PyLong_FromLongLong(var_value(v)->id));
    if (!key) throw py::error_already_set();
    PyObject* k = PyDict_GetItemWithError(index, key.ptr());
    if (!k) {
      if (PyErr_Occurred()) throw py::error_already_set();
      Py_RETURN_NONE;
    }
    Py_INCREF(g), Py_INCREF(v), Py_INCREF(k);
    PyList_SET_ITEM(grads.ptr(), i, g);
    PyList_SET_ITEM(vars.ptr(), i, v);
    PyList_SET_ITEM(idx.ptr(), i, k);
  }
  return PyTuple_Pack(3, grads.ptr(), vars.ptr(), idx.ptr());
  PFT_CATCH(nullptr)
}

#define PFT_FAST(name, fn, sig) {name, (PyCFunction)(void (*)(void))fn, METH_FASTCALL | METH_KEYWORDS, sig}
static PyMethodDef fast_functions[] = {
    PFT_FAST("matmul", fast_matmul,
             "matmul(a: object, b: object, transpose_a: bool = False, transpose_b: bool = False, adjoint_a: bool = "
             "False, adjoint_b: bool = False, name: object = None) -> object\n"),
    PFT_FAST("reduce_sum", fast_reduce<int(ReduceOp::Sum)>,
             "reduce_sum(input_tensor: object, axis: object = None, keepdims: bool = False, name: object = None) -> object\n"),
    PFT_FAST("reduce_max", fast_reduce<int(ReduceOp::Max)>,
             "reduce_max(input_tensor: object, axis: object = None, keepdims: bool = False, name: object = None) -> object\n"),
    PFT_FAST("reduce_min", fast_reduce<int(ReduceOp::Min)>,
             "reduce_min(input_tensor: object, axis: object = None, keepdims: bool = False, name: object = None) -> object\n"),
    PFT_FAST("reduce_mean", fast_reduce<-1>,
             "reduce_mean(input_tensor: object, axis: object = None, keepdims: bool = False, name: object = None) -> object\n"),
    PFT_FAST("where", fast_where,
             "where(condition: object, x: object = None, y: object = None, name: object = None) -> object\n"),
    {"sgd_apply", (PyCFunction)(void (*)(void))fast_sgd_apply, METH_FASTCALL,
     "sgd_apply(arg0: list, arg1: list, arg2: list, arg3: float, arg4: float, arg5: bool, arg6: object) -> None\n"},
    {"adam_apply", (PyCFunction)(void (*)(void))fast_adam_apply, METH_FASTCALL,
     "adam_apply(arg0: list, arg1: list, arg2: list, arg3: list, arg4: list, arg5: float, arg6: float, arg7: float, "
     "arg8: float, arg9: object) -> None\n"},
    {"split_pairs", (PyCFunction)(void (*)(void))fast_split_pairs, METH_FASTCALL,
     "split_pairs(arg0: object, arg1: dict) -> object\n"},
    {nullptr, nullptr, 0, nullptr}};
#undef PFT_FAST

PYBIND11_MODULE(_core, m) {
  m.doc() = "pyfast_tape native core: tensors, ops, the tape";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (...) {
      set_python_error();
    }
  });
  g_InvalidArgumentError = PyErr_NewExceptionWithDoc("pyfast_tape.errors.InvalidArgumentError",
                                                     "An op received an invalid argument (a ValueError).",
                                                     PyExc_ValueError, nullptr);
  g_ResourceExhaustedError = PyErr_NewExceptionWithDoc("pyfast_tape.errors.ResourceExhaustedError",
                                                       "Out of memory (a RuntimeError).", PyExc_RuntimeError, nullptr);
  m.attr("InvalidArgumentError") = py::handle(g_InvalidArgumentError);
  m.attr("ResourceExhaustedError") = py::handle(g_ResourceExhaustedError);

  if (PyType_Ready(&TensorType) < 0 || PyType_Ready(&VariableType) < 0) throw py::error_already_set();
  // NumPy defers binary operators on (ndarray, Tensor) to the Tensor (TF's __array_priority__).
  PyDict_SetItemString(TensorType.tp_dict, "__array_priority__", PyLong_FromLong(100));
  PyDict_SetItemString(VariableType.tp_dict, "__array_priority__", PyLong_FromLong(100));
  PyType_Modified(&TensorType);
  PyType_Modified(&VariableType);
  Py_INCREF(&TensorType);
  Py_INCREF(&VariableType);
  m.attr("Tensor") = py::handle(reinterpret_cast<PyObject*>(&TensorType));
  m.attr("VariableBase") = py::handle(reinterpret_cast<PyObject*>(&VariableType));
  if (PyModule_AddFunctions(m.ptr(), fast_functions) < 0) throw py::error_already_set();
  g_custom_backward_caller = call_custom_backward;

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
    return wrap_obj(full(dtype_from_py(dtype), parse_shape(shape, "fill"), value,
                         scope_device() ? *scope_device() : Device{}));
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
#define PFT_BINARY_BINDING(E, stem) BINARY_FN(#stem, BinaryOp::E);
  PFT_BINARY_OPS(PFT_BINARY_BINDING)
  PFT_COMPARISON_OPS(PFT_BINARY_BINDING)
#undef PFT_BINARY_BINDING
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
      [](py::handle x, py::handle) {
        TensorPtr t = arg_tensor(x, "stop_gradient");
        TensorPtr out = alias(t, t->shape);  // a new id that no tape watches: the path is cut
        if (gen_of(t->flags) || any_tape_active()) {
          log_event(Cause::StopGradient, "stop_gradient", {t->id}, out->id, out->dtype);
          out->flags = with_gen(out->flags, std::max<uint32_t>(gen_of(t->flags), 1) + 1);
        }
        return wrap_obj(out);
      },
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
        int64_t ax = axis.is_none() ? 0 : int_arg(axis, "argmax", "axis");
        DType dt = output_type.is_none() ? DType::Int64 : dtype_from_py(output_type);
        return wrap_obj(ops::argmax(arg_tensor(x, "argmax"), ax, false, dt));
      },
      py::arg("input"), py::arg("axis") = py::none(), py::arg("output_type") = py::none(), py::arg("name") = py::none());
  m.def(
      "argmin",
      [](py::handle x, py::handle axis, py::handle output_type, py::handle) {
        int64_t ax = axis.is_none() ? 0 : int_arg(axis, "argmin", "axis");
        DType dt = output_type.is_none() ? DType::Int64 : dtype_from_py(output_type);
        return wrap_obj(ops::argmax(arg_tensor(x, "argmin"), ax, true, dt));
      },
      py::arg("input"), py::arg("axis") = py::none(), py::arg("output_type") = py::none(), py::arg("name") = py::none());
  m.def(
      "softmax",
      [](py::handle x, py::handle axis, py::handle) {
        return wrap_obj(ops::softmax(arg_tensor(x, "softmax"), axis.is_none() ? -1 : axis.cast<int64_t>(), false));
      },
      py::arg("logits"), py::arg("axis") = py::none(), py::arg("name") = py::none());
  m.def(
      "log_softmax",
      [](py::handle x, py::handle axis, py::handle) {
        return wrap_obj(ops::softmax(arg_tensor(x, "log_softmax"), axis.is_none() ? -1 : axis.cast<int64_t>(), true));
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
        std::vector<int64_t> p;
        if (!perm.is_none()) p = parse_int_list(perm, "transpose", "perm");
        TensorPtr t = arg_tensor(x, "transpose");
        if (!perm.is_none() && int(p.size()) != t->ndim())
          throw InvalidArgument("transpose: perm has " + std::to_string(p.size()) + " entries but the input " +
                                describe(*t) + " has rank " + std::to_string(t->ndim()));
        if (t->ndim() == 0) return wrap_obj(ops::identity(t));
        return wrap_obj(ops::transpose(t, p));
      },
      py::arg("a"), py::arg("perm") = py::none(), py::arg("conjugate") = false, py::arg("name") = py::none());
  m.def(
      "one_hot",
      [](py::handle indices, int64_t depth, py::handle on, py::handle off, py::handle axis, py::handle dtype, py::handle) {
        DType dt = DType::Float32;
        if (!dtype.is_none()) dt = dtype_from_py(dtype);
        else if (!on.is_none() && is_tensorlike(on.ptr())) dt = to_tensor(on.ptr(), -1, "one_hot")->dtype;
        else if (!on.is_none() && PyLong_Check(on.ptr()) && !PyBool_Check(on.ptr())) dt = DType::Int32;
        double onv = on.is_none() ? 1.0 : item_as_double(*to_tensor(on.ptr(), int(dt), "one_hot"));
        double offv = off.is_none() ? 0.0 : item_as_double(*to_tensor(off.ptr(), int(dt), "one_hot"));
        return wrap_obj(ops::one_hot(arg_tensor(indices, "one_hot"), depth, onv, offv,
                                     axis.is_none() ? -1 : axis.cast<int64_t>(), dt));
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
  m.def("strided_slice", [](py::handle x, std::vector<int64_t> begin, std::vector<int64_t> size,
                            std::vector<int64_t> step) {
    return wrap_obj(ops::strided_slice(arg_tensor(x, "strided_slice"), begin, size, step));
  });
  m.def("_register_getitem", [](py::object fn) { g_getitem = fn.release().ptr(); });
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

  // ---- optimizers
  // ---- the tape: a C type (tape_type below), the base class of GradientTape
  if (PyType_Ready(&TapeType) < 0) throw py::error_already_set();
  Py_INCREF(&TapeType);
  m.attr("Tape") = py::handle(reinterpret_cast<PyObject*>(&TapeType));

  m.def("explain_", [](py::handle tape, py::handle target, py::handle source) {
    if (!PyObject_TypeCheck(tape.ptr(), &TapeType)) throw pft::TypeError("explain_: expected a GradientTape");
    TensorPtr t = to_tensor(target.ptr(), -1, "explain");
    int64_t sid = source_id(source);
    ExplainResult r = explain(*reinterpret_cast<PyTape*>(tape.ptr())->h.tape, t->id, sid);
    auto ev_dict = [](const ProvEvent& e) {
      py::dict d;
      d["cause"] = cause_name(e.cause);
      d["op"] = e.op ? e.op : "op";
      d["file"] = e.file() ? py::reinterpret_borrow<py::object>(e.file()) : py::none();
      d["line"] = e.line();
      d["dtype"] = dtype_name(e.out_dtype);
      return d;
    };
    py::dict d;
    d["connected"] = r.connected;
    d["source_watched"] = r.source_watched;
    d["path_found"] = r.path_found;
    py::list cuts, events, ops;
    for (auto& e : r.cuts) cuts.append(ev_dict(e));
    for (auto& e : r.source_events) events.append(ev_dict(e));
    for (auto& n : r.path_ops) ops.append(n);
    d["cuts"] = cuts;
    d["source_events"] = events;
    d["path_ops"] = ops;
    d["source_producer"] = r.has_source_producer ? py::object(ev_dict(r.source_producer)) : py::none();
    d["target_float"] = is_floating(t->dtype);
    d["target_dtype"] = dtype_name(t->dtype);
    return d;
  });
  m.def("tapes_active", []() { return tape_stack().size(); });
  m.def("pause_tapes", []() {
    py::list prev;
    for (Tape* t : tape_stack()) {
      prev.append(t->recording);
      t->recording = false;
    }
    return prev;
  });
  m.def("restore_tapes", [](py::list prev) {
    auto& st = tape_stack();
    for (size_t i = 0; i < st.size() && i < prev.size(); i++) st[i]->recording = prev[i].cast<bool>();
  });
  m.def("record_custom", [](py::list inputs, py::list outputs, py::object fn) {
    std::vector<TensorPtr> in, out;
    for (py::handle x : inputs) in.push_back(is_variable(x.ptr()) ? var_value(x.ptr()) : to_tensor(x.ptr(), -1, "custom_gradient"));
    for (py::handle y : outputs) out.push_back(to_tensor(y.ptr(), -1, "custom_gradient"));
    record_custom(in, out, fn.ptr());
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
  py::class_<PyVariableWatcher>(m, "VariableWatcher")
      .def(py::init<>())
      .def("__enter__", [](PyVariableWatcher& w) {
        variable_watchers().push_back(&w.w);
        w.active = true;
        return &w;
      }, py::return_value_policy::reference)
      .def("__exit__", [](PyVariableWatcher& w, py::args) {
        auto& st = variable_watchers();
        for (size_t i = st.size(); i-- > 0;)
          if (st[i] == &w.w) {
            st.erase(st.begin() + long(i));
            break;
          }
        w.active = false;
      })
      .def("variables", [](PyVariableWatcher& w) {
        py::list l;
        for (PyObject* v : w.w.vars) l.append(py::reinterpret_borrow<py::object>(v));
        return l;
      });
}
