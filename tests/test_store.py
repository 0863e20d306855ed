"""The durable engine: same answers as in memory, crashes, locking, closing,
expiry on disk, Parquet export and import. (Torn writes, damaged files, a
full disk and failing fsyncs are tested in Rust: crates/overlap/src/store/tests.rs.)"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from tokhai_engine import (
    ClosedError,
    CorruptStoreError,
    DtypeError,
    Engine,
    InvalidInputError,
    StoreError,
    StoreLockedError,
    UnknownStayError,
    synth,
)

DAY = 86_400
EVER = (946_684_800, 4_102_444_800)


def answers(engine: Engine, data: synth.Checkins) -> list:
    """A spread of query results to compare engines by."""
    start = int(data.t_in.min())
    cases = np.unique(data.persons[:: max(1, len(data) // 40)])
    return [
        len(engine),
        engine.overlaps(int(data.venues[0]), start, start + 3 * DAY).columns(),
        engine.contacts_many(cases, start, start + 14 * DAY, min_overlap=300).columns(),
        engine.exposure_sites(cases[:5], start, start + 14 * DAY, linger=600).columns(),
        engine.trace(cases[:3], start, start + 14 * DAY).columns(),
        engine.stays_between(*EVER).columns(),
    ]


def same(a: list, b: list) -> None:
    assert a[0] == b[0]
    for x, y in zip(a[1:], b[1:], strict=True):
        assert x.keys() == y.keys()
        for name in x:
            np.testing.assert_array_equal(x[name], y[name], err_msg=name)


def test_a_durable_engine_answers_like_an_in_memory_one_across_reopens(tmp_path):
    data = synth.generate(60_000, days=5, seed=3, forgotten=0.03, duplicates=0.02)
    memory = Engine()
    cols = data.columns()
    # Small checkpoints: some of the data ends up in sealed files, some in the log.
    with Engine.open(tmp_path, checkpoint_bytes=400_000) as durable:
        for lo in range(0, len(data), 7_000):
            chunk = [c[lo : lo + 7_000] for c in cols]
            ids = memory.add_stays(*chunk)
            assert np.array_equal(durable.add_stays(*chunk), ids)
        closing = ids[::3]
        memory.set_checkout(closing, data.t_in[-len(ids) :][::3] + 60)
        durable.set_checkout(closing, data.t_in[-len(ids) :][::3] + 60)
        same(answers(durable, data), answers(memory, data))
    assert len(list(tmp_path.glob("part-*"))) == len(np.unique(data.t_in // DAY)), "a file per day"

    with Engine.open(tmp_path) as reopened:
        same(answers(reopened, data), answers(memory, data))
        cut = int(data.t_in.min()) + 2 * DAY + 5_000
        assert reopened.expire_before(cut) == memory.expire_before(cut)
        same(answers(reopened, data), answers(memory, data))
    with Engine.open(tmp_path) as reopened:
        same(answers(reopened, data), answers(memory, data))


def test_closing_and_the_context_manager(tmp_path):
    with Engine.open(tmp_path / "store") as engine:
        assert engine.path == str(tmp_path / "store") and not engine.closed
        ids = engine.add_stays([1], [2], [1_630_000_000], [1_630_000_600])
    assert engine.closed and "closed" in repr(engine)
    with pytest.raises(ClosedError, match="closed"):
        engine.add_stays([1], [2], [1_630_000_000], [1_630_000_600])
    with pytest.raises(ClosedError):
        len(engine)
    engine.close()  # twice is fine
    with Engine.open(tmp_path / "store") as again:
        again.set_checkout(ids, 1_630_000_900)
        with pytest.raises(UnknownStayError):
            again.set_checkout(ids + 1, 1_630_000_900)
    with pytest.raises(InvalidInputError, match="checkpoint_bytes"):
        Engine.open(tmp_path / "other", checkpoint_bytes=0)
    assert Engine().path is None


LOCKER = textwrap.dedent(
    """
    import sys
    from tokhai_engine import Engine, StoreLockedError
    try:
        Engine.open(sys.argv[1])
    except StoreLockedError as e:
        print("locked:", e)
    else:
        print("opened")
    """
)


def test_a_second_process_is_told_the_store_is_locked(tmp_path):
    def other_process() -> str:
        run = subprocess.run([sys.executable, "-c", LOCKER, str(tmp_path)], capture_output=True, text=True, check=True)
        return run.stdout

    with Engine.open(tmp_path):
        out = other_process()
        assert out.startswith("locked:") and str(tmp_path) in out
        with pytest.raises(StoreLockedError):
            Engine.open(tmp_path)
    assert other_process() == "opened\n"
    assert issubclass(StoreLockedError, StoreError) and issubclass(StoreError, OSError)


def test_damage_is_reported_as_corruption_naming_the_file(tmp_path):
    with Engine.open(tmp_path) as engine:
        engine.add_stays(*synth.generate(5_000, days=1, seed=1).columns())
    part = next(tmp_path.glob("part-*"))
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0xFF
    part.write_bytes(bytes(data))
    with pytest.raises(CorruptStoreError, match=rf"{part.name} is corrupt at byte \d+: block checksum mismatch"):
        Engine.open(tmp_path)


def test_expiry_deletes_partition_files_and_the_log(tmp_path):
    data = synth.generate(20_000, days=4, seed=2)
    with Engine.open(tmp_path) as engine:
        engine.add_stays(*data.columns())
        engine.checkpoint()
        days = np.unique(data.t_in // DAY)
        assert len(list(tmp_path.glob("part-*"))) == len(days)
        cut = int(days[2]) * DAY + 3_600  # inside the third day
        gone = engine.expire_before(cut)
        assert gone == int((data.t_in < cut).sum())
        assert len(list(tmp_path.glob("part-*"))) == len(days) - 2
        logs = list(tmp_path.glob("wal-*"))
        assert len(logs) == 1 and logs[0].stat().st_size == 16, "the log holds no stays"
    with Engine.open(tmp_path) as engine:
        assert len(engine) == len(data) - gone


def test_parquet_round_trip_keeps_every_stay(tmp_path):
    pytest.importorskip("pyarrow")
    data = synth.generate(30_000, days=3, seed=4)
    engine = Engine()
    ids = engine.add_stays(*data.columns())
    start, end = int(data.t_in.min()), int(data.t_in.max()) + 1
    path = tmp_path / "stays.parquet"
    assert engine.export_parquet(path, start, end) == len(data)
    assert not list(tmp_path.glob("*.tmp"))

    import pyarrow.parquet as pq

    table = pq.read_table(path)
    assert table.column_names == ["stay_id", "person", "venue", "t_in", "t_out"]
    t_in = table.schema.field("t_in").type  # Parquet's coarsest unit is the millisecond
    assert str(t_in).startswith("timestamp[") and t_in.tz == "UTC"
    assert sorted(table.column("stay_id").to_pylist()) == sorted(ids.tolist())

    with Engine.open(tmp_path / "restored") as restored:
        restored.import_parquet(path)
        same(answers(restored, data)[:-1], answers(engine, data)[:-1])
        back = restored.stays_between(*EVER)
        want = engine.stays_between(*EVER)
        for name in ("person", "venue", "t_in", "t_out"):
            assert np.array_equal(back.columns()[name], want.columns()[name])

    # A window: only the stays that began in it.
    part = tmp_path / "day.parquet"
    assert engine.export_parquet(part, start, start + DAY) == int((data.t_in < start + DAY).sum())


def test_a_bad_parquet_file_adds_nothing(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "bad.parquet"
    t = 1_630_000_000
    pq.write_table(pa.table({"person": [1, 2], "venue": [1, 1], "t_in": [t, t], "t_out": [t + 5, t - 5]}), path)
    engine = Engine()
    with pytest.raises(InvalidInputError, match="row 1: t_out"):
        engine.import_parquet(path)
    assert len(engine) == 0
    pq.write_table(pa.table({"person": [1], "t_in": [t], "t_out": [t + 5]}), path)
    with pytest.raises(InvalidInputError, match="no column venue"):
        engine.import_parquet(path)
    millis = pa.array([t * 1000 + 500], pa.timestamp("ms", tz="UTC"))
    pq.write_table(pa.table({"person": [1], "venue": [1], "t_in": millis, "t_out": [t + 5]}), path)
    with pytest.raises(InvalidInputError, match="row 0: t_in .* not a whole second"):
        engine.import_parquet(path)
    pq.write_table(pa.table([[1], [1], [1], [t], [t + 5]], names=["person", "person", "venue", "t_in", "t_out"]), path)
    with pytest.raises(InvalidInputError, match="column person appears more than once"):
        engine.import_parquet(path)
    empty = pa.array([], pa.string())
    pq.write_table(pa.table({"person": empty, "venue": empty, "t_in": empty, "t_out": empty}), path)
    with pytest.raises(DtypeError, match="person must hold integers or timestamps, got string"):
        engine.import_parquet(path)
    pq.write_table(pa.table({"person": [1, 2, None], "venue": [1, 1, 1], "t_in": [t, t, t], "t_out": [t + 5, t + 5, None]}), path)
    with pytest.raises(InvalidInputError, match=r"row 2: person is missing"):
        engine.import_parquet(path)
    # The first bad row of all, whichever column and check finds it.
    pq.write_table(pa.table({"person": [1, 2, -3], "venue": [1, 1, 1], "t_in": [t, t, t], "t_out": [t + 1, t, t + 1]}), path)
    with pytest.raises(InvalidInputError, match="row 1: t_out"):
        engine.import_parquet(path)
    pq.write_table(pa.table({"person": [1, 2, 3], "venue": [1, 1, -1], "t_in": [t, t, t], "t_out": [None, t + 1, t + 1]}), path)
    with pytest.raises(InvalidInputError, match="row 0: t_out is missing"):
        engine.import_parquet(path)
    assert len(engine) == 0


def test_an_export_is_made_as_any_new_file_and_synced(tmp_path, monkeypatch):
    pytest.importorskip("pyarrow")
    engine = Engine()
    t = 1_630_000_000
    engine.add_stays([1], [2], [t], [t + 60])
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(os.readlink(f"/proc/self/fd/{fd}")) or real_fsync(fd))
    umask = os.umask(0o027)
    try:
        assert engine.export_parquet(tmp_path / "stays.parquet", t, t + 1) == 1
    finally:
        os.umask(umask)
    assert (tmp_path / "stays.parquet").stat().st_mode & 0o777 == 0o640
    # The file under its temporary name, then the folder that renamed it.
    assert len(synced) == 2 and synced[0].endswith(".tmp") and synced[1] == str(tmp_path)


def test_exports_to_one_path_at_once_each_write_a_whole_file(tmp_path):
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    data = synth.generate(60_000, days=5, seed=8)
    engine = Engine()
    engine.add_stays(*data.columns())
    start = int(data.t_in.min())
    path = tmp_path / "stays.parquet"
    counts = {}

    def export(days: int) -> None:
        counts[days] = engine.export_parquet(path, start, start + days * DAY)

    threads = [threading.Thread(target=export, args=(days,)) for days in (5, 1, 5, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert pq.read_table(path).num_rows in counts.values(), "one export's whole file"
    assert not list(tmp_path.glob("*.tmp"))


# A writer that adds batch after batch and prints the number of each one
# acknowledged. Batch k is ROWS stays at venue k, on day k % 3, so a batch's
# presence is one count.
WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from tokhai_engine import Engine
    path, first, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    engine = Engine.open(path, checkpoint_bytes=300_000)
    for k in range(first, first + 100_000):
        t = 1_630_000_000 + (k % 3) * 86_400 + np.arange(rows)
        ids = engine.add_stays(k * 10_000 + np.arange(rows), np.full(rows, k), t, t + 600)
        if k % 4 == 0:
            engine.set_checkout(ids[::2], t[::2] + 1_200)
        print(k, flush=True)
    """
)


