// What the files of the Python binding layer (csrc/python/*.cpp) share: the object layouts of Tensor
// and Variable, the hot-path helpers (inline: each op call goes through them), and the declarations of
// conversion, argument parsing, errors and DLPack. The binding layer converts arguments and dispatches;
// op semantics live below it (csrc/ops/, csrc/variable.h). docs/ARCHITECTURE.md has the map.
//
// Everything here runs with the GIL held: reference counts and the tape are touched under it.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "../ops/ops.h"
#include "../provenance.h"
#include "../tape.h"
#include "../tensor.h"
#include "../variable.h"

namespace py = pybind11;

namespace pft::python {

// ---- errors (errors.cpp) ------------------------------------------------------------------------------
extern PyObject* g_InvalidArgumentError;
extern PyObject* g_ResourceExhaustedError;
// Converts the in-flight C++ exception into a Python error. Nothing escapes the bindings.
void set_python_error();
void init_errors(py::module_& m);

#define PFT_TRY try {
#define PFT_CATCH(ret)                  \
  }                                     \
  catch (...) {                         \
    ::pft::python::set_python_error();  \
    return ret;                         \
  }

// ---- the object layouts -------------------------------------------------------------------------------
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
extern PyTypeObject TensorType;    // tensor_type.cpp
extern PyTypeObject VariableType;  // variable_type.cpp
extern PyTypeObject TapeType;      // tape_type.cpp

inline bool is_tensor(PyObject* o) { return Py_TYPE(o) == &TensorType; }
inline bool is_variable(PyObject* o) { return PyObject_TypeCheck(o, &VariableType); }
inline bool is_tensorlike(PyObject* o) { return is_tensor(o) || is_variable(o); }
inline const TensorPtr& impl_of(PyObject* self) { return reinterpret_cast<PyTensor*>(self)->impl; }
inline PyVariable* as_var(PyObject* self) { return reinterpret_cast<PyVariable*>(self); }

inline PyObject* wrap(TensorPtr t) {
  PyTensor* o = PyObject_New(PyTensor, &TensorType);
  if (!o) throw std::bad_alloc();
  new (&o->impl) TensorPtr(std::move(t));
  return reinterpret_cast<PyObject*>(o);
}
inline py::object wrap_obj(TensorPtr t) { return py::reinterpret_steal<py::object>(wrap(std::move(t))); }

// The variable's value without a read (no tape sees it).
inline const TensorPtr& var_value(PyObject* self) {
  PyVariable* v = as_var(self);
  if (!v->value) throw pft::RuntimeError("Variable used before it was initialised");
  return v->value;
}
// A Variable read: the current value, watched on the active tapes (trainable variables).
inline const TensorPtr& read_variable(PyObject* o) {
  PyVariable* v = as_var(o);
  if (!v->value) throw pft::RuntimeError("Variable used before it was initialised");
  if (any_tape_active() || !variable_watchers().empty()) on_variable_read(v->value->id, o, v->trainable);
  return v->value;
}

// ---- conversion (convert.cpp) -------------------------------------------------------------------------
// Registered once from pyfast_tape/__init__.py (_core._register).
extern PyObject* g_dtype_objects[kNumDTypes];
extern PyObject* g_as_dtype_code;     // python callable: anything -> int code
extern PyObject* g_tensor_shape_cls;  // TensorShape(tuple)

// A non-tensor Python value as a tensor on the host (Python scalars, lists, NumPy arrays and scalars).
TensorPtr to_host_tensor(PyObject* o, int hint, const char* op);
TensorPtr to_scope_device(TensorPtr t);  // onto the tf.device scope's device, if any
// Converts any Python value to a tensor. `hint` (or -1) is the dtype the op needs: Python scalars take
// it, NumPy arrays are cast to it where no information is lost, tensors are returned as they are (the
// op checks dtypes and raises on a mismatch: no silent promotion).
inline TensorPtr to_tensor(PyObject* o, int hint, const char* op) {
  if (is_tensor(o)) return impl_of(o);
  if (is_variable(o)) return read_variable(o);
  return to_scope_device(to_host_tensor(o, hint, op));
}
bool is_convertible(PyObject* o);
std::string value_repr(PyObject* o);  // repr(o), cut to 60 characters, for error messages
DType dtype_from_py(py::handle h);    // tf.float32, "float32", np.float32 ... -> DType
TensorPtr cast_checked(const TensorPtr& t, DType want, PyObject* src, const char* op);
// The inputs of a same-dtype op: the first tensor among them fixes the dtype, the other is converted to it.
void convert_pair(PyObject* a, PyObject* b, const char* op, TensorPtr& ta, TensorPtr& tb);
TensorPtr binary_any(BinaryOp op, PyObject* a, PyObject* b);  // convert_pair, then the op (TF's truediv for ints)

