//! The engine: partitions by day, batch ingest, check-out updates, expiry,
//! and, when opened on a directory, their durability.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, RwLock, RwLockWriteGuard};
use rayon::prelude::*;

use crate::batch::{self, Batch, DayRows, Split};
use crate::error::{Error, Result, StayProblem};
use crate::partition::{Append, Partition};
use crate::segment::DAY;
use crate::store::log::{self, Record};
use crate::store::{Disk, Files, RealDisk, Store, StoreOptions};

/// Earliest time a stay may have: 2000-01-01T00:00:00Z.
pub const MIN_TIME: i64 = 946_684_800;
/// Latest time a stay may have: 2100-01-01T00:00:00Z.
pub const MAX_TIME: i64 = 4_102_444_800;

/// A durable batch of this many stays or more is indexed while its log
/// record syncs (see `Engine::commit_add`); a smaller one is indexed in far
/// less time than a thread takes to start. (In unit tests, nearly all.)
const INDEX_WHILE_SYNCING: usize = if cfg!(test) { 2 } else { 1 << 16 };

/// An index of check-in stays answering contact-tracing queries, in memory
/// ([`Engine::new`]) or durable in a directory ([`Engine::open`]).
///
/// Safe to share between threads: queries run concurrently with each other
/// and with ingest; each change is applied whole or not at all, and changes
/// become visible in the order they were made. A query reads the stays as
/// they are when it begins, but for those of many cases: a trace lets
/// changes in between its hops and blocks of people, `contacts_many` and
/// `exposure_sites` between blocks of cases (see `docs/semantics.md`). A durable engine
/// returns from a change only once it is on stable storage; concurrent
/// writers share fsyncs.
#[derive(Debug, Default)]
pub struct Engine {
    /// Serialises the start of each change: numbering stays, logging.
    writer: Mutex<Writer>,
    pub(crate) state: RwLock<State>,
    /// Changes applied so far, by ticket: a change waits for its turn, so the
    /// state sees changes in the order they were numbered and logged.
    applied: Mutex<u64>,
    turn: Condvar,
    /// A change panicked midway (a bug): the partitions may be behind the
    /// stays numbered, and a durable store's log.
    interrupted: AtomicBool,
    store: Option<Store>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub partitions: BTreeMap<i64, Partition>,
    pub len: usize,
}

impl State {
    /// The partition, segment and row of stay `id`, the `row`-th of a batch
    /// (which an unknown id's error names).
    pub(crate) fn stay(&self, row: usize, id: u64) -> Result<(&Partition, usize, u32)> {
        let (day, seq) = split_stay_id(id);
        let unknown = || Error::UnknownStay { row, id };
        let partition = self.partitions.get(&day).ok_or_else(unknown)?;
        let (segment, at) = partition.locate(seq).ok_or_else(unknown)?;
        Ok((partition, segment, at))
    }
}

#[derive(Debug, Default)]
struct Writer {
    /// Changes begun so far; the next one gets this ticket.
    issued: u64,
    /// Arrival number of the next stay of each day, counting changes not yet applied.
    next_seq: BTreeMap<i64, u32>,
    files: Files,
    closed: bool,
}

/// A change's place in line, and where its log record ends.
#[derive(Clone, Copy)]
struct Ticket {
    number: u64,
    log_end: Option<u64>,
}

impl Engine {
    /// An empty in-memory engine.
    pub fn new() -> Self {
        Engine::default()
    }

    /// Opens the durable engine stored in `dir`, creating an empty one if
    /// `dir` holds none. Fails with [`Error::Locked`] while another engine has
    /// it open, and with [`Error::Corrupt`] or [`Error::UnknownVersion`] for
    /// files it cannot trust.
    pub fn open(dir: impl AsRef<Path>) -> Result<Engine> {
        Engine::open_with(dir, StoreOptions::default())
    }

    /// [`Engine::open`] with options.
    pub fn open_with(dir: impl AsRef<Path>, options: StoreOptions) -> Result<Engine> {
        Engine::open_on(dir.as_ref(), Arc::new(RealDisk), options)
    }

