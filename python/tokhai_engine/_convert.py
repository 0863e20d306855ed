"""Inputs to engine types: the one place dtypes and Python scalars are checked.

Arrays that already have the engine's dtype and are contiguous go to Rust as
they are (no copy); other integer dtypes are converted when every value fits.
Floats, booleans and objects are refused rather than silently truncated.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._engine import DtypeError, InvalidInputError

_U64_MAX = 2**64 - 1
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


def _array(name: str, values: Any) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InvalidInputError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        return arr.astype(np.int64)  # `[]` arrives as float64; empty is empty
    if arr.dtype.kind not in "iuM":
        raise DtypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    return arr


def ids(name: str, values: Any) -> NDArray[np.uint64]:
    """A column of ids (persons, venues, stays): non-negative integers."""
    arr = _array(name, values)
    if arr.dtype.kind == "M":
        raise DtypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    if arr.dtype.kind == "i":
        negative = np.flatnonzero(arr < 0)
        if negative.size:
            row = int(negative[0])
            raise InvalidInputError(f"row {row}: {name} is {arr[row]}, ids are never negative")
        if arr.dtype == np.int64:
            return np.ascontiguousarray(arr).view(np.uint64)
    return np.ascontiguousarray(arr, dtype=np.uint64)


def times(name: str, values: Any, length: int | None = None) -> NDArray[np.int64]:
    """A column of times in seconds since the Unix epoch (`datetime64` is
    accepted). A scalar is repeated `length` times when `length` is given."""
    if length is not None and np.ndim(values) == 0:
        return np.full(length, time(name, values), dtype=np.int64)
    arr = _array(name, values)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[s]").astype(np.int64)
    if arr.dtype.kind == "u":
        too_big = np.flatnonzero(arr > _I64_MAX)
        if too_big.size:
            row = int(too_big[0])
            raise InvalidInputError(f"row {row}: {name} is {arr[row]}, beyond any representable time")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _integer(name: str, value: Any) -> int:
    if isinstance(value, np.datetime64):
        return int(value.astype("datetime64[s]").astype(np.int64))
    if isinstance(value, bool):
        raise DtypeError(f"{name} must be an integer, got a bool")
    try:
        return operator.index(value)
    except TypeError:
        raise DtypeError(f"{name} must be an integer, got {type(value).__name__}") from None


def id_(name: str, value: Any) -> int:
    """One id."""
    v = _integer(name, value)
    if not 0 <= v <= _U64_MAX:
        raise InvalidInputError(f"{name} is {v}, ids are integers from 0 to 2**64 - 1")
    return v


def time(name: str, value: Any) -> int:
    """One time in seconds since the Unix epoch (or a `datetime64`)."""
    v = _integer(name, value)
    if not _I64_MIN <= v <= _I64_MAX:
        raise InvalidInputError(f"{name} is {v}, beyond any representable time")
    return v


def seconds(name: str, value: Any) -> int:
    """A non-negative duration or count."""
    v = _integer(name, value)
    if not 0 <= v <= _I64_MAX:
        raise InvalidInputError(f"{name} must be zero or positive, got {v}")
    return v
