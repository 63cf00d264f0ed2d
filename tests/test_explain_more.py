"""More of tape.explain(): the log's indexes after it wraps, and NumPy round trips over two lines.

As in test_explain.py, expected lines are never hard-coded: a line carries a marker comment ``# <tag>`` and
``loc(tag)`` finds it in this file's source.

The log is a per-thread ring of RING events (provenance.h). explain() keeps indexes over it that it brings
up to date from the events logged since its previous call, so these tests check its results after the ring
wraps, over many calls with events in between, and for entries whose events were overwritten: the answers
must be those of a scan of the whole ring (which tests/test_explain.py's ring-capacity probe also relies on).
"""
from __future__ import annotations

import operator
import sys

import numpy as np
import pytest

import pyfast_tape as tf
from pyfast_tape import _core

HERE = sys._getframe().f_code.co_filename
with open(HERE, encoding="utf-8") as _f:
    _SOURCE = _f.read().splitlines()

RING = 1 << 14  # ProvLog::kCapacity

NUMPY = "went through NumPy (`.numpy()` or `np.asarray`) and came back as a new tensor"
OUTSIDE = "ran while no GradientTape was recording"
NON_TRAINABLE = "the Variable is not trainable (trainable=False), so tapes do not watch it"


def line_of(tag: str) -> int:
    marker = f"# <{tag}>"
    hits = [i + 1 for i, text in enumerate(_SOURCE) if text.rstrip().endswith(marker)]
    assert len(hits) == 1, f"marker {marker!r} found on lines {hits}, expected exactly one"
    return hits[0]


def loc(tag: str) -> str:
    return f"{HERE}:{line_of(tag)}"


def cut_at(tag: str) -> str:
    return f"is cut at {loc(tag)}: "


# ---- event sources: each call logs exactly one event ---------------------------------------------------

def _other_events(n: int) -> None:
    """n events that concern no Variable of the tests (ops outside a tape on a tensor with provenance)."""
    v = tf.Variable(1.0)
    with tf.GradientTape():
        h = v * 1.0  # recorded: no event
    for _ in range(n - 1):
        h * 1.0  # <other>
    if n:
        h * 1.0  # <other-last>


def _reads(w, n: int) -> list:
    """n reads of the Variable outside any tape, alternating two lines; the tags in the order logged."""
    tags = []
    for i in range(n):
        if i % 2 == 0:
            w * 1.0  # <read-a>
            tags.append("read-a")
        else:
            w * 2.0  # <read-b>
            tags.append("read-b")
    return tags


def _source_lines(tape, target, source) -> list:
    return [e["line"] for e in _core.explain_(tape, target, source)["source_events"]]


def _an_empty_tape():
    with tf.GradientTape() as tape:
        pass
    return tape


def test_each_helper_logs_one_event_per_op():
    """The model the tests below rely on: a read outside a tape is one event, the filler one event each."""
    w = tf.Variable(2.0)
    tape, target = _an_empty_tape(), tf.constant(1.0)
    _reads(w, 2)
    assert _source_lines(tape, target, w) == [line_of("read-a"), line_of("read-b")]
    _other_events(RING - 1)
    assert _source_lines(tape, target, w) == [line_of("read-b")]  # the first read was overwritten, not the second
    _other_events(1)
    assert _source_lines(tape, target, w) == []


# ---- results after the ring wraps ----------------------------------------------------------------------

def test_source_events_after_the_ring_wraps():
    """20,000 reads of a Variable outside a tape: the source events are the live ones, in the order logged."""
    w = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = w * 3.0
    tags = _reads(w, 20_000)
    z = y * y  # <wrap-cut>
    d = _core.explain_(tape, z, w)
    expected = [line_of(t) for t in tags[-(RING - 1):]]  # the ring: the last RING - 1 reads and z's event
    assert [e["line"] for e in d["source_events"]] == expected
    assert all(e["cause"] == "variable_outside_tape" for e in d["source_events"])
    assert d["path_found"] and [c["line"] for c in d["cuts"]] == [line_of("wrap-cut")]
    assert cut_at("wrap-cut") in tape.explain(z, w) and OUTSIDE in tape.explain(z, w)


def test_cut_found_after_the_ring_wrapped_many_times():
    w = tf.Variable(2.0)
    _reads(w, 3 * RING + 17)
    with tf.GradientTape() as tape:
        y = w * 3.0
    z = y * y  # <wrapped-cut>
    _other_events(RING - 1)  # z's event is the oldest one left
    assert cut_at("wrapped-cut") in tape.explain(z, w)


