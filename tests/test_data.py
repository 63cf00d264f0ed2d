"""tf.data.Dataset against TensorFlow's documented behaviour: the expected values are the docstring examples of
tensorflow/python/data/ops/dataset_ops.py (and readers.py), or derived by hand from the semantics they
state. Also the NumPy fast path (batches sliced or gathered from the source arrays) against the element-by-
element path, and Keras fit/evaluate/predict on datasets against the array path."""
from __future__ import annotations

import collections
import gzip

import numpy as np
import pytest

import pyfast_tape as tf

Dataset = tf.data.Dataset


def np_list(ds):
    return list(ds.as_numpy_iterator())


def as_lists(ds):
    """Elements as plain Python values (arrays as lists), for comparisons with the docstrings."""
    def conv(x):
        if isinstance(x, dict):
            return {k: conv(v) for k, v in x.items()}
        if isinstance(x, tuple):
            return tuple(conv(v) for v in x)
        if isinstance(x, np.ndarray):
            return x.tolist()
        if isinstance(x, np.generic):
            return x.item()
        return x
    return [conv(e) for e in ds.as_numpy_iterator()]


# ---- sources -----------------------------------------------------------------------------------------------
def test_range_batch_docstring():
    out = np_list(Dataset.range(5).batch(2))
    assert len(out) == 3
    for got, want in zip(out, [np.array([0, 1]), np.array([2, 3]), np.array([4])]):
        np.testing.assert_array_equal(got, want)
        assert got.dtype == np.int64


@pytest.mark.parametrize("args, kwargs, want", [
    ((5,), {}, [0, 1, 2, 3, 4]),
    ((2, 5), {}, [2, 3, 4]),
    ((1, 5, 2), {}, [1, 3]),
    ((1, 5, -2), {}, []),
    ((5, 1), {}, []),
    ((5, 1, -2), {}, [5, 3]),
])
def test_range_docstring(args, kwargs, want):
    ds = Dataset.range(*args, **kwargs)
    assert as_lists(ds) == want
    assert int(ds.cardinality()) == len(want)


def test_range_dtype():
    ds = Dataset.range(1, 5, 2, dtype=tf.float32)
    out = np_list(ds)
    assert out == [1.0, 3.0] and all(isinstance(v, np.float32) for v in out)
    assert ds.element_spec == tf.TensorSpec((), tf.float32)
    assert Dataset.range(3, dtype=tf.int32).element_spec.dtype == tf.int32
    assert Dataset.range(3).element_spec == tf.TensorSpec(shape=(), dtype=tf.int64)


def test_from_tensor_slices_docstring():
    assert as_lists(Dataset.from_tensor_slices([1, 2, 3])) == [1, 2, 3]
    assert as_lists(Dataset.from_tensor_slices(([1, 2], [3, 4], [5, 6]))) == [(1, 3, 5), (2, 4, 6)]
    assert as_lists(Dataset.from_tensor_slices({"a": [1, 2], "b": [3, 4]})) == [{"a": 1, "b": 3},
                                                                                {"a": 2, "b": 4}]
    assert as_lists(Dataset.from_tensor_slices([[1, 2], [3, 4]])) == [[1, 2], [3, 4]]
    # two tensors combined as one tuple element
    features = tf.constant([[1, 3], [2, 1], [3, 3]])
    labels = tf.constant(["A", "B", "A"]) if False else np.array(["A", "B", "A"])
    out = as_lists(Dataset.from_tensor_slices((features, labels)))
    assert out == [([1, 3], b"A"), ([2, 1], b"B"), ([3, 3], b"A")]


def test_from_tensor_slices_nested_docstring():
    ds = Dataset.from_tensor_slices({"a": ([1, 2], [3, 4]), "b": [5, 6]})
    assert as_lists(ds) == [{"a": (1, 3), "b": 5}, {"a": (2, 4), "b": 6}]
    assert ds.element_spec == {"a": (tf.TensorSpec((), tf.int32), tf.TensorSpec((), tf.int32)),
                               "b": tf.TensorSpec((), tf.int32)}


def test_from_tensor_slices_dtypes_follow_tf():
    spec = Dataset.from_tensor_slices(([1, 2], [1.0, 2.0], np.array([1.0, 2.0]), [True, False])).element_spec
    assert [s.dtype for s in spec] == [tf.int32, tf.float32, tf.float64, tf.bool]
    # the core's widening of the small integer types (MNIST's uint8 images)
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    ds = Dataset.from_tensor_slices(img)
    assert ds.element_spec == tf.TensorSpec((3, 3), tf.int32)
    first = next(iter(ds))
    assert first.dtype == tf.int32
    np.testing.assert_array_equal(first.numpy(), img[0])
    assert np_list(ds.batch(2))[0].dtype == np.int32


