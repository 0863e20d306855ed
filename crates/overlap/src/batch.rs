//! A batch of stays as the engine stores it: read from the caller's four
//! columns once, each row checked on its own, and split by the UTC day of
//! its `t_in` into partition rows.
//!
//! Making a [`Batch`] is the only read of those columns. The Python
//! bindings make it while they hold the interpreter's lock, so that no
//! other thread can change an array between the checks and the rows built
//! from it, and they need no copy of the columns: the rows are the copy.
//! What depends on the engine's state (the expiry point, each day's next
//! stay number) waits for [`crate::Engine::add_batch`] and its writer's lock.

use std::ops::Range;

use parking_lot::Mutex;
use rayon::prelude::*;

use crate::engine::{same_length, split_stay_id, stay_id, stay_problem, MIN_TIME};
use crate::error::{Error, Result, StayProblem};
use crate::segment::{Row, DAY};

/// The rows of a batch that fall on one day, in partition-relative form.
pub(crate) type DayRows = (i64, Vec<Row>);

/// From this many rows on, a batch is read on threads of its own, one a
/// core: not rayon's, which a long query may hold for seconds while the
/// bindings hold Python's lock. Below it, a thread costs more than it
/// saves (and so does a hand-off to rayon, numbering the rows).
const THREADS_FROM: usize = 1 << 16;

/// Stays to add, read and checked; see [`Batch::read`].
pub struct Batch(std::result::Result<Split, Refused>);

/// A batch whose rows all passed their checks.
pub(crate) struct Split {
    /// Days in order, each with its rows in batch order. Their `seq` counts
    /// from 0 until [`Split::number`] numbers them on from the day's last.
    pub days: Vec<DayRows>,
    /// The stay id of each row, in batch order (numbered as the rows are).
    pub ids: Vec<u64>,
    earliest: i64,
}

/// A batch with a bad row, and what the expiry check needs of the rows
/// before it: an expired one among them is the batch's first problem.
pub(crate) struct Refused {
    pub error: Error,
    t_in_before: Vec<i64>,
}

impl Batch {
    /// Reads the columns of a batch of stays `[t_in, t_out)`. A bad row
    /// (or columns of different lengths) makes a batch that will be refused.
    pub fn read(persons: &[u64], venues: &[u64], t_in: &[i64], t_out: &[i64]) -> Batch {
        Batch(Split::read(persons, venues, t_in, t_out))
    }

    pub(crate) fn into_split(self) -> std::result::Result<Split, Refused> {
        self.0
    }
}

impl Refused {
    /// The error to give: the first of the rows before the bad one that
    /// begins before `expired_before`, or else the bad row's.
    pub fn error(self, expired_before: i64) -> Error {
        match first_expired(self.t_in_before.iter().copied(), expired_before) {
            Some(expired) => expired,
            None => self.error,
        }
    }
}

