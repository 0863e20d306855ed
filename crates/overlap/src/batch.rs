//! A batch of stays as the engine stores it: read from the caller's four
//! columns, each row checked on its own, and split by the UTC day of its
//! `t_in` into partition rows.
//!
//! Making a [`Batch`] is the only use of those columns: the engine needs no
//! copy of them, the rows are the copy. The Python bindings make it before
//! they let the interpreter's lock go. Even so another thread may write to
//! the arrays meanwhile (numpy lets the lock go in its loops), so the pass
//! that writes the rows reads each value once and checks it again: what is
//! stored is what passed the checks, and a batch seen changing is refused
//! ([`crate::Error::ChangedWhileRead`]). What depends on the engine's state
//! (the expiry point, each day's next stay number) waits for
//! [`crate::Engine::add_batch`] and its writer's lock.

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
            return Err(
                match (0..t_in.len()).find_map(|i| stay_problem(t_in[i], t_out[i]).map(|p| (i, p)))
                {
                    Some((row, problem)) => Refused {
                        error: Error::InvalidStay { row, problem },
                        t_in_before: t_in[..row].to_vec(),
                    },
                    None => refused(Error::ChangedWhileRead),
                },
            );
        }
        if t_in.is_empty() {
            return Ok(Split {
                days: Vec::new(),
                ids: Vec::new(),
                earliest: i64::MAX,
            });
        }
        // A counting sort by day: each piece counts its rows of each day,
        // and then writes them straight into their places, all at once.
        let (lo, hi) = spans.iter().fold((i64::MAX, i64::MIN), |(lo, hi), s| {
            (lo.min(s.1), hi.max(s.2))
        });
        let (first, last) = (lo.div_euclid(DAY), hi.div_euclid(DAY));
        // Checked times span at most a century of days: a dense table is small.
        let width = (last - first + 1) as usize;
        let slot = |t: i64| {
            usize::try_from(t.div_euclid(DAY) - first)
                .ok()
                .filter(|&d| d < width)
        };
        let counts = each_piece(pieces.clone(), |rows: Range<usize>| {
            let mut count = vec![0usize; width];
            for &t in &t_in[rows] {
                count[slot(t).unwrap_or(0)] += 1;
            }
            count
        });
        let mut days: Vec<DayRows> = (0..width)
            .map(|d| {
                let total = counts.iter().map(|c| c[d]).sum();
                // Zeroed memory is mapped on first write, by the piece that writes it.
                (first + d as i64, bytemuck::zeroed_vec(total))
            })
            .collect();
        // Per piece: where its rows of each day go and the seq of the first.
        let mut places: Vec<Vec<(&mut [Row], u32)>> = counts.iter().map(|_| Vec::new()).collect();
        for (d, (_, rows)) in days.iter_mut().enumerate() {
            let (mut rest, mut seq) = (rows.as_mut_slice(), 0u32);
            for (count, place) in counts.iter().zip(&mut places) {
                let (mine, tail) = std::mem::take(&mut rest).split_at_mut(count[d]);
                place.push((mine, seq));
                // A day past u32 stay numbers is refused when numbered.
                seq = seq.wrapping_add(count[d] as u32);
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
        // Each row's values are read once more, here, and checked again: a
        // thread writing to the columns meanwhile (numpy lets Python's lock
        // go in its loops) could have changed them since the passes above.
        // What is stored is what passed this check.
        let work: Vec<_> = pieces.into_iter().zip(id_pieces).zip(places).collect();
        let filled = each_piece(work, |((rows, ids), mut place)| {
            let mut filled = vec![0usize; width];
            let mut earliest = i64::MAX;
            for (i, id) in rows.zip(ids) {
                let (a, b) = (t_in[i], t_out[i]);
                let d = slot(a).filter(|&d| filled[d] < place[d].0.len())?;
                if stay_problem(a, b).is_some() {
                    return None;
                }
                earliest = earliest.min(a);
                let (rows, seq) = &mut place[d];
                let start = (first + d as i64) * DAY;
                let row = &mut rows[filled[d]];
                *row = Row {
                    venue: venues[i],
                    person: persons[i],
                    t_in: (a - start) as u32,
                    t_out: (b - start) as u32,
                    seq: seq.wrapping_add(filled[d] as u32),
                };
                *id = stay_id(first + d as i64, row.seq);
                filled[d] += 1;
            }
            let whole = filled
                .iter()
                .zip(&place)
                .all(|(&n, (rows, _))| n == rows.len());
            whole.then_some(earliest)
        });
        let Some(earliest) = filled
            .into_iter()
            .try_fold(i64::MAX, |lo, e| Some(lo.min(e?)))
        else {
            return Err(refused(Error::ChangedWhileRead));
        };
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

/// What [`Batch::read`] and then the engine would refuse in a batch, given
/// the engine's expiry point, without building its rows.
pub(crate) fn check(
    persons: &[u64],
    venues: &[u64],
    t_in: &[i64],
    t_out: &[i64],
    expired_before: i64,
) -> Result<()> {
    same_length(
        persons.len(),
        &[
            ("venues", venues.len()),
            ("t_in", t_in.len()),
            ("t_out", t_out.len()),
        ],
    )?;
    let bad = (0..t_in.len()).find_map(|i| stay_problem(t_in[i], t_out[i]).map(|p| (i, p)));
    let checked = bad.as_ref().map_or(t_in.len(), |&(row, _)| row);
    if let Some(expired) = first_expired(t_in[..checked].iter().copied(), expired_before) {
        return Err(expired);
    }
    match bad {
        Some((row, problem)) => Err(Error::InvalidStay { row, problem }),
        None => Ok(()),
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