# ---- repeated calls with events in between ---------------------------------------------------------------

@pytest.mark.parametrize("chunks", [
    [1, 2, 3, 5000, 1, RING - 1, 1, RING, 0, RING + 1, 20_000, 7],
    [RING // 2 + 1] * 9,  # enough calls that stale entries pile up and the indexes are rebuilt
    [3 * RING, 1, 1, 2 * RING - 1],
], ids=["mixed", "half-rings", "large"])
def test_repeated_explain_calls_with_events_in_between(chunks):
    """After each chunk of events (reads of the source, alternating lines, mixed with unrelated events),
    explain's source events are the live reads in the order logged: the same as a scan of the ring."""
    w = tf.Variable(2.0)
    tape, target = _an_empty_tape(), tf.constant(1.0)
    log: list = []  # a model of the ring: the tag of each event, in the order logged
    for i, n in enumerate(chunks):
        if i % 2:
            _other_events(n)
            log += [None] * n
        else:
            log += _reads(w, n)
        ring = log[-RING:]
        assert _source_lines(tape, target, w) == [line_of(t) for t in ring if t], f"after chunk {i}"


def test_two_cuts_explained_alternately_as_events_arrive():
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(2.0, name="b")
    with tf.GradientTape() as tape:
        ya = a * 3.0
        yb = b * 3.0
    za = ya * ya  # <cut-a>
    zb = yb * yb  # <cut-b>
    pushed = 1  # events since za's: zb's
    for n in [0, 1, 100, 4000, 8000, RING - 1 - 12102]:
        _other_events(n)
        pushed += n
        assert cut_at("cut-a") in tape.explain(za, a), pushed
        assert cut_at("cut-b") in tape.explain(zb, b), pushed
        assert "cut at" not in tape.explain(za, b) and "cut at" not in tape.explain(zb, a)
    assert pushed == RING - 1  # za's event is the oldest one left
    _other_events(1)  # now it is overwritten, zb's is not
    assert "cut at" not in tape.explain(za, a)
    assert cut_at("cut-b") in tape.explain(zb, b)


# ---- overwritten (stale) slots ---------------------------------------------------------------------------

@pytest.mark.parametrize("explain_between", [False, True], ids=["one-catch-up", "indexed-before"])
def test_overwritten_producer_is_not_followed(explain_between):
    """An index entry whose event was overwritten: the slot now holds another event, which must not be
    taken for the producer of the target."""
    w = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = w * 3.0
    z = y * y  # <stale-cut>
    if explain_between:
        assert cut_at("stale-cut") in tape.explain(z, w)
        _other_events(RING - 1)
        assert cut_at("stale-cut") in tape.explain(z, w)  # still the oldest event of the ring
        _other_events(1)
    else:
        _other_events(RING)
    msg = tape.explain(z, w)
    assert "is None" in msg and "cut at" not in msg and loc("stale-cut") not in msg, msg
    d = _core.explain_(tape, z, w)
    assert not d["path_found"] and d["cuts"] == [] and d["path_ops"] == []


def test_overwritten_variable_reads_are_dropped_in_order():
    """A non-trainable Variable read in two tapes: explain names the first read while it is in the ring, then
    the second one (the source events keep the order logged, without the overwritten ones)."""
    v = tf.Variable(2.0, trainable=False)
    with tf.GradientTape() as tape:
        z = v * 3.0  # <nt-first>
    _other_events(RING // 2)
    with tf.GradientTape():
        v * 2.0  # <nt-second>
    assert f"(read at {loc('nt-first')})" in tape.explain(z, v)
    _other_events(RING // 2)  # the first read is overwritten now, the second is not
    msg = tape.explain(z, v)
    assert NON_TRAINABLE in msg and f"(read at {loc('nt-second')})" in msg, msg
    _other_events(RING)
    assert "(read at an unknown line)" in tape.explain(z, v)


def test_source_producer_after_wrap():
    """A Tensor source computed from a Variable outside a tape: found while its event is in the ring."""
    x = tf.Variable(3.0)
    x = x + 1  # <replaced-more>
    with tf.GradientTape() as tape:
        y = x * x  # an unwatched use: one more event
    _other_events(RING - 2)
    assert f"`add` computed it from a Variable at {loc('replaced-more')}" in tape.explain(y, x)
    _other_events(1)
    d = _core.explain_(tape, y, x)
    assert d["source_producer"] is None


# ---- a NumPy round trip over two lines names both -------------------------------------------------------

def _round_trip_explained(tape, loss, w, how, export_tag, back_tag):
    assert tape.gradient(loss, w) is None
    msg = tape.explain(loss, w)
    assert "is None" in msg and NUMPY in msg, msg
    assert cut_at(back_tag) in msg, msg
    assert f"left the tape at {loc(export_tag)} (`{how}`)" in msg, msg
    assert f"came back as a new tensor at {loc(back_tag)}" in msg, msg
    return msg


@pytest.mark.parametrize("shape", [(3,), ()], ids=["vector", "scalar"])
@pytest.mark.parametrize("convert", [tf.constant, tf.convert_to_tensor], ids=["constant", "convert_to_tensor"])
@pytest.mark.parametrize("export, how", [(operator.methodcaller("numpy"), ".numpy()"), (np.asarray, "np.asarray")],
                         ids=[".numpy()", "np.asarray"])
def test_round_trip_names_the_line_where_the_value_left_the_tape(export, how, convert, shape):
    w = tf.Variable(np.full(shape, 2.0, np.float32))
    with tf.GradientTape() as tape:
        y = export(w * 3.0)  # <rt-export>
        c = convert(y)  # <rt-back>
        loss = tf.reduce_sum(c * c)
    _round_trip_explained(tape, loss, w, how, "rt-export", "rt-back")


def test_round_trip_the_issue_example():
    w = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = (w * 3.0).numpy()  # <issue-export>
        c = tf.constant(y)  # <issue-back>
        loss = c * c
    _round_trip_explained(tape, loss, w, ".numpy()", "issue-export", "issue-back")


@pytest.mark.parametrize("shape", [(5, 11), ()], ids=["matrix", "scalar"])
def test_round_trip_of_a_variable_names_both_lines(shape):
    w = tf.Variable(np.full(shape, 2.0, np.float32))
    with tf.GradientTape() as tape:
        y = w.numpy()  # <var-export>
        c = tf.constant(y)  # <var-back>
        loss = tf.reduce_sum(c * c)
    _round_trip_explained(tape, loss, w, ".numpy()", "var-export", "var-back")


def _to_numpy(t):
    return t.numpy()  # <helper-export>


def test_round_trip_export_in_a_helper():
    w = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        y = _to_numpy(w * 3.0)
        c = tf.constant(y)  # <helper-back>
        loss = tf.reduce_sum(c)
    _round_trip_explained(tape, loss, w, ".numpy()", "helper-export", "helper-back")


def test_round_trip_of_a_scalar_exported_twice_names_the_export_that_came_back():
    w = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        t = w * 3.0
        first = t.numpy()  # <first-export>
        second = t.numpy()  # <second-export>
        c = tf.constant(first)  # <first-back>
        loss = c * c + 0.0 * float(second)
    msg = _round_trip_explained(tape, loss, w, ".numpy()", "first-export", "first-back")
    assert loc("second-export") not in msg


def test_round_trip_after_a_round_trip_names_the_first_one():
    w = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        y = (w * 3.0).numpy()  # <rt1-export>
        c = tf.constant(y)  # <rt1-back>
        y2 = (c * 2.0).numpy()  # <rt2-export>
        c2 = tf.constant(y2)  # <rt2-back>
        loss = tf.reduce_sum(c2)
    msg = _round_trip_explained(tape, loss, w, ".numpy()", "rt1-export", "rt1-back")
    assert loc("rt2-export") not in msg
    d = _core.explain_(tape, loss, w)  # nearest the source first; unwatched uses of c and c2 in between
    assert [(e["cause"], e["line"]) for e in d["cuts"] if e["cause"].startswith("numpy")] == [
        ("numpy_export", line_of("rt1-export")), ("numpy_round_trip", line_of("rt1-back")),
        ("numpy_export", line_of("rt2-export")), ("numpy_round_trip", line_of("rt2-back"))]


def test_round_trip_on_one_line_still_names_that_line():
    w = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        c = tf.constant((w * 3.0).numpy())  # <one-line>
        loss = tf.reduce_sum(c)
    _round_trip_explained(tape, loss, w, ".numpy()", "one-line", "one-line")
