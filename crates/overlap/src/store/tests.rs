//! The store under torn writes, damaged files, a full disk, failing fsyncs,
//! a second opener and expiry. (Killing a writer process is tested from
//! Python: `tests/test_store.py`.)

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use super::disk::{Disk, RealDisk};
use super::FaultyDisk;
use super::StoreOptions;
use crate::{Engine, Error};

/// 2021-08-01T00:00:00Z.
const MIDNIGHT: i64 = 1_627_776_000;

/// Batch `k`: `n` stays of persons `k * 1000 + i` at venue `k`, all on day `day`.
fn batch(k: u64, n: u64, day: i64) -> [Vec<i64>; 4] {
    let t = MIDNIGHT + day * 86_400 + 3_600;
    [
        (0..n).map(|i| (k * 1000 + i) as i64).collect(),
        vec![k as i64; n as usize],
        (0..n).map(|i| t + i as i64).collect(),
        (0..n).map(|i| t + 600 + i as i64).collect(),
    ]
}

fn add(engine: &Engine, k: u64, n: u64, day: i64) -> crate::Result<Vec<u64>> {
    let [persons, venues, t_in, t_out] = batch(k, n, day);
    let ids = |c: Vec<i64>| c.into_iter().map(|x| x as u64).collect::<Vec<u64>>();
    engine.add_stays(&ids(persons), &ids(venues), &t_in, &t_out)
}

/// How many stays of batch `k` the engine holds.
fn count(engine: &Engine, k: u64) -> usize {
    engine
        .overlaps(k, MIDNIGHT - 86_400, MIDNIGHT + 30 * 86_400)
        .unwrap()
        .person
        .len()
}

fn files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(prefix))
        .collect();
    v.sort();
    v
}

fn log_file(dir: &Path) -> PathBuf {
    let logs = files(dir, "wal-");
    assert_eq!(logs.len(), 1, "one log");
    logs[0].clone()
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
}

fn open(dir: &Path) -> crate::Result<Engine> {
    Engine::open(dir)
}

/// An engine in `dir` on a disk whose faults the test turns on.
fn on_faulty_disk(dir: &Path) -> (Engine, Arc<FaultyDisk>) {
    let disk = Arc::new(FaultyDisk::default());
    let engine = Engine::open_on(dir, disk.clone(), StoreOptions::default()).unwrap();
    (engine, disk)
}

/// A store in `dir` whose log holds two batches: 3 stays of person 1, then
/// 4 of person 2; returns the log's length after the first.
fn two_batches(dir: &Path) -> u64 {
    let engine = open(dir).unwrap();
    add(&engine, 1, 3, 0).unwrap();
    let clean = fs::metadata(log_file(dir)).unwrap().len();
    add(&engine, 2, 4, 1).unwrap();
    clean
}

#[test]
fn a_torn_last_record_is_cut_off_at_every_offset() {
    let dir = tempfile::tempdir().unwrap();
    let clean = two_batches(dir.path());
    let full = fs::metadata(log_file(dir.path())).unwrap().len();

    for cut in clean..full {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(dir.path(), copy.path());
        let log = log_file(copy.path());
        fs::File::options()
            .write(true)
            .open(&log)
            .unwrap()
            .set_len(cut)
            .unwrap();
        let engine = open(copy.path()).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        assert_eq!(
            (count(&engine, 1), count(&engine, 2)),
            (3, 0),
            "cut at {cut}"
        );
        assert_eq!(
            fs::metadata(&log).unwrap().len(),
            clean,
            "torn tail removed"
        );
        // Writing on after the cut, and reopening, works.
        add(&engine, 3, 2, 1).unwrap();
        drop(engine);
        let engine = open(copy.path()).unwrap();
        assert_eq!(
            (count(&engine, 1), count(&engine, 3), engine.len()),
            (3, 2, 5)
        );
    }
}

#[test]
fn a_last_record_left_zero_by_a_crash_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let clean = two_batches(dir.path());
    let log = log_file(dir.path());
    let mut bytes = fs::read(&log).unwrap();
    // The file grew, but its last block was never written.
    let n = bytes.len();
    bytes[n - 40..].fill(0);
    bytes.resize(n + 4096, 0);
    fs::write(&log, &bytes).unwrap();
    let engine = open(dir.path()).unwrap();
    assert_eq!((count(&engine, 1), count(&engine, 2)), (3, 0));
    assert_eq!(
        fs::metadata(&log).unwrap().len(),
        clean,
        "torn tail removed"
    );
}