def test_a_writer_killed_at_random_moments_loses_nothing_it_acknowledged(tmp_path):
    rounds = int(os.environ.get("TOKHAI_CRASH_ROUNDS", "6"))
    rows, rng = 1_000, random.Random(7)
    acknowledged: set[int] = set()
    first = 0
    for round_ in range(rounds):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), str(first), str(rows)], stdout=subprocess.PIPE, text=True
        )
        # Let it get going (imports take a moment), then kill it mid-stride.
        assert writer.stdout is not None
        writer.stdout.readline()
        try:
            writer.wait(timeout=rng.uniform(0.02, 0.6))
        except subprocess.TimeoutExpired:
            writer.send_signal(signal.SIGKILL)
        out, _ = writer.communicate()
        assert writer.returncode == -signal.SIGKILL, f"round {round_}: writer exited by itself"
        printed = {first} | {int(line) for line in out.split()}
        acknowledged |= printed
        with Engine.open(tmp_path) as engine:
            stays = engine.stays_between(*EVER)
            per_batch = np.bincount(stays.venue.astype(np.int64))
            present = set(np.flatnonzero(per_batch).tolist())
            assert acknowledged <= present, f"round {round_}: acknowledged batches lost"
            assert (per_batch[list(present)] == rows).all(), f"round {round_}: a batch partly present"
            # At most the one batch in flight when the kill came is there unacknowledged.
            assert len(present - acknowledged) <= 1
            closed = stays.t_out - stays.t_in == 1_200
            assert set(stays.venue[closed].tolist()) <= {k for k in present if k % 4 == 0}
            checked_out = np.bincount(stays.venue[closed].astype(np.int64), minlength=len(per_batch))
            assert all(checked_out[k] == rows // 2 for k in printed if k % 4 == 0), "acknowledged check-outs lost"
            acknowledged = present
            first = max(present) + 1
    assert len(acknowledged) > rounds, "the writers got some work done"


def test_arrays_changed_by_another_thread_during_a_write_store_only_checked_rows(tmp_path):
    """The engine reads a batch more than once (checks it, splits it by day,
    logs it); a thread changing the caller's arrays meanwhile must not get
    unchecked rows stored, a panic, or a log that no longer replays."""
    t0, n = 1_700_000_000, 50_000
    persons, venues = np.arange(1, n + 1, dtype=np.uint64), np.ones(n, dtype=np.uint64)
    t_in = np.full(n, t0, dtype=np.int64)
    t_out = t_in + 100
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            t_in[n - 2] = 0  # before 2000: a bad row
            t_in[n - 2] = t0 + DAY  # another day: another partition
            t_in[n - 2] = t0

    flipper = threading.Thread(target=flip)
    stored = 0
    with Engine.open(tmp_path / "s") as engine:
        flipper.start()
        try:
            for _ in range(40):
                try:
                    stored += len(engine.add_stays(persons, venues, t_in, t_out))
                except InvalidInputError:
                    pass  # the bad row seen: nothing stored
        finally:
            stop.set()
            flipper.join()
        held = engine.stays_between(*EVER)
        assert len(held) == stored
        assert (held.t_in >= EVER[0]).all() and (held.t_out > held.t_in).all()
    with Engine.open(tmp_path / "s") as engine:
        assert len(engine) == stored
