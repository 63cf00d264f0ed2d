"""tf.image (a few ops), tf.summary writers and tf.profiler entry points."""
from __future__ import annotations

import glob
import json
import os

import numpy as np
import pytest

import pyfast_tape as tf
from conftest import assert_close


def test_adjust_contrast_values_and_no_gradient():
    img = np.random.default_rng(0).random((2, 3, 4, 3)).astype(np.float32)
    mean = img.mean(axis=(1, 2), keepdims=True)
    assert_close(tf.image.adjust_contrast(tf.constant(img), 2.0), (img - mean) * 2.0 + mean, dtype=np.float32)
    image, delta = tf.Variable([[[0.5, 0.0, 0.0]]]), tf.Variable(0.1)
    with tf.GradientTape() as tape:
        new_image = tf.image.adjust_contrast(image, delta)
    with pytest.raises(LookupError, match="gradient registry has no entry for: AdjustContrastv2"):
        tape.gradient(new_image, [image, delta])


def test_other_image_ops():
    img = np.random.default_rng(1).random((4, 5, 3))
    t = tf.constant(img)
    assert_close(tf.image.flip_left_right(t), img[:, ::-1], dtype=np.float64)
    assert_close(tf.image.flip_up_down(t), img[::-1], dtype=np.float64)
    assert_close(tf.image.rgb_to_grayscale(t), (img @ [0.2989, 0.587, 0.114])[..., None], dtype=np.float64)
    std = max(img.std(), 1 / np.sqrt(img.size))
    assert_close(tf.image.per_image_standardization(t), (img - img.mean()) / std, dtype=np.float64)
    assert_close(tf.image.convert_image_dtype(tf.constant([[[0, 255]]], tf.int32), tf.float32),
                 [[[0.0, 255 / 2147483647]]], dtype=np.float32)
    v = tf.Variable(img)
    with tf.GradientTape() as tape:
        s = tf.reduce_sum(tf.image.adjust_brightness(v, 0.5) * 2.0)
    assert_close(tape.gradient(s, v), np.full(img.shape, 2.0), dtype=np.float64)
    with pytest.raises(ValueError, match="at least three-dimensional"):
        tf.image.adjust_contrast(tf.ones([2, 2]), 1.0)


def test_summary_writer(tmp_path):
    assert not bool(tf.summary.scalar("x", 1.0, step=0))  # no default writer: nothing written, False
    w = tf.summary.create_file_writer(str(tmp_path / "logs"))
    with w.as_default(step=3):
        assert bool(tf.summary.scalar("loss", tf.constant(0.25)))
        tf.summary.histogram("h", tf.constant([1.0, 2.0]), step=4)
        tf.summary.text("note", "hello")
    with w.as_default():
        with pytest.raises(ValueError, match="No step set"):
            tf.summary.scalar("loss", 1.0)
        tf.summary.experimental.set_step(7)
        tf.summary.scalar("later", 2)
    w.close()
    files = glob.glob(os.path.join(str(tmp_path / "logs"), "events.pyfast_tape.*.jsonl"))
    assert len(files) == 1
    recs = [json.loads(line) for line in open(files[0])]
    assert [(r["kind"], r["name"], r["step"], r["value"]) for r in recs] == [
        ("scalar", "loss", 3, 0.25), ("histogram", "h", 4, [1.0, 2.0]), ("text", "note", 3, "hello"),
        ("scalar", "later", 7, 2)]
    tf.summary.experimental.set_step(None)
    with tf.summary.create_noop_writer().as_default(step=1):
        assert bool(tf.summary.scalar("x", 1.0))


def test_trace_and_profiler_run(tmp_path):
    w = tf.summary.create_file_writer(str(tmp_path))
    tf.summary.trace_on(graph=True)
    tf.profiler.experimental.start(str(tmp_path))
    tf.profiler.experimental.stop()
    with w.as_default():
        tf.summary.trace_export(name="t", step=0)
    w.close()
    with tf.profiler.experimental.Trace("step", step_num=1):
        pass