    pub(crate) fn open_on(
        dir: &Path,
        disk: Arc<dyn Disk>,
        options: StoreOptions,
    ) -> Result<Engine> {
        let opened = Store::open(dir, disk, options)?;
        let engine = Engine {
            store: Some(opened.store),
            ..Engine::default()
        };
        {
            let mut w = engine.writer.lock();
            let mut state = engine.state_mut();
            state.len = opened.partitions.values().map(Partition::len).sum();
            w.next_seq = opened
                .partitions
                .iter()
                .map(|(&d, p)| (d, p.next_seq))
                .collect();
            w.files = opened.files;
            state.partitions = opened.partitions;
        }
        for (offset, record) in opened.records {
            engine.replay(record).map_err(|e| {
                let what = format!("logged change does not apply to the partitions: {e}");
                Error::corrupt(&opened.log_path, offset, what)
            })?;
        }
        Ok(engine)
    }

    /// The state, to change.
    fn state_mut(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write()
    }

    /// Whether changes are kept on disk.
    pub fn is_durable(&self) -> bool {
        self.store.is_some()
    }

    /// Number of stays held.
    pub fn len(&self) -> usize {
        self.state.read().len
    }

    /// Whether no stay is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held by the index columns of all partitions, on the heap or
    /// mapped from sealed files.
    pub fn memory_bytes(&self) -> usize {
        let state = self.state.read();
        state
            .partitions
            .values()
            .flat_map(|p| &p.segments)
            .map(crate::segment::Segment::memory_bytes)
            .sum()
    }

    /// What [`Engine::add_stays`] would refuse in a batch, storing nothing:
    /// its first bad row, an expired one included (as things stand now).
    pub fn check_stays(
        &self,
        persons: &[u64],
        venues: &[u64],
        t_in: &[i64],
        t_out: &[i64],
    ) -> Result<()> {
        let expired_before = self.writer.lock().files.expired_before;
        batch::check(persons, venues, t_in, t_out, expired_before)
    }

    /// Adds a batch of stays `[t_in, t_out)` and returns their stay ids, one
    /// per row, in order. A batch with any bad row stores nothing.
    pub fn add_stays(
        &self,
        persons: &[u64],
        venues: &[u64],
        t_in: &[i64],
        t_out: &[i64],
    ) -> Result<Vec<u64>> {
        self.add_batch(Batch::read(persons, venues, t_in, t_out))
    }

    /// [`Engine::add_stays`] of a batch already read.
    pub fn add_batch(&self, batch: Batch) -> Result<Vec<u64>> {
        let mut split = match batch.into_split() {
            Ok(split) => split,
            Err(refused) => return Err(refused.error(self.writer.lock().files.expired_before)),
        };
        let ticket = {
            let mut w = self.writer.lock();
            self.writable(&mut w)?;
            if split.len() == 0 {
                return Ok(Vec::new());
            }
            // Numbered before a ticket is issued: a panic past it would hold
            // up every change after this one.
            let bases = w.number(&mut split)?;
            let log_end = match &self.store {
                Some(store) => Some(store.append(&log::encode_add(&bases, &split.days))?),
                None => None,
            };
            w.note_added(&bases, &split);
            w.issue(log_end)
        };
        self.recovered_after(self.commit_add(ticket, split.days))?;
        self.checkpoint_if_due();
        Ok(split.ids)
    }

    /// Sets the check-out time of stays already held: `t_out[i]` for
    /// `stay_ids[i]`. All or nothing; for a repeated id the last value wins.
    pub fn set_checkout(&self, stay_ids: &[u64], t_out: &[i64]) -> Result<()> {
        same_length(stay_ids.len(), &[("t_out", t_out.len())])?;
        let (targets, ticket) = {
            let mut w = self.writer.lock();
            self.writable(&mut w)?;
            if stay_ids.is_empty() {
                return Ok(());
            }
            let targets = self.check_checkout(stay_ids, t_out)?;
            let log_end = match &self.store {
                Some(store) => Some(store.append(&log::encode_checkout(stay_ids, t_out))?),
                None => None,
            };
            w.files.dirty.extend(targets.iter().map(|t| t.0));
            (targets, w.issue(log_end))
        };
        self.recovered_after(self.commit(ticket, || self.apply_checkout(&targets)))?;
        self.checkpoint_if_due();
        Ok(())
    }

