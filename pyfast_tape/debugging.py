"""``tf.debugging``: run-time assertions and check_numerics (defined in pyfast_tape/control_flow.py)."""
from .control_flow import (  # noqa: F401
    assert_all_finite, assert_equal, assert_greater, assert_greater_equal, assert_less, assert_less_equal,
    assert_near, assert_negative, assert_non_negative, assert_non_positive, assert_none_equal, assert_positive,
    assert_rank, assert_shapes, assert_type, check_numerics,
)

__all__ = ["assert_all_finite", "assert_equal", "assert_greater", "assert_greater_equal", "assert_less",
           "assert_less_equal", "assert_near", "assert_negative", "assert_non_negative", "assert_non_positive",
           "assert_none_equal", "assert_positive", "assert_rank", "assert_shapes", "assert_type", "check_numerics"]
