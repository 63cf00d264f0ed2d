"""File readers: ``tf.data.TextLineDataset``, ``tf.data.experimental.CsvDataset`` and
``tf.data.experimental.make_csv_dataset`` (TensorFlow's readers.py, parsed in Python)."""
from __future__ import annotations

import collections
import csv
import glob
import gzip
import io
import zlib
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ..dtypes import DType, as_dtype, bool as _bool, float32, float64, int32, int64
from . import dataset_ops
from .dataset_ops import AUTOTUNE, UNKNOWN, Dataset, InvalidArgumentError, _Plan, _to_array
from .tensor_spec import TensorSpec, string

__all__ = ["TextLineDataset", "CsvDataset", "make_csv_dataset"]


def _filenames(filenames: Any) -> List[str]:
    if isinstance(filenames, Dataset):
        return [_str(v) for v in filenames.as_numpy_iterator()]
    if isinstance(filenames, (str, bytes)):
        return [_str(filenames)]
    if isinstance(filenames, dataset_ops.StringTensor):
        return [_str(v) for v in np.asarray(filenames).ravel().tolist()]
    names = [_str(f) for f in (np.asarray(filenames, dtype=object).ravel().tolist()
                               if isinstance(filenames, np.ndarray) else filenames)]
    return names


def _str(x: Any) -> str:
    return x.decode("utf-8") if isinstance(x, bytes) else str(x)


def _open_bytes(filename: str, compression_type: Optional[str]) -> bytes:
    with open(filename, "rb") as f:
        data = f.read()
    ct = (compression_type or "").upper()
    if ct == "GZIP":
        return gzip.decompress(data)
    if ct == "ZLIB":
        return zlib.decompress(data)
    if ct:
        raise ValueError(f"compression_type ({compression_type}) is not supported")
    return data