    /// Removes every stay with `t_in < t` and returns how many were removed.
    /// Their ids become unknown and the memory they held is freed; a durable
    /// engine deletes them from disk (log and partition files) before it
    /// returns. Stays beginning before `t` are refused from then on, so that
    /// no expired id is ever given to a new stay.
    pub fn expire_before(&self, t: i64) -> Result<usize> {
        let mut w = self.writer.lock();
        self.drain(&w);
        self.writable(&mut w)?;
        let boundary = t.div_euclid(DAY);
        let trimmed = {
            let state = self.state.read();
            state
                .partitions
                .get(&boundary)
                .filter(|p| p.start() < t)
                .map(|p| p.without_before(t))
        };
        let was_expired_before = w.files.expired_before;
        w.files.expired_before = was_expired_before.max(t);
        let (mapped, failed) = match &self.store {
            Some(store) => {
                if trimmed.is_some() {
                    w.files.dirty.insert(boundary);
                }
                let generation = w.files.generation();
                let state = self.state.read();
                let newest = state.partitions.keys().next_back().copied();
                let dirty = w.files.dirty.clone();
                let kept = state
                    .partitions
                    .range(boundary..)
                    .map(|(&day, p)| match &trimmed {
                        Some(trimmed) if day == boundary => (day, trimmed),
                        _ => (day, p),
                    })
                    .map(|(day, p)| (day, Sealing::of(day, p, newest, &dirty)));
                match store.checkpoint(&mut w.files, kept) {
                    // Returned only once the files that held them are gone.
                    Ok(mapped) => (mapped, store.garbage_left().err()),
                    // Failed before the switch: nothing changed.
                    Err(e) if w.files.generation() == generation => {
                        w.files.expired_before = was_expired_before;
                        return Err(e);
                    }
                    // Failed after it: the files no longer hold those stays,
                    // so neither may the memory.
                    Err(e) => (Vec::new(), Some(e)),
                }
            }
            None => (Vec::new(), None),
        };
        let mut state = self.state_mut();
        let kept = state.partitions.split_off(&boundary);
        let dropped = std::mem::replace(&mut state.partitions, kept);
        let mut removed: usize = dropped.values().map(Partition::len).sum();
        if let Some(trimmed) = trimmed {
            let old = state
                .partitions
                .insert(boundary, trimmed)
                .expect("boundary partition present");
            removed += old.len() - state.partitions[&boundary].len();
        }
        state.len -= removed;
        for p in mapped {
            state.partitions.insert(p.day, p);
        }
        w.next_seq = w.next_seq.split_off(&boundary);
        failed.map_or(Ok(removed), Err)
    }

    /// Writes the partitions changed since the last checkpoint as sealed
    /// files and empties the log, so that a reopen replays nothing. Happens
    /// by itself as the log grows; nothing to do for an in-memory engine.
    pub fn checkpoint(&self) -> Result<()> {
        let mut w = self.writer.lock();
        self.writable(&mut w)?;
        self.checkpoint_locked(&mut w)
    }

    /// Checkpoints a durable engine and releases its directory. Later changes
    /// fail with [`Error::Closed`]; queries still answer from what was held.
    pub fn close(&self) -> Result<()> {
        let mut w = self.writer.lock();
        if w.closed {
            return Ok(());
        }
        // No change in flight outlives the store's lock.
        self.drain(&w);
        let result = self
            .writable(&mut w)
            .and_then(|()| self.checkpoint_locked(&mut w));
        w.closed = true;
        if let Some(store) = &self.store {
            store.unlock();
        }
        result
    }

