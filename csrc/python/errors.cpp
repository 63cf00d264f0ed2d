// The exceptions: the two error types the core defines, and the mapping of C++ exceptions to Python ones.
#include "common.h"

namespace pft::python {
// Exceptions
PyObject* g_InvalidArgumentError = nullptr;
PyObject* g_ResourceExhaustedError = nullptr;

void set_python_error() {
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


void init_errors(py::module_& m) {
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
}

}  // namespace pft::python