def _lines(data: bytes) -> List[bytes]:
    """Lines without their '\\n' (and a '\\r' before it); no empty line after a final newline."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [ln[:-1] if ln.endswith(b"\r") else ln for ln in lines]


def _object_array(values: List[bytes]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    out.setflags(write=False)
    return out


class TextLineDataset(Dataset):
    """The lines of one or more text files (bytes scalars of dtype ``tf.string``, newlines removed), file
    after file."""

    def __init__(self, filenames: Any, compression_type: Optional[str] = None, buffer_size: Any = None,
                 num_parallel_reads: Any = None, name: Optional[str] = None) -> None:
        self._files = _filenames(filenames)
        self._compression = compression_type

    def _spec(self) -> Any:
        return TensorSpec((), string)

    def _card(self) -> int:
        return UNKNOWN

    def _iter(self) -> Iterator[Any]:
        for fn in self._files:
            for line in _lines(_open_bytes(fn, self._compression)):
                a = np.empty((), dtype=object)
                a[()] = line
                yield a


_ACCEPTABLE_CSV_TYPES = (float32, float64, int32, int64)


def _csv_default(d: Any) -> Tuple[Any, Any]:
    """A record default: (dtype, default value or None for a required field)."""
    if d is string or d is str or d is bytes or (isinstance(d, str) and d == "string"):
        return string, None
    if isinstance(d, type) and not issubclass(d, np.generic):
        d = as_dtype(d)
    if isinstance(d, DType):
        if d not in _ACCEPTABLE_CSV_TYPES:
            raise TypeError(f"Unsupported CSV record default type {d}")
        return d, None
    a = _to_array(d)
    dt = dataset_ops._dtype_of(a)
    if a.size == 0:
        return dt, None
    v = a.reshape(-1)[0]
    if dt is string:
        return string, v
    if dt is _bool:
        raise TypeError("Unsupported CSV record default type bool")
    return dt, v


def _parse_field(text: str, dtype: Any, default: Any, na_value: str, col: int, row: int) -> Any:
    if text == "" or text == na_value:
        if default is None:
            raise InvalidArgumentError(f"Field {col} is required but missing in record {row}!")
        return default
    if dtype is string:
        return text.encode("utf-8")
    try:
        if dtype in (int32, int64):
            v = int(text.strip())
            if dtype is int32 and not -2**31 <= v < 2**31:
                raise ValueError
            return v
        return float(text.strip())
    except ValueError:
        raise InvalidArgumentError(f"Field {col} in record {row} is not a valid {dtype.name}: {text}") from None


class CsvDataset(Dataset):
    """The records of CSV files as tuples of scalars, one per (selected) column, typed by
    `record_defaults` (a dtype: a required field; a one-element tensor: the value of an empty field)."""

    def __init__(self, filenames: Any, record_defaults: Sequence[Any], compression_type: Optional[str] = None,
                 buffer_size: Any = None, header: bool = False, field_delim: str = ",", use_quote_delim: bool = True,
                 na_value: str = "", select_cols: Optional[Sequence[int]] = None,
                 exclude_cols: Optional[Sequence[int]] = None, name: Optional[str] = None) -> None:
        self._files = _filenames(filenames)
        self._defaults = [_csv_default(d) for d in record_defaults]
        if select_cols is not None and exclude_cols is not None:
            raise ValueError("Either select_cols or exclude_cols should be empty")
        if select_cols is not None:
            select_cols = [int(c) for c in select_cols]
            if any(b <= a for a, b in zip(select_cols, select_cols[1:])):
                raise InvalidArgumentError("select_cols is not strictly increasing.")
            if len(select_cols) != len(self._defaults):
                raise InvalidArgumentError("Expect non-empty record_defaults or the same length as select_cols")
        self._select = select_cols
        self._exclude = None if exclude_cols is None else set(int(c) for c in exclude_cols)
        self._compression = compression_type
        self._header = bool(header)
        self._delim = field_delim
        self._quote = bool(use_quote_delim)
        self._na = na_value
        self._columns: Optional[Tuple[Any, ...]] = None
        self._ignore_errors = False

    def _spec(self) -> Any:
        return tuple(TensorSpec((), dt) for dt, _ in self._defaults)

    def _card(self) -> int:
        return UNKNOWN

    def _read(self) -> Tuple[Any, ...]:
        if self._columns is not None:
            return self._columns
        ncols = len(self._defaults)
        values: List[List[Any]] = [[] for _ in range(ncols)]
        row_no = 0
        for fn in self._files:
            text = _open_bytes(fn, self._compression).decode("utf-8")
            reader = csv.reader(io.StringIO(text), delimiter=self._delim,
                                quoting=csv.QUOTE_MINIMAL if self._quote else csv.QUOTE_NONE)
            if self._header:
                next(reader, None)
            for record in reader:
                try:
                    parsed = self._parse_record(record, ncols, row_no)
                except InvalidArgumentError:
                    if not self._ignore_errors:  # make_csv_dataset(ignore_errors=True) skips the record
                        raise
                    continue
                for j, v in enumerate(parsed):
                    values[j].append(v)
                row_no += 1
        cols = []
        for (dt, _), vals in zip(self._defaults, values):
            if dt is string:
                a = _object_array(vals)
            else:
                a = np.asarray(vals, dtype=dt.as_numpy_dtype).reshape(len(vals))
                a.setflags(write=False)
            cols.append(a)
        self._columns = tuple(cols)
        return self._columns

    def _parse_record(self, record: List[str], ncols: int, row_no: int) -> List[Any]:
        if self._select is not None:
            if self._select and len(record) <= self._select[-1]:
                raise InvalidArgumentError(f"Expect {self._select[-1] + 1} fields but have {len(record)} "
                                           f"in record {row_no}")
            fields = [record[c] for c in self._select]
        elif self._exclude is not None:
            fields = [f for i, f in enumerate(record) if i not in self._exclude]
        else:
            fields = record
        if len(fields) != ncols:
            raise InvalidArgumentError(f"Expect {ncols} fields but have {len(fields)} in record {row_no}")
        return [_parse_field(text, dt, default, self._na, j, row_no)
                for j, (text, (dt, default)) in enumerate(zip(fields, self._defaults))]

    def _plan(self) -> _Plan:
        cols = self._read()
        n = len(cols[0]) if cols else 0
        return _Plan(cols, lambda: iter((range(0, n),)))


# ---- make_csv_dataset ------------------------------------------------------------------------------------
def _is_valid_int32(s: str) -> bool:
    try:
        return -2**31 <= int(s) < 2**31
    except ValueError:
        return False


def _is_valid_int64(s: str) -> bool:
    try:
        return -2**63 <= int(s) < 2**63
    except ValueError:
        return False


def _is_valid_float(s: str, dt: Any) -> bool:
    try:
        return bool(dt(s) < np.inf)
    except (ValueError, OverflowError):
        return False


_TYPE_LIST = [int32, int64, float32, float64, string]
_TYPE_FNS: List[Callable[[str], bool]] = [_is_valid_int32, _is_valid_int64,
                                          lambda s: _is_valid_float(s, np.float32),
                                          lambda s: _is_valid_float(s, np.float64), lambda s: True]


def _infer_type(str_val: str, na_value: str, prev_type: Any) -> Any:
    if str_val in ("", na_value):
        return prev_type
    for i, (t, fn) in enumerate(zip(_TYPE_LIST, _TYPE_FNS)):
        if fn(str_val) and (prev_type is None or any(prev_type is u for u in _TYPE_LIST[:i + 1])):
            return t
    return string


def _get_file_names(file_pattern: Any, shuffle: bool) -> List[str]:
    if isinstance(file_pattern, (list, tuple)):
        if not file_pattern:
            raise ValueError("Argument `file_pattern` should not be empty.")
        names: List[str] = []
        for entry in file_pattern:
            names.extend(glob.glob(_str(entry)))
    else:
        names = glob.glob(_str(file_pattern))
    if not names:
        raise ValueError(f"No files match `file_pattern` {file_pattern}.")
    return names if shuffle else sorted(names)


def _csv_rows(filenames: List[str], delim: str, quote: bool, header: bool,
              compression_type: Optional[str]) -> Iterator[List[str]]:
    for fn in filenames:
        text = _open_bytes(fn, compression_type).decode("utf-8")
        reader = csv.reader(io.StringIO(text), delimiter=delim, quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE)
        if header:
            next(reader, None)
        yield from reader


def make_csv_dataset(file_pattern: Any, batch_size: int, column_names: Optional[Sequence[str]] = None,
                     column_defaults: Optional[Sequence[Any]] = None, label_name: Optional[str] = None,
                     select_columns: Optional[Sequence[Any]] = None, field_delim: str = ",",
                     use_quote_delim: bool = True, na_value: str = "", header: bool = True,
                     num_epochs: Optional[int] = None, shuffle: bool = True, shuffle_buffer_size: int = 10000,
                     shuffle_seed: Optional[int] = None, prefetch_buffer_size: Any = None,
                     num_parallel_reads: Any = None, sloppy: bool = False, num_rows_for_inference: Optional[int] = 100,
                     compression_type: Optional[str] = None, ignore_errors: bool = False,
                     encoding: str = "utf-8") -> Dataset:
    """Batches of CSV records as ``(features, label)`` (an OrderedDict of columns and the `label_name`
    column), or features alone without `label_name`. Column names come from the header row unless given;
    types are inferred from the first `num_rows_for_inference` rows (int32, int64, float32, float64, then
    string) unless `column_defaults` are given. Shuffles (buffer `shuffle_buffer_size`), repeats
    `num_epochs` times (None: forever, and then every batch is full), then batches, as TF does. The files
    are read as one source, in sorted order (permuted once with `shuffle_seed` when shuffling)."""
    filenames = _get_file_names(file_pattern, False)
    if shuffle and len(filenames) > 1:
        rng = np.random.default_rng(dataset_ops._dataset_seed(shuffle_seed) & 0xFFFFFFFFFFFFFFFF)
        filenames = [filenames[i] for i in rng.permutation(len(filenames))]
    if column_names is None:
        if not header:
            raise ValueError("Cannot infer column names without a header line.")
        column_names = _infer_column_names(filenames, field_delim, use_quote_delim, compression_type)
    column_names = list(column_names)
    if len(column_names) != len(set(column_names)):
        raise ValueError("Cannot have duplicate column names.")
    select = None
    if select_columns is not None:
        select = _get_sorted_col_indices(select_columns, column_names)
    if column_defaults is not None:
        defaults = list(column_defaults)
    else:
        defaults = _infer_column_defaults(filenames, len(column_names), field_delim, use_quote_delim, na_value,
                                          header, num_rows_for_inference, select, compression_type)
    if select is not None and len(defaults) != len(select):
        raise ValueError("If specified, column_defaults and select_columns must have same length.")
    if select is not None and len(column_names) > len(select):
        column_names = [column_names[i] for i in select]
    if label_name is not None and label_name not in column_names:
        raise ValueError("`label_name` provided must be one of the columns.")

    dataset: Any = CsvDataset(filenames, defaults, compression_type=compression_type, header=header,
                                  field_delim=field_delim, use_quote_delim=use_quote_delim, na_value=na_value,
                                  select_cols=select)
    dataset._ignore_errors = bool(ignore_errors)
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer_size, shuffle_seed)
    if num_epochs != 1:
        dataset = dataset.repeat(num_epochs)
    dataset = dataset.batch(batch_size, drop_remainder=num_epochs is None)
    names = list(column_names)

    def map_fn(*columns: Any) -> Any:
        features = collections.OrderedDict(zip(names, columns))
        if label_name is not None:
            label = features.pop(label_name)
            return features, label
        return features

    dataset = dataset.map(map_fn)
    return dataset.prefetch(AUTOTUNE if prefetch_buffer_size is None else prefetch_buffer_size)


def _infer_column_names(filenames: List[str], delim: str, quote: bool, compression_type: Optional[str]) -> List[str]:
    names = None
    for fn in filenames:
        text = _open_bytes(fn, compression_type).decode("utf-8")
        try:
            first = next(csv.reader(io.StringIO(text), delimiter=delim,
                                    quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE))
        except StopIteration:
            raise ValueError(f"Received StopIteration when reading the header line of {fn}.  Empty file?") from None
        if names is None:
            names = first
        elif first != names:
            raise ValueError("Files have different column names in the header row.")
    return list(names or [])


def _get_sorted_col_indices(select_columns: Sequence[Any], column_names: List[str]) -> List[int]:
    index = {n: i for i, n in enumerate(column_names)}
    out = []
    for v in select_columns:
        if isinstance(v, int):
            if v < 0 or v >= len(column_names):
                raise ValueError(f"Column index {v} specified in select_columns out of valid range.")
            out.append(v)
        elif v not in index:
            raise ValueError(f"Value '{v}' specified in select_columns not a valid column index or name.")
        else:
            out.append(index[v])
    result = sorted(set(out))
    if len(result) != len(select_columns):
        raise ValueError("select_columns contains duplicate columns")
    return result


def _infer_column_defaults(filenames: List[str], num_cols: int, delim: str, quote: bool, na_value: str,
                           header: bool, num_rows: Optional[int], select: Optional[List[int]],
                           compression_type: Optional[str]) -> List[Any]:
    cols = list(range(num_cols)) if select is None else select
    inferred: List[Any] = [None] * len(cols)
    for i, row in enumerate(_csv_rows(filenames, delim, quote, header, compression_type)):
        if num_rows is not None and i >= num_rows:
            break
        if len(row) != num_cols:
            raise ValueError("Problem inferring types: CSV row has different number of fields than expected.")
        for j, c in enumerate(cols):
            inferred[j] = _infer_type(row[c], na_value, inferred[j])
    types = [t or string for t in inferred]
    out: List[Any] = []
    for t in types:
        if t is string:
            a = np.empty(1, dtype=object)
            a[0] = b""
            out.append(a)
        else:
            out.append(np.zeros(1, dtype=t.as_numpy_dtype))
    return out