def test_from_tensor_slices_namedtuple():
    Point = collections.namedtuple("Point", ["x", "y"])
    ds = Dataset.from_tensor_slices(Point(x=[1, 2], y=[3, 4]))
    out = np_list(ds)
    assert isinstance(out[0], Point) and (out[0].x, out[0].y) == (1, 3)
    # a namedtuple is passed to map as one argument (only plain tuples are unpacked)
    assert as_lists(ds.map(lambda p: p.x + p.y)) == [4, 6]


def test_from_tensor_slices_errors():
    with pytest.raises(ValueError):
        Dataset.from_tensor_slices(([1, 2, 3], [1, 2]))
    with pytest.raises(ValueError, match="rank >= 1"):
        Dataset.from_tensor_slices(1)


def test_from_tensor_slices_copies_its_arrays():
    x = np.arange(6.0)
    ds = Dataset.from_tensor_slices(x)
    x[:] = -1
    assert as_lists(ds) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert np_list(ds.batch(6))[0].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_from_tensors_docstring():
    ds = Dataset.from_tensors([1, 2, 3])
    out = np_list(ds)
    assert len(out) == 1 and out[0].tolist() == [1, 2, 3] and out[0].dtype == np.int32
    assert as_lists(Dataset.from_tensors(([1, 2, 3], "A"))) == [([1, 2, 3], b"A")]
    assert int(ds.cardinality()) == 1
    assert ds.element_spec == tf.TensorSpec((3,), tf.int32)


def test_iteration_yields_tensors():
    ds = Dataset.from_tensor_slices(np.arange(6, dtype=np.float32).reshape(3, 2))
    items = list(ds)
    assert all(isinstance(t, tf.Tensor) for t in items)
    np.testing.assert_array_equal(items[1].numpy(), [2.0, 3.0])
    it = iter(ds)
    assert it.element_spec == tf.TensorSpec((2,), tf.float32)
    assert it.get_next().numpy().tolist() == [0.0, 1.0]
    assert next(it).numpy().tolist() == [2.0, 3.0]
    it.get_next()
    with pytest.raises(tf.data.OutOfRangeError):
        it.get_next()
    with pytest.raises(StopIteration):
        next(it)


def test_as_numpy_iterator_docstring():
    out = list(Dataset.from_tensor_slices([1, 2, 3]).as_numpy_iterator())
    assert out == [1, 2, 3] and all(isinstance(v, np.int32) for v in out)


# ---- zip / enumerate / concatenate ---------------------------------------------------------------------------
def test_zip_docstring():
    a = Dataset.range(1, 4)
    b = Dataset.range(4, 7)
    assert as_lists(Dataset.zip(a, b)) == [(1, 4), (2, 5), (3, 6)]
    assert as_lists(Dataset.zip(b, a)) == [(4, 1), (5, 2), (6, 3)]
    c = Dataset.range(7, 13).batch(2)
    assert as_lists(Dataset.zip(a, b, c)) == [(1, 4, [7, 8]), (2, 5, [9, 10]), (3, 6, [11, 12])]
    d = Dataset.range(13, 15)
    assert as_lists(Dataset.zip(a, d)) == [(1, 13), (2, 14)]
    assert int(Dataset.zip(a, d).cardinality()) == 2
    assert as_lists(Dataset.zip((a, b))) == [(1, 4), (2, 5), (3, 6)]
    assert as_lists(Dataset.zip(datasets={"x": a, "y": b}))[0] == {"x": 1, "y": 4}
    with pytest.raises(TypeError):
        Dataset.zip()
    with pytest.raises(TypeError):
        Dataset.zip([a, b])


def test_enumerate_docstring():
    ds = Dataset.from_tensor_slices([1, 2, 3]).enumerate(start=5)
    assert as_lists(ds) == [(5, 1), (6, 2), (7, 3)]
    nested = Dataset.zip(Dataset.from_tensor_slices([7, 8, 9]), Dataset.from_tensor_slices([10, 11, 12]))
    assert as_lists(nested.enumerate()) == [(0, (7, 10)), (1, (8, 11)), (2, (9, 12))]
    assert ds.element_spec[0] == tf.TensorSpec((), tf.int64)


def test_concatenate_docstring():
    a = Dataset.range(1, 4)
    b = Dataset.range(4, 8)
    ds = a.concatenate(b)
    assert as_lists(ds) == [1, 2, 3, 4, 5, 6, 7]
    assert int(ds.cardinality()) == 7
    c = Dataset.zip(a, b)
    with pytest.raises(TypeError):
        a.concatenate(c)
    d = Dataset.from_tensor_slices(["a", "b", "c"])
    with pytest.raises(TypeError):
        a.concatenate(d)


# ---- batch / unbatch / padded_batch ------------------------------------------------------------------------
def test_batch_docstring():
    assert as_lists(Dataset.range(8).batch(3)) == [[0, 1, 2], [3, 4, 5], [6, 7]]
    assert as_lists(Dataset.range(8).batch(3, drop_remainder=True)) == [[0, 1, 2], [3, 4, 5]]
    assert Dataset.range(8).batch(3).element_spec == tf.TensorSpec((None,), tf.int64)
    assert Dataset.range(8).batch(3, drop_remainder=True).element_spec == tf.TensorSpec((3,), tf.int64)
    assert int(Dataset.range(8).batch(3).cardinality()) == 3
    assert int(Dataset.range(8).batch(3, drop_remainder=True).cardinality()) == 2


