#include "provenance.h"

#include <frameobject.h>

#include <algorithm>

#include <unordered_map>
#include <unordered_set>

#include "tape.h"

namespace pft {

const char* cause_name(Cause c) {
  switch (c) {
    case Cause::OutsideTape: return "outside_tape";
    case Cause::VariableOutsideTape: return "variable_outside_tape";
    case Cause::StopRecording: return "stop_recording";
    case Cause::Unwatched: return "unwatched";
    case Cause::NonDifferentiable: return "non_differentiable";
    case Cause::StopGradient: return "stop_gradient";
    case Cause::NumpyRoundTrip: return "numpy_round_trip";
    case Cause::Assign: return "assign";
    case Cause::NonTrainableRead: return "non_trainable";
    case Cause::UnwatchedVariableRead: return "unwatched_variable";
  }
  return "unknown";
}

static PyObject* g_package_dir = nullptr;
void set_package_dir(PyObject* dir) {
  Py_XINCREF(dir);
  Py_XSETREF(g_package_dir, dir);
}

PyObject* ProvEvent::file() const { return code ? reinterpret_cast<PyCodeObject*>(code)->co_filename : nullptr; }
int ProvEvent::line() const { return code ? PyCode_Addr2Line(reinterpret_cast<PyCodeObject*>(code), lasti) : 0; }

// The innermost Python frame outside this package (the user's code): its code object and instruction
// offset. The line number is decoded later, only if explain() asks.
static void capture_location(PyObject** code_out, int* lasti) {
  *code_out = nullptr;
  *lasti = -1;
  PyFrameObject* f = PyEval_GetFrame();  // borrowed
  Py_XINCREF(f);
  while (f) {
    PyCodeObject* code = PyFrame_GetCode(f);  // new reference
    bool internal = g_package_dir && PyUnicode_Tailmatch(code->co_filename, g_package_dir, 0, PY_SSIZE_T_MAX, -1) == 1;
    if (!internal) {
      *code_out = reinterpret_cast<PyObject*>(code);  // keeps the reference
      *lasti = PyFrame_GetLasti(f);
      Py_DECREF(f);
      return;
    }
    Py_DECREF(code);
    PyFrameObject* back = PyFrame_GetBack(f);  // new reference
    Py_DECREF(f);
    f = back;
  }
}

// A bounded ring of events. Appending is a struct copy; explain() indexes it when asked.
struct ProvLog {
  static constexpr size_t kCapacity = 1 << 14;
  std::vector<ProvEvent> ring;
  size_t next = 0;
  // Variable NumPy exports: data pointer -> variable id (last few only)
  static constexpr size_t kExports = 64;
  const void* export_ptr[kExports] = {};
  int64_t export_id[kExports] = {};
  size_t export_next = 0;

