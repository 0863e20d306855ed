//! The durable store behind [`crate::Engine::open`]: a directory holding a
//! write-ahead log and one sealed file per partition (see `docs/storage.md`).
//!
//! ```text
//! DIR/LOCK                  held (flock) while an engine has DIR open
//! DIR/MANIFEST              which files make up the store now (CRC-checked,
//!                           replaced by an atomic rename at each checkpoint)
//! DIR/wal-<gen>.log         changes since the last checkpoint
//! DIR/part-<day>-<gen>.tkp  a sealed partition, memory-mapped on open
//! ```
//! A change is acknowledged once its log record is fsynced; writers waiting
//! at the same time share one fsync (group commit). A checkpoint writes the
//! partitions changed since the last one as new files, starts an empty log
//! and switches the manifest over; the old log and files are then deleted.

mod disk;
pub(crate) mod log;
mod part;
#[cfg(test)]
mod tests;

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

#[cfg(test)]
pub(crate) use disk::faulty::FaultyDisk;
pub(crate) use disk::{Disk, RealDisk};
use log::Record;

use crate::error::{Error, Result};
use crate::partition::Partition;

const MANIFEST_MAGIC: &[u8; 8] = b"TKHMANIF";
/// Partition files a checkpoint holds open, written and not yet synced: a
/// backfill of years of days would otherwise run out of file descriptors.
const UNSYNCED_PARTS: usize = 16;
const MANIFEST_VERSION: u32 = 1;

/// How a durable engine behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// Checkpoint once the log holds this many bytes (about 32 per stay):
    /// bounds both the log's disk use and the replay time of a reopen.
    pub checkpoint_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            checkpoint_bytes: 256 << 20,
        }
    }
}

/// The files the store is made of now: changed only by writers, under the
/// engine's writer lock.
#[derive(Debug, Default)]
pub(crate) struct Files {
    log_gen: u64,
    next_gen: u64,
    /// Generation of the sealed file of each day that has one.
    parts: BTreeMap<i64, u64>,
    /// Days changed since their file was written.
    pub dirty: BTreeSet<i64>,
    /// Stays with `t_in` before this were expired: none may be added again,
    /// so that no expired stay id is ever given to a new stay.
    pub expired_before: i64,
}

impl Files {
    /// Changes with each checkpoint that switched the manifest.
    pub fn generation(&self) -> u64 {
        self.log_gen
    }
}

#[derive(Debug)]
pub(crate) struct Store {
    dir: PathBuf,
    disk: Arc<dyn Disk>,
    pub options: StoreOptions,
    lock: Mutex<Option<File>>,
    log: Mutex<Log>,
    synced: Condvar,
    garbage: Mutex<Garbage>,
}

/// Files no longer named that could not be deleted yet, and why; and whether
/// the last deletions are not known to be durable (the directory's sync
/// failed). Each checkpoint tries again.
#[derive(Debug, Default)]
struct Garbage {
    files: Vec<(PathBuf, Error)>,
    unsynced: Option<Error>,
}

/// The open log file and how much of it is written and durable.
#[derive(Debug)]
struct Log {
    path: PathBuf,
    file: Arc<File>,
    written: u64,
    durable: u64,
    syncing: bool,
    /// Set when an fsync failed: what the file holds past `durable` is
    /// unknown, so nothing more is acknowledged until the log is recovered.
    failed: Option<Error>,
    /// Files to delete once the directory is synced: set when a checkpoint
    /// renamed the manifest but could not sync the directory, so the switch
    /// may not be durable yet and the old files may still be needed.
    unsynced_switch: Option<Vec<PathBuf>>,
}

/// What `Store::open` found: the store, its files, the sealed partitions and
/// the log records to replay on top of them.
pub(crate) struct Opened {
    pub store: Store,
    pub files: Files,
    pub partitions: BTreeMap<i64, Partition>,
    pub log_path: PathBuf,
    pub records: Vec<(u64, Record)>,
}

