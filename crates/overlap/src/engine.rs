//! The engine: partitions by day, batch ingest, check-out updates, expiry.

use std::collections::BTreeMap;

use parking_lot::{Mutex, RwLock};
use rayon::prelude::*;

use crate::error::{Error, Result, StayProblem};
use crate::partition::{Append, Partition};
use crate::segment::{Row, DAY};

/// Earliest time a stay may have: 2000-01-01T00:00:00Z.
pub const MIN_TIME: i64 = 946_684_800;
/// Latest time a stay may have: 2100-01-01T00:00:00Z.
pub const MAX_TIME: i64 = 4_102_444_800;

/// An in-memory index of check-in stays answering contact-tracing queries.
///
/// Safe to share between threads: queries run concurrently with each other
/// and with ingest; writers (`add_stays`, `set_checkout`, `expire_before`)
/// take turns, and each is applied whole or not at all.
#[derive(Debug, Default)]
pub struct Engine {
    /// Serialises writers, so a writer can sort outside the state lock and
    /// still know that nothing changed under it.
    writer: Mutex<()>,
    pub(crate) state: RwLock<State>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub partitions: BTreeMap<i64, Partition>,
    pub len: usize,
}

impl Engine {
    /// An empty engine.
    pub fn new() -> Self {
        Engine::default()
    }

    /// Number of stays held.
    pub fn len(&self) -> usize {
        self.state.read().len
    }

    /// Whether no stay is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held by the index columns of all partitions.
    pub fn memory_bytes(&self) -> usize {
        let state = self.state.read();
        state
            .partitions
            .values()
            .flat_map(|p| &p.segments)
            .map(crate::segment::Segment::memory_bytes)
            .sum()
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
        same_length(
            persons.len(),
            &[
                ("venues", venues.len()),
                ("t_in", t_in.len()),
                ("t_out", t_out.len()),
            ],
        )?;
        if let Some((row, problem)) = (0..t_in.len())
            .into_par_iter()
            .find_map_first(|i| stay_problem(t_in[i], t_out[i]).map(|p| (i, p)))
        {
            return Err(Error::InvalidStay { row, problem });
        }

        let _writer = self.writer.lock();
        let (appends, ids) = {
            let state = self.state.read();
            let next_seq = |day: i64| state.partitions.get(&day).map_or(0, |p| p.next_seq);
            let (by_day, ids) = split_by_day(persons, venues, t_in, t_out, next_seq)?;
            let appends: Vec<Append> = by_day
                .into_par_iter()
                .map(|(day, rows)| match state.partitions.get(&day) {
                    Some(p) => p.plan_append(rows),
                    None => Partition::new(day).plan_append(rows),
                })
                .collect();
            (appends, ids)
        };

        let mut state = self.state.write();
        for append in appends {
            state.len += append.added as usize;
            state
                .partitions
                .entry(append.day)
                .or_insert_with(|| Partition::new(append.day))
                .apply(append);
        }
        Ok(ids)
    }

    /// Sets the check-out time of stays already held: `t_out[i]` for
    /// `stay_ids[i]`. All or nothing; for a repeated id the last value wins.
    pub fn set_checkout(&self, stay_ids: &[u64], t_out: &[i64]) -> Result<()> {
        same_length(stay_ids.len(), &[("t_out", t_out.len())])?;
        let _writer = self.writer.lock();
        let mut state = self.state.write();
        let mut targets = Vec::with_capacity(stay_ids.len());
        for (row, (&id, &t)) in stay_ids.iter().zip(t_out).enumerate() {
            let (day, seq) = split_stay_id(id);
            let unknown = Error::UnknownStay { row, id };
            let partition = state.partitions.get(&day).ok_or(unknown.clone())?;
            let (segment, at) = partition.locate(seq).ok_or(unknown)?;
            let start = partition.start();
            let t_in = start + i64::from(partition.segments[segment].t_in(at));
            if let Some(problem) = stay_problem(t_in, t) {
                return Err(Error::InvalidStay { row, problem });
            }
            targets.push((day, segment, at, t));
        }
        for (day, segment, at, t) in targets {
            let partition = state.partitions.get_mut(&day).expect("located above");
            let rel = (t - partition.start()) as u32;
            partition.segments[segment].set_t_out(at, rel);
            partition.max_t_out = partition.max_t_out.max(t);
        }
        Ok(())
    }

    /// Removes every stay with `t_in < t` and returns how many were removed.
    /// Their ids become unknown; the memory they held is freed.
    pub fn expire_before(&self, t: i64) -> usize {
        let _writer = self.writer.lock();
        let boundary = t.div_euclid(DAY);
        let trimmed = {
            let state = self.state.read();
            state
                .partitions
                .get(&boundary)
                .filter(|p| p.start() < t)
                .map(|p| p.without_before(t))
        };
        let mut state = self.state.write();
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
        removed
    }
}

/// The rows of a batch that fall on one day, in partition-relative form.
type DayRows = (i64, Vec<Row>);

/// A checked batch as partition rows, one vector per day of `t_in` (each in
/// batch order, numbered on from `next_seq(day)`), and the stay id of every
/// row. One pass over the columns: a pass per day would read the whole batch
/// again for every day it spans.
fn split_by_day(
    persons: &[u64],
    venues: &[u64],
    t_in: &[i64],
    t_out: &[i64],
    next_seq: impl Fn(i64) -> u32,
) -> Result<(Vec<DayRows>, Vec<u64>)> {
    let day_of = |t: &i64| t.div_euclid(DAY);
    let (Some(first), Some(last)) = (
        t_in.par_iter().map(day_of).min(),
        t_in.par_iter().map(day_of).max(),
    ) else {
        return Ok((Vec::new(), Vec::new()));
    };
    // Checked times span at most a century of days: a dense table is small.
    let mut counts = vec![0usize; (last - first + 1) as usize];
    for t in t_in {
        counts[(day_of(t) - first) as usize] += 1;
    }
    let mut days: Vec<(i64, u32, Vec<Row>)> = Vec::with_capacity(counts.len());
    for (day, &count) in (first..).zip(&counts) {
        let base = if count == 0 { 0 } else { next_seq(day) };
        if count as u64 >= u64::from(u32::MAX - base) {
            return Err(Error::PartitionFull { day });
        }
        days.push((day, base, Vec::with_capacity(count)));
    }
    let mut ids = Vec::with_capacity(t_in.len());
    for i in 0..t_in.len() {
        let (day, base, rows) = &mut days[(day_of(&t_in[i]) - first) as usize];
        let start = *day * DAY;
        let seq = *base + rows.len() as u32;
        rows.push(Row {
            venue: venues[i],
            person: persons[i],
            t_in: (t_in[i] - start) as u32,
            t_out: (t_out[i] - start) as u32,
            seq,
        });
        ids.push(stay_id(*day, seq));
    }
    let days = days
        .into_iter()
        .filter(|(_, _, rows)| !rows.is_empty())
        .map(|(day, _, rows)| (day, rows))
        .collect();
    Ok((days, ids))
}

/// Stay ids are the day of `t_in` (days since the epoch) above the arrival
/// number within that day, so an id names its partition without a lookup.
fn stay_id(day: i64, seq: u32) -> u64 {
    (day as u64) << 32 | u64::from(seq)
}

fn split_stay_id(id: u64) -> (i64, u32) {
    ((id >> 32) as i64, id as u32)
}

fn stay_problem(t_in: i64, t_out: i64) -> Option<StayProblem> {
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
