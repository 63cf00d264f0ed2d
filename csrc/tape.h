// The tape: a flat list of entries in execution order, played in reverse by gradient().
//
// Tapes live on a thread-local stack. An op records on every active tape that watches one of its inputs
// (a tape watches its sources and the outputs of every op it recorded). Each entry points at a static
// OpDef whose backward rule is written with the same C++ op functions as the forward pass, so while an
// outer tape is active the backward pass is itself recorded (higher-order gradients).
#pragma once
#include <Python.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <new>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tensor.h"

namespace pft {

// A set of tensor ids: open addressing with linear probing over a power-of-two table. Every recorded op
// inserts its output and looks up its inputs, so this sits on the hot path; std::unordered_set costs a
// heap node per insert.
class IdSet {
 public:
  IdSet() { clear(); }
  IdSet(const IdSet&) = delete;  // slots_ may point into this object's own inline storage
  IdSet& operator=(const IdSet&) = delete;
  bool count(int64_t id) const {
    if (size_ == 0) return false;
    for (size_t i = hash(id) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i] == id) return true;
      if (slots_[i] == 0) return false;
    }
  }
  bool insert(int64_t id) {  // ids are > 0; returns true when newly inserted
    if ((size_ + 1) * 2 > mask_ + 1) grow();
    for (size_t i = hash(id) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i] == id) return false;
      if (slots_[i] == 0) {
        slots_[i] = id;
        size_++;
        return true;
      }
    }
  }
  void clear() {  // back to the inline slots: a small set never touches the heap
    heap_.reset();
    slots_ = inline_;
    std::fill(inline_, inline_ + kInline, int64_t(0));
    mask_ = kInline - 1;
    size_ = 0;
  }
  size_t size() const { return size_; }

 private:
  static constexpr size_t kInline = 16;
  static size_t hash(int64_t id) { return size_t(uint64_t(id) * 0x9E3779B97F4A7C15ull >> 17); }
  void grow() {
    const size_t old_n = mask_ + 1;
    const int64_t* old = slots_;  // the inline slots, or the heap array kept alive by old_heap
    std::unique_ptr<int64_t[]> old_heap = std::move(heap_);
    heap_.reset(new int64_t[old_n * 2]());
    slots_ = heap_.get();
    mask_ = old_n * 2 - 1;
    size_ = 0;
    for (size_t i = 0; i < old_n; i++)
      if (old[i]) insert(old[i]);
  }
  int64_t inline_[kInline];
  std::unique_ptr<int64_t[]> heap_;
  int64_t* slots_ = inline_;
  size_t mask_ = kInline - 1;
  size_t size_ = 0;
};

struct TapeEntry;
// Computes the gradients of an entry's inputs from the gradients of its outputs. din[k] may be left
// null (no gradient for that input). dout[k] is never null for k < n_out.
using BackwardFn = void (*)(const TapeEntry& e, const TensorPtr* dout, TensorPtr* din);

struct OpDef {
  const char* name;
  BackwardFn backward;
};

constexpr int kMaxOpInputs = 3;

// A custom_gradient entry: any number of inputs/outputs and a Python backward function.
struct CustomEntry {
  std::vector<int64_t> in_id;
  std::vector<DType> in_dtype;
  std::vector<Shape> in_shape;
  std::vector<int64_t> out_id;
  std::vector<TensorPtr> out;
  PyObject* fn = nullptr;  // owned reference: fn(list_of_output_grads) -> list of input grads
  ~CustomEntry();
};

struct TapeEntry {
  const OpDef* op = nullptr;
  int n_in = 0;
  int64_t in_id[kMaxOpInputs] = {};
  TensorPtr in[kMaxOpInputs];  // the inputs as they were when recorded (a snapshot of Variable reads)
  int64_t out_id = 0;
  TensorPtr out;               // the output, for rules that use it (exp, tanh, softmax, ...)
  TensorPtr saved;             // one extra saved tensor (e.g. the log-sum-exp of a fused cross-entropy)
  int64_t attr[kMaxRank + 2] = {};  // op attributes (axes, flags, perm)
  double fattr = 0;
  uint32_t needs = 0;  // set by gradient() before backward: bit k when input k leads to a source
  std::unique_ptr<CustomEntry> custom;
  bool need(int k) const { return (needs >> k) & 1u; }
  void release() {
    for (auto& t : in) t.reset();
    out.reset();
    saved.reset();
    custom.reset();
  }
};

// The entries of one tape: chunks of 8, 16, 32, ... entries, so entries never move while the tape grows
// (a persistent tape records its own backward pass while playing it). The first chunk (8 entries, 2 KiB)
// comes from a per-thread free list (tape.cpp): a training step opens a new tape, and a fresh 2 KiB
// block from malloc also made it consolidate its fast bins every step.
void* entry_chunk_alloc(size_t n_entries);
void entry_chunk_free(void* p, size_t n_entries);