impl Store {
    pub fn open(dir: &Path, disk: Arc<dyn Disk>, options: StoreOptions) -> Result<Opened> {
        fs::create_dir_all(dir).map_err(Error::io("create directory", dir))?;
        let lock_path = dir.join("LOCK");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(Error::io("open", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(Error::Locked {
                    path: dir.to_path_buf(),
                })
            }
            Err(fs::TryLockError::Error(e)) => return Err(Error::io("lock", &lock_path)(e)),
        }

        let manifest = dir.join("MANIFEST");
        let mut files = if manifest.exists() {
            read_manifest(&manifest)?
        } else {
            Files {
                log_gen: 1,
                next_gen: 2,
                expired_before: i64::MIN,
                ..Files::default()
            }
        };
        let log_path = dir.join(format!("wal-{:016}.log", files.log_gen));
        if !manifest.exists() {
            // A new store: an empty log first, then the manifest naming it.
            // A lost manifest must not pass for a new store: that would
            // delete the data it names.
            if holds_data(dir)? {
                return Err(Error::corrupt(
                    &manifest,
                    0,
                    "MANIFEST is missing but the directory holds store files",
                ));
            }
            let _ = fs::remove_file(&log_path);
            create_log(&*disk, &log_path, &mut Vec::new())?;
            write_manifest(&*disk, dir, &files)?;
            sync_dir(&*disk, dir)?;
            // And the directory itself, in its parent.
            let parent = dir.parent().filter(|p| !p.as_os_str().is_empty());
            sync_dir(&*disk, parent.unwrap_or(Path::new(".")))?;
        }
        // Every named file must be there before anything unnamed is deleted.
        let named = files
            .parts
            .iter()
            .map(|(&day, &gen)| part_path(dir, day, gen));
        if let Some(missing) = named.chain([log_path.clone()]).find(|p| !p.exists()) {
            let what = format!("MANIFEST names {}, which is missing", missing.display());
            return Err(Error::corrupt(&manifest, 0, what));
        }
        remove_strays(dir, &files, &log_path)?;

        let partitions = files
            .parts
            .iter()
            .map(|(&day, &gen)| Ok((day, part::read(&part_path(dir, day, gen))?)))
            .collect::<Result<BTreeMap<_, _>>>()?;
        for (day, p) in &partitions {
            if p.day != *day {
                return Err(Error::corrupt(
                    &part_path(dir, *day, files.parts[day]),
                    16,
                    "file holds another day",
                ));
            }
        }

        let bytes = fs::read(&log_path).map_err(Error::io("read", &log_path))?;
        let (records, clean) = log::decode(&log_path, &bytes)?;
        let file = File::options()
            .append(true)
            .open(&log_path)
            .map_err(Error::io("open", &log_path))?;
        if clean < bytes.len() as u64 {
            // A torn last write: that call was never acknowledged.
            file.set_len(clean)
                .map_err(Error::io("truncate", &log_path))?;
            disk.sync(&file).map_err(Error::io("fsync", &log_path))?;
        }
        files.dirty.clear();
        let store = Store {
            dir: dir.to_path_buf(),
            disk,
            options,
            lock: Mutex::new(Some(lock)),
            log: Mutex::new(Log {
                path: log_path.clone(),
                file: Arc::new(file),
                written: clean,
                durable: clean,
                syncing: false,
                failed: None,
                unsynced_switch: None,
            }),
            synced: Condvar::new(),
            garbage: Mutex::default(),
        };
        Ok(Opened {
            store,
            files,
            partitions,
            log_path,
            records,
        })
    }

    /// Appends a framed record (not yet durable) and returns the log offset
    /// its durability is awaited at. A failed write is cut back off the log.
    pub fn append(&self, record: &[u8]) -> Result<u64> {
        let (file, path, start) = {
            let log = self.log.lock();
            if let Some(failed) = &log.failed {
                return Err(failed.clone());
            }
            (Arc::clone(&log.file), log.path.clone(), log.written)
        };
        if let Err(e) = self.disk.write(&file, record) {
            let error = Error::io("write", &path)(e);
            if let Err(e) = file.set_len(start) {
                self.log.lock().failed = Some(Error::io("truncate", &path)(e));
            }
            return Err(error);
        }
        let mut log = self.log.lock();
        log.written = start + record.len() as u64;
        Ok(log.written)
    }

