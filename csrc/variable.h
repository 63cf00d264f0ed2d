// A Variable's semantics, apart from Python: its value is a TensorImpl whose id is the variable's
// identity on tapes for its whole life; writes are copy-on-write, so anything that still holds the old
// value (a tape entry, a tensor from read_value(), a NumPy view) keeps seeing it. The Python type
// (csrc/python/variable_type.cpp) only converts arguments and calls these.
#pragma once
#include "tensor.h"

namespace pft {

// The variable's own copy of `src` on `dev`, flagged as a variable (the tape watches it when read).
TensorPtr variable_initial_value(const TensorPtr& src, Device dev);

// The value made writable in place: moved to fresh storage first when anything else shares it (the id
// and flags are kept; keep_old copies the old contents over). Bumps the storage version.
TensorImpl& variable_writable(TensorPtr& value, bool keep_old);

// assign / assign_add / assign_sub (not differentiable: state stops gradients, as in TF; the write is
// logged for explain()). `src` must have the variable's dtype and shape; `op` names the method in errors.
enum class AssignOp { Assign, Add, Sub };
void variable_assign(TensorPtr& value, const TensorPtr& src, AssignOp kind, const char* op);

}  // namespace pft