    fn checkpoint_locked(&self, w: &mut Writer) -> Result<()> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        self.drain(w);
        self.writable(w)?;
        let mapped = {
            let state = self.state.read();
            let newest = state.partitions.keys().next_back().copied();
            let dirty = w.files.dirty.clone();
            let partitions = state
                .partitions
                .iter()
                .map(|(&day, p)| (day, Sealing::of(day, p, newest, &dirty)));
            store.checkpoint(&mut w.files, partitions)?
        };
        let mut state = self.state_mut();
        for p in mapped {
            state.partitions.insert(p.day, p);
        }
        Ok(())
    }

    fn checkpoint_if_due(&self) {
        if let Some(store) = &self.store {
            if store.log_bytes() >= store.options.checkpoint_bytes {
                // The change is already durable in the log; a checkpoint that
                // fails now is tried again after the next change.
                let _ = self.checkpoint();
            }
        }
    }

    /// Refuses changes to a closed engine; after a failed fsync, waits for
    /// the changes in flight and recovers the log before anything else;
    /// after a change that panicked midway, refuses changes to a durable
    /// engine until it is reopened.
    fn writable(&self, w: &mut Writer) -> Result<()> {
        if w.closed {
            return Err(Error::Closed);
        }
        if self.interrupted.load(Ordering::Acquire) {
            // The log may hold a change the partitions lack: only a reopen,
            // which replays it, makes them agree again. (Those a failed fsync
            // refused are cut off it first: a reopen must not replay them.)
            if let Some(store) = &self.store {
                if store.has_failed() {
                    self.drain(w);
                    let _ = store.recover();
                }
                return Err(Error::Interrupted);
            }
            self.drain(w);
            self.renumber(w);
            self.interrupted.store(false, Ordering::Release);
        }
        if let Some(store) = self.store.as_ref().filter(|s| s.has_failed()) {
            self.drain(w);
            store.recover()?;
            self.renumber(w);
        }
        Ok(())
    }

    /// `outcome`, once a failed fsync behind it has had the log cut back
    /// to what was acknowledged: at once, not when the next change comes,
    /// so that a process that dies meanwhile does not replay on reopen the
    /// changes its callers were told failed. (If the disk fails that too,
    /// the next change tries again.)
    fn recovered_after(&self, outcome: Result<()>) -> Result<()> {
        if outcome.is_err() && self.store.as_ref().is_some_and(Store::has_failed) {
            let _ = self.writable(&mut self.writer.lock());
        }
        outcome
    }

    /// Numbers the next stays of each day after those its partition holds,
    /// once changes numbered past them have failed (none in flight).
    fn renumber(&self, w: &mut Writer) {
        let state = self.state.read();
        w.next_seq = state
            .partitions
            .iter()
            .map(|(&d, p)| (d, p.next_seq))
            .collect();
    }

    /// Waits until every change begun has been applied (or has failed).
    fn drain(&self, w: &Writer) {
        let mut applied = self.applied.lock();
        while *applied != w.issued {
            self.turn.wait(&mut applied);
        }
    }

    /// Waits for the change's record to be durable, then for its turn, and
    /// applies it if it was made durable. Every ticket takes its turn, so a
    /// failed change never holds up the ones after it.
    fn commit(&self, ticket: Ticket, apply: impl FnOnce()) -> Result<()> {
        let durable = match (&self.store, ticket.log_end) {
            (Some(store), Some(end)) => store.wait_durable(end),
            _ => Ok(()),
        };
        let mut applied = self.applied.lock();
        while *applied != ticket.number {
            self.turn.wait(&mut applied);
        }
        drop(applied);
        // Even if `apply` panics, the turn passes on: a bug must not hang
        // every writer after it.
        let _pass = PassTurn(self);
        durable?;
        // A change before this one failed midway: this one's stays were
        // numbered after stays the partitions lack.
        if self.interrupted.load(Ordering::Acquire) {
            return Err(Error::Interrupted);
        }
        apply();
        Ok(())
    }

    /// [`Engine::commit`] for a batch of stays. A big batch whose turn has
    /// come already (as in a bulk load, one batch after another) is indexed
    /// while its log record syncs, so that the cores work while the disk
    /// does; nothing else changes the partitions until it passes its turn.
    fn commit_add(&self, ticket: Ticket, by_day: Vec<DayRows>) -> Result<()> {
        let rows: usize = by_day.iter().map(|(_, rows)| rows.len()).sum();
        let (Some(store), Some(end)) = (&self.store, ticket.log_end) else {
            return self.commit(ticket, || self.apply_add(by_day));
        };
        if rows < INDEX_WHILE_SYNCING || *self.applied.lock() != ticket.number {
            return self.commit(ticket, || self.apply_add(by_day));
        }
        let _pass = PassTurn(self);
        let by_day = Mutex::new(Some(by_day));
        let plan = || self.plan_add(by_day.lock().take().expect("planned once"));
        let (durable, appends) = std::thread::scope(|s| {
            let planned = std::thread::Builder::new().spawn_scoped(s, plan);
            let durable = store.wait_durable(end);
            // Where no thread could be had, the batch is indexed on this one.
            let appends = match planned {
                Ok(planning) => planning
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(_) => plan(),
            };
            (durable, appends)
        });
        durable?;
        if self.interrupted.load(Ordering::Acquire) {
            return Err(Error::Interrupted);
        }
        self.install(appends);
        Ok(())
    }

    /// Applies a change read back from the log while opening.
    fn replay(&self, record: Record) -> Result<()> {
        let mut w = self.writer.lock();
        match record {
            Record::Add {
                bases: logged,
                persons,
                venues,
                t_in,
                t_out,
            } => {
                let mut split = Batch::read(&persons, &venues, &t_in, &t_out)
                    .into_split()
                    .map_err(|refused| refused.error)?;
                let bases = w.number(&mut split)?;
                if bases != logged {
                    return Err(Error::corrupt(
                        Path::new(""),
                        0,
                        "stay ids differ from the logged ones",
                    ));
                }
                w.note_added(&bases, &split);
                self.apply_add(split.days);
            }
            Record::Checkout { ids, t_out } => {
                same_length(ids.len(), &[("t_out", t_out.len())])?;
                let targets = self.check_checkout(&ids, &t_out)?;
                w.files.dirty.extend(targets.iter().map(|t| t.0));
                self.apply_checkout(&targets);
            }
        }
        w.issued += 1;
        *self.applied.lock() += 1;
        Ok(())
    }

    /// Sorts the rows into their partitions (readers go on meanwhile), then
    /// swaps the results in.
    fn apply_add(&self, by_day: Vec<DayRows>) {
        let appends = self.plan_add(by_day);
        self.install(appends);
    }

    /// The rows sorted into their partitions, as appends to swap in.
    fn plan_add(&self, by_day: Vec<DayRows>) -> Vec<Append> {
        let state = self.state.read();
        let plan = |(day, rows): DayRows| match state.partitions.get(&day) {
            Some(p) => p.plan_append(rows),
            None => Partition::new(day).plan_append(rows),
        };
        if by_day.len() == 1 {
            by_day.into_iter().map(plan).collect()
        } else {
            by_day.into_par_iter().map(plan).collect()
        }
    }

    fn install(&self, appends: Vec<Append>) {
        let mut state = self.state_mut();
        for append in appends {
            state.len += append.added as usize;
            state
                .partitions
                .entry(append.day)
                .or_insert_with(|| Partition::new(append.day))
                .apply(append);
        }
    }

    /// The (day, seq, `t_out`) of each check-out, once all are known to apply.
    fn check_checkout(&self, stay_ids: &[u64], t_out: &[i64]) -> Result<Vec<(i64, u32, i64)>> {
        let state = self.state.read();
        let mut targets = Vec::with_capacity(stay_ids.len());
        for (row, (&id, &t)) in stay_ids.iter().zip(t_out).enumerate() {
            let (partition, segment, at) = state.stay(row, id)?;
            let t_in = partition.start() + i64::from(partition.segments[segment].t_in(at));
            if let Some(problem) = stay_problem(t_in, t) {
                return Err(Error::InvalidStay { row, problem });
            }
            let (day, seq) = split_stay_id(id);
            targets.push((day, seq, t));
        }
        Ok(targets)
    }

    fn apply_checkout(&self, targets: &[(i64, u32, i64)]) {
        let mut state = self.state_mut();
        for &(day, seq, t) in targets {
            let partition = state.partitions.get_mut(&day).expect("checked before");
            // Located again: batches applied since the check may have merged segments.
            let (segment, at) = partition.locate(seq).expect("checked before");
            let rel = (t - partition.start()) as u32;
            partition.segments[segment].set_t_out(at, rel);
            partition.max_t_out = partition.max_t_out.max(t);
        }
    }
}

