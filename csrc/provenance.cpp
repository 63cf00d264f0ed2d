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
    case Cause::NumpyExport: return "numpy_export";
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

// One NumPy export (note_numpy_export): the key it is found by, the tensor, and where the user made it.
struct NumpyExportNote {
  const void* data = nullptr;
  int64_t id = 0;
  const char* how = nullptr;
  PyObject* code = nullptr;  // owned
  int lasti = -1;
  uint64_t stamp = 0;  // order of the notes, across the copy and view tables
};

// A bounded ring of events. Appending is a struct copy and a counter increment; explain() brings its
// indexes up to date from the events pushed since its last call (catch_up), so a call costs those events
// plus the path it walks, not the ring. Event number q (1-based, in push order) lives in slot
// (q - 1) % kCapacity and is still there while pushed - q < kCapacity: index entries hold q, and an entry
// whose event was overwritten is recognised and skipped (older events go first, so then none is left).
struct ProvLog {
  static constexpr size_t kCapacity = 1 << 14;
  std::vector<ProvEvent> ring;
  size_t next = 0;
  uint64_t pushed = 0;  // events ever pushed
  // NumPy exports (last few only): copies, found by data pointer; views, found by tensor id
  static constexpr size_t kExports = 64;
  NumpyExportNote exports[kExports];
  NumpyExportNote views[kExports];
  size_t export_next = 0, view_next = 0;
  uint64_t export_stamp = 0;
  int64_t export_event_id = 0;  // negative ids linking a NumpyExport event to its NumpyRoundTrip

  // ---- explain()'s indexes, valid for events [1, indexed]
  uint64_t indexed = 0;
  uint64_t indexed_since_rebuild = 0;  // bounds the stale entries the maps can hold
  std::unordered_map<int64_t, uint64_t> by_out;               // out id -> the latest event producing it
  std::unordered_map<int64_t, std::vector<uint64_t>> by_id;   // id -> events that read it or concern it, in order

