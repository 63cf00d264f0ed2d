// The Tensor type: a hand-written CPython type holding a shared_ptr<TensorImpl> (DESIGN: ~100 ns per
// recorded op this way, ~316 ns with py::class_), with the operator slots Variable shares.
#include "common.h"

namespace pft::python {
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
static PyObject* nb_invert(PyObject* a) {  // TF: ~t is logical_not for bool tensors
  PFT_TRY
  return wrap(ops::predicate(PredicateOp::LogicalNot, to_tensor(a, -1, "logical_not")));
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
  return PyLong_FromLongLong(item_as_int64(*t));
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

PyNumberMethods tensor_as_number = [] {
  PyNumberMethods m{};
  m.nb_add = nb_binary<BinaryOp::Add>;
  m.nb_subtract = nb_binary<BinaryOp::Sub>;
  m.nb_multiply = nb_binary<BinaryOp::Mul>;
  m.nb_true_divide = nb_binary<BinaryOp::Div>;
  m.nb_floor_divide = nb_binary<BinaryOp::FloorDiv>;  // TF: // is floordiv, % is floormod
  m.nb_remainder = nb_binary<BinaryOp::FloorMod>;
  m.nb_and = nb_binary<BinaryOp::LogicalAnd>;  // &, |, ^, ~ on bool tensors: TF's logical ops
  m.nb_or = nb_binary<BinaryOp::LogicalOr>;
  m.nb_xor = nb_binary<BinaryOp::LogicalXor>;
  m.nb_invert = nb_invert;
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

PyObject* tp_richcompare(PyObject* a, PyObject* b, int opid) {
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

Py_hash_t tensor_hash(PyObject* self) {
  PyErr_SetString(PyExc_TypeError, is_variable(self)
                                       ? "Variable is unhashable. Instead, use variable.ref() as the key."
                                       : "Tensor is unhashable. Instead, use tensor.ref() as the key.");
  return -1;
}


// ---- Tensor methods and properties ---------------------------------------------------------------------
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
  py::array a = to_numpy_view(t, self);
  // where it left the tape (a round trip of the view leads back to `self` through the array's base)
  if (gen_of(t->flags)) note_numpy_export(a.data(), t->id, ".numpy()", false);
  return a.release().ptr();
  PFT_CATCH(nullptr)
}

static PyObject* tensor_array(PyObject* self, PyObject* args, PyObject* kwargs) {
  PFT_TRY
  static const char* kw[] = {"dtype", "copy", nullptr};
  PyObject* dtype = Py_None;
  PyObject* copy = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OO", const_cast<char**>(kw), &dtype, &copy)) return nullptr;
  const TensorPtr& t = impl_of(self);
  py::array np_arr = (copy == Py_True) ? to_numpy_copy(t) : to_numpy_view(t, self);
  if (gen_of(t->flags)) note_numpy_export(np_arr.data(), t->id, "np.asarray", false);  // where it left the tape
  py::object arr = std::move(np_arr);
  if (dtype != Py_None) arr = arr.attr("astype")(py::handle(dtype));
  return arr.release().ptr();
  PFT_CATCH(nullptr)
}

// TF's numpy_text: the value as NumPy prints it (repr: a rank-0 value as its Python item, `1.5`), on a
// line of its own when it spans several.
std::string numpy_text(const TensorPtr& t, py::handle owner, bool is_repr) {
  py::object arr = to_numpy_view(t, owner);
  std::string text = is_repr ? std::string(py::repr(t->ndim() == 0 ? arr.attr("item")() : arr)) : std::string(py::str(arr));
  if (text.find('\n') != std::string::npos) text = "\n" + text;
  return text;
}

static PyObject* tensor_repr_impl(PyObject* self, bool as_str) {
  PFT_TRY
  const TensorPtr& t = impl_of(self);
  py::object shape = py::reinterpret_steal<py::object>(shape_object(t->shape));
  if (!shape) throw py::error_already_set();
  std::string s;
  if (as_str)
    s = "tf.Tensor(" + numpy_text(t, self, false) + ", shape=" + std::string(py::str(shape)) + ", dtype=" +
        dtype_name(t->dtype) + ")";
  else
    s = "<tf.Tensor: shape=" + std::string(py::str(shape)) + ", dtype=" + dtype_name(t->dtype) +
        ", numpy=" + numpy_text(t, self, true) + ">";
  return PyUnicode_FromString(s.c_str());
  PFT_CATCH(nullptr)
}
// f"{t:.3f}", "{}".format(t): the NumPy value's own __format__ (TF's rule): a scalar takes any float/int
// spec, an array only the empty one (then it is str(array)).
PyObject* tensor_format(PyObject* self, PyObject* spec) {
  PFT_TRY
  const TensorPtr& t = is_variable(self) ? var_value(self) : impl_of(self);
  py::object arr = to_numpy_view(t, self);
  py::object v = t->ndim() == 0 ? arr[py::tuple()] : arr;  // a NumPy scalar for rank 0
  return PyObject_Format(v.ptr(), spec);
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
    {"__format__", tensor_format, METH_O, "The value formatted as NumPy formats it (f\"{t:.3f}\" for a scalar)."},
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
PyMappingMethods tensor_as_mapping = [] {
  PyMappingMethods m{};
  m.mp_subscript = tensor_subscript;
  return m;
}();

PySequenceMethods tensor_as_sequence = [] {
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
void init_tensor_type(py::module_& m) {
  m.def("numpy_text", [](py::handle x, bool is_repr) {  // Variable.__repr__ (pyfast_tape/variables.py)
    const TensorPtr& t = is_variable(x.ptr()) ? var_value(x.ptr()) : arg_tensor(x, "numpy_text");
    return numpy_text(t, py::none(), is_repr);
  }, py::arg("x"), py::arg("is_repr") = false);
  if (PyType_Ready(&TensorType) < 0) throw py::error_already_set();
  // NumPy defers binary operators on (ndarray, Tensor) to the Tensor (TF's __array_priority__).
  PyDict_SetItemString(TensorType.tp_dict, "__array_priority__", PyLong_FromLong(100));
  PyType_Modified(&TensorType);
  Py_INCREF(&TensorType);
  m.attr("Tensor") = py::handle(reinterpret_cast<PyObject*>(&TensorType));
  m.def("_register_getitem", [](py::object fn) { g_getitem = fn.release().ptr(); });
}

}  // namespace pft::python
