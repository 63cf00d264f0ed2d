#include <cstring>

#include "common.h"

namespace pft::python {
// ---- Variable base type ---------------------------------------------------------------------------------
static int variable_init(PyObject* self, PyObject* args, PyObject* kwargs) {
  PFT_TRY
  static const char* kw[] = {"value", "trainable", nullptr};
  PyObject* value;
  int trainable = 1;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|p", const_cast<char**>(kw), &value, &trainable)) return -1;
  TensorPtr src = to_tensor(value, -1, "Variable");
  // The variable owns a private copy with an id of its own, on the tf.device scope's device if any.
  as_var(self)->value = variable_initial_value(src, scope_device() ? *scope_device() : src->device());
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

// assign / assign_add / assign_sub (csrc/variable.h has the semantics).
template <AssignOp KIND>
static PyObject* variable_assign(PyObject* self, PyObject* args, PyObject* kwargs) {
  PFT_TRY
  static const char* kw[] = {"value", "use_locking", "name", "read_value", nullptr};
  PyObject *value, *use_locking = nullptr, *name = nullptr, *read_value = nullptr;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|OOO", const_cast<char**>(kw), &value, &use_locking, &name,
                                   &read_value))
    return nullptr;
  const char* op = KIND == AssignOp::Assign ? "Variable.assign"
                   : KIND == AssignOp::Add  ? "Variable.assign_add"
                                            : "Variable.assign_sub";
  TensorPtr& cur = as_var(self)->value;
  var_value(self);  // initialised
  variable_assign(cur, to_tensor(value, int(cur->dtype), op), KIND, op);
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
  note_numpy_export(a.data(), t->id, ".numpy()");
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
    {"assign", (PyCFunction)(void (*)(void))variable_assign<AssignOp::Assign>, METH_VARARGS | METH_KEYWORDS, "Writes a new value (same shape and dtype)."},
    {"assign_add", (PyCFunction)(void (*)(void))variable_assign<AssignOp::Add>, METH_VARARGS | METH_KEYWORDS, "Adds to the value in place."},
    {"assign_sub", (PyCFunction)(void (*)(void))variable_assign<AssignOp::Sub>, METH_VARARGS | METH_KEYWORDS, "Subtracts from the value in place."},
    {"read_value", variable_read_value, METH_NOARGS, "The current value as a Tensor."},
    {"value", variable_read_value, METH_NOARGS, "The current value as a Tensor."},
    {"numpy", variable_numpy, METH_NOARGS, "A copy of the current value as a NumPy array."},
    {"__array__", (PyCFunction)(void (*)(void))variable_array, METH_VARARGS | METH_KEYWORDS, nullptr},
    {"__format__", tensor_format, METH_O, "The value formatted as NumPy formats it (f\"{v:.3f}\" for a scalar)."},
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
void init_variable_type(py::module_& m) {
  if (PyType_Ready(&VariableType) < 0) throw py::error_already_set();
  PyDict_SetItemString(VariableType.tp_dict, "__array_priority__", PyLong_FromLong(100));
  PyType_Modified(&VariableType);
  Py_INCREF(&VariableType);
  m.attr("VariableBase") = py::handle(reinterpret_cast<PyObject*>(&VariableType));
}

}  // namespace pft::python