def test_batch_of_structures_and_errors():
    ds = Dataset.from_tensor_slices({"x": np.arange(10.0).reshape(5, 2), "y": np.arange(5)}).batch(2)
    out = np_list(ds)
    np.testing.assert_array_equal(out[2]["x"], [[8.0, 9.0]])
    np.testing.assert_array_equal(out[0]["y"], [0, 1])
    with pytest.raises(tf.errors.InvalidArgumentError):
        Dataset.range(3).batch(0)
    ragged = Dataset.from_generator(lambda: iter([[1, 2], [3]]), output_signature=tf.TensorSpec([None], tf.int32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="Cannot batch tensors with different shapes"):
        np_list(ragged.batch(2))


def test_unbatch_docstring_and_cardinality():
    elements = Dataset.from_tensor_slices(np.arange(12).reshape(3, 4))  # elements of shape (4,)
    assert as_lists(elements.unbatch()) == list(range(12))
    assert int(elements.unbatch().cardinality()) == 12
    assert as_lists(Dataset.range(5).batch(2).unbatch()) == [0, 1, 2, 3, 4]
    assert int(Dataset.range(5).batch(2).unbatch().cardinality()) == tf.data.UNKNOWN_CARDINALITY
    pairs = Dataset.from_tensor_slices((np.arange(4).reshape(2, 2), np.array([[5, 6], [7, 8]]))).unbatch()
    assert as_lists(pairs) == [(0, 5), (1, 6), (2, 7), (3, 8)]
    with pytest.raises(ValueError):
        Dataset.range(3).unbatch().element_spec


def _fill_dataset():  # padded_batch's docstring: A = range(1, 5).map(lambda x: tf.fill([x], x))
    return Dataset.range(1, 5, dtype=tf.int32).map(lambda x: tf.fill([x], x))


def test_padded_batch_docstring():
    A = _fill_dataset()
    assert A.element_spec == tf.TensorSpec((None,), tf.int32)
    assert as_lists(A.padded_batch(2)) == [[[1, 0], [2, 2]], [[3, 3, 3, 0], [4, 4, 4, 4]]]
    assert as_lists(A.padded_batch(2, padded_shapes=5)) == [[[1, 0, 0, 0, 0], [2, 2, 0, 0, 0]],
                                                            [[3, 3, 3, 0, 0], [4, 4, 4, 4, 0]]]
    assert as_lists(A.padded_batch(2, padded_shapes=5, padding_values=-1)) == [
        [[1, -1, -1, -1, -1], [2, 2, -1, -1, -1]], [[3, 3, 3, -1, -1], [4, 4, 4, 4, -1]]]
    elements = [([1, 2, 3], [10]), ([4, 5], [11, 12])]
    ds = Dataset.from_generator(lambda: iter(elements), (tf.int32, tf.int32))
    ds = ds.padded_batch(2, padded_shapes=([4], [None]), padding_values=(-1, 100))
    assert as_lists(ds) == [([[1, 2, 3, -1], [4, 5, -1, -1]], [[10, 100], [11, 12]])]
    E = Dataset.zip((A, A)).padded_batch(2, padding_values=-1)
    assert as_lists(E) == [([[1, -1], [2, 2]], [[1, -1], [2, 2]]),
                           ([[3, 3, 3, -1], [4, 4, 4, 4]], [[3, 3, 3, -1], [4, 4, 4, 4]])]
    assert A.padded_batch(2, padded_shapes=5).element_spec == tf.TensorSpec((None, 5), tf.int32)
    assert A.padded_batch(2, drop_remainder=True).element_spec == tf.TensorSpec((2, None), tf.int32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="smaller size"):
        np_list(A.padded_batch(2, padded_shapes=3))


# ---- shuffle -----------------------------------------------------------------------------------------------
def test_shuffle_is_a_permutation_and_reshuffles_each_iteration():
    ds = Dataset.range(50).shuffle(50, seed=7)
    first, second = as_lists(ds), as_lists(ds)
    assert sorted(first) == sorted(second) == list(range(50))
    assert first != second  # reshuffle_each_iteration=True
    fixed = Dataset.range(50).shuffle(50, seed=7, reshuffle_each_iteration=False)
    assert as_lists(fixed) == as_lists(fixed)
    assert int(ds.cardinality()) == 50


def test_shuffle_repeat_docstring_semantics():
    # each repetition is a new iteration of the shuffle: a different order, unless reshuffling is off
    ds = Dataset.range(20).shuffle(20, seed=1).repeat(2)
    out = as_lists(ds)
    assert sorted(out[:20]) == sorted(out[20:]) == list(range(20)) and out[:20] != out[20:]
    ds = Dataset.range(20).shuffle(20, seed=1, reshuffle_each_iteration=False).repeat(2)
    out = as_lists(ds)
    assert out[:20] == out[20:]


def test_shuffle_buffer_semantics():
    # buffer_size=1: nothing to choose from, the order is kept
    assert as_lists(Dataset.range(10).shuffle(1, seed=3)) == list(range(10))
    # with a buffer of b elements, the i-th output was among the first i + b inputs
    for b in (2, 5, 17):
        out = as_lists(Dataset.range(200).shuffle(b, seed=b))
        assert sorted(out) == list(range(200))
        assert all(v < i + b for i, v in enumerate(out))
        assert out != list(range(200))


def test_shuffle_seeds():
    a = as_lists(Dataset.range(30).shuffle(30, seed=11))
    b = as_lists(Dataset.range(30).shuffle(30, seed=11))
    assert a == b  # one op seed: the same order (two datasets share no state)
    assert a != as_lists(Dataset.range(30).shuffle(30, seed=12))
    tf.random.set_seed(5)
    c = as_lists(Dataset.range(30).shuffle(30))
    tf.random.set_seed(5)
    d = as_lists(Dataset.range(30).shuffle(30))
    assert c == d  # the global seed makes unseeded shuffles repeat
    tf.random.set_seed(None)


def test_shuffle_fast_path_matches_element_path():
    x = np.arange(3000)
    fast = np.concatenate(np_list(Dataset.from_tensor_slices(x).shuffle(100, seed=9).batch(64)))
    slow = as_lists(Dataset.from_tensor_slices(x).map(lambda v: v).shuffle(100, seed=9))
    one = as_lists(Dataset.from_tensor_slices(x).shuffle(100, seed=9))
    assert fast.tolist() == slow == one
    assert sorted(one) == list(range(3000))


def test_shuffle_buffer_algorithm_against_sequential_reference():
    from pyfast_tape.data.dataset_ops import _shuffle_block
    rng = np.random.default_rng(0)
    for _ in range(100):
        b, t = int(rng.integers(1, 20)), int(rng.integers(1, 60))
        buf = rng.integers(0, 1000, b)
        incoming = rng.integers(1000, 2000, t)
        slots = rng.integers(0, b, t)
        ref, want = buf.copy(), []
        for i in range(t):  # emit a random buffer element, put the next input in its place
            want.append(int(ref[slots[i]]))
            ref[slots[i]] = incoming[i]
        got_buf = buf.copy()
        got = _shuffle_block(got_buf, incoming, slots)
        assert got.tolist() == want and got_buf.tolist() == ref.tolist()


# ---- the fast path -----------------------------------------------------------------------------------------
def test_batch_fast_path_matches_numpy_slices():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(103, 4)).astype(np.float32)
    y = rng.integers(0, 5, 103)
    batches = np_list(Dataset.from_tensor_slices((x, y)).batch(10))
    assert len(batches) == 11
    for i, (bx, by) in enumerate(batches):
        np.testing.assert_array_equal(bx, x[10 * i:10 * i + 10])
        np.testing.assert_array_equal(by, y[10 * i:10 * i + 10])
    # repeat/skip/take/shard keep the plan: batches cross the epoch boundary as the element path does
    ds = Dataset.from_tensor_slices(y).skip(3).take(50).repeat(2).batch(7)
    ref = Dataset.from_tensor_slices(y).map(lambda v: v).skip(3).take(50).repeat(2).batch(7)
    for a, b in zip(np_list(ds), np_list(ref)):
        np.testing.assert_array_equal(a, b)
    assert int(ds.cardinality()) == 15
    np.testing.assert_array_equal(np.concatenate(np_list(Dataset.from_tensor_slices(y).shard(3, 1).batch(8))),
                                  y[1::3])


