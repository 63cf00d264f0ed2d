"""Property-based fuzzing of the public API (hypothesis), one module per op family:

* ``test_unary.py``      elementwise unary ops
* ``test_binary.py``     elementwise binary ops, comparisons (operators and broadcasting included), where
* ``test_reduce.py``     reductions
* ``test_linalg.py``     matmul
* ``test_shape.py``      shape ops (reshape, transpose, broadcast_to, cast, one_hot, argmax/argmin, identity),
                         creation and small shape helpers
* ``test_softmax.py``    softmax, log_softmax
* ``test_losses.py``     Keras losses, the fused ops in tf._core
* ``test_arguments.py``  wrong argument and axis types for every op
* ``_common.py``         what they share: profiles, call accounting, the outcome and value checks, the input
                         strategies and the conversion model

Every call either matches the NumPy reference (tests/reference.py) -- values, dtype and shape, and for float
tensors under a tape the gradients -- or raises a documented exception (``errors.InvalidArgumentError`` /
``TypeError`` / ``NotImplementedError``; plain ``ValueError`` where Keras itself raises one) whose message
names the op. Never a crash, a hang, an undocumented exception or a silently wrong answer.

Inputs: random shapes (scalars, size-0 and size-1 dimensions, broadcastable and non-broadcastable pairs),
every supported dtype plus NumPy dtypes the library widens (float16, int8, uint16, ...) or rejects
(uint64, complex, str, datetime), Tensors, Variables, NumPy arrays, non-contiguous NumPy views, NumPy and
Python scalars, nested lists, NaN/Inf/signed zeros, huge and tiny (subnormal) magnitudes, and wrong
argument types.

The expected outcome comes from a small model of the library's documented conversion rules
(``_core.pyi`` and tests/test_dtypes_interop.py): the first Tensor/Variable argument fixes the dtype
(else the first argument's own default dtype: Python float -> float32, int -> int32, NumPy keeps its
dtype), the other arguments are converted to it (int -> float allowed, float -> int/bool and bool ->
number rejected with TypeError, two tensors of different dtypes -> InvalidArgumentError). Where the model
cannot tell which of two documented errors comes first, either is accepted.

Semantics where TF deliberately differs from NumPy, followed here as pyfast_tape documents them:
``maximum``/``minimum``/``reduce_max``/``reduce_min`` propagate NaN (csrc/math.h, as NumPy does too);
``divide`` of integers is float64; ``reduce_mean`` of integers truncates; an empty ``reduce_max`` is the
dtype's lowest value; ``relu(NaN)`` is NaN (TF's Relu, as tests/reference.py specifies); ``range`` has no
bool dtype (TypeError).

Bugs the properties found and that are fixed keep a minimal reproduction in their family's module (the
"regressions" sections). A bug still open is skipped inside the property and counted in ``KNOWN`` (so one
bug does not hide the others), and has a ``test_known_bug_*`` test marked ``xfail(strict=True)``: when the
bug is fixed that test fails as XPASS, and the skip comes out.

Profiles: ``ci`` (default, derandomized, a few dozen examples per property) and ``long``
(``HYPOTHESIS_PROFILE=long``; ``bench/fuzz_long.py`` runs it for >= 100 000 calls).

This package re-exports every property, ``CALLS``, ``KNOWN`` and ``tf`` for bench/fuzz_long.py
(``import test_fuzz``); pytest collects the properties from their own modules only.
"""
from __future__ import annotations

# (in the order bench/fuzz_long.py runs and reports them)
from test_fuzz._common import CALLS, KNOWN, tf  # noqa: F401, I001
from test_fuzz.test_unary import test_unary_ops  # noqa: F401
from test_fuzz.test_binary import test_binary_ops_broadcasting, test_where  # noqa: F401
from test_fuzz.test_reduce import test_reductions  # noqa: F401
from test_fuzz.test_linalg import test_matmul  # noqa: F401
from test_fuzz.test_shape import test_shape_ops, test_creation_and_shape_helpers  # noqa: F401
from test_fuzz.test_softmax import test_softmax_family  # noqa: F401
from test_fuzz.test_losses import test_keras_losses, test_keras_loss_gradients_float64  # noqa: F401
from test_fuzz.test_losses import test_fused_core_ops  # noqa: F401
from test_fuzz.test_arguments import test_wrong_argument_types, test_wrong_axis_types  # noqa: F401
