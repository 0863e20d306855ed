"""Parquet export and import of stays, for backups and analysts (needs pyarrow)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from . import _engine

if TYPE_CHECKING:
    from .engine import Engine

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("Parquet export and import need pyarrow: pip install 'tokhai-engine[arrow]'") from e

DAY = 86_400
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
    """Write day by day to a temporary file, then rename it into place: a
    failed export leaves no partial file behind."""
    if end <= start:
        raise _engine.InvalidInputError(f"window [{start}, {end}) is empty: end must be after start")
    # Stays lie within [MIN_TIME, MAX_TIME]: the days past it hold none.
    start, end = max(start, _engine.MIN_TIME), min(end, _engine.MAX_TIME + 1)
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    written = 0
    try:
        with pq.ParquetWriter(tmp, SCHEMA, compression="zstd") as writer:
            for day in range(start // DAY, (end - 1) // DAY + 1):
                stays = engine.stays_between(max(start, day * DAY), min(end, (day + 1) * DAY))
                if len(stays):
                    writer.write_table(pa.table(stays.columns(), schema=SCHEMA))
                    written += len(stays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return written


def import_(engine: Engine, path: str | os.PathLike[str]) -> NDArray[np.uint64]:
    table = pq.read_table(os.fspath(path))
    missing = [c for c in ("person", "venue", "t_in", "t_out") if c not in table.column_names]
    if missing:
        raise _engine.InvalidInputError(f"{os.fspath(path)}: no column {', '.join(missing)}")
    columns = []
    for name in ("person", "venue", "t_in", "t_out"):
        column = table.column(name)
        if column.null_count:
            raise _engine.InvalidInputError(f"{name}: {column.null_count} missing values")
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.timestamp("s", tz=column.type.tz)).cast(pa.int64())
        columns.append(column.to_numpy())
    return engine.add_stays(*columns)