#[test]
fn a_flipped_byte_in_a_committed_log_record_is_reported_not_cut() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).unwrap();
    add(&engine, 1, 2, 0).unwrap();
    add(&engine, 2, 2, 0).unwrap();
    engine
        .set_checkout(&add(&engine, 3, 1, 0).unwrap(), &[MIDNIGHT + 9_000])
        .unwrap();
    drop(engine);
    let log = log_file(dir.path());
    let bytes = fs::read(&log).unwrap();
    for at in 0..bytes.len() {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(dir.path(), copy.path());
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x04;
        let copied_log = log_file(copy.path());
        fs::write(&copied_log, &damaged).unwrap();
        match open(copy.path()) {
            Err(Error::Corrupt { path, offset, .. }) => {
                assert_eq!(path, copied_log);
                assert!(offset <= at as u64, "flip at {at} reported at {offset}");
            }
            Err(e) => panic!("flip at {at}: {e}"),
            Ok(_) => panic!("flip at {at} went unnoticed"),
        }
    }
}

#[test]
fn a_flipped_byte_in_a_sealed_partition_is_reported_with_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).unwrap();
    for k in 0..20 {
        add(&engine, k, 50, 0).unwrap();
    }
    engine.close().unwrap();
    drop(engine);
    let parts = files(dir.path(), "part-");
    assert_eq!(parts.len(), 1);
    let bytes = fs::read(&parts[0]).unwrap();
    for at in (0..bytes.len()).step_by(7) {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(dir.path(), copy.path());
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x80;
        let part = &files(copy.path(), "part-")[0];
        fs::write(part, &damaged).unwrap();
        match open(copy.path()) {
            Err(Error::Corrupt { path, offset, .. }) => {
                assert_eq!(&path, part);
                assert!(offset <= at as u64, "flip at {at} reported at {offset}");
            }
            Err(e) => panic!("flip at {at}: {e}"),
            Ok(_) => panic!("flip at {at} went unnoticed"),
        }
    }
}

#[test]
fn a_truncated_partition_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).unwrap();
    add(&engine, 1, 10, 0).unwrap();
    engine.close().unwrap();
    drop(engine);
    let part = &files(dir.path(), "part-")[0];
    let len = fs::metadata(part).unwrap().len();
    fs::File::options()
        .write(true)
        .open(part)
        .unwrap()
        .set_len(len - 1)
        .unwrap();
    assert!(matches!(open(dir.path()), Err(Error::Corrupt { .. })));
}

#[test]
fn files_of_an_unknown_version_are_refused() {
    // Version is bytes 8..12 of every file; the header checksum is redone so
    // that the file is intact, only newer.
    for (prefix, crc_at) in [("part-", 60), ("wal-", 12)] {
        let dir = tempfile::tempdir().unwrap();
        let engine = open(dir.path()).unwrap();
        add(&engine, 1, 10, 0).unwrap();
        engine.close().unwrap();
        drop(engine);
        let path = &files(dir.path(), prefix)[0];
        let mut bytes = fs::read(path).unwrap();
        bytes[8] = 99;
        let crc = crc32c::crc32c(&bytes[..crc_at]);
        bytes[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
        fs::write(path, &bytes).unwrap();
        match open(dir.path()) {
            Err(Error::UnknownVersion {
                path: p,
                found: 99,
                expected: 1,
            }) => assert_eq!(&p, path),
            other => panic!("{prefix}: {other:?}"),
        }
    }
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()).unwrap());
    let manifest = dir.path().join("MANIFEST");
    let mut bytes = fs::read(&manifest).unwrap();
    bytes[8] = 99;
    let body = bytes.len() - 4;
    let crc = crc32c::crc32c(&bytes[..body]);
    bytes[body..].copy_from_slice(&crc.to_le_bytes());
    fs::write(&manifest, &bytes).unwrap();
    assert!(matches!(
        open(dir.path()),
        Err(Error::UnknownVersion { found: 99, .. })
    ));
}

#[test]
fn a_second_opener_is_refused_until_the_first_closes() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path()).unwrap();
    assert_eq!(
        open(dir.path()).unwrap_err(),
        Error::Locked {
            path: dir.path().to_path_buf()
        }
    );
    first.close().unwrap();
    assert_eq!(add(&first, 1, 1, 0).unwrap_err(), Error::Closed);
    drop(open(dir.path()).unwrap());
}