    /// Returns once the log is durable up to `end`, syncing it if no other
    /// writer is already: the one fsync then covers every record written.
    pub fn wait_durable(&self, end: u64) -> Result<()> {
        let mut log = self.log.lock();
        loop {
            // Durable first: a later failure must not fail a record that an
            // earlier fsync already covered.
            if log.durable >= end {
                return Ok(());
            }
            // A sync under way may cover this record, whatever failed since:
            // its outcome decides.
            if log.syncing {
                self.synced.wait(&mut log);
                continue;
            }
            if let Some(failed) = &log.failed {
                return Err(failed.clone());
            }
            log.syncing = true;
            let (file, target) = (Arc::clone(&log.file), log.written);
            drop(log);
            let synced = self.disk.sync(&file);
            log = self.log.lock();
            log.syncing = false;
            match synced {
                Ok(()) => log.durable = log.durable.max(target),
                Err(e) => log.failed = Some(Error::io("fsync", &log.path.clone())(e)),
            }
            self.synced.notify_all();
        }
    }

    pub fn has_failed(&self) -> bool {
        self.log.lock().failed.is_some()
    }

    pub fn log_bytes(&self) -> u64 {
        self.log.lock().written
    }

    /// After a failed fsync, the log's pages past the last acknowledged
    /// record are in an unknown state and retrying the fsync proves nothing:
    /// reopen the file, cut it back to what was acknowledged, sync that.
    /// After a checkpoint whose directory sync failed, sync the directory
    /// first. Call with no write in flight.
    pub fn recover(&self) -> Result<()> {
        let mut log = self.log.lock();
        if log.failed.is_none() {
            return Ok(());
        }
        if let Some(garbage) = log.unsynced_switch.take() {
            if let Err(e) = sync_dir(&*self.disk, &self.dir) {
                log.unsynced_switch = Some(garbage);
                return Err(e);
            }
            self.remove_garbage(garbage);
        }
        let path = log.path.clone();
        let file = File::options()
            .append(true)
            .open(&path)
            .map_err(Error::io("open", &path))?;
        file.set_len(log.durable)
            .map_err(Error::io("truncate", &path))?;
        self.disk.sync(&file).map_err(Error::io("fsync", &path))?;
        log.file = Arc::new(file);
        log.written = log.durable;
        log.failed = None;
        Ok(())
    }

    /// Writes the dirty partitions of `partitions` (the whole state to keep)
    /// as new sealed files, starts an empty log and switches the manifest
    /// over, then deletes the files no longer named, days gone included.
    /// Returns the written partitions, now served from their files. Call
    /// with no write in flight and the log recovered. Until the manifest is
    /// renamed, an error leaves the store as it was; after that the switch
    /// stands, and if the directory cannot be synced, changes are refused
    /// until [`Store::recover`] syncs it.
    pub fn checkpoint(
        &self,
        files: &mut Files,
        partitions: impl Iterator<Item = (i64, impl Borrow<Partition>)>,
    ) -> Result<Vec<Partition>> {
        let gen = files.next_gen;
        let mut next = Files {
            log_gen: gen,
            next_gen: gen + 1,
            expired_before: files.expired_before,
            ..Files::default()
        };
        let mut created = Vec::new();
        let prepared = (|| {
            // A file is synced only once later ones are written: the disk
            // takes one day's pages while the next day is sealed and written.
            // A few wait at a time, each an open file.
            let mut written = VecDeque::new();
            let sync = |(file, path): (File, PathBuf)| {
                self.disk.sync(&file).map_err(Error::io("fsync", &path))
            };
            for (day, p) in partitions {
                match files.parts.get(&day) {
                    Some(&old) if !files.dirty.contains(&day) => {
                        next.parts.insert(day, old);
                    }
                    _ => {
                        if written.len() == UNSYNCED_PARTS {
                            written.pop_front().map(sync).transpose()?;
                        }
                        let path = part_path(&self.dir, day, gen);
                        let file = part::write(&*self.disk, &path, p.borrow(), &mut created)?;
                        written.push_back((file, path));
                        next.parts.insert(day, gen);
                    }
                }
            }
            written.into_iter().try_for_each(sync)?;
            let log_path = self.dir.join(format!("wal-{gen:016}.log"));
            let file = create_log(&*self.disk, &log_path, &mut created)?;
            write_manifest(&*self.disk, &self.dir, &next)?;
            Ok((log_path, file))
        })();
        let (log_path, file) = match prepared {
            Ok(done) => done,
            Err(e) => {
                // Those that cannot be deleted now wait with the garbage,
                // for the next try, and keep an expiry from answering that
                // its stays are gone from the disk meanwhile.
                self.remove_garbage(created);
                // A file of this generation left behind must not stop the next try.
                files.next_gen = gen + 1;
                return Err(e);
            }
        };

        // The manifest is switched: from here on the new files are the store.
        let mut garbage = Vec::new();
        for (&day, &old) in &files.parts {
            if next.parts.get(&day) != Some(&old) {
                garbage.push(part_path(&self.dir, day, old));
            }
        }
        *files = next;
        {
            let mut log = self.log.lock();
            garbage.push(std::mem::replace(&mut log.path, log_path));
            log.file = Arc::new(file);
            (log.written, log.durable) = (HEADER_LEN, HEADER_LEN);
            if let Err(e) = sync_dir(&*self.disk, &self.dir) {
                // The rename may not be durable: the old files may still be
                // the store after a crash. Keep them, acknowledge nothing.
                log.failed = Some(e.clone());
                log.unsynced_switch = Some(garbage);
                return Err(e);
            }
        }
        self.remove_garbage(garbage);
        files
            .parts
            .iter()
            .filter(|&(_, &g)| g == gen)
            .map(|(&day, &g)| part::read(&part_path(&self.dir, day, g)))
            .collect()
    }