class EntryList {
 public:
  EntryList() = default;
  EntryList(const EntryList&) = delete;
  EntryList& operator=(const EntryList&) = delete;
  ~EntryList() { clear(); }
  size_t size() const { return size_; }
  TapeEntry& operator[](size_t i) {
    size_t c = 0, first = 0, n = kFirst;
    while (i >= first + n) first += n, n *= 2, c++;
    return chunks_[c][i - first];
  }
  const TapeEntry& operator[](size_t i) const { return const_cast<EntryList&>(*this)[i]; }
  TapeEntry& emplace_back() {
    if (size_ == capacity_) {
      if (n_chunks_ == kMaxChunks) throw std::length_error("GradientTape: too many recorded ops");
      const size_t n = kFirst << n_chunks_;
      chunks_[n_chunks_++] = static_cast<TapeEntry*>(entry_chunk_alloc(n));
      capacity_ += n;
    }
    TapeEntry* e = &(*this)[size_];
    new (e) TapeEntry();
    size_++;
    return *e;
  }
  TapeEntry& back() { return (*this)[size_ - 1]; }
  void clear() {
    for (size_t i = 0; i < size_; i++) (*this)[i].~TapeEntry();
    for (size_t c = 0; c < n_chunks_; c++) entry_chunk_free(chunks_[c], kFirst << c);
    n_chunks_ = size_ = capacity_ = 0;
  }

 private:
  static constexpr size_t kFirst = 8, kMaxChunks = 40;  // 8 * (2^40 - 1) entries
  TapeEntry* chunks_[kMaxChunks];
  size_t n_chunks_ = 0, size_ = 0, capacity_ = 0;
};

struct Tape {
  std::thread::id owner;  // the thread that entered it; a tape is used from one thread at a time
  bool persistent = false;
  bool watch_accessed_variables = true;
  bool recording = true;  // false inside stop_recording() and while this tape computes its own gradient
  bool used = false;      // a non-persistent tape after gradient()
  EntryList entries;
  IdSet watched;                             // ids this tape tracks
  std::vector<PyObject*> watched_variables;  // owned references, in first-watch order
  IdSet watched_variable_ids;

  ~Tape();
  void watch(int64_t id) { watched.insert(id); }
  void watch_variable(int64_t id, PyObject* var);
  void reset();
  // Gradients of sum(targets * output_grads) with respect to each source id; null where unconnected.
  void check_usable() const;  // RuntimeError once a non-persistent tape has computed its gradients
  std::vector<TensorPtr> gradient(const std::vector<TensorPtr>& targets, const std::vector<int64_t>& source_ids,
                                  const std::vector<TensorPtr>& output_grads, bool release_entries);
};

// ---- the thread-local stack of active tapes ------------------------------------------------------------
inline std::vector<Tape*>& tape_stack() { return thread_state().tapes; }
inline bool any_tape_active() { return !tape_stack().empty(); }

// True when some recording tape on this thread watches one of the ids.
bool should_record(const int64_t* ids, int n);
// Records an op on every recording tape that watches one of its inputs; returns the entry of the last
// tape it was recorded on (so callers can set attributes) via the callback form below.
bool record(const OpDef* op, std::initializer_list<TensorPtr> inputs, const TensorPtr& out,
            const int64_t* attrs = nullptr, int n_attrs = 0, double fattr = 0, const TensorPtr& saved = nullptr);
// Every op ends here: records it on the tapes that watch one of its inputs, or, when none does, logs
// why (provenance.h) if anyone could ask. op == nullptr marks a non-differentiable op (never recorded).
void finish_op(const OpDef* op, const char* name, std::initializer_list<TensorPtr> inputs, const TensorPtr& out,
               const int64_t* attrs = nullptr, int n_attrs = 0, double fattr = 0, const TensorPtr& saved = nullptr);
void record_custom(const std::vector<TensorPtr>& inputs, const std::vector<TensorPtr>& outputs, PyObject* fn);

// Called on every Variable read by an op: watches the variable on each active tape that watches
// accessed variables (trainable variables only).
void on_variable_read(int64_t id, PyObject* var, bool trainable);

// Collects the variables read while it is active (custom_gradient's variable detection).
struct VariableWatcher {
  std::unordered_set<int64_t> ids;
  std::vector<PyObject*> vars;  // owned references
  void add(int64_t id, PyObject* var);
  ~VariableWatcher();
};
std::vector<VariableWatcher*>& variable_watchers();

// Set by the bindings: runs a custom_gradient backward function.
using CustomBackwardCaller = std::vector<TensorPtr> (*)(PyObject* fn, const std::vector<TensorPtr>& douts,
                                                        size_t n_inputs);
extern CustomBackwardCaller g_custom_backward_caller;

}  // namespace pft
