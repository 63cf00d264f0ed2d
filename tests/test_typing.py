"""Static types: pyfast_tape ships py.typed and a stub of its native module (_core.pyi), so `mypy --strict`
sees real types through `import pyfast_tape as tf`.

Checked here (skipped when mypy is not installed):
- the three seed programs with `import tensorflow as tf` replaced by `import pyfast_tape as tf` under
  `--strict --allow-redefinition` (keras_mlp_cce.py rebinds its NumPy arrays to Tensors). The only errors
  allowed are the ones --strict gives every untyped program: the seed's own unannotated functions
  (`def mean_squared_error(y_true, y_pred)`) and the calls to them;
- examples/run_seed.py, clean under --strict;
- a typed user program: assert_type on what the API returns (Tensors, Variables, shapes, dtypes, History,
  NumPy arrays), so the types are real and not Any;
- the modules that are strict-clean stay so (the stub itself, keras/models.py, metrics.py, callbacks.py);
- mypy's stubtest: the stub against the imported module (every public name present, the C types' slots
  and properties as they are);
- without mypy: every function and method bound with pybind11 has a stub entry with the same parameters
  (names, count, which have defaults and their values) and, where the binding returns None, returns None.

pyfast_tape is checked as its users see it: as an installed package, with errors inside it silenced
(`follow_imports = silent`), whichever way it was installed (editable or not).
"""
from __future__ import annotations

import ast
import importlib.util
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

needs_mypy = pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")

REPO = pathlib.Path(__file__).resolve().parent.parent
SEEDS = REPO / "examples" / "seed"
SEED_PROGRAMS = ["linreg_mse.py", "huber_custom.py", "keras_mlp_cce.py"]
STRICT_CLEAN = ["_core.pyi", "keras/models.py", "keras/metrics.py", "keras/callbacks.py"]
ERROR = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): error: (?P<msg>.*?)(?:  \[(?P<code>[\w-]+)\])?$")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("typing")
    # An explicit config: the repository's pyproject is not read, and pyfast_tape is checked as installed.
    (d / "mypy.ini").write_text(textwrap.dedent(f"""\
        [mypy]
        cache_dir = {d / '.mypy_cache'}
        [mypy-pyfast_tape,pyfast_tape.*]
        follow_imports = silent
        """))
    return d


