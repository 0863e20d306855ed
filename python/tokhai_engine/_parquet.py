"""Parquet export and import of stays, for backups and analysts (needs pyarrow)."""

from __future__ import annotations

import errno
import os
import secrets
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from . import _convert as convert
from . import _engine

if TYPE_CHECKING:
    from .engine import Engine

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("Parquet export and import need pyarrow: pip install 'tokhai-engine[arrow]'") from e

DAY = 86_400
COLUMNS = ("person", "venue", "t_in", "t_out")
_TIME = pa.timestamp("s", tz="UTC")
SCHEMA = pa.schema(
    [
        pa.field("stay_id", pa.uint64(), nullable=False),
        pa.field("person", pa.uint64(), nullable=False),
        pa.field("venue", pa.uint64(), nullable=False),
        pa.field("t_in", _TIME, nullable=False),
        pa.field("t_out", _TIME, nullable=False),
    ],
    metadata={"tokhai": "stays; [t_in, t_out) half-open, UTC"},
)


def export(engine: Engine, path: str | os.PathLike[str], start: int, end: int) -> int:
    """Write day by day to a temporary file of this call's own, then rename
    it into place: a failed export leaves no partial file behind, and two
    exports to one path at once each write a whole file."""
    if end <= start:
        raise _engine.InvalidInputError(f"window [{start}, {end}) is empty: end must be after start")
    # Stays lie within [MIN_TIME, MAX_TIME]: the days past it hold none.
    days = range(max(start, _engine.MIN_TIME) // DAY, (min(end, _engine.MAX_TIME + 1) - 1) // DAY + 1)
    path = os.fspath(path)
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise FileNotFoundError(errno.ENOENT, "no such directory to export into", folder)
    tmp = _new_file(path)
    written = 0
    try:
        with pq.ParquetWriter(tmp, SCHEMA, compression="zstd") as writer:
            for day in days:
                stays = engine.stays_between(max(start, day * DAY), min(end, (day + 1) * DAY))
                if len(stays):
                    writer.write_table(pa.table(stays.columns(), schema=SCHEMA), row_group_size=len(stays))
                    written += len(stays)
        # On disk before it takes the name, and the name before returning:
        # a backup that a power cut leaves empty under its name is no backup.
        _sync(tmp)
        os.replace(tmp, path)
    except BaseException:
        os.remove(tmp)
        raise
    _sync(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    return written


def _new_file(path: str) -> str:
    """A new, empty file beside `path`, named for this call alone. Made with
    the mode a file opened for writing gets (0666 less the umask), which
    mkstemp's 0600 is not; the umask is the kernel's to apply, since reading
    it means setting it, for every thread at once."""
    while True:
        tmp = f"{path}.{secrets.token_hex(8)}.tmp"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue


def _sync(path: str, flags: int = os.O_RDONLY) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def import_(engine: Engine, path: str | os.PathLike[str]) -> NDArray[np.uint64]:
    """The four columns only, read one at a time once the file's schema
    names each once: a backup can be large, and other columns are none of
    the import's business."""
    path = os.fspath(path)
    names = pq.read_schema(path).names
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise _engine.InvalidInputError(f"{path}: no column {', '.join(missing)}")
    twice = [c for c in COLUMNS if names.count(c) > 1]
    if twice:
        raise _engine.InvalidInputError(f"{path}: column {', '.join(twice)} appears more than once")
    given = {}
    for name in COLUMNS:
        column = pq.read_table(path, columns=[name]).column(0)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if not (pa.types.is_integer(column.type) or pa.types.is_timestamp(column.type)):
            raise _engine.DtypeError(f"{name} must hold integers or timestamps, got {column.type}")
        # Timestamps of any unit or zone arrive as UTC datetime64, refused
        # where they are not whole seconds. Each is converted as it comes, so
        # that its file form is freed (a backup can be a billion rows); one
        # refused (a missing value, a bad row) waits as it is, for the
        # batch's check to name its first bad row of all.
        values = column if column.null_count else column.to_numpy()
        del column
        try:
            given[name] = (convert.ids if name in ("person", "venue") else convert.times)(name, values)
        except (_engine.InvalidInputError, _engine.DtypeError):
            given[name] = values
    # Checked as one batch, whose first bad row of all is named, by the
    # file's column names.
    return engine._add_columns(given)