impl Split {
    fn read(
        persons: &[u64],
        venues: &[u64],
        t_in: &[i64],
        t_out: &[i64],
    ) -> std::result::Result<Split, Refused> {
        let refused = |error| Refused {
            error,
            t_in_before: Vec::new(),
        };
        same_length(
            persons.len(),
            &[
                ("venues", venues.len()),
                ("t_in", t_in.len()),
                ("t_out", t_out.len()),
            ],
        )
        .map_err(refused)?;
        let pieces = pieces(t_in.len());
        // Whether every row is fine (a pass without early exits, so that it
        // vectorises), and the span of check-ins.
        let spans = each_piece(pieces.clone(), |rows: Range<usize>| {
            let (a, b) = (&t_in[rows.clone()], &t_out[rows]);
            a.iter()
                .zip(b)
                .fold((true, i64::MAX, i64::MIN), |(fine, lo, hi), (&a, &b)| {
                    (fine & stay_problem(a, b).is_none(), lo.min(a), hi.max(a))
                })
        });
        if !spans.iter().all(|s| s.0) {
            let (row, problem) = (0..t_in.len())
                .find_map(|i| stay_problem(t_in[i], t_out[i]).map(|p| (i, p)))
                .expect("a bad row was seen");
            return Err(Refused {
                error: Error::InvalidStay { row, problem },
                t_in_before: t_in[..row].to_vec(),
            });
        }
        let earliest = spans.iter().map(|s| s.1).min().unwrap_or(i64::MAX);
        let latest = spans.iter().map(|s| s.2).max().unwrap_or(i64::MIN);
        if t_in.is_empty() {
            return Ok(Split {
                days: Vec::new(),
                ids: Vec::new(),
                earliest,
            });
        }
        // A counting sort by day: each piece counts its rows of each day,
        // and then writes them straight into their places, all at once.
        let first = earliest.div_euclid(DAY);
        // Checked times span at most a century of days: a dense table is small.
        let width = (latest.div_euclid(DAY) - first + 1) as usize;
        let slot = |t: i64| (t.div_euclid(DAY) - first) as usize;
        let counts = each_piece(pieces.clone(), |rows: Range<usize>| {
            let mut count = vec![0u32; width];
            for &t in &t_in[rows] {
                count[slot(t)] += 1;
            }
            count
        });
        let mut days: Vec<DayRows> = Vec::new();
        for d in 0..width {
            let total: u64 = counts.iter().map(|c| u64::from(c[d])).sum();
            let day = first + d as i64;
            if total >= u64::from(u32::MAX) {
                return Err(refused(Error::PartitionFull { day }));
            }
            // Zeroed memory is mapped on first write, by the piece that writes it.
            days.push((day, bytemuck::zeroed_vec(total as usize)));
        }
        // Per piece: where its rows of each day go and the seq of the first.
        let mut places: Vec<Vec<(&mut [Row], u32)>> = counts.iter().map(|_| Vec::new()).collect();
        for (d, (_, rows)) in days.iter_mut().enumerate() {
            let (mut rest, mut seq) = (rows.as_mut_slice(), 0);
            for (count, place) in counts.iter().zip(&mut places) {
                let (mine, tail) = std::mem::take(&mut rest).split_at_mut(count[d] as usize);
                place.push((mine, seq));
                seq += count[d];
                rest = tail;
            }
        }
        let mut ids = vec![0u64; t_in.len()];
        let mut id_pieces = Vec::with_capacity(pieces.len());
        let mut rest = ids.as_mut_slice();
        for rows in &pieces {
            let (mine, tail) = std::mem::take(&mut rest).split_at_mut(rows.len());
            id_pieces.push(mine);
            rest = tail;
        }
        let work: Vec<_> = pieces.into_iter().zip(id_pieces).zip(places).collect();
        each_piece(work, |((rows, ids), mut place)| {
            let mut filled = vec![0usize; width];
            for (i, id) in rows.zip(ids) {
                let d = slot(t_in[i]);
                let (rows, seq) = &mut place[d];
                let start = (first + d as i64) * DAY;
                let row = &mut rows[filled[d]];
                *row = Row {
                    venue: venues[i],
                    person: persons[i],
                    t_in: (t_in[i] - start) as u32,
                    t_out: (t_out[i] - start) as u32,
                    seq: *seq + filled[d] as u32,
                };
                *id = stay_id(first + d as i64, row.seq);
                filled[d] += 1;
            }
        });
        days.retain(|(_, rows)| !rows.is_empty());
        Ok(Split {
            days,
            ids,
            earliest,
        })
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Refuses stays that begin before the expiry point, naming the first:
    /// their day's stay ids may have been given out before and forgotten
    /// with it.
    pub fn check_not_expired(&self, expired_before: i64) -> Result<()> {
        if self.earliest >= expired_before {
            return Ok(());
        }
        let t_in = self.ids.iter().map(|&id| {
            let (day, seq) = split_stay_id(id);
            let at = self.days.partition_point(|(d, _)| *d < day);
            let (_, rows) = &self.days[at];
            day * DAY + i64::from(rows[(seq - rows[0].seq) as usize].t_in)
        });
        match first_expired(t_in, expired_before) {
            Some(expired) => Err(expired),
            None => Ok(()),
        }
    }

    /// Numbers each day's rows on from `bases`, each day's first number
    /// (in the order of [`Split::days`]), as their ids.
    pub fn number(&mut self, bases: &[(i64, u32)]) {
        debug_assert!(self.days.iter().map(|d| d.0).eq(bases.iter().map(|b| b.0)));
        if bases.iter().all(|&(_, base)| base == 0) {
            return;
        }
        for ((_, rows), &(_, base)) in self.days.iter_mut().zip(bases) {
            if base != 0 {
                rows.par_iter_mut()
                    .with_min_len(THREADS_FROM)
                    .for_each(|r| r.seq += base);
            }
        }
        let first = self.days[0].0;
        let mut of_day = vec![0u32; (self.days[self.days.len() - 1].0 - first + 1) as usize];
        for &(day, base) in bases {
            of_day[(day - first) as usize] = base;
        }
        self.ids
            .par_iter_mut()
            .with_min_len(THREADS_FROM)
            .for_each(|id| *id += u64::from(of_day[((*id >> 32) as i64 - first) as usize]));
    }
}

/// The error of the first of `t_in` before `expired_before`.
fn first_expired(t_in: impl Iterator<Item = i64>, expired_before: i64) -> Option<Error> {
    if expired_before <= MIN_TIME {
        return None;
    }
    let (row, t_in) = t_in.enumerate().find(|&(_, t)| t < expired_before)?;
    Some(Error::InvalidStay {
        row,
        problem: StayProblem::Expired {
            t_in,
            before: expired_before,
        },
    })
}

/// `0..n` cut in one piece a thread, or one piece when small.
fn pieces(n: usize) -> Vec<Range<usize>> {
    let threads = if n < THREADS_FROM {
        1
    } else {
        rayon::current_num_threads()
    };
    let piece = n.div_ceil(threads).max(1);
    (0..n)
        .step_by(piece)
        .map(|a| a..(a + piece).min(n))
        .collect()
}

/// `f` of each piece, in order: the first on this thread, each other on a
/// thread of its own (or on this one, where no thread can be had).
fn each_piece<P: Send, T: Send>(pieces: Vec<P>, f: impl Fn(P) -> T + Sync) -> Vec<T> {
    if pieces.len() <= 1 {
        return pieces.into_iter().map(f).collect();
    }
    let slots: Vec<Mutex<Option<P>>> = pieces.into_iter().map(|p| Mutex::new(Some(p))).collect();
    let run = |i: usize| slots[i].lock().take().map(&f);
    let run = &run;
    std::thread::scope(|s| {
        let started: Vec<_> = (1..slots.len())
            .map(|i| {
                std::thread::Builder::new()
                    .spawn_scoped(s, move || run(i))
                    .ok()
            })
            .collect();
        let mut done = vec![run(0)];
        done.extend(started.into_iter().map(|thread| {
            thread.and_then(|t| {
                t.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
        }));
        done.into_iter()
            .enumerate()
            .map(|(i, got)| got.or_else(|| run(i)).expect("each piece is run once"))
            .collect()
    })
}