  ~ProvLog() {
    if (!Py_IsInitialized()) return;  // interpreter gone at thread/process exit: leak the few strings
    for (auto& e : ring) Py_XDECREF(e.code);
  }
  void push(ProvEvent&& ev) {
    if (ring.size() < kCapacity) {
      ring.push_back(ev);
      return;
    }
    ProvEvent& old = ring[next];
    next = (next + 1) % kCapacity;
    Py_XDECREF(old.code);
    old = ev;
  }
  // Events in the order they were logged.
  template <class F>
  void for_each(F f) const {
    const size_t n = ring.size();
    const size_t start = n < kCapacity ? 0 : next;
    for (size_t k = 0; k < n; k++) f(ring[(start + k) % n], (start + k) % n);
  }
};

bool& in_backward() { return thread_state().in_backward; }

static ProvLog& prov_log() {
  thread_local ProvLog log;
  return log;
}

void log_event(Cause c, const char* op, std::initializer_list<int64_t> in_ids, int64_t out_id, DType out_dtype) {
  ProvEvent ev;
  ev.cause = c;
  ev.op = op;
  for (int64_t id : in_ids)
    if (ev.n_in < 3) ev.in_id[ev.n_in++] = id;
  ev.out_id = out_id;
  ev.out_dtype = out_dtype;
  capture_location(&ev.code, &ev.lasti);
  prov_log().push(std::move(ev));
}

void log_unrecorded(const char* op, const TensorImpl* const* inputs, int n, TensorImpl& out) {
  uint32_t fl = 0, g = 0;
  bool float_in = false;
  for (int k = 0; k < n; k++) {
    const TensorImpl* x = inputs[k];
    if (!x) continue;
    fl |= x->flags;
    g = std::max(g, gen_of(x->flags));
    float_in |= is_floating(x->dtype);
  }
  const bool active = any_tape_active();
  if (!g && !(fl & kFlagVariable) && !(active && float_in)) return;  // nothing anyone could ask about
  if (g >= kMaxGen) return;  // far downstream of any tape: stop following
  Cause c;
  if (!is_floating(out.dtype) && float_in) {
    c = Cause::NonDifferentiable;
  } else if (!active) {
    c = (!g && (fl & kFlagVariable)) ? Cause::VariableOutsideTape : Cause::OutsideTape;
  } else {
    bool recording = false;
    for (Tape* t : tape_stack()) recording |= t->recording;
    c = recording ? Cause::Unwatched : Cause::StopRecording;
  }
  ProvEvent ev;
  ev.cause = c;
  ev.op = op;
  for (int k = 0; k < n; k++)
    if (inputs[k] && ev.n_in < 3) ev.in_id[ev.n_in++] = inputs[k]->id;
  ev.out_id = out.id;
  ev.out_dtype = out.dtype;
  capture_location(&ev.code, &ev.lasti);
  prov_log().push(std::move(ev));
  out.flags = with_gen(out.flags, std::max<uint32_t>(g, 1) + 1);
}

void note_numpy_export(const void* data, int64_t var_id) {
  ProvLog& l = prov_log();
  l.export_ptr[l.export_next] = data;
  l.export_id[l.export_next] = var_id;
  l.export_next = (l.export_next + 1) % ProvLog::kExports;
}

int64_t find_numpy_export(const void* data) {
  ProvLog& l = prov_log();
  for (size_t k = 1; k <= ProvLog::kExports; k++) {  // newest first: freed buffers get reused
    size_t i = (l.export_next + ProvLog::kExports - k) % ProvLog::kExports;
    if (l.export_ptr[i] == data) return l.export_id[i];
  }
  return 0;
}

ExplainResult explain(const Tape& tape, int64_t target_id, int64_t source_id) {
  ExplainResult r;
  ProvLog& log = prov_log();
  std::unordered_map<int64_t, size_t> by_out;  // the latest event producing each id
  log.for_each([&](const ProvEvent& e, size_t slot) { by_out[e.out_id] = slot; });
  r.source_watched = tape.watched.count(source_id) > 0;

  // Producers on the tape: output id -> entry index.
  std::unordered_map<int64_t, size_t> tape_producer;
  for (size_t i = 0; i < tape.entries.size(); i++) {
    const TapeEntry& e = tape.entries[i];
    if (e.custom) {
      for (int64_t id : e.custom->out_id) tape_producer[id] = i;
    } else {
      tape_producer[e.out_id] = i;
    }
  }
  auto entry_inputs = [&](size_t i) {
    const TapeEntry& e = tape.entries[i];
    std::vector<int64_t> ins;
    if (e.custom) ins = e.custom->in_id;
    else ins.assign(e.in_id, e.in_id + e.n_in);
    return ins;
  };
  auto entry_name = [&](size_t i) -> std::string {
    const TapeEntry& e = tape.entries[i];
    return e.op ? e.op->name : "op";
  };

  // Connected: the source is watched and reaches the target through recorded entries.
  if (r.source_watched) {
    std::unordered_set<int64_t> reach{source_id};
    for (size_t i = 0; i < tape.entries.size(); i++) {
      bool hit = false;
      for (int64_t id : entry_inputs(i)) hit |= reach.count(id) > 0;
      if (!hit) continue;
      const TapeEntry& e = tape.entries[i];
      if (e.custom) {
        for (int64_t id : e.custom->out_id) reach.insert(id);
      } else {
        reach.insert(e.out_id);
      }
    }
    r.connected = reach.count(target_id) > 0;
    if (r.connected) return r;
  }

  // Walk back from the target through recorded entries and logged events to the source.
  struct Step {
    int64_t child;   // the id this step produced
    int kind;        // 0 tape entry, 1 log event
    size_t index;
  };
  std::unordered_map<int64_t, Step> parent;  // id -> how it was produced (on the path to the target)
  std::unordered_set<int64_t> seen{target_id};
  std::vector<int64_t> stack{target_id};
  bool found = target_id == source_id;
  while (!stack.empty() && !found) {
    int64_t id = stack.back();
    stack.pop_back();
    std::vector<int64_t> ins;
    Step st{id, 0, 0};
    auto tp = tape_producer.find(id);
    if (tp != tape_producer.end()) {
      st.index = tp->second;
      ins = entry_inputs(tp->second);
    } else {
      auto lp = by_out.find(id);
      if (lp == by_out.end()) continue;
      st.kind = 1;
      st.index = lp->second;
      const ProvEvent& ev = log.ring[lp->second];
      ins.assign(ev.in_id, ev.in_id + ev.n_in);
    }
    for (int64_t in : ins) {
      if (!in || seen.count(in)) continue;
      seen.insert(in);
      parent[in] = st;
      if (in == source_id) {
        found = true;
        break;
      }
      stack.push_back(in);
    }
  }
  r.path_found = found;
  if (found) {
    // From the source towards the target: each step is the op that consumed the previous id.
    int64_t id = source_id;
    while (id != target_id) {
      auto it = parent.find(id);
      if (it == parent.end()) break;
      const Step& st = it->second;
      if (st.kind == 0) {
        r.path_ops.push_back(entry_name(st.index));
      } else {
        const ProvEvent& ev = log.ring[st.index];
        r.path_ops.push_back(ev.op);
        r.cuts.push_back(ev);
      }
      id = st.child;
    }
  }
  // Events about the source itself: variable reads without a watch, unwatched uses, assignments.
  log.for_each([&](const ProvEvent& ev, size_t) {
    bool uses = ev.out_id == source_id && (ev.cause == Cause::NonTrainableRead || ev.cause == Cause::UnwatchedVariableRead ||
                                           ev.cause == Cause::Assign);
    for (int k = 0; k < ev.n_in; k++) uses |= ev.in_id[k] == source_id;
    if (uses) r.source_events.push_back(ev);
  });
  auto sp = by_out.find(source_id);
  if (sp != by_out.end()) {
    r.has_source_producer = true;
    r.source_producer = log.ring[sp->second];
  }
  return r;
}

}  // namespace pft