#[test]
fn a_lost_manifest_is_not_taken_for_a_new_store() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).unwrap();
    add(&engine, 1, 10, 0).unwrap();
    engine.close().unwrap();
    drop(engine);
    fs::remove_file(dir.path().join("MANIFEST")).unwrap();
    assert!(matches!(open(dir.path()), Err(Error::Corrupt { .. })));
    assert_eq!(files(dir.path(), "part-").len(), 1, "nothing deleted");
}

#[test]
fn a_full_disk_fails_the_call_and_writes_resume_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, disk) = on_faulty_disk(dir.path());
    add(&engine, 1, 5, 0).unwrap();

    disk.set_full(true);
    let err = add(&engine, 2, 5, 0).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Io {
                op: "write",
                kind: std::io::ErrorKind::StorageFull,
                ..
            }
        ),
        "{err}"
    );
    let ids = add(&engine, 1, 0, 0).unwrap();
    assert!(ids.is_empty());
    assert!(engine.set_checkout(&[], &[]).is_ok());
    let err = engine.checkpoint().unwrap_err();
    assert!(
        matches!(
            err,
            Error::Io {
                kind: std::io::ErrorKind::StorageFull,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        (engine.len(), count(&engine, 1), count(&engine, 2)),
        (5, 5, 0)
    );

    disk.set_full(false);
    add(&engine, 3, 5, 1).unwrap();
    drop(engine);
    let engine = open(dir.path()).unwrap();
    assert_eq!(
        (engine.len(), count(&engine, 2), count(&engine, 3)),
        (10, 0, 5)
    );
    assert_eq!(
        files(dir.path(), "part-").len(),
        0,
        "the failed checkpoint left no file"
    );
}

#[test]
fn a_failed_fsync_is_cut_off_the_log_before_the_call_returns() {
    // The process dies after the failed call, before any other change:
    // its batch, which the caller was told failed, is not replayed.
    let dir = tempfile::tempdir().unwrap();
    let (engine, disk) = on_faulty_disk(dir.path());
    add(&engine, 1, 5, 0).unwrap();
    disk.set_sync_fails(true);
    add(&engine, 2, 5, 0).unwrap_err();
    drop(engine);
    let engine = open(dir.path()).unwrap();
    assert_eq!(
        (engine.len(), count(&engine, 1), count(&engine, 2)),
        (5, 5, 0)
    );
}

#[test]
fn a_failed_fsync_acknowledges_nothing_and_the_log_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, disk) = on_faulty_disk(dir.path());
    let kept = add(&engine, 1, 5, 0).unwrap();

    disk.set_sync_fails(true);
    let err = add(&engine, 2, 5, 0).unwrap_err();
    assert!(matches!(err, Error::Io { op: "fsync", .. }), "{err}");
    assert_eq!(
        (engine.len(), count(&engine, 2)),
        (5, 0),
        "not visible either"
    );
    // Until the log can be recovered, every change fails.
    assert!(engine.set_checkout(&kept, &[MIDNIGHT + 90_000; 5]).is_err());

    disk.set_sync_fails(false);
    let ids = add(&engine, 3, 5, 0).unwrap();
    assert_eq!(
        ids[0],
        kept[4] + 1,
        "the failed batch's ids are given again"
    );
    engine.set_checkout(&kept, &[MIDNIGHT + 90_000; 5]).unwrap();
    drop(engine);
    let engine = open(dir.path()).unwrap();
    assert_eq!(
        (engine.len(), count(&engine, 2), count(&engine, 3)),
        (10, 0, 5)
    );
    let back = engine.stays_between(MIDNIGHT, MIDNIGHT + 86_400).unwrap();
    assert_eq!(back.stay_id[..5], kept[..]);
    assert!(back.t_out[..5].iter().all(|&t| t == MIDNIGHT + 90_000));
}

#[test]
fn a_checkpoint_of_many_days_whose_fsyncs_fail_leaves_the_store_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, disk) = on_faulty_disk(dir.path());
    // More days than a checkpoint holds unsynced at once.
    let days = super::UNSYNCED_PARTS as i64 + 4;
    for day in 0..days {
        add(&engine, day as u64 + 1, 3, day).unwrap();
    }
    disk.set_sync_fails(true);
    assert!(matches!(
        engine.checkpoint(),
        Err(Error::Io { op: "fsync", .. })
    ));
    assert_eq!(files(dir.path(), "part-").len(), 0, "no file of it is left");
    disk.set_sync_fails(false);
    add(&engine, 100, 3, 0).unwrap();
    let reopened = |engine: Engine| {
        drop(engine);
        let engine = open(dir.path()).unwrap();
        assert_eq!(engine.len(), 3 * days as usize + 3);
        assert!((1..=days as u64).all(|k| count(&engine, k) == 3));
        engine
    };
    // From its log, then from its files.
    let engine = reopened(engine);
    engine.checkpoint().unwrap();
    assert_eq!(files(dir.path(), "part-").len(), days as usize);
    reopened(engine);
}