def test_shuffle_repeat_batch_each_epoch_is_a_permutation():
    x = np.arange(40)
    out = np.concatenate(np_list(Dataset.from_tensor_slices(x).shuffle(40, seed=2).repeat(3).batch(16)))
    assert len(out) == 120
    for e in range(3):
        assert sorted(out[40 * e:40 * e + 40].tolist()) == list(range(40))


# ---- map / filter / take / skip / repeat -------------------------------------------------------------------
def test_map_docstring():
    assert as_lists(Dataset.range(1, 6).map(lambda x: x + 1)) == [2, 3, 4, 5, 6]
    elements = [(1, "foo"), (2, "bar"), (3, "baz")]
    ds = Dataset.from_generator(lambda: elements, (tf.int32, tf.string))
    assert as_lists(ds.map(lambda x_int, y_str: x_int)) == [1, 2, 3]
    assert as_lists(ds.map(lambda x_int, y_str: y_str)) == [b"foo", b"bar", b"baz"]
    # a dict element is passed as one argument
    d = Dataset.from_tensor_slices({"a": [1, 2], "b": [10, 20]})
    assert as_lists(d.map(lambda e: e["a"] + e["b"])) == [11, 22]
    # one tuple element: the function receives its components
    assert as_lists(Dataset.from_tensor_slices(([1, 2], [3, 4])).map(lambda x, y: x * y)) == [3, 8]