    /// Releases the directory for another engine.
    pub fn unlock(&self) {
        self.lock.lock().take();
    }
}

use log::HEADER_LEN;

fn part_path(dir: &Path, day: i64, gen: u64) -> PathBuf {
    dir.join(format!("part-{day}-{gen:016}.tkp"))
}

/// Creates an empty log; `created` gets its path once it exists.
fn create_log(disk: &dyn Disk, path: &Path, created: &mut Vec<PathBuf>) -> Result<File> {
    let file = File::options()
        .create_new(true)
        .append(true)
        .open(path)
        .map_err(Error::io("create", path))?;
    created.push(path.to_path_buf());
    disk.write(&file, &log::header())
        .map_err(Error::io("write", path))?;
    disk.sync(&file).map_err(Error::io("fsync", path))?;
    Ok(file)
}

fn sync_dir(disk: &dyn Disk, dir: &Path) -> Result<()> {
    let handle = File::open(dir).map_err(Error::io("open", dir))?;
    disk.sync(&handle).map_err(Error::io("fsync", dir))
}

/// Replaces the manifest atomically: a new file, synced, renamed over the
/// old. The rename is durable once the caller syncs the directory.
fn write_manifest(disk: &dyn Disk, dir: &Path, files: &Files) -> Result<()> {
    let mut bytes = MANIFEST_MAGIC.to_vec();
    bytes.extend_from_slice(&MANIFEST_VERSION.to_le_bytes());
    bytes.extend_from_slice(&files.log_gen.to_le_bytes());
    bytes.extend_from_slice(&files.next_gen.to_le_bytes());
    bytes.extend_from_slice(&files.expired_before.to_le_bytes());
    bytes.extend_from_slice(&(files.parts.len() as u64).to_le_bytes());
    for (&day, &gen) in &files.parts {
        bytes.extend_from_slice(&day.to_le_bytes());
        bytes.extend_from_slice(&gen.to_le_bytes());
    }
    bytes.extend_from_slice(&crc32c::crc32c(&bytes).to_le_bytes());
    let (tmp, path) = (dir.join("MANIFEST.tmp"), dir.join("MANIFEST"));
    let _ = fs::remove_file(&tmp);
    let file = File::create_new(&tmp).map_err(Error::io("create", &tmp))?;
    disk.write(&file, &bytes)
        .map_err(Error::io("write", &tmp))?;
    disk.sync(&file).map_err(Error::io("fsync", &tmp))?;
    // The files it names are in the directory for good before it names them.
    sync_dir(disk, dir)?;
    fs::rename(&tmp, &path).map_err(Error::io("rename", &tmp))
}

