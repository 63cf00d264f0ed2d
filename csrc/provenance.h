// "Why is there no gradient?" — a cheap log of what the tape did NOT record, and why.
//
// Tensors carry a generation counter (tensor.h flags): 1 for outputs of recorded ops and watched
// tensors, growing by one through each op that no tape recorded. An op that is not recorded but whose
// inputs carry tape provenance (or that runs while a tape is active) appends one event to a
// thread-local ring: the cause, the op, input/output ids and the user's file:line (the innermost Python
// frame outside this package). With nothing to explain, an op pays one flag test per input.
// explain() walks back from a target through the tape's entries and this log to a source and reports
// where the path was cut.
#pragma once
#include <Python.h>

#include <string>
#include <vector>

#include "tensor.h"

namespace pft {

struct Tape;

enum class Cause : uint8_t {
  OutsideTape,            // the op ran while no tape was active (e.g. the loss after the `with` block)
  VariableOutsideTape,    // an op read a Variable outside any tape: its result is a plain Tensor
  StopRecording,          // inside tape.stop_recording()
  Unwatched,              // a tape was recording but watched none of the op's inputs
  NonDifferentiable,      // integer/bool output: cast to an integer, argmax, a comparison, one_hot
  StopGradient,           // tf.stop_gradient
  NumpyRoundTrip,         // a tensor rebuilt from NumPy memory of a (recorded) tensor or a Variable
  Assign,                 // Variable.assign*: state stops gradients
  NonTrainableRead,       // a non-trainable Variable read inside a tape
  UnwatchedVariableRead,  // a Variable read by a tape with watch_accessed_variables=False
  NumpyExport,            // where a round-tripped value left the tape (.numpy(), np.asarray): logged with the
                          // NumpyRoundTrip event that brings it back, which reads this event's (negative) out id
};
const char* cause_name(Cause c);

struct ProvEvent {
  Cause cause;
  const char* op;
  int n_in = 0;
  int64_t in_id[3] = {};
  int64_t out_id = 0;
  DType out_dtype = DType::Float32;
  PyObject* code = nullptr;  // owned reference to the user's code object (or null)
  int lasti = -1;            // its instruction offset: the line is computed only when explain() asks
  PyObject* file() const;    // borrowed co_filename, or null
  int line() const;
};

// The package directory whose frames are skipped when locating the user's line.
void set_package_dir(PyObject* dir);
void log_event(Cause c, const char* op, std::initializer_list<int64_t> in_ids, int64_t out_id, DType out_dtype);
// Called for an op that no tape recorded: logs it when its inputs carry provenance or a tape is active.
void log_unrecorded(const char* op, const TensorImpl* const* inputs, int n, TensorImpl& out);

// Set while a tape plays its entries back: the backward ops read saved tensors with no tape recording,
// which is not a cut anyone asked about, so nothing is logged for them.
bool& in_backward();

// NumPy exports: remembered with the user's file:line and `how` (".numpy()", "np.asarray"), newest first.
// Copies (Variable.numpy(), the NumPy scalar of a rank-0 tensor) are found again by data pointer / object
// address (find_numpy_export), so a round trip back into a tensor can be traced; the others (copy=false:
// Tensor.numpy(), np.asarray(t), whose views lead back to their tensor through the array's base) are noted
// only for the line where the value left the tape.
void note_numpy_export(const void* data, int64_t id, const char* how = ".numpy()", bool copy = true);
int64_t find_numpy_export(const void* data);
// Logs the round trip of tensor `from`'s value (NumPy memory `data`) back into tensor `out_id`: a NumpyExport
// event at the line of from's latest export (when one was noted), then the NumpyRoundTrip event here.
void log_numpy_round_trip(int64_t from, const void* data, int64_t out_id, DType out_dtype);

struct ExplainResult {
  bool connected = false;
  bool source_watched = false;
  bool path_found = false;
  std::vector<ProvEvent> cuts;          // log events on the path, nearest the source first
  std::vector<ProvEvent> source_events; // events that read the source (variable reads, unwatched uses)
  bool has_source_producer = false;
  ProvEvent source_producer;            // the logged op that produced the source, if any
  std::vector<std::string> path_ops;    // op names on the path, source side first
};
ExplainResult explain(const Tape& tape, int64_t target_id, int64_t source_id);

}  // namespace pft
