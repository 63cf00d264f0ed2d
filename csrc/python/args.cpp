#include "common.h"

namespace pft::python {
// ---------------------------------------------------------------------------------------------------
// Argument parsing helpers for the module functions

uint32_t parse_axes(py::handle axis, int ndim, const char* op) {
  if (axis.is_none()) return ops::axes_mask(op, {}, true, ndim);
  std::vector<int64_t> axes;
  if (PyLong_Check(axis.ptr()) || is_tensor(axis.ptr()) || py::isinstance<py::array>(axis) ||
      (PyIndex_Check(axis.ptr()) && !PySequence_Check(axis.ptr()))) {
    TensorPtr t = to_tensor(axis.ptr(), -1, op);
    if (!is_integer(t->dtype)) throw pft::TypeError(std::string(op) + ": axis must be an integer or a list of integers");
    for (int64_t i = 0; i < t->numel; i++) axes.push_back(item_as_int64(*t, i));
  } else if (PyList_Check(axis.ptr()) || PyTuple_Check(axis.ptr())) {
    for (py::handle a : axis) {
      if (!PyLong_Check(a.ptr()) && !PyIndex_Check(a.ptr()))
        throw pft::TypeError(std::string(op) + ": axis must be an integer or a list of integers, got " +
                             value_repr(axis.ptr()));
      axes.push_back(index_as_int64(a.ptr(), op, "axis"));
    }
  } else {
    throw pft::TypeError(std::string(op) + ": axis must be None, an integer or a list of integers, got " +
                         value_repr(axis.ptr()));
  }
  return ops::axes_mask(op, axes, false, ndim);
}

// A Python integer (or __index__ object) as int64: beyond int64 is an InvalidArgument naming the op (TF's
// rule for shapes and sizes), not pybind11's cast text.
int64_t index_as_int64(PyObject* o, const char* op, const char* what) {
  py::object i = py::reinterpret_steal<py::object>(PyNumber_Index(o));
  if (!i) throw py::error_already_set();
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
  if (overflow)
    throw InvalidArgument(std::string(op) + ": " + what + " value " + value_repr(o) +
                          " is outside the int64 range [-2**63, 2**63 - 1]");
  if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
  return int64_t(v);
}

std::vector<int64_t> parse_int_list(py::handle h, const char* op, const char* what) {
  std::vector<int64_t> out;
  if (PyLong_Check(h.ptr())) {
    out.push_back(index_as_int64(h.ptr(), op, what));
    return out;
  }
  if (is_tensorlike(h.ptr()) || py::isinstance<py::array>(h)) {
    TensorPtr t = to_tensor(h.ptr(), -1, op);
    if (!is_integer(t->dtype))
      throw pft::TypeError(std::string(op) + ": " + what + " must be integers, got " + describe(*t));
    for (int64_t i = 0; i < t->numel; i++) out.push_back(item_as_int64(*t, i));
    return out;
  }
  if (!PySequence_Check(h.ptr()))
    throw pft::TypeError(std::string(op) + ": " + what + " must be a list of integers, got " + value_repr(h.ptr()));
  for (py::handle a : h) {
    if (a.is_none())
      throw InvalidArgument(std::string(op) + ": " + what + " must be fully defined, got None in " + value_repr(h.ptr()));
    if (!PyIndex_Check(a.ptr()))
      throw pft::TypeError(std::string(op) + ": " + what + " must be a list of integers, got " + value_repr(h.ptr()));
    out.push_back(index_as_int64(a.ptr(), op, what));
  }
  return out;
}

Shape parse_shape(py::handle h, const char* op) {
  auto v = parse_int_list(h, op, "shape");
  for (int64_t d : v)
    if (d < 0) throw InvalidArgument(std::string(op) + ": shape " + value_repr(h.ptr()) + " has a negative dimension");
  if (v.size() > size_t(kMaxRank))
    throw InvalidArgument(std::string(op) + ": tensors of rank > 8 are not supported (shape " + value_repr(h.ptr()) + ")");
  Shape s = Shape::of(v.data(), int(v.size()));
  check_shape(s, op);  // the element count fits in int64
  return s;
}

// An integer argument (Python int, NumPy integer, 0-d integer tensor), or a TypeError naming the op.
int64_t int_arg(py::handle h, const char* op, const char* what) {
  if (PyBool_Check(h.ptr()) || !PyIndex_Check(h.ptr()))
    throw pft::TypeError(std::string(op) + ": " + what + " must be an integer, got " + value_repr(h.ptr()));
  return index_as_int64(h.ptr(), op, what);
}

int64_t opt_int_arg(py::handle h, int64_t dflt, const char* op, const char* what) {
  return h.is_none() ? dflt : int_arg(h, op, what);
}

int opt_dtype(py::handle h) { return h.is_none() ? -1 : int(dtype_from_py(h)); }

// Binds positional and keyword arguments to the parameters `names` (all positional-or-keyword; the first
// n_required required); out[i] is a borrowed reference, or nullptr where not given. Python's messages.
bool bind_args(const char* fn, const char* const* names, int n, int n_required, PyObject* const* args,
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
bool flag_arg(PyObject* o) {
  if (!o || o == Py_False || o == Py_None) return false;
  if (o == Py_True) return true;
  const int r = PyObject_IsTrue(o);
  if (r < 0) throw py::error_already_set();
  return r == 1;
}

double float_arg(PyObject* o, const char* fn, const char* name) {
  const double v = PyFloat_AsDouble(o);
  if (v == -1.0 && PyErr_Occurred()) {
    PyErr_Clear();
    throw pft::TypeError(std::string(fn) + ": " + name + " must be a number, got " + value_repr(o));
  }
  return v;
}
PyObject* list_arg(PyObject* o, const char* fn, const char* name) {
  if (!PyList_Check(o)) throw pft::TypeError(std::string(fn) + ": " + name + " must be a list, got " + value_repr(o));
  return o;
}
}  // namespace pft::python
