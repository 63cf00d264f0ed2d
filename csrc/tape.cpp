#include "tape.h"

#include "ops/ops.h"
#include "provenance.h"

namespace pft {

CustomBackwardCaller g_custom_backward_caller = nullptr;

std::vector<VariableWatcher*>& variable_watchers() {
  thread_local std::vector<VariableWatcher*> w;
  return w;
}

CustomEntry::~CustomEntry() { Py_XDECREF(fn); }

// First chunks of EntryList (8 entries): a few per thread in ThreadState (tensor.h), which frees them at
// the thread's exit.
void* entry_chunk_alloc(size_t n_entries) {
  if (n_entries == 8) {
    ThreadState& s = thread_state();
    if (s.n_chunks) return s.chunks[--s.n_chunks];
  }
  return ::operator new(n_entries * sizeof(TapeEntry));
}

void entry_chunk_free(void* p, size_t n_entries) {
  ThreadState& s = thread_state();
  if (n_entries == 8 && !s.closed && s.n_chunks < ThreadState::kChunkCache) {
    s.chunks[s.n_chunks++] = p;
    return;
  }
  ::operator delete(p);
}

Tape::~Tape() {
  for (PyObject* v : watched_variables) Py_DECREF(v);
}

void Tape::watch_variable(int64_t id, PyObject* var) {
  watched.insert(id);
  if (watched_variable_ids.insert(id)) {
    Py_INCREF(var);
    watched_variables.push_back(var);
  }
}

void Tape::reset() {
  entries.clear();
  watched.clear();
  for (PyObject* v : watched_variables) Py_DECREF(v);
  watched_variables.clear();
  watched_variable_ids.clear();
  used = false;
}

bool should_record(const int64_t* ids, int n) {
  for (Tape* t : tape_stack()) {
    if (!t->recording) continue;
    for (int k = 0; k < n; k++)
      if (t->watched.count(ids[k])) return true;
  }
  return false;
}

bool record(const OpDef* op, std::initializer_list<TensorPtr> inputs, const TensorPtr& out, const int64_t* attrs,
            int n_attrs, double fattr, const TensorPtr& saved) {
  bool recorded = false;
  for (Tape* t : tape_stack()) {
    if (!t->recording) continue;
    bool watches = false;
    for (const TensorPtr& x : inputs)
      if (x && t->watched.count(x->id)) watches = true;
    if (!watches) continue;
    t->entries.emplace_back();
    TapeEntry& e = t->entries.back();
    e.op = op;
    for (const TensorPtr& x : inputs) {
      e.in_id[e.n_in] = x ? x->id : 0;
      e.in[e.n_in] = x;
      e.n_in++;
    }
    e.out_id = out->id;
    e.out = out;
    for (int k = 0; k < n_attrs; k++) e.attr[k] = attrs[k];
    e.fattr = fattr;
    e.saved = saved;
    t->watched.insert(out->id);
    recorded = true;
  }
  if (recorded) out->flags = with_gen(out->flags, 1);
  return recorded;
}

void finish_op(const OpDef* op, const char* name, std::initializer_list<TensorPtr> inputs, const TensorPtr& out,
               const int64_t* attrs, int n_attrs, double fattr, const TensorPtr& saved) {
  const bool active = any_tape_active();
  if (active && op && is_floating(out->dtype) && record(op, inputs, out, attrs, n_attrs, fattr, saved)) return;
  uint32_t fl = 0;
  for (const TensorPtr& x : inputs)
    if (x) fl |= x->flags;
  if ((!active && !fl) || in_backward()) return;  // the common eager case, and backward passes: nothing to explain
  const TensorImpl* raw[kMaxOpInputs] = {};
  int n = 0;
  for (const TensorPtr& x : inputs)
    if (n < kMaxOpInputs) raw[n++] = x.get();
  log_unrecorded(name, raw, n, *out);
}

static const OpDef kCustomGradient = {"custom_gradient", nullptr};

void record_custom(const std::vector<TensorPtr>& inputs, const std::vector<TensorPtr>& outputs, PyObject* fn) {
  for (Tape* t : tape_stack()) {
    if (!t->recording) continue;
    bool watches = false;
    for (const TensorPtr& x : inputs)
      if (t->watched.count(x->id)) watches = true;
    if (!watches) continue;
    t->entries.emplace_back();
    TapeEntry& e = t->entries.back();
    e.op = &kCustomGradient;
    e.custom = std::make_unique<CustomEntry>();
    for (const TensorPtr& x : inputs) {
      e.custom->in_id.push_back(x->id);
      e.custom->in_dtype.push_back(x->dtype);
      e.custom->in_shape.push_back(x->shape);
    }
    for (const TensorPtr& y : outputs) {
      e.custom->out_id.push_back(y->id);
      e.custom->out.push_back(y);
      t->watched.insert(y->id);
    }
    Py_INCREF(fn);
    e.custom->fn = fn;
  }
}

void on_variable_read(int64_t id, PyObject* var, bool trainable) {
  for (VariableWatcher* w : variable_watchers()) w->add(id, var);
  bool logged = false;
  for (Tape* t : tape_stack()) {
    if (!t->recording) continue;
    if (trainable && t->watch_accessed_variables) {
      t->watch_variable(id, var);
    } else if (!logged && !t->watched.count(id)) {  // read but not watched: remember where, once per read
      log_event(trainable ? Cause::UnwatchedVariableRead : Cause::NonTrainableRead, "read", {}, id, DType::Float32);
      logged = true;
    }
  }
}

void VariableWatcher::add(int64_t id, PyObject* var) {
  if (ids.insert(id).second) {
    Py_INCREF(var);
    vars.push_back(var);
  }
}
VariableWatcher::~VariableWatcher() {
  for (PyObject* v : vars) Py_DECREF(v);
}

// The gradients in flight during one backward sweep, by tensor id: a flat open-addressing table (ids
// are > 0; 0 marks an empty slot, -1 an erased one), no heap node per entry as std::unordered_map has.
class GradMap {
 public:
  GradMap() { std::fill(inline_keys_, inline_keys_ + kInline, int64_t(0)); }
  GradMap(const GradMap&) = delete;
  GradMap& operator=(const GradMap&) = delete;
  TensorPtr* find(int64_t id) {
    for (size_t i = slot(id);; i = (i + 1) & mask_) {
      if (keys_[i] == id) return &vals_[i];
      if (keys_[i] == 0) return nullptr;
    }
  }
  void insert(int64_t id, TensorPtr v) {  // id must not be present
    if ((used_ + 1) * 2 > mask_ + 1) grow();
    size_t i = slot(id);
    while (keys_[i] != 0) i = (i + 1) & mask_;
    keys_[i] = id;
    vals_[i] = std::move(v);
    used_++;
  }
  void erase(int64_t id) {
    if (TensorPtr* v = find(id)) {
      keys_[size_t(v - vals_)] = -1;
      v->reset();
    }
  }

