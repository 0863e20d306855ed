"""Inputs to engine types: the one place dtypes and Python scalars are checked.

Arrays that already have the engine's dtype and are contiguous go to Rust as
they are (no conversion; before the bindings let the GIL go they read a
large batch into the rows they index, checking each value as it is read, and
copy anything else, which Rust then checks), as do int64 ids found non-negative, seen as
uint64: a caller that changes its own array from another thread during the
call may have that change stored. Other integer dtypes are converted when
every value fits.
Floats, booleans and objects are refused rather than silently truncated.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._engine import DtypeError, InvalidInputError

_U64_MAX = 2**64 - 1
_BOOLS = (bool, np.bool_)
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
_FINER_THAN_SECONDS = frozenset({"ms", "us", "μs", "ns", "ps", "fs", "as"})


def bad_row(row: int, problem: str, kind: type[InvalidInputError | DtypeError] = InvalidInputError) -> InvalidInputError | DtypeError:
    """The error for one row's value; its `row` lets a batch's columns,
    converted one by one, name the first bad row of all."""
    error = kind(f"row {row}: {problem}")
    error.row = row
    return error


def _array(name: str, values: Any) -> np.ndarray:
    if isinstance(values, np.ma.MaskedArray) and np.ma.is_masked(values):
        raise InvalidInputError(f"{name} has masked (missing) values")
    if isinstance(nulls := getattr(values, "null_count", 0), int) and nulls:
        # A pyarrow array with missing values, which NumPy would read as floats.
        row = int(np.flatnonzero(np.asarray(values.is_null()))[0])
        raise bad_row(row, f"{name} is missing (null)")
    try:
        arr = np.asarray(values)
    except ValueError:  # nested sequences of different lengths
        raise InvalidInputError(f"{name} must be a one-dimensional sequence of integers, got nested sequences of different lengths") from None
    if arr.ndim == 0 and arr.dtype.kind in "OUSV":  # None, a string, a set, a generator: no sequence NumPy can read
        raise DtypeError(f"{name} must be an array or sequence of integers, got {type(values).__name__}")
    if arr.ndim != 1:
        raise InvalidInputError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        return arr.astype(np.int64)  # `[]` arrives as float64; empty is empty
    if arr.dtype.kind in "fOUS" and not isinstance(values, np.ndarray):
        # A sequence that mixes NumPy and Python integers, or holds one
        # beyond int64, arrives as floats or objects, and one with a stray
        # value as floats or text: take it value by value.
        arr = _exact(name, values, arr.dtype)
    if arr.dtype.kind not in "iuM":
        raise DtypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    if not hasattr(values, "__array__") and (row := next((i for i, v in enumerate(values) if isinstance(v, _BOOLS)), None)) is not None:
        # NumPy reads [True, 2] (a list, a deque) as integers: a flag where
        # an id or a time goes.
        raise bad_row(row, f"{name} must hold integers, got a boolean", DtypeError)
    if not arr.dtype.isnative or not arr.flags.aligned:
        arr = arr.astype(arr.dtype.newbyteorder("="))  # a copy, aligned and in this machine's order
    return arr


def _exact(name: str, values: Any, dtype: np.dtype) -> np.ndarray:
    for row, v in enumerate(values):
        if not isinstance(v, int | np.integer) or isinstance(v, bool):
            raise bad_row(row, f"{name} must hold integers, got {type(v).__name__} {v!r}", DtypeError)
    exact = [int(v) for v in values]
    if all(_I64_MIN <= v <= _I64_MAX for v in exact):
        return np.array(exact, dtype=np.int64)
    if all(0 <= v <= _U64_MAX for v in exact):
        return np.array(exact, dtype=np.uint64)
    for row, v in enumerate(exact):
        if not _I64_MIN <= v <= _U64_MAX:
            raise bad_row(row, f"{name} is {v}, beyond any 64-bit integer")
    row = next(row for row, v in enumerate(exact) if v < 0)
    raise bad_row(row, f"{name} is {exact[row]}, negative beside numbers of 2**63 or more: no 64-bit column holds both")


def ids(name: str, values: Any) -> NDArray[np.uint64]:
    """A column of ids (persons, venues, stays): non-negative integers."""
    arr = _array(name, values)
    if arr.dtype.kind == "M":
        raise DtypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    if arr.dtype.kind == "i":
        negative = np.flatnonzero(arr < 0)
        if negative.size:
            row = int(negative[0])
            raise bad_row(row, f"{name} is {arr[row]}, ids are never negative")
        if arr.dtype == np.int64:
            return np.ascontiguousarray(arr).view(np.uint64)
    return np.ascontiguousarray(arr, dtype=np.uint64)


def times(name: str, values: Any, length: int | None = None) -> NDArray[np.int64]:
    """A column of times in seconds since the Unix epoch (`datetime64` is
    accepted). A scalar is repeated `length` times when `length` is given."""
    if length is not None and _scalar(values):
        return np.full(length, time(name, values), dtype=np.int64)
    arr = _array(name, values)
    if arr.dtype.kind == "M":
        return _seconds_of(name, arr)
    if arr.dtype.kind == "u":
        too_big = np.flatnonzero(arr > _I64_MAX)
        if too_big.size:
            row = int(too_big[0])
            raise bad_row(row, f"{name} is {arr[row]}, beyond any representable time")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _scalar(value: Any) -> bool:
    try:
        return np.ndim(value) == 0
    except ValueError:  # nested sequences of different lengths: `_array` says so
        return False


def _seconds_of(name: str, arr: np.ndarray) -> NDArray[np.int64]:
    """`datetime64` values as whole seconds: refused where that would lose
    a fraction of a second, overflow, or stand for no time at all (NaT)."""
    missing = np.flatnonzero(np.isnat(arr))
    if missing.size:
        raise bad_row(int(missing[0]), f"{name} is NaT (no time)")
    try:
        seconds = arr.astype("datetime64[s]")
        lost = np.flatnonzero(seconds.astype(arr.dtype) != arr)
    except OverflowError:  # a unit too fine to reach these years (attoseconds)
        raise InvalidInputError(f"{name} is in {arr.dtype}, too fine a unit for times from 2000 to 2100") from None
    # A coarse unit's value past int64 seconds wraps in the conversion: the
    # way back does not give it again, but it is no fraction of a second.
    if lost.size and np.datetime_data(arr.dtype)[0] not in _FINER_THAN_SECONDS:
        row = int(lost[0])
        raise bad_row(row, f"{name} is {arr[row]}, beyond any representable time")
    if lost.size:
        row = int(lost[0])
        raise bad_row(row, f"{name} is {arr[row]}, not a whole second this engine can hold")
    return seconds.astype(np.int64)


def integer(name: str, value: Any) -> int:
    """One Python or NumPy integer (not a bool, float or datetime64; a 0-d
    array holding one)."""
    value = _unwrapped(value)
    if isinstance(value, np.datetime64):
        raise DtypeError(f"{name} must be an integer, got a datetime64")
    # (NumPy before 2.3 gives np.True_ an index, with a warning only.)
    if isinstance(value, _BOOLS):
        raise DtypeError(f"{name} must be an integer, got a bool")
    try:
        return operator.index(value)
    except TypeError:
        raise DtypeError(f"{name} must be an integer, got {type(value).__name__}") from None


def id_(name: str, value: Any) -> int:
    """One id."""
    v = integer(name, value)
    if not 0 <= v <= _U64_MAX:
        raise InvalidInputError(f"{name} is {v}, ids are integers from 0 to 2**64 - 1")
    return v


def _unwrapped(value: Any) -> Any:
    """The scalar a 0-d array holds; anything else as it is."""
    return value[()] if isinstance(value, np.ndarray) and value.ndim == 0 else value


def time(name: str, value: Any) -> int:
    """One time in seconds since the Unix epoch (or a `datetime64`)."""
    value = _unwrapped(value)
    if isinstance(value, np.datetime64):
        try:
            return int(_seconds_of(name, np.array([value]))[0])
        except (InvalidInputError, DtypeError) as e:
            # One value, not a column's row: its error without "row 0: ".
            raise type(e)(str(e).removeprefix("row 0: ")) from None
    v = integer(name, value)
    if not _I64_MIN <= v <= _I64_MAX:
        raise InvalidInputError(f"{name} is {v}, beyond any representable time")
    return v


def positive(name: str, value: Any) -> int:
    """A positive size or count."""
    v = integer(name, value)
    if not 0 < v <= _I64_MAX:
        raise InvalidInputError(f"{name} must be a positive int below 2**63, got {v}")
    return v


def seconds(name: str, value: Any) -> int:
    """A non-negative duration or count."""
    v = integer(name, value)
    if not 0 <= v <= _I64_MAX:
        raise InvalidInputError(f"{name} must be zero or positive, got {v}")
    return v