  ~ProvLog() {
    if (!Py_IsInitialized()) return;  // interpreter gone at thread/process exit: leak the few strings
    for (auto& e : ring) Py_XDECREF(e.code);
    for (auto& x : exports) Py_XDECREF(x.code);
    for (auto& x : views) Py_XDECREF(x.code);
  }
  void push(ProvEvent&& ev) {
    pushed++;
    if (ring.size() < kCapacity) {
      ring.push_back(ev);
      return;
    }
    ProvEvent& old = ring[next];
    next = (next + 1) % kCapacity;
    Py_XDECREF(old.code);
    old = ev;
  }
  bool live(uint64_t q) const { return q && q <= pushed && pushed - q < kCapacity; }
  const ProvEvent& event(uint64_t q) const { return ring[(q - 1) % kCapacity]; }
  static bool concerns_out(const ProvEvent& e) {
    return e.cause == Cause::NonTrainableRead || e.cause == Cause::UnwatchedVariableRead || e.cause == Cause::Assign;
  }
  void index_event(uint64_t q) {
    const ProvEvent& e = event(q);
    by_out[e.out_id] = q;
    auto add = [&](int64_t id) {
      std::vector<uint64_t>& v = by_id[id];
      if (v.empty() || v.back() != q) v.push_back(q);  // once per event (x * x reads x twice)
    };
    if (concerns_out(e)) add(e.out_id);
    for (int k = 0; k < e.n_in; k++) add(e.in_id[k]);
  }
  // Brings the indexes up to date: the events pushed since the last call, or, when more than a ring's worth
  // arrived or the maps hold too many stale entries, the whole ring again (amortised over those events).
  void catch_up() {
    const uint64_t fresh = pushed - indexed;
    if (fresh > kCapacity || indexed_since_rebuild + fresh > 2 * kCapacity) {
      by_out.clear();
      by_id.clear();
      indexed = pushed > kCapacity ? pushed - kCapacity : 0;
      indexed_since_rebuild = 0;
    }
    for (uint64_t q = indexed + 1; q <= pushed; q++) index_event(q);
    indexed_since_rebuild += pushed - indexed;
    indexed = pushed;
  }
  // The live event that produced `id` last, or null.
  const ProvEvent* producer(int64_t id) const {
    auto it = by_out.find(id);
    return it != by_out.end() && live(it->second) ? &event(it->second) : nullptr;
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

void note_numpy_export(const void* data, int64_t id, const char* how, bool copy) {
  ProvLog& l = prov_log();
  size_t& next = copy ? l.export_next : l.view_next;
  NumpyExportNote& x = (copy ? l.exports : l.views)[next];
  next = (next + 1) % ProvLog::kExports;
  Py_XDECREF(x.code);
  x.data = data;
  x.id = id;
  x.how = how;
  x.stamp = ++l.export_stamp;
  capture_location(&x.code, &x.lasti);
}

int64_t find_numpy_export(const void* data) {
  ProvLog& l = prov_log();
  for (size_t k = 1; k <= ProvLog::kExports; k++) {  // newest first: freed buffers get reused
    size_t i = (l.export_next + ProvLog::kExports - k) % ProvLog::kExports;
    if (l.exports[i].stamp && l.exports[i].data == data) return l.exports[i].id;
  }
  return 0;
}

void log_numpy_round_trip(int64_t from, const void* data, int64_t out_id, DType out_dtype) {
  ProvLog& l = prov_log();
  // from's latest export, preferring one of this very memory (a tensor exported twice, one copy coming back)
  const NumpyExportNote* best = nullptr;
  auto rank = [&](const NumpyExportNote& x) { return x.id != from || !x.stamp ? 0 : x.data == data ? 2 : 1; };
  for (const NumpyExportNote* table : {l.exports, l.views})
    for (size_t i = 0; i < ProvLog::kExports; i++) {
      const NumpyExportNote& x = table[i];
      int r = rank(x);
      if (r && (!best || r > rank(*best) || (r == rank(*best) && x.stamp > best->stamp))) best = &x;
    }
  int64_t in = from;
  if (best && best->code) {
    ProvEvent ev;
    ev.cause = Cause::NumpyExport;
    ev.op = best->how ? best->how : ".numpy()";
    ev.n_in = 1;
    ev.in_id[0] = from;
    ev.out_id = in = --l.export_event_id;
    ev.out_dtype = out_dtype;
    Py_INCREF(best->code);
    ev.code = best->code;
    ev.lasti = best->lasti;
    l.push(std::move(ev));
  }
  log_event(Cause::NumpyRoundTrip, "numpy", {in}, out_id, out_dtype);
}

ExplainResult explain(const Tape& tape, int64_t target_id, int64_t source_id) {
  ExplainResult r;
  ProvLog& log = prov_log();
  log.catch_up();
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
    size_t index;    // the tape entry's index, or the log event's number
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
      auto lp = log.by_out.find(id);
      if (lp == log.by_out.end() || !log.live(lp->second)) continue;
      st.kind = 1;
      st.index = lp->second;
      const ProvEvent& ev = log.event(lp->second);
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
        const ProvEvent& ev = log.event(st.index);
        r.path_ops.push_back(ev.op);
        r.cuts.push_back(ev);
      }
      id = st.child;
    }
  }
  // Events about the source itself: variable reads without a watch, unwatched uses, assignments.
  auto se = log.by_id.find(source_id);
  if (se != log.by_id.end()) {
    std::vector<uint64_t>& qs = se->second;  // in the order they were logged: drop the overwritten ones
    qs.erase(qs.begin(), std::find_if(qs.begin(), qs.end(), [&](uint64_t q) { return log.live(q); }));
    for (uint64_t q : qs) r.source_events.push_back(log.event(q));
  }
  if (const ProvEvent* sp = log.producer(source_id)) {
    r.has_source_producer = true;
    r.source_producer = *sp;
  }
  return r;
}

}  // namespace pft
