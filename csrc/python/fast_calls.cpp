#include "common.h"

namespace pft::python {
// ---------------------------------------------------------------------------------------------------
// Module functions on a training step's hot path, bound with METH_FASTCALL: pybind11 fills in and converts
// every defaulted parameter on each call (about 100 ns for matmul's seven, reduce_mean's four). Their
// docstrings keep pybind11's signature line, which tests/test_typing.py checks against _core.pyi.

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
  const bool no_x = !a[1] || a[1] == Py_None, no_y = !a[2] || a[2] == Py_None;
  if (no_x && no_y) return wrap(ops::where_indices(to_tensor(a[0], -1, "where")));  // TF's where(condition)
  if (no_x || no_y) throw py::value_error("x and y must both be non-None or both be None.");
  TensorPtr c = to_tensor(a[0], int(DType::Bool), "where");
  TensorPtr tx, ty;
  convert_pair(a[1], a[2], "where", tx, ty);
  return wrap(ops::where(c, tx, ty));
  PFT_CATCH(nullptr)
}

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
  *variable_writable(as_var(it.ptr())->value, true).data<int64_t>() += 1;
}

// ---- optimizer updates (one native call per apply_gradients), METH_FASTCALL as well: pybind11's dispatch
// of seven list and float arguments cost more than the update of a small model's variables.
static TensorPtr writable_var(PyObject* var, const char* fn) {
  if (!is_variable(var)) throw pft::TypeError(std::string(fn) + ": " + value_repr(var) + " is not a Variable");
  variable_writable(as_var(var)->value, true);
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
void init_fast_calls(py::module_& m) {
  if (PyModule_AddFunctions(m.ptr(), fast_functions) < 0) throw py::error_already_set();
}

}  // namespace pft::python
