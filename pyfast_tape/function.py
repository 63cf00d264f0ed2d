"""``tf.function``: accepted and run eagerly (pyfast_tape has no graph mode)."""
from __future__ import annotations

import functools
from typing import Any, Callable, Optional


def function(func: Optional[Callable[..., Any]] = None, input_signature: Any = None, autograph: bool = True,
             jit_compile: Any = None, reduce_retracing: bool = False, experimental_implements: Any = None,
             experimental_autograph_options: Any = None, experimental_attributes: Any = None,
             experimental_relax_shapes: Any = None, experimental_compile: Any = None,
             experimental_follow_type_hints: Any = None) -> Any:
    """Decorator compatible with ``tf.function``: the function runs eagerly, unchanged (every op is already
    native). All of TF's arguments are accepted and ignored."""
    def wrap(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def run(*args: Any, **kwargs: Any) -> Any:
            return f(*args, **kwargs)
        run.python_function = f  # type: ignore[attr-defined]
        return run
    return wrap if func is None else wrap(func)
