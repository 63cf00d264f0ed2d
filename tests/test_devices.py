"""Devices on a machine without a usable GPU (TF's behaviour there), and tests/test_cuda.py run against an
emulated GPU (PYFAST_TAPE_EMULATE_GPU=1: host memory and CPU kernels behind the GPU device), which checks
device placement and dispatch for every op without CUDA hardware."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import pyfast_tape as tf
from pyfast_tape import _core

HERE = pathlib.Path(__file__).resolve().parent
no_gpu = pytest.mark.skipif(_core.gpu_count() > 0, reason="a GPU is present (tests/test_cuda.py covers it)")


def test_build_flags_are_booleans():
    assert tf.test.is_built_with_cuda() in (True, False)
    assert tf.test.is_built_with_cuda() == bool(_core.built_with_cuda)


@no_gpu
def test_no_gpu_listed():
    assert tf.config.list_physical_devices("GPU") == []
    assert [d.device_type for d in tf.config.list_physical_devices()] == ["CPU"]
    assert tf.config.list_logical_devices("GPU") == []
    assert not tf.test.is_gpu_available()
    assert tf.test.gpu_device_name() == ""


@no_gpu
def test_soft_placement_runs_on_the_cpu():
    assert tf.config.get_soft_device_placement()
    with tf.device("/GPU:0"):
        x = tf.constant([1.0, 2.0])
        v = tf.Variable(x)
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(v * x)
    assert x.device.endswith("CPU:0") and v.device.endswith("CPU:0")
    np.testing.assert_allclose(tape.gradient(y, v).numpy(), [1.0, 2.0])


@no_gpu
def test_hard_placement_and_gpu_copies_raise():
    tf.config.set_soft_device_placement(False)
    try:
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"tf.device: /GPU:0 does not exist"):
            with tf.device("/GPU:0"):
                pass
    finally:
        tf.config.set_soft_device_placement(True)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Tensor.gpu: /GPU:0 does not exist.*list_physical_devices"):
        tf.constant(1.0).gpu()
    # the process is fine afterwards, with no scope left behind
    assert tf.constant(2.0).device.endswith("CPU:0")


@pytest.mark.parametrize("bad", ["/TPU:0", "GPU:x", "device", "/gpu:0:1", ""])
def test_bad_device_names(bad):
    with pytest.raises(ValueError, match="tf.device: cannot parse device name"):
        tf.device(bad)


def test_cpu_scope_and_none():
    with tf.device("/CPU:0"), tf.device(None):
        assert tf.constant(1.0).device.endswith("CPU:0")
    assert tf.constant(1.0).cpu().device.endswith("CPU:0")


def test_device_scope_is_popped_on_exceptions():
    with pytest.raises(KeyError):
        with tf.device("/CPU:0"):
            raise KeyError("x")
    assert _core.gpu_count() >= 0 and tf.constant(1.0).device.endswith("CPU:0")


def test_cuda_tests_on_an_emulated_gpu():
    """The whole of tests/test_cuda.py with the emulated GPU, in a fresh interpreter (the emulation is read
    once per process). Outputs land on the GPU device, copies and errors behave, gradients flow."""
    env = dict(os.environ, PYFAST_TAPE_EMULATE_GPU="1", PYFAST_TAPE_POISON_GPU="1")
    proc = subprocess.run([sys.executable, "-m", "pytest", str(HERE / "test_cuda.py"), "-q", "-p", "no:cacheprovider",
                           "-x"], capture_output=True, text=True, env=env, timeout=1200, cwd=str(HERE))
    tail = proc.stdout[-3000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, tail
    assert " passed" in proc.stdout and "skipped" not in proc.stdout.splitlines()[-1], tail
