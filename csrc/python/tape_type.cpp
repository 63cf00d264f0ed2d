#include <algorithm>
#include <thread>

#include "common.h"

namespace pft::python {
// ---------------------------------------------------------------------------------------------------
// Tape bindings
struct PyTapeHandle {
  std::shared_ptr<Tape> tape;
  bool pushed = false;
  bool entered = false;  // set by the first __enter__: TF's `self._tape is None` until then
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

// TF raises this (the used-tape text) from gradient(), jacobian() and batch_jacobian() while `self._tape is
// None`, i.e. on a tape that was never entered, persistent or not.
static void tape_check_entered(const PyTapeHandle& h) {
  if (!h.entered)
    throw pft::RuntimeError(
        "A non-persistent GradientTape can only be used to compute one set of gradients (or jacobians)");
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
  h.entered = true;
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
// optimizers explain None gradients from it), and pyfast_tape._nest's flatten / pack_sequence_as.
static PyObject* g_last_gradient_call = nullptr;
static PyObject* g_flatten = nullptr;
static PyObject* g_pack = nullptr;

static PyObject* tape_register(PyObject*, PyObject* args) {
  PyObject *local, *flatten, *pack;
  if (!PyArg_ParseTuple(args, "OOO", &local, &flatten, &pack)) return nullptr;
  for (auto [slot, v] : {std::pair{&g_last_gradient_call, local}, std::pair{&g_flatten, flatten}, std::pair{&g_pack, pack}}) {
    Py_XDECREF(*slot);
    Py_INCREF(v);
    *slot = v;
  }
  Py_RETURN_NONE;
}

static py::list flatten_nested(PyObject* o) {
  if (!g_flatten) throw pft::RuntimeError("GradientTape.gradient: pyfast_tape.tape was not imported");
  py::object r = py::reinterpret_steal<py::object>(PyObject_CallOneArg(g_flatten, o));
  if (!r) throw py::error_already_set();
  return py::list(r);
}
static py::list list_of(PyObject* o) {
  py::list l(1);
  l[0] = py::reinterpret_borrow<py::object>(o);
  return l;
}

enum class Unconnected { None, Zero, Raise };  // UnconnectedGradients in pyfast_tape/tape.py
static Unconnected parse_unconnected(PyObject* v) {
  if (!v) return Unconnected::None;  // None is an error, as in TF (UnconnectedGradients(None))
  py::object s = py::reinterpret_borrow<py::object>(v);
  if (!PyUnicode_Check(v) && py::hasattr(s, "value")) s = s.attr("value");  // the enum member
  if (PyUnicode_Check(s.ptr())) {
    const std::string name = py::str(s);
    if (name == "none") return Unconnected::None;
    if (name == "zero") return Unconnected::Zero;
    if (name == "raise") return Unconnected::Raise;
  }
  throw py::value_error("Unknown value for unconnected_gradients: " + value_repr(v));
}

// gradient(target, sources, output_gradients=None, unconnected_gradients=NONE). Every rule of the call is
// written here once: the thread and used-tape checks (Tape::gradient), releasing a non-persistent tape and
// stopping its recording, output_gradients (one per target, broadcast to its shape), unconnected_gradients,
// and the record of the call that the optimizers' None-gradient messages read. Python only supplies the
// nested-structure helpers (_nest), the warning text and the explanation for RAISE. The common call,
// `tape.gradient(loss, var_or_flat_list)`, touches no Python code.
static PyObject* tape_gradient_method(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  static const char* const names[] = {"target", "sources", "output_gradients", "unconnected_gradients"};
  PyObject* a[4];
  if (!bind_args("gradient", names, 4, 2, args, nargs, kwnames, a)) return nullptr;
  PFT_TRY
  PyTapeHandle& h = tape_of(self);
  tape_check_entered(h);
  const Unconnected mode = parse_unconnected(a[3]);
  if (h.pushed && h.tape->persistent) {  // TF warns: the backward pass is recorded too
    static PyObject* warn = PyUnicode_InternFromString("_warn_gradient_inside_context");
    py::object r = py::reinterpret_steal<py::object>(PyObject_CallMethodNoArgs(self, warn));
    if (!r) throw py::error_already_set();
  }
  // Flat lists of targets, sources and output gradients; `shape` says how to give the result back.
  enum { Single, FlatList, Nested } shape = Nested;
  py::list targets = is_tensorlike(a[0]) ? list_of(a[0]) : flatten_nested(a[0]);
  py::list sources;
  if (is_tensorlike(a[1])) {
    sources = list_of(a[1]);
    shape = Single;
  } else if (PyList_CheckExact(a[1])) {
    bool flat = true;
    for (Py_ssize_t i = 0; flat && i < PyList_GET_SIZE(a[1]); i++) flat = is_tensorlike(PyList_GET_ITEM(a[1], i));
    if (flat) {
      sources = py::reinterpret_borrow<py::list>(a[1]);
      shape = FlatList;
    }
  }
  if (shape == Nested) sources = flatten_nested(a[1]);
  py::list og;
  const bool has_og = a[2] && a[2] != Py_None;
  if (has_og) {
    og = is_tensorlike(a[2]) ? list_of(a[2]) : flatten_nested(a[2]);
    if (og.size() != targets.size())
      throw py::value_error("output_gradients has " + std::to_string(og.size()) + " entries but target has " +
                            std::to_string(targets.size()));
  }
  py::object grads = py::reinterpret_steal<py::object>(
      tape_gradient_list(h, targets.ptr(), sources.ptr(), has_og ? og.ptr() : nullptr, !h.tape->persistent));
  if (h.pushed && !h.tape->persistent) h.tape->recording = false;  // TF stops recording a used tape
  py::object last = py::reinterpret_steal<py::object>(PyTuple_Pack(4, self, targets.ptr(), sources.ptr(), grads.ptr()));
  if (!last) throw py::error_already_set();
  static PyObject* value = PyUnicode_InternFromString("value");
  if (PyObject_SetAttr(g_last_gradient_call, value, last.ptr()) < 0) throw py::error_already_set();
  if (mode != Unconnected::None) {
    bool any_none = false;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(grads.ptr()); i++) {
      if (PyList_GET_ITEM(grads.ptr(), i) != Py_None) continue;
      any_none = true;
      if (mode == Unconnected::Zero) {  // zeros of the source's dtype and shape, where the source lives
        PyObject* s = PyList_GET_ITEM(sources.ptr(), i);
        const TensorPtr& src = is_variable(s) ? var_value(s) : impl_of(s);
        PyList_SetItem(grads.ptr(), i, wrap(full(src->dtype, src->shape, 0.0, src->device())));
      }
    }
    if (mode == Unconnected::Raise && any_none) {  // the explanation is built in Python (tape.py)
      static PyObject* raise = PyUnicode_InternFromString("_raise_unconnected");
      PyObject* r = PyObject_CallMethodObjArgs(self, raise, targets.ptr(), sources.ptr(), grads.ptr(), nullptr);
      Py_XDECREF(r);
      throw py::error_already_set();
    }
  }
  if (shape == Single) {
    PyObject* g = PyList_GET_ITEM(grads.ptr(), 0);
    Py_INCREF(g);
    return g;
  }
  if (shape == FlatList) return grads.release().ptr();
  PyObject* packed = PyObject_CallFunctionObjArgs(g_pack, a[1], grads.ptr(), nullptr);
  if (!packed) throw py::error_already_set();
  return packed;
  PFT_CATCH(nullptr)
}

static PyObject* tape_check_usable(PyObject* self, PyObject*) {
  PFT_TRY
  tape_check_entered(tape_of(self));
  tape_of(self).tape->check_usable();
  Py_RETURN_NONE;
  PFT_CATCH(nullptr)
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
    {"_check_usable", tape_check_usable, METH_NOARGS, "Raises once a non-persistent tape has computed its gradients."},
    {"_register", tape_register, METH_VARARGS | METH_STATIC,
     "_register(last_call: threading.local, flatten, pack_sequence_as): set once by pyfast_tape/tape.py."},
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

struct PyVariableWatcher {
  VariableWatcher w;
  bool active = false;
};
void init_tape(py::module_& m) {
  g_custom_backward_caller = call_custom_backward;
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

}  // namespace pft::python