#[test]
fn a_checkpoint_whose_directory_sync_fails_keeps_every_file_until_it_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, disk) = on_faulty_disk(dir.path());
    add(&engine, 1, 5, 0).unwrap();
    engine.checkpoint().unwrap();
    add(&engine, 2, 5, 1).unwrap();

    // The manifest is renamed (the directory synced before that, for the
    // new files), but is the rename durable? Not known: the old files stay,
    // and nothing is acknowledged until the sync succeeds.
    disk.set_dir_sync_fails_after(1);
    assert!(matches!(
        engine.checkpoint(),
        Err(Error::Io { op: "fsync", .. })
    ));
    assert!(add(&engine, 3, 5, 1).is_err());
    assert_eq!(files(dir.path(), "wal-").len(), 2, "old log kept");
    disk.set_dir_sync_fails(false);
    add(&engine, 4, 5, 2).unwrap();
    assert_eq!(
        files(dir.path(), "wal-").len(),
        1,
        "old log deleted once synced"
    );
    drop(engine);
    let engine = open(dir.path()).unwrap();
    assert_eq!(
        (
            count(&engine, 1),
            count(&engine, 2),
            count(&engine, 3),
            count(&engine, 4)
        ),
        (5, 5, 0, 5)
    );
}

#[test]
fn expired_days_take_no_new_stays_so_ids_are_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).unwrap();
    let old = add(&engine, 1, 3, 0).unwrap();
    engine.expire_before(MIDNIGHT + 86_400).unwrap();
    let err = add(&engine, 2, 3, 0).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidStay {
                row: 0,
                problem: crate::StayProblem::Expired { .. }
            }
        ),
        "{err}"
    );
    drop(engine);
    let engine = open(dir.path()).unwrap();
    assert!(
        add(&engine, 2, 3, 0).is_err(),
        "the expiry point survives a reopen"
    );
    assert!(matches!(
        engine.set_checkout(&old[..1], &[MIDNIGHT + 99_999]),
        Err(Error::UnknownStay { .. })
    ));
}

/// Counts fsyncs, each made slow, as a disk under load makes them.
#[derive(Debug, Default)]
struct SlowSyncs(AtomicUsize);

impl Disk for SlowSyncs {
    fn write(&self, file: &fs::File, bytes: &[u8]) -> std::io::Result<()> {
        RealDisk.write(file, bytes)
    }

    fn sync(&self, file: &fs::File) -> std::io::Result<()> {
        self.0.fetch_add(1, SeqCst);
        std::thread::sleep(std::time::Duration::from_millis(5));
        RealDisk.sync(file)
    }

    fn remove(&self, path: &Path) -> std::io::Result<()> {
        RealDisk.remove(path)
    }
}