def _mypy(workdir: pathlib.Path, *args: str, config: bool = True) -> list:
    cmd = [sys.executable, "-m", "mypy", "--no-error-summary", "--show-error-codes", "--no-pretty"]
    if config:
        cmd += ["--config-file", str(workdir / "mypy.ini")]
    proc = subprocess.run(cmd + list(args), cwd=workdir, capture_output=True, text=True, timeout=300)
    if proc.returncode not in (0, 1) or proc.stderr.strip():
        pytest.fail(f"mypy did not run: rc={proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    errors = []
    for line in proc.stdout.splitlines():
        m = ERROR.match(line)
        if m:
            errors.append(m.groupdict())
        elif ": error:" in line:
            errors.append({"file": "?", "line": "0", "msg": line, "code": None})
    return errors


def _untyped_functions(source: str) -> dict:
    """Line -> name of each function defined without annotations in `source`."""
    out = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
            if node.returns is None and all(a.annotation is None for a in args):
                out[node.lineno] = node.name
    return out


@needs_mypy
def test_seed_programs_pass_mypy_strict_with_the_import_swapped(workdir):
    files, untyped = [], {}
    for name in SEED_PROGRAMS:
        text = (SEEDS / name).read_text()
        swapped = text.replace("import tensorflow as tf", "import pyfast_tape as tf")
        assert swapped != text and "tensorflow" not in swapped
        (workdir / name).write_text(swapped)
        files.append(name)
        untyped[name] = _untyped_functions(swapped)
    errors = _mypy(workdir, "--strict", "--allow-redefinition", *files)
    unexpected = []
    for e in errors:
        own = untyped.get(pathlib.Path(e["file"]).name, {})
        if e["code"] == "no-untyped-def" and int(e["line"]) in own:
            continue  # the seed's own `def f(y_true, y_pred):`
        m = re.match(r'Call to untyped function "(\w+)"', e["msg"])
        if e["code"] == "no-untyped-call" and m and m.group(1) in own.values():
            continue  # ... and the calls to it
        unexpected.append(e)
    assert not unexpected, "\n".join(f"{e['file']}:{e['line']}: {e['msg']} [{e['code']}]" for e in unexpected)


@needs_mypy
def test_run_seed_passes_mypy_strict(workdir):
    errors = _mypy(workdir, "--strict", str(REPO / "examples" / "run_seed.py"))
    assert not errors, errors


TYPED_PROGRAM = '''\
from typing import Any, List, Optional, Union

import numpy as np
from numpy.typing import NDArray
from typing_extensions import assert_type

import pyfast_tape as tf
from pyfast_tape.keras.callbacks import History


def train(x_np: NDArray[np.float32], y_np: NDArray[np.float32]) -> float:
    x = tf.constant(x_np)
    y = tf.convert_to_tensor(y_np, dtype=tf.float32)
    W = tf.Variable([[0.5]], dtype=tf.float32)
    b = tf.Variable(tf.zeros([1]))
    assert_type(x, tf.Tensor)
    assert_type(W, tf.Variable)
    assert_type(x.shape, tf.TensorShape)
    assert_type(x.dtype, tf.DType)
    assert_type(x.ndim, int)
    optimizer = tf.keras.optimizers.SGD(learning_rate=0.01)
    with tf.GradientTape() as tape:
        y_pred = tf.matmul(x, W) + b
        assert_type(y_pred, tf.Tensor)
        err = y_pred - y
        loss = tf.reduce_mean(tf.where(tf.abs(err) <= 1.0, 0.5 * tf.square(err), tf.abs(err) - 0.5))
        assert_type(loss, tf.Tensor)
    grads = tape.gradient(loss, [W, b])
    optimizer.apply_gradients(zip(grads, [W, b]))
    W.assign_sub(tf.ones_like(W) * 0.0)
    assert_type(x @ W, tf.Tensor)
    assert_type(-x, tf.Tensor)
    assert_type(x > 0, tf.Tensor)
    assert_type(2.0 * x, tf.Tensor)
    assert_type(tf.reduce_sum(x, axis=[0, 1], keepdims=True), tf.Tensor)
    assert_type(tf.nn.softmax_cross_entropy_with_logits(y, x), tf.Tensor)
    assert_type(tf.cast(x, tf.int32), tf.Tensor)
    return float(loss)


def keras_fit(x: NDArray[np.float64], y: NDArray[np.float64]) -> List[float]:
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert_type(history, History)
    assert_type(model.predict(x, verbose=0), NDArray[Any])
    result = model.evaluate(x, y, verbose=0)
    assert_type(result, Union[float, List[float], dict[str, float]])
    weights: List[NDArray[Any]] = model.get_weights()
    assert_type(model.trainable_variables, List[tf.Variable])
    return list(history.history["loss"]) + [float(len(weights))]


def errors_are_caught(x: tf.Tensor) -> Optional[tf.Tensor]:
    tf.matmul(x, x, transpose_q=True)  # type: ignore[call-arg]
    x.no_such_method()  # type: ignore[attr-defined]
    return None
'''


@needs_mypy
def test_typed_user_program_sees_real_types(workdir):
    (workdir / "typed_user.py").write_text(TYPED_PROGRAM)
    errors = _mypy(workdir, "--strict", "typed_user.py")
    assert not errors, "\n".join(f"{e['line']}: {e['msg']}" for e in errors)


@needs_mypy
def test_stub_and_typed_modules_are_strict_clean(workdir):
    import pyfast_tape

    pkg = pathlib.Path(pyfast_tape.__file__).resolve().parent
    assert (pkg / "py.typed").exists() and (pkg / "_core.pyi").exists()
    errors = _mypy(workdir, "--strict", "-p", "pyfast_tape", config=False)
    mine = [e for e in errors if any(e["file"].replace("\\", "/").endswith("pyfast_tape/" + f) for f in STRICT_CLEAN)]
    assert not mine, "\n".join(f"{e['file']}:{e['line']}: {e['msg']}" for e in mine)


STUBTEST_ALLOWLIST = [
    "pyfast_tape._core.VariableWatcher",  # a pybind11 class: its metaclass (pybind11_type) has no stub
    "pyfast_tape._core.VariableBase",  # "a disjoint base at runtime": @disjoint_base needs a newer typeshed
    "pyfast_tape._core.Tape",  # the same
]


@needs_mypy
def test_stubtest(workdir):
    allow = workdir / "stubtest-allowlist.txt"
    allow.write_text("\n".join(STUBTEST_ALLOWLIST) + "\n")
    proc = subprocess.run([sys.executable, "-m", "mypy.stubtest", "pyfast_tape._core", "--allowlist", str(allow)],
                          cwd=workdir, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _split_top(params: str) -> list:
    out, depth, cur = [], 0, ""
    for ch in params:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def _pybind_signature(fn) -> tuple:
    """(params, returns) from pybind11's docstring: params = [(name, default-or-None-marker)]."""
    first = (fn.__doc__ or "").splitlines()[0]
    m = re.match(r"^\w+\((.*)\) -> (.*)$", first)
    assert m, f"{fn!r}: no pybind11 signature in its docstring: {first!r}"
    params = []
    for p in _split_top(m.group(1)):
        name, _, rest = p.partition(":")
        default = rest.split("=", 1)[1].strip() if "=" in rest else None
        if name.strip() != "self":
            params.append((name.strip(), default))
    return params, m.group(2).strip()


def _stub_functions() -> dict:
    tree = ast.parse((REPO / "pyfast_tape" / "_core.pyi").read_text())
    out = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            out[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, ast.FunctionDef):
                    out[f"{node.name}.{sub.name}"] = sub
    return out


def test_stub_matches_the_pybind11_bindings():
    import pyfast_tape  # noqa: F401  (registers the dtypes)
    from pyfast_tape import _core

    stubs = _stub_functions()
    bound = {name: obj for name, obj in vars(_core).items()
             if type(obj).__name__ == "builtin_function_or_method" and (obj.__doc__ or "").startswith(name + "(")}
    for cls in (_core.VariableWatcher,):
        for name, obj in vars(cls).items():
            if name.startswith("_pybind11"):
                continue
            if type(obj).__name__ == "instancemethod" or (callable(obj) and (getattr(obj, "__doc__", "") or "")
                                                          .startswith(name + "(")):
                bound[f"{cls.__name__}.{name}"] = obj
    assert len(bound) > 60
    problems = []
    for name, fn in sorted(bound.items()):
        if name not in stubs:
            problems.append(f"{name}: bound in _core but missing from _core.pyi")
            continue
        params, returns = _pybind_signature(fn)
        node = stubs[name]
        a = node.args
        posonly = [x.arg for x in a.posonlyargs]
        names = posonly + [x.arg for x in a.args] + [x.arg for x in a.kwonlyargs]
        if names and names[0] == "self":
            names, posonly = names[1:], [n for n in posonly if n != "self"]
        if a.vararg is not None and name.endswith("__exit__"):
            continue  # pybind11 *args
        if len(names) != len(params):
            problems.append(f"{name}: the stub has {len(names)} parameters, the binding {len(params)}: {params}")
            continue
        stub_defaults = [None] * (len(a.posonlyargs) + len(a.args) - len(a.defaults)) + list(a.defaults)
        stub_defaults += list(a.kw_defaults)
        if names and len(stub_defaults) > len(names):
            stub_defaults = stub_defaults[1:]  # self
        for i, ((pname, pdefault), sname) in enumerate(zip(params, names)):
            if re.fullmatch(r"arg\d+", pname):
                if sname not in posonly:
                    problems.append(f"{name}: parameter {sname!r} is unnamed in the binding: make it positional-only")
            elif pname != sname:
                problems.append(f"{name}: parameter {i} is {pname!r} in the binding, {sname!r} in the stub")
            sdef = stub_defaults[i]
            if (pdefault is None) != (sdef is None):
                problems.append(f"{name}: parameter {pname!r}: default {pdefault!r} bound, "
                                f"{None if sdef is None else ast.unparse(sdef)!r} in the stub")
            elif pdefault is not None and ast.literal_eval(pdefault) != ast.literal_eval(sdef):
                problems.append(f"{name}: parameter {pname!r}: default {pdefault} bound, {ast.unparse(sdef)} in the stub")
        if returns == "None" and not (isinstance(node.returns, ast.Constant) and node.returns.value is None):
            problems.append(f"{name}: the binding returns None, the stub {ast.unparse(node.returns)}")
    assert not problems, "\n".join(problems)