/// Ends a change's turn when dropped, by return or by unwinding.
struct PassTurn<'a>(&'a Engine);

impl Drop for PassTurn<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.interrupted.store(true, Ordering::Release);
        }
        *self.0.applied.lock() += 1;
        self.0.turn.notify_all();
    }
}

impl Writer {
    fn next_seq(&self, day: i64) -> u32 {
        self.next_seq.get(&day).copied().unwrap_or(0)
    }

    /// Numbers a batch's rows on from those of each day's earlier batches,
    /// and returns each day's first number. Refuses a batch with a stay that
    /// begins before the expiry point, or too many for its day.
    fn number(&self, split: &mut Split) -> Result<Vec<(i64, u32)>> {
        split.check_not_expired(self.files.expired_before)?;
        let bases = split
            .days
            .iter()
            .map(|(day, rows)| {
                let base = self.next_seq(*day);
                if rows.len() as u64 >= u64::from(u32::MAX - base) {
                    return Err(Error::PartitionFull { day: *day });
                }
                Ok((*day, base))
            })
            .collect::<Result<Vec<_>>>()?;
        split.number(&bases);
        Ok(bases)
    }

    fn note_added(&mut self, bases: &[(i64, u32)], split: &Split) {
        for (&(day, base), (_, rows)) in bases.iter().zip(&split.days) {
            self.next_seq.insert(day, base + rows.len() as u32);
            self.files.dirty.insert(day);
        }
    }