#[test]
fn concurrent_writers_share_fsyncs() {
    let dir = tempfile::tempdir().unwrap();
    let disk = Arc::new(SlowSyncs::default());
    let engine = Engine::open_on(dir.path(), disk.clone(), StoreOptions::default()).unwrap();
    let before = disk.0.load(SeqCst);
    let (threads, batches) = (8u64, 10u64);
    let ids: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let engine = &engine;
                s.spawn(move || {
                    (0..batches)
                        .flat_map(|b| add(engine, t * 100 + b, 20, (b % 3) as i64).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let syncs = disk.0.load(SeqCst) - before;
    assert!(
        syncs < (threads * batches) as usize / 2,
        "{syncs} fsyncs for {} batches",
        threads * batches
    );
    let unique: std::collections::BTreeSet<u64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "ids unique");
    drop(engine);
    let engine = open(dir.path()).unwrap();
    assert_eq!(engine.len(), ids.len());
    for t in 0..threads {
        for b in 0..batches {
            assert_eq!(count(&engine, t * 100 + b), 20);
        }
    }
}

#[test]
fn expiry_deletes_the_data_from_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).unwrap();
    // Distinctive person ids, to look for their bytes on disk.
    let marked = |day: i64| 0x5EC2_E700_0000_0000 + day as u64;
    for day in 0..4 {
        let t = MIDNIGHT + day * 86_400 + 7_200;
        engine
            .add_stays(
                &[marked(day), marked(day)],
                &[9, 9],
                &[t, t + 50_000],
                &[t + 60, t + 50_060],
            )
            .unwrap();
        if day == 1 {
            engine.checkpoint().unwrap();
        }
    }
    // Day 2's first stay goes, its second (after the cut) stays.
    let cut = MIDNIGHT + 2 * 86_400 + 20_000;
    assert_eq!(engine.expire_before(cut).unwrap(), 5);
    let on_disk: Vec<u8> = files(dir.path(), "")
        .iter()
        .flat_map(|p| fs::read(p).unwrap())
        .collect();
    let holds = |person: u64| on_disk.windows(8).any(|w| w == person.to_le_bytes());
    assert!(
        !holds(marked(0)) && !holds(marked(1)),
        "expired days gone from disk"
    );
    assert!(
        holds(marked(2)) && holds(marked(3)),
        "kept days still there"
    );
    assert_eq!(files(dir.path(), "part-").len(), 2);
    drop(engine);
    let engine = open(dir.path()).unwrap();
    assert_eq!(engine.len(), 3);
    assert_eq!(engine.stays_between(MIDNIGHT, cut).unwrap().person.len(), 0);
}

#[test]
fn files_of_a_failed_checkpoint_that_cannot_be_deleted_are_deleted_later() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, disk) = on_faulty_disk(dir.path());
    add(&engine, 1, 5, 0).unwrap();
    let day_0 = format!("part-{}-", MIDNIGHT / 86_400);
    // The checkpoint fails before its switch, and its day-0 file (holding
    // person 1) cannot be deleted then.
    disk.set_sync_fails(true);
    disk.set_remove_fails(true);
    engine.checkpoint().unwrap_err();
    assert_eq!(files(dir.path(), &day_0).len(), 1);
    disk.set_sync_fails(false);
    disk.set_remove_fails(false);
    // Person 1's stays expire: no file may hold them once that returns.
    assert_eq!(engine.expire_before(MIDNIGHT + 86_400).unwrap(), 5);
    assert!(files(dir.path(), &day_0).is_empty());
}

#[test]
fn an_expiry_seals_the_days_it_writes_as_a_checkpoint_does() {
    // Day 0 comes in two batches (two segments), then day 1: an expiry of
    // nothing rewrites day 0, changed since the last checkpoint, as one.
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).unwrap();
    add(&engine, 1, 5, 0).unwrap();
    add(&engine, 2, 2, 0).unwrap(); // smaller than the first: a segment of its own
    add(&engine, 3, 5, 1).unwrap();
    let day_0 = MIDNIGHT / 86_400;
    let segments = |engine: &Engine| engine.state.read().partitions[&day_0].segments.len();
    assert_eq!(segments(&engine), 2);
    assert_eq!(engine.expire_before(MIDNIGHT - 86_400).unwrap(), 0);
    assert_eq!(segments(&engine), 1);
    drop(engine);
    let engine = open(dir.path()).unwrap();
    assert_eq!(
        (segments(&engine), count(&engine, 1), count(&engine, 2)),
        (1, 5, 2)
    );
}

#[test]
fn expiry_fails_until_the_expired_files_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, disk) = on_faulty_disk(dir.path());
    add(&engine, 1, 5, 0).unwrap();
    add(&engine, 2, 5, 1).unwrap();
    engine.checkpoint().unwrap();
    let day_0 = format!("part-{}-", MIDNIGHT / 86_400);
    assert_eq!(files(dir.path(), &day_0).len(), 1);

    // The file cannot be deleted: expiry says so, the stays are gone from
    // memory all the same, and changes go on.
    disk.set_remove_fails(true);
    let cut = MIDNIGHT + 86_400;
    assert!(matches!(
        engine.expire_before(cut),
        Err(Error::Io { op: "delete", .. })
    ));
    assert_eq!((count(&engine, 1), count(&engine, 2)), (0, 5));
    add(&engine, 3, 5, 2).unwrap();
    assert_eq!(files(dir.path(), &day_0).len(), 1, "still on disk");

    // The next checkpoint deletes it.
    disk.set_remove_fails(false);
    engine.checkpoint().unwrap();
    assert!(files(dir.path(), &day_0).is_empty());
    assert_eq!(engine.expire_before(cut).unwrap(), 0);
}
