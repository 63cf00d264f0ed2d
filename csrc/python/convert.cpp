// Conversion between Python values and tensors: NumPy arrays (zero-copy both ways where safe), Python
// scalars and nested lists, the registered dtype and TensorShape objects.
#include <algorithm>
#include <cstring>

#include "common.h"

namespace pft::python {
// Registered Python objects (set once from pyfast_tape/__init__.py)
PyObject* g_dtype_objects[kNumDTypes] = {};
PyObject* g_as_dtype_code = nullptr;   // python callable: anything -> int code
PyObject* g_tensor_shape_cls = nullptr;  // TensorShape(tuple)

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
py::array to_numpy_view(const TensorPtr& t, py::handle owner) {
  if (t->device().type != DeviceType::CPU) return to_numpy_copy(t);  // GPU memory: copied to the host
  std::vector<py::ssize_t> shape(t->shape.d, t->shape.d + t->shape.ndim);
  py::array arr(numpy_dtype(t->dtype), shape, {}, t->raw(), owner);
  py::detail::array_proxy(arr.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return arr;
}

py::array to_numpy_copy(const TensorPtr& t) {
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
  log_numpy_round_trip(from, data, t.id, t.dtype);  // names the export's line too
  t.flags = with_gen(t.flags, std::max<uint32_t>(g, 1) + 1);
}

// ---- Python value -> tensor --------------------------------------------------------------------------
DType dtype_from_py(py::handle h) {
  if (!g_as_dtype_code) throw pft::RuntimeError("pyfast_tape._core used before pyfast_tape was imported");
  py::object code = py::reinterpret_steal<py::object>(PyObject_CallOneArg(g_as_dtype_code, h.ptr()));
  if (!code) throw py::error_already_set();
  return DType(code.cast<int>());
}

static const char* py_type_name(PyObject* o) { return Py_TYPE(o)->tp_name; }

std::string value_repr(PyObject* o) {
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

TensorPtr cast_checked(const TensorPtr& t, DType want, PyObject* src, const char* op) {
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

// A new constant inside tf.device(...) lives on that device (a scalar is filled there, no copy).
TensorPtr to_scope_device(TensorPtr t) {
  if (const Device* d = scope_device())
    if (t->device() != *d) return ops::to_device(t, *d);
  return t;
}

TensorPtr to_host_tensor(PyObject* o, int hint, const char* op) {
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
        log_numpy_round_trip(from, o, t->id, t->dtype);
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

bool is_convertible(PyObject* o) {
  return is_tensor(o) || is_variable(o) || PyFloat_Check(o) || PyLong_Check(o) || PyList_Check(o) ||
         PyTuple_Check(o) || py::isinstance<py::array>(o) || PyObject_HasAttrString(o, "__array__");
}

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

void convert_pair(PyObject* a, PyObject* b, const char* op, TensorPtr& ta, TensorPtr& tb) {
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

TensorPtr binary_any(BinaryOp op, PyObject* a, PyObject* b) {
  TensorPtr ta, tb;
  convert_pair(a, b, binary_name(op), ta, tb);
  if (op == BinaryOp::Div && is_integer(ta->dtype) && ta->dtype == tb->dtype) {
    // TF's truediv: integer tensors are divided as float64
    ta = ops::cast(ta, DType::Float64);
    tb = ops::cast(tb, DType::Float64);
  }
  return ops::binary(op, ta, tb);
}

PyObject* shape_object(const Shape& s) {
  PyObject* tup = PyTuple_New(s.ndim);
  if (!tup) return nullptr;
  for (int i = 0; i < s.ndim; i++) PyTuple_SET_ITEM(tup, i, PyLong_FromLongLong(s.d[i]));
  if (!g_tensor_shape_cls) return tup;
  PyObject* r = PyObject_CallOneArg(g_tensor_shape_cls, tup);
  Py_DECREF(tup);
  return r;
}
PyObject* dtype_object(DType t) {
  PyObject* o = g_dtype_objects[int(t)];
  if (!o) return PyUnicode_FromString(dtype_name(t));
  Py_INCREF(o);
  return o;
}


// The shape as a plain tuple of ints: what the library's own Python code reads (a TensorShape object
// costs about a microsecond to build).
PyObject* shape_tuple(const Shape& s) {
  PyObject* t = PyTuple_New(s.ndim);
  if (!t) return nullptr;
  for (int i = 0; i < s.ndim; i++) PyTuple_SET_ITEM(t, i, PyLong_FromLongLong(s.d[i]));
  return t;
}
}  // namespace pft::python
