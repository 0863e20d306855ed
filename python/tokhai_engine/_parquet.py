"""Parquet export and import of stays, for backups and analysts (needs pyarrow)."""

from __future__ import annotations

import errno
import os
import tempfile
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from . import _convert as convert
from . import _engine

if TYPE_CHECKING:
    from .engine import Engine

try:
    import pyarrow as pa
    import pyarrow.compute as pc
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
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=os.path.basename(path) + ".", suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # as a file opened for writing would be, not mkstemp's 0600
    written = 0
    try:
        with pq.ParquetWriter(tmp, SCHEMA, compression="zstd") as writer:
            for day in days:
                stays = engine.stays_between(max(start, day * DAY), min(end, (day + 1) * DAY))
                if len(stays):
                    writer.write_table(pa.table(stays.columns(), schema=SCHEMA), row_group_size=len(stays))
                    written += len(stays)
        os.replace(tmp, path)
    except BaseException:
        os.remove(tmp)
        raise
    return written


def import_(engine: Engine, path: str | os.PathLike[str]) -> NDArray[np.uint64]:
    """The four columns only, checked before they are read, one at a time:
    a backup can be large, and other columns are none of the import's business."""
    path = os.fspath(path)
    names = pq.read_schema(path).names
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise _engine.InvalidInputError(f"{path}: no column {', '.join(missing)}")
    twice = [c for c in COLUMNS if names.count(c) > 1]
    if twice:
        raise _engine.InvalidInputError(f"{path}: column {', '.join(twice)} appears more than once")
    columns = []
    for name in COLUMNS:
        column = pq.read_table(path, columns=[name]).column(0)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if not (pa.types.is_integer(column.type) or pa.types.is_timestamp(column.type)):
            raise _engine.DtypeError(f"{name} must hold integers or timestamps, got {column.type}")
        if column.null_count:
            row = pc.index(column.is_null(), True).as_py()
            raise _engine.InvalidInputError(f"row {row}: {name} is missing ({column.null_count} missing in all)")
        # Timestamps of any unit or zone arrive as UTC datetime64, refused
        # below where they are not whole seconds.
        values = column.to_numpy()
        del column
        # Checked here, so that errors name the file's columns.
        columns.append(convert.ids(name, values) if name in ("person", "venue") else convert.times(name, values))
    return engine.add_stays(*columns)