    fn issue(&mut self, log_end: Option<u64>) -> Ticket {
        self.issued += 1;
        Ticket {
            number: self.issued - 1,
            log_end,
        }
    }
}

/// Stay ids are the day of `t_in` (days since the epoch) above the arrival
/// number within that day, so an id names its partition without a lookup.
pub(crate) fn stay_id(day: i64, seq: u32) -> u64 {
    (day as u64) << 32 | u64::from(seq)
}

pub(crate) fn split_stay_id(id: u64) -> (i64, u32) {
    ((id >> 32) as i64, id as u32)
}

pub(crate) fn stay_problem(t_in: i64, t_out: i64) -> Option<StayProblem> {
    if !(MIN_TIME..MAX_TIME).contains(&t_in) {
        Some(StayProblem::OutOfRange {
            column: "t_in",
            value: t_in,
        })
    } else if t_out > MAX_TIME {
        Some(StayProblem::OutOfRange {
            column: "t_out",
            value: t_out,
        })
    } else if t_out <= t_in {
        Some(StayProblem::NotAfterCheckIn { t_in, t_out })
    } else {
        None
    }
}

pub(crate) fn same_length(expected: usize, others: &[(&'static str, usize)]) -> Result<()> {
    match others.iter().find(|(_, got)| *got != expected) {
        Some(&(column, got)) => Err(Error::LengthMismatch {
            column,
            expected,
            got,
        }),
        None => Ok(()),
    }
}

/// A partition on its way to its sealed file: as held, or compacted first.
enum Sealing<'a> {
    AsIs(&'a Partition),
    Compacted(Partition),
}

impl<'a> Sealing<'a> {
    /// How a checkpoint writes `day`'s partition `p`, the newest day being
    /// `newest`: a day before it that changed since the last checkpoint
    /// (`dirty`) is complete, or nearly, and sealed as a single segment, the
    /// fastest to query; the newest keeps its segments, so that its next
    /// batches merge cheaply. (Made as each is written: one copy of one day
    /// beside the index at a time.)
    fn of(day: i64, p: &'a Partition, newest: Option<i64>, dirty: &BTreeSet<i64>) -> Self {
        if Some(day) != newest && p.segments.len() > 1 && dirty.contains(&day) {
            Sealing::Compacted(p.compacted())
        } else {
            Sealing::AsIs(p)
        }
    }
}

impl std::borrow::Borrow<Partition> for Sealing<'_> {
    fn borrow(&self) -> &Partition {
        match self {
            Sealing::AsIs(p) => p,
            Sealing::Compacted(p) => p,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::{catch_unwind, AssertUnwindSafe};

    /// 2021-08-01T01:00:00Z.
    const T: i64 = 1_627_779_600;

    /// Numbers and logs a batch of `n` stays at venue 7, as `add_stays`
    /// does, not yet applied.
    fn begin(engine: &Engine, n: u64) -> (Ticket, Vec<DayRows>) {
        let persons: Vec<u64> = (0..n).collect();
        let venues = vec![7; n as usize];
        let t_in = vec![T; n as usize];
        let t_out = vec![T + 600; n as usize];
        let mut split = Batch::read(&persons, &venues, &t_in, &t_out)
            .into_split()
            .unwrap_or_else(|refused| panic!("{}", refused.error));
        let mut w = engine.writer.lock();
        let bases = w.number(&mut split).unwrap();
        let log_end = engine
            .store
            .as_ref()
            .map(|store| store.append(&log::encode_add(&bases, &split.days)).unwrap());
        w.note_added(&bases, &split);
        (w.issue(log_end), split.days)
    }

    /// A batch of `n` stays that panics where it would be applied.
    fn panic_midway(engine: &Engine, n: u64) {
        let (ticket, _) = begin(engine, n);
        let change = catch_unwind(AssertUnwindSafe(|| {
            engine.commit(ticket, || panic!("a bug, midway"))
        }));
        assert!(change.is_err(), "the panic reaches the caller");
    }

    #[test]
    fn a_change_begun_before_another_panicked_midway_is_refused_not_applied() {
        let engine = Engine::new();
        let (first, _) = begin(&engine, 3);
        let (second, rows) = begin(&engine, 2);
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            engine.commit(first, || panic!("a bug, midway"))
        }));
        assert!(panicked.is_err());
        // Numbered after the stays lost: applied, it would not fit.
        let refused = engine.commit(second, || engine.apply_add(rows));
        assert_eq!(refused.unwrap_err(), Error::Interrupted);
        assert_eq!(engine.len(), 0);
        add(&engine, 100).unwrap();
        assert_eq!(engine.len(), 1);
    }

    fn add(engine: &Engine, person: u64) -> Result<Vec<u64>> {
        engine.add_stays(&[person], &[7], &[T], &[T + 900])
    }

    #[test]
    fn after_a_change_panics_midway_an_engine_numbers_stays_as_it_holds_them() {
        let engine = Engine::new();
        add(&engine, 100).unwrap();
        panic_midway(&engine, 3);
        // The lost batch's numbers are numbered again, not skipped.
        let ids = add(&engine, 101).unwrap();
        assert_eq!(engine.stays_by_id(&ids).unwrap().person, [101]);
        assert_eq!(engine.len(), 2);
        assert_eq!(engine.overlaps(7, T, T + 1).unwrap().person, [100, 101]);
    }

    #[test]
    fn a_change_refused_by_a_failed_fsync_after_a_panic_is_not_replayed() {
        // B was begun before A panicked, and its fsync failed after.
        let dir = tempfile::tempdir().unwrap();
        let disk = Arc::new(crate::store::FaultyDisk::default());
        let engine = Engine::open_on(dir.path(), disk.clone(), StoreOptions::default()).unwrap();
        panic_midway(&engine, 3);
        let (b, rows) = begin(&engine, 2);
        disk.set_sync_fails(true);
        let refused = engine.recovered_after(engine.commit(b, || engine.apply_add(rows)));
        assert!(
            matches!(refused, Err(Error::Io { op: "fsync", .. })),
            "{refused:?}"
        );
        drop(engine);
        disk.set_sync_fails(false);
        // The reopen replays A, durable, and not B.
        assert_eq!(Engine::open(dir.path()).unwrap().len(), 3);
    }

    #[test]
    fn after_a_change_panics_midway_a_store_takes_changes_only_once_reopened() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(dir.path()).unwrap();
        add(&engine, 100).unwrap();
        panic_midway(&engine, 3);
        assert_eq!(add(&engine, 101).unwrap_err(), Error::Interrupted);
        assert_eq!(engine.checkpoint().unwrap_err(), Error::Interrupted);
        assert_eq!(engine.len(), 1, "queries answer from what was applied");
        assert_eq!(engine.close().unwrap_err(), Error::Interrupted);
        drop(engine);
        // The reopen replays the logged batch, which was durable.
        let engine = Engine::open(dir.path()).unwrap();
        assert_eq!(engine.len(), 4);
        let ids = add(&engine, 101).unwrap();
        assert_eq!(engine.stays_by_id(&ids).unwrap().person, [101]);
        assert_eq!(
            engine.overlaps(7, T, T + 1).unwrap().person,
            [0, 1, 2, 100, 101]
        );
    }
}