fn read_manifest(path: &Path) -> Result<Files> {
    let bytes = fs::read(path).map_err(Error::io("read", path))?;
    let corrupt = |what| Error::corrupt(path, 0, what);
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    if bytes.len() < 48 || &bytes[..8] != MANIFEST_MAGIC {
        return Err(corrupt("not a manifest (no TKHMANIF header)"));
    }
    let body = bytes.len() - 4;
    if crc32c::crc32c(&bytes[..body])
        != u32::from_le_bytes(bytes[body..].try_into().expect("4 bytes"))
    {
        return Err(corrupt("checksum mismatch"));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version != MANIFEST_VERSION {
        return Err(Error::UnknownVersion {
            path: path.to_path_buf(),
            found: version,
            expected: MANIFEST_VERSION,
        });
    }
    let n = usize::try_from(u64_at(36)).unwrap_or(usize::MAX);
    if n.checked_mul(16).and_then(|b| b.checked_add(44)) != Some(body) {
        return Err(corrupt("length does not match its file count"));
    }
    Ok(Files {
        log_gen: u64_at(12),
        next_gen: u64_at(20),
        expired_before: u64_at(28) as i64,
        parts: (0..n)
            .map(|i| (u64_at(44 + 16 * i) as i64, u64_at(52 + 16 * i)))
            .collect(),
        dirty: BTreeSet::new(),
    })
}

impl Store {
    /// Deletes `garbage`, files no longer named, and those of earlier
    /// checkpoints that could not be deleted, then syncs the directory.
    /// What stays behind is kept for the next checkpoint (and a reopen
    /// deletes every file not named): see [`Store::garbage_left`].
    fn remove_garbage(&self, garbage: Vec<PathBuf>) {
        let mut left = self.garbage.lock();
        let paths: Vec<PathBuf> = left
            .files
            .drain(..)
            .map(|(path, _)| path)
            .chain(garbage)
            .collect();
        for path in paths {
            match self.disk.remove(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => left
                    .files
                    .push((path.clone(), Error::io("delete", &path)(e))),
            }
        }
        left.unsynced = sync_dir(&*self.disk, &self.dir).err();
    }

    /// Fails while files no longer named (expired data among them) are
    /// still on disk, or their deletion is not known to be durable.
    pub fn garbage_left(&self) -> Result<()> {
        let left = self.garbage.lock();
        match (left.files.first(), &left.unsynced) {
            (Some((_, e)), _) | (None, Some(e)) => Err(e.clone()),
            (None, None) => Ok(()),
        }
    }
}

/// Whether `dir` has partition files or a log with records in it.
fn holds_data(dir: &Path) -> Result<bool> {
    for entry in fs::read_dir(dir).map_err(Error::io("list", dir))? {
        let entry = entry.map_err(Error::io("list", dir))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let len = entry
            .metadata()
            .map_err(Error::io("stat", &entry.path()))?
            .len();
        if name.starts_with("part-") || (name.starts_with("wal-") && len > HEADER_LEN) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Deletes what a checkpoint cut short left behind: files the manifest does not name.
fn remove_strays(dir: &Path, files: &Files, log_path: &Path) -> Result<()> {
    let named: BTreeSet<PathBuf> = files
        .parts
        .iter()
        .map(|(&day, &gen)| part_path(dir, day, gen))
        .chain([log_path.to_path_buf()])
        .collect();
    let entries = fs::read_dir(dir).map_err(Error::io("list", dir))?;
    let mut removed = false;
    for entry in entries {
        let path = entry.map_err(Error::io("list", dir))?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let ours = name.starts_with("part-") || name.starts_with("wal-") || name == "MANIFEST.tmp";
        if ours && !named.contains(&path) {
            fs::remove_file(&path).map_err(Error::io("delete", &path))?;
            removed = true;
        }
    }
    if removed {
        sync_dir(&RealDisk, dir)?;
    }
    Ok(())
}