py::array to_numpy_copy(const TensorPtr& t);
py::array to_numpy_view(const TensorPtr& t, py::handle owner);  // read-only, zero-copy on the CPU
PyObject* shape_object(const Shape& s);  // a TensorShape
PyObject* shape_tuple(const Shape& s);   // a plain tuple of ints
PyObject* dtype_object(DType t);         // the registered tf.DType

// ---- argument parsing (args.cpp): one parser for every binding; errors name the op -------------------
inline TensorPtr arg_tensor(py::handle h, const char* op, int hint = -1) { return to_tensor(h.ptr(), hint, op); }
uint32_t parse_axes(py::handle axis, int ndim, const char* op);  // None, an int or a list -> axis bit mask
std::vector<int64_t> parse_int_list(py::handle h, const char* op, const char* what);
Shape parse_shape(py::handle h, const char* op);  // non-negative dims, rank <= 8, element count checked
int64_t index_as_int64(PyObject* o, const char* op, const char* what);  // InvalidArgument beyond int64
// An integer argument (Python int, NumPy integer, 0-d integer tensor), or a TypeError naming the op.
int64_t int_arg(py::handle h, const char* op, const char* what);
int64_t opt_int_arg(py::handle h, int64_t dflt, const char* op, const char* what);  // None -> dflt
int opt_dtype(py::handle h);  // None -> -1, else the DType code
double float_arg(PyObject* o, const char* fn, const char* name);
PyObject* list_arg(PyObject* o, const char* fn, const char* name);
// A bool parameter: absent or None means false (TF: `keepdims=None` is False); otherwise its truth value.
bool flag_arg(PyObject* o);
// METH_FASTCALL argument binding: positional and keyword arguments to the parameters `names` (all
// positional-or-keyword; the first n_required required); out[i] is a borrowed reference, or nullptr where
// not given. Python's messages; returns false with the error set.
bool bind_args(const char* fn, const char* const* names, int n, int n_required, PyObject* const* args,
               Py_ssize_t nargs, PyObject* kwnames, PyObject** out);

// ---- DLPack (dlpack.cpp) -------------------------------------------------------------------------------
PyObject* tensor_dlpack(PyObject* self, PyObject* args, PyObject* kwargs);  // Tensor.__dlpack__
PyObject* tensor_dlpack_device(PyObject* self, PyObject*);                   // Tensor.__dlpack_device__
void init_dlpack(py::module_& m);

// ---- the Tensor type's slots that Variable shares (tensor_type.cpp) -----------------------------------
extern PyNumberMethods tensor_as_number;
extern PySequenceMethods tensor_as_sequence;
extern PyMappingMethods tensor_as_mapping;
Py_hash_t tensor_hash(PyObject* self);
PyObject* tp_richcompare(PyObject* a, PyObject* b, int opid);
PyObject* tensor_format(PyObject* self, PyObject* spec);  // __format__ (Tensor and Variable)
std::string numpy_text(const TensorPtr& t, py::handle owner, bool is_repr);  // TF's numpy_text
void init_tensor_type(py::module_& m);

// ---- the other parts of the module --------------------------------------------------------------------
void init_variable_type(py::module_& m);  // variable_type.cpp
void init_tape(py::module_& m);           // tape_type.cpp: Tape, explain_, custom gradients, watchers
void init_fast_calls(py::module_& m);     // fast_calls.cpp: METH_FASTCALL hot functions, optimizer updates
void init_functions(py::module_& m);      // functions.cpp: the ops, one function each
void init_runtime(py::module_& m);        // module.cpp: devices, threads, registration

}  // namespace pft::python