 private:
  static constexpr size_t kInline = 16;  // a small backward sweep never touches the heap for this map
  size_t slot(int64_t id) const { return size_t(uint64_t(id) * 0x9E3779B97F4A7C15ull >> 17) & mask_; }
  void grow() {  // rebuild without the erased slots, doubling when more than a quarter is live
    const size_t old_n = mask_ + 1;
    size_t live = 0;
    for (size_t i = 0; i < old_n; i++) live += keys_[i] > 0;
    const size_t n = (live + 1) * 4 > old_n ? old_n * 2 : old_n;
    std::unique_ptr<int64_t[]> keys(new int64_t[n]());
    std::unique_ptr<TensorPtr[]> vals(new TensorPtr[n]);
    std::swap(keys, heap_keys_);
    std::swap(vals, heap_vals_);
    int64_t* old_keys = keys_;
    TensorPtr* old_vals = vals_;
    keys_ = heap_keys_.get();
    vals_ = heap_vals_.get();
    mask_ = n - 1;
    used_ = 0;
    for (size_t i = 0; i < old_n; i++)
      if (old_keys[i] > 0) insert(old_keys[i], std::move(old_vals[i]));
    // `keys`/`vals` now hold the previous heap arrays (if any) and are freed here
  }
  int64_t inline_keys_[kInline];
  TensorPtr inline_vals_[kInline];
  std::unique_ptr<int64_t[]> heap_keys_;
  std::unique_ptr<TensorPtr[]> heap_vals_;
  int64_t* keys_ = inline_keys_;
  TensorPtr* vals_ = inline_vals_;
  size_t mask_ = kInline - 1;
  size_t used_ = 0;  // live and erased slots
};

// Sums g into the gradient buffer for id. The sum is an op, so an outer tape records it.
static void accumulate(GradMap& grads, int64_t id, TensorPtr g) {
  if (TensorPtr* cur = grads.find(id)) *cur = ops::add(*cur, g);
  else grads.insert(id, std::move(g));
}

// Pauses a tape's own recording for the duration of its gradient() (entries must not grow while they
// are being played back); other active tapes keep recording the backward ops.
struct PauseRecording {
  Tape* t;
  bool was;
  PauseRecording(Tape* t, bool pause) : t(t), was(t->recording) {
    if (pause) t->recording = false;
  }
  ~PauseRecording() { t->recording = was; }
};

void Tape::check_usable() const {
  if (used)
    throw RuntimeError(
        "A non-persistent GradientTape can only be used to compute one set of gradients (or jacobians)");
}

std::vector<TensorPtr> Tape::gradient(const std::vector<TensorPtr>& targets, const std::vector<int64_t>& source_ids,
                                      const std::vector<TensorPtr>& output_grads, bool release_entries) {
  check_usable();
  // A non-persistent tape stops recording (TF); a persistent one inside its context records its own
  // backward pass (second order from one tape), appending entries the sweep below never visits.
  PauseRecording pause(this, !persistent);
  struct InBackward {
    bool was = in_backward();
    InBackward() { in_backward() = true; }
    ~InBackward() { in_backward() = was; }
  } in_bw;
  ScopeSuspend no_scope;  // gradients are computed where their forward ops ran, whatever tf.device is active

  // 1. Entries on a path from a source: forward sweep marking everything reachable from the sources.
  IdSet reach;
  for (int64_t id : source_ids) reach.insert(id);
  const size_t n_entries = entries.size();
  std::vector<char> relevant(n_entries, 0);
  for (size_t i = 0; i < n_entries; i++) {
    const TapeEntry& e = entries[i];
    bool hit = false;
    if (e.custom) {
      for (int64_t id : e.custom->in_id)
        if (reach.count(id)) hit = true;
      if (hit)
        for (int64_t id : e.custom->out_id) reach.insert(id);
    } else {
      for (int k = 0; k < e.n_in; k++)
        if (reach.count(e.in_id[k])) hit = true;
      if (hit) reach.insert(e.out_id);
    }
    relevant[i] = hit;
  }

  // 2. Seed the targets: ones (an implicit sum over non-scalar targets) or the given output gradients.
  GradMap grads;
  for (size_t k = 0; k < targets.size(); k++) {
    const TensorPtr& t = targets[k];
    if (!is_floating(t->dtype) || !reach.count(t->id)) continue;
    TensorPtr g = (k < output_grads.size() && output_grads[k]) ? output_grads[k] : full(t->dtype, t->shape, 1.0, t->device());
    accumulate(grads, t->id, g);
  }

  // 3. Reverse sweep.
  IdSet sources;
  for (int64_t id : source_ids) sources.insert(id);
  for (size_t i = n_entries; i-- > 0;) {
    if (!relevant[i]) continue;
    TapeEntry& e = entries[i];
    if (e.custom) {
      CustomEntry& c = *e.custom;
      std::vector<TensorPtr> douts;
      bool any = false;
      for (size_t k = 0; k < c.out_id.size(); k++) {
        TensorPtr* it = grads.find(c.out_id[k]);
        if (it) {
          douts.push_back(*it);
          any = true;
        } else {
          douts.push_back(full(c.out[k]->dtype, c.out[k]->shape, 0.0, c.out[k]->device()));
        }
      }
      if (!any) continue;
      std::vector<TensorPtr> dins = g_custom_backward_caller(c.fn, douts, c.in_id.size());
      for (size_t k = 0; k < c.in_id.size() && k < dins.size(); k++) {
        if (!dins[k] || !is_floating(c.in_dtype[k]) || !reach.count(c.in_id[k])) continue;
        if (dins[k]->shape != c.in_shape[k])
          throw InvalidArgument("custom_gradient: the gradient function returned a gradient of shape " +
                                dins[k]->shape.str() + " for an input of shape " + c.in_shape[k].str());
        accumulate(grads, c.in_id[k], dins[k]);
      }
      for (int64_t id : c.out_id)
        if (!sources.count(id)) grads.erase(id);
    } else {
      TensorPtr* it = grads.find(e.out_id);
      if (!it) continue;
      TensorPtr dout = *it;
      if (!sources.count(e.out_id)) grads.erase(e.out_id);
      if (!e.out && e.n_in > 0 && !e.in[0])
        throw RuntimeError("gradient(): the tape's saved tensors were already released");
      TensorPtr din[kMaxOpInputs];
      e.needs = 0;
      for (int k = 0; k < e.n_in; k++)
        if (e.in[k] && is_floating(e.in[k]->dtype) && reach.count(e.in_id[k])) e.needs |= 1u << k;
      e.op->backward(e, &dout, din);
      for (int k = 0; k < e.n_in; k++) {
        if (!din[k] || !e.in[k] || !is_floating(e.in[k]->dtype) || !reach.count(e.in_id[k])) continue;
        accumulate(grads, e.in_id[k], std::move(din[k]));
      }
    }
    if (release_entries) e.release();
  }
  if (release_entries && !persistent) used = true;

  std::vector<TensorPtr> result;
  result.reserve(source_ids.size());
  for (int64_t id : source_ids) {
    TensorPtr* it = grads.find(id);
    result.push_back(it ? *it : nullptr);
  }
  return result;
}

}  // namespace pft