def test_map_return_structures_and_specs():
    ds = Dataset.range(3).map(lambda x: [x, x * 2])  # a list becomes a tuple
    assert as_lists(ds) == [(0, 0), (1, 2), (2, 4)]
    assert ds.element_spec == (tf.TensorSpec((), tf.int64), tf.TensorSpec((), tf.int64))
    ds = Dataset.range(3).map(lambda x: {"v": tf.cast(x, tf.float32) / 2, "k": 1.5})
    assert as_lists(ds) == [{"v": 0.0, "k": 1.5}, {"v": 0.5, "k": 1.5}, {"v": 1.0, "k": 1.5}]
    assert ds.element_spec == {"k": tf.TensorSpec((), tf.float32), "v": tf.TensorSpec((), tf.float32)}
    batched = Dataset.from_tensor_slices(np.ones((10, 3), np.float32)).batch(4).map(lambda x: x * 2)
    assert batched.element_spec == tf.TensorSpec((None, 3), tf.float32)
    assert int(batched.cardinality()) == 3
    assert all(isinstance(t, tf.Tensor) for t in Dataset.range(2).map(lambda x: x + 1))


def test_map_num_parallel_calls_accepted():
    ds = Dataset.range(4).map(lambda x: x * 3, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    assert as_lists(ds) == [0, 3, 6, 9]


def test_filter_docstring():
    ds = Dataset.from_tensor_slices([1, 2, 3])
    assert as_lists(ds.filter(lambda x: x < 3)) == [1, 2]
    assert as_lists(ds.filter(lambda x: tf.equal(x, 1))) == [1]
    assert int(ds.filter(lambda x: x < 3).cardinality()) == tf.data.UNKNOWN_CARDINALITY
    with pytest.raises(ValueError, match="must return a `tf.bool` scalar"):
        np_list(ds.filter(lambda x: x))


def test_take_skip_repeat_docstrings():
    assert as_lists(Dataset.range(10).take(3)) == [0, 1, 2]
    assert as_lists(Dataset.range(10).take(-1)) == list(range(10))
    assert as_lists(Dataset.range(10).skip(7)) == [7, 8, 9]
    assert as_lists(Dataset.range(10).skip(-1)) == []
    assert as_lists(Dataset.from_tensor_slices([1, 2, 3]).repeat(3)) == [1, 2, 3] * 3
    assert as_lists(Dataset.range(3).repeat().take(7)) == [0, 1, 2, 0, 1, 2, 0]
    assert as_lists(Dataset.range(0).repeat()) == []
    assert as_lists(Dataset.range(10).take_while(lambda x: x < 5)) == [0, 1, 2, 3, 4]
    assert as_lists(Dataset.range(10).shard(num_shards=3, index=1)) == [1, 4, 7]
    assert as_lists(Dataset.range(3).prefetch(2)) == [0, 1, 2]
    assert as_lists(Dataset.range(3).prefetch(tf.data.AUTOTUNE)) == [0, 1, 2]


def test_cache_replays_the_first_complete_iteration():
    calls = []

    def record(x):
        calls.append(int(x))
        return x * 10

    ds = Dataset.range(5).map(record).cache()
    ds.element_spec  # probes the function (as TF's trace runs it once); not an iteration
    n_probe = len(calls)
    assert as_lists(ds) == [0, 10, 20, 30, 40]
    assert as_lists(ds) == [0, 10, 20, 30, 40]
    assert len(calls) - n_probe == 5
    frozen = Dataset.range(20).shuffle(20, seed=4).cache()
    assert as_lists(frozen) == as_lists(frozen)
    partial = Dataset.range(6).cache()
    assert as_lists(partial.take(2)) == [0, 1]
    assert as_lists(partial) == list(range(6))


def test_flat_map_and_interleave_docstrings():
    ds = Dataset.from_tensor_slices([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    assert as_lists(ds.flat_map(Dataset.from_tensor_slices)) == list(range(1, 10))
    ds = Dataset.range(1, 6).interleave(lambda x: Dataset.from_tensors(x).repeat(6), cycle_length=2,
                                        block_length=4)
    assert as_lists(ds) == [1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 3, 3, 4, 4, 5, 5, 5, 5,
                            5, 5]
    assert ds.element_spec == tf.TensorSpec((), tf.int64)


def test_reduce_and_get_single_element_docstrings():
    assert int(Dataset.range(5).reduce(np.int64(0), lambda x, _: x + 1)) == 5
    assert int(Dataset.range(5).reduce(np.int64(0), lambda x, y: x + y)) == 10
    assert Dataset.from_tensors([1, 2]).get_single_element().numpy().tolist() == [1, 2]
    with pytest.raises(tf.errors.InvalidArgumentError):
        Dataset.range(2).get_single_element()
    with pytest.raises(tf.errors.InvalidArgumentError):
        Dataset.range(0).get_single_element()


def test_apply():
    assert as_lists(Dataset.range(10).apply(lambda d: d.filter(lambda x: x < 3))) == [0, 1, 2]


# ---- from_generator ------------------------------------------------------------------------------------------
def test_from_generator_docstring():
    def gen():
        ragged = [[1, 2], [3]]
        for i in range(2):
            yield 42, ragged[i]

    ds = Dataset.from_generator(gen, output_signature=(tf.TensorSpec(shape=(), dtype=tf.int32),
                                                       tf.TensorSpec(shape=(None,), dtype=tf.int32)))
    assert as_lists(ds) == [(42, [1, 2]), (42, [3])]
    assert int(ds.cardinality()) == tf.data.UNKNOWN_CARDINALITY
    # a new generator for each iteration
    assert as_lists(ds) == [(42, [1, 2]), (42, [3])]


def test_from_generator_args_types_and_errors():
    ds = Dataset.from_generator(lambda n: iter(range(int(n))), output_types=tf.int64, output_shapes=(), args=(3,))
    assert as_lists(ds) == [0, 1, 2]
    assert ds.element_spec == tf.TensorSpec((), tf.int64)
    bad = Dataset.from_generator(lambda: iter([[1, 2, 3]]), output_signature=tf.TensorSpec((2,), tf.int32))
    with pytest.raises(tf.errors.InvalidArgumentError):
        np_list(bad)
    with pytest.raises(TypeError):
        Dataset.from_generator(lambda: iter([]))


# ---- cardinality / len / element_spec / constants ------------------------------------------------------------
def test_cardinality_docstring():
    ds = Dataset.range(42)
    c = ds.cardinality()
    assert isinstance(c, tf.Tensor) and c.dtype == tf.int64 and int(c) == 42
    ds = ds.repeat()
    assert int(ds.cardinality()) == tf.data.INFINITE_CARDINALITY
    ds = ds.filter(lambda x: True)
    assert int(ds.cardinality()) == tf.data.UNKNOWN_CARDINALITY
    assert int(tf.data.experimental.cardinality(Dataset.range(3))) == 3
    assert tf.data.INFINITE_CARDINALITY == -1 and tf.data.UNKNOWN_CARDINALITY == -2
    assert tf.data.experimental.INFINITE_CARDINALITY == -1
    assert tf.data.AUTOTUNE == tf.data.experimental.AUTOTUNE == -1


@pytest.mark.parametrize("make, n", [
    (lambda: Dataset.range(10).repeat(3), 30),
    (lambda: Dataset.range(10).take(4), 4),
    (lambda: Dataset.range(10).repeat().take(4), 4),
    (lambda: Dataset.range(10).skip(4), 6),
    (lambda: Dataset.range(10).skip(40), 0),
    (lambda: Dataset.range(10).shard(3, 0), 4),
    (lambda: Dataset.range(10).shard(3, 2), 3),
    (lambda: Dataset.range(10).enumerate(), 10),
    (lambda: Dataset.range(10).map(lambda x: x).prefetch(1).cache(), 10),
    (lambda: Dataset.range(10).repeat(0), 0),
    (lambda: Dataset.range(10).filter(lambda x: True).repeat(2), -2),
    (lambda: Dataset.range(10).filter(lambda x: True).take(3), -2),
    (lambda: Dataset.range(10).repeat().skip(3), -1),
    (lambda: Dataset.range(10).repeat().batch(3), -1),
])
def test_cardinality_rules(make, n):
    assert int(make().cardinality()) == n


def test_len():
    assert len(Dataset.range(10)) == 10
    assert len(Dataset.range(10).batch(3)) == 4
    with pytest.raises(TypeError, match="The dataset is infinite."):
        len(Dataset.range(10).repeat())
    with pytest.raises(TypeError, match="The dataset length is unknown."):
        len(Dataset.range(10).filter(lambda x: True))
    assert bool(Dataset.range(0))  # truthiness never asks for the length


def test_element_spec_and_tensor_spec():
    ds = Dataset.from_tensor_slices((np.zeros((4, 3), np.float32), np.zeros(4, np.int64)))
    assert ds.element_spec == (tf.TensorSpec(shape=(3,), dtype=tf.float32), tf.TensorSpec(shape=(), dtype=tf.int64))
    assert repr(Dataset.range(3).element_spec) == "TensorSpec(shape=(), dtype=tf.int64, name=None)"
    assert repr(Dataset.range(3).batch(2).element_spec) == "TensorSpec(shape=(None,), dtype=tf.int64, name=None)"
    s = tf.TensorSpec([None, 3], tf.float32, name="x")
    assert s.shape.as_list() == [None, 3] and s.dtype == tf.float32 and s.name == "x"
    assert s.is_compatible_with(tf.zeros([5, 3]))
    assert not s.is_compatible_with(tf.zeros([5, 4]))
    assert not s.is_compatible_with(tf.zeros([5, 3], tf.float64))
    assert tf.TensorSpec.from_tensor(tf.constant([1, 2])) == tf.TensorSpec((2,), tf.int32)
    assert "_TensorSliceDataset" in repr(ds) and "element_spec=" in repr(ds)


def test_options_accepted():
    options = tf.data.Options()
    options.experimental_deterministic = False
    options.experimental_distribute.auto_shard_policy = 0
    ds = Dataset.range(3).with_options(options)
    assert as_lists(ds) == [0, 1, 2]


# ---- strings and files ---------------------------------------------------------------------------------------
def test_string_elements():
    ds = Dataset.from_tensor_slices(["a", "bc"])
    assert ds.element_spec == tf.TensorSpec((), tf.string)
    assert np_list(ds) == [b"a", b"bc"]
    t = next(iter(ds))
    assert t.numpy() == b"a" and t.dtype == tf.string and tuple(t.shape) == ()
    batch = np_list(ds.batch(2))[0]
    assert batch.dtype == object and batch.tolist() == [b"a", b"bc"]


def test_text_line_dataset(tmp_path):
    f1 = tmp_path / "a.txt"
    f1.write_bytes(b"first line\nsecond, line\r\n\nlast without newline")
    f2 = tmp_path / "b.txt.gz"
    f2.write_bytes(gzip.compress(b"g1\ng2\n"))
    ds = tf.data.TextLineDataset(str(f1))
    assert np_list(ds) == [b"first line", b"second, line", b"", b"last without newline"]
    assert ds.element_spec == tf.TensorSpec((), tf.string)
    assert int(ds.cardinality()) == tf.data.UNKNOWN_CARDINALITY
    assert np_list(tf.data.TextLineDataset([str(f1), str(f1)]).skip(3).take(2)) == [b"last without newline",
                                                                                   b"first line"]
    assert np_list(tf.data.TextLineDataset(str(f2), compression_type="GZIP")) == [b"g1", b"g2"]
    assert np_list(tf.data.TextLineDataset(str(f1)).batch(2).take(1))[0].tolist() == [b"first line",
                                                                                     b"second, line"]


def _write_csv(path, text):
    path.write_text(text)
    return str(path)


def test_make_csv_dataset_basic(tmp_path):
    f = _write_csv(tmp_path / "t.csv", "a,b,label,name\n1,2.5,0,x\n2,3.5,1,y\n3,,0,z\n4,5.5,1,w\n5,6.5,0,v\n")
    ds = tf.data.experimental.make_csv_dataset(f, batch_size=2, label_name="label", num_epochs=1, shuffle=False)
    out = np_list(ds)
    assert len(out) == 3
    features, label = out[0]
    assert isinstance(features, collections.OrderedDict) and list(features) == ["a", "b", "name"]
    assert features["a"].tolist() == [1, 2] and features["a"].dtype == np.int32
    assert features["b"].dtype == np.float32 and features["b"].tolist() == [2.5, 3.5]
    assert features["name"].tolist() == [b"x", b"y"]
    assert label.tolist() == [0, 1] and label.dtype == np.int32
    assert out[1][0]["b"].tolist() == [0.0, 5.5]  # an empty field takes the inferred default, 0
    assert out[2][0]["a"].tolist() == [5]
    spec = ds.element_spec
    assert spec[1] == tf.TensorSpec((None,), tf.int32)
    assert spec[0]["b"] == tf.TensorSpec((None,), tf.float32)


def test_make_csv_dataset_options(tmp_path):
    f = _write_csv(tmp_path / "t.csv", "1,10\n2,20\n3,30\n")
    ds = tf.data.experimental.make_csv_dataset(f, batch_size=2, column_names=["x", "y"], header=False,
                                               shuffle=False, num_epochs=2)
    out = np_list(ds)
    assert [o["x"].tolist() for o in out] == [[1, 2], [3, 1], [2, 3]]  # repeat before batch
    assert "y" in out[0]
    sel = tf.data.experimental.make_csv_dataset(f, batch_size=3, column_names=["x", "y"], header=False,
                                                select_columns=["y"], shuffle=False, num_epochs=1)
    assert list(np_list(sel)[0]) == ["y"] and np_list(sel)[0]["y"].tolist() == [10, 20, 30]
    forever = tf.data.experimental.make_csv_dataset(f, batch_size=2, column_names=["x", "y"], header=False,
                                                    shuffle=True, shuffle_seed=3)
    assert forever.element_spec["x"] == tf.TensorSpec((2,), tf.int32)  # num_epochs=None: every batch full
    firsts = np_list(forever.take(6))
    vals = np.concatenate([b["x"] for b in firsts])
    assert len(vals) == 12 and sorted(vals[:3].tolist()) == [1, 2, 3]
    with pytest.raises(ValueError, match="label_name"):
        tf.data.experimental.make_csv_dataset(f, batch_size=2, column_names=["x", "y"], header=False,
                                              label_name="nope")
    bad = _write_csv(tmp_path / "bad.csv", "x,y\n1,2\n3\n4,5\n")
    with pytest.raises(ValueError, match="Problem inferring types"):  # TF: type inference reads the rows
        tf.data.experimental.make_csv_dataset(bad, batch_size=5, shuffle=False, num_epochs=1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Expect 2 fields"):
        np_list(tf.data.experimental.make_csv_dataset(bad, batch_size=5, column_defaults=[tf.int32, tf.int32],
                                                      shuffle=False, num_epochs=1))
    skipped = tf.data.experimental.make_csv_dataset(bad, batch_size=5, column_defaults=[tf.int32, tf.int32],
                                                    shuffle=False, num_epochs=1, ignore_errors=True)
    assert np_list(skipped)[0]["x"].tolist() == [1, 4]
    with pytest.raises(ValueError, match="No files match"):
        tf.data.experimental.make_csv_dataset(str(tmp_path / "missing*.csv"), batch_size=2)


def test_csv_dataset_record_defaults(tmp_path):
    f = _write_csv(tmp_path / "r.csv", "abcdefg,4.28E10,5.55E6,12\nhijklmn,-5.3E14,,2\n")
    ds = tf.data.experimental.CsvDataset(f, [tf.float32, tf.constant([0.0], dtype=tf.float32), tf.int32],
                                         select_cols=[1, 2, 3])
    out = np_list(ds)
    assert len(out) == 2
    np.testing.assert_allclose([out[0][0], out[0][1]], [4.28e10, 5.55e6], rtol=1e-6)
    assert out[0][2] == 12 and out[1][1] == 0.0 and out[1][2] == 2
    required = tf.data.experimental.CsvDataset(f, [tf.float32, tf.float32, tf.int32], select_cols=[1, 2, 3])
    with pytest.raises(tf.errors.InvalidArgumentError, match="required but missing"):
        np_list(required)


# ---- Keras -------------------------------------------------------------------------------------------------------
def _model(seed=0):
    keras = tf.keras
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
    rng = np.random.default_rng(seed)
    m.set_weights([rng.normal(size=w.shape).astype(np.float32) * 0.3 for w in m.get_weights()])
    m.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy", metrics=["accuracy"])
    return m


def _xy(n=100):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x.sum(axis=1, keepdims=True) > 0).astype(np.float32)
    return x, y


def test_fit_on_dataset_matches_array_fit():
    x, y = _xy()
    a, b = _model(), _model()
    ha = a.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    hb = b.fit(Dataset.from_tensor_slices((x, y)).batch(16), epochs=3, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)
    assert sorted(ha.history) == sorted(hb.history) == ["accuracy", "loss"]
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-6)
    ds = Dataset.from_tensor_slices((x, y)).batch(32)
    np.testing.assert_allclose(a.evaluate(x, y, batch_size=32, verbose=0), b.evaluate(ds, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(a.predict(x, verbose=0), b.predict(ds, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(b.predict(Dataset.from_tensor_slices(x).batch(7), verbose=0),
                               b.predict(x, verbose=0), rtol=1e-6)
    logs = b.evaluate(ds, verbose=0, return_dict=True)
    assert sorted(logs) == ["accuracy", "loss"]


def test_fit_on_dataset_validation_steps_and_errors():
    x, y = _xy()
    m = _model()
    ds = Dataset.from_tensor_slices((x, y)).shuffle(100, seed=0).batch(10)
    h = m.fit(ds, epochs=2, validation_data=ds.take(2), verbose=0)
    assert sorted(h.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert len(h.history["loss"]) == 2
    h = m.fit(ds.repeat(), epochs=2, steps_per_epoch=3, verbose=0)
    assert len(h.history["loss"]) == 2
    with pytest.raises(ValueError, match="`y` should not be passed"):
        m.fit(ds, y, verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        m.fit(ds, validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        m.fit(ds.repeat(), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="`steps`"):
        m.evaluate(ds.repeat(), verbose=0)
    assert len(m.evaluate(ds.repeat(), steps=2, verbose=0)) == 2
    assert m.predict(ds.repeat(), steps=3, verbose=0).shape == (30, 1)
    with pytest.warns(UserWarning, match="ran out of data"):
        m.fit(ds.take(2), epochs=1, steps_per_epoch=5, verbose=0)
    # sample weights as a third component weigh the loss as in the array path
    sw = np.linspace(0.1, 1.0, len(x)).astype(np.float32)
    a, b = _model(), _model()
    a.fit(x, y, sample_weight=sw, batch_size=25, shuffle=False, verbose=0)
    b.fit(Dataset.from_tensor_slices((x, y, sw)).batch(25), verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)


def test_fit_progress_bar_uses_cardinality(capsys):
    x, y = _xy(40)
    m = _model()
    m.fit(Dataset.from_tensor_slices((x, y)).batch(10), epochs=1, verbose=2)
    assert "4/4" in capsys.readouterr().out
