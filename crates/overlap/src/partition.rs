//! A partition: the stays whose `t_in` falls in one UTC day, as a few
//! segments of geometrically decreasing size (newest last).
//!
//! A new batch becomes a segment of its own, merged with the newest segments
//! while they are no bigger than what is being merged (a binary counter), so
//! a day that arrives in many small batches stays a handful of segments and
//! each row is merged about log2(day / batch) times, not on every batch. A
//! checkpoint seals a finished day as one segment. Segments cover contiguous, increasing ranges of arrival
//! numbers (`seq`), which is what lets a stay id find its row.

use crate::segment::{Row, Segment, DAY};

#[derive(Debug)]
pub(crate) struct Partition {
    pub day: i64,
    pub segments: Vec<Segment>,
    /// Arrival number of the next stay.
    pub next_seq: u32,
    /// Latest check-out of any stay held: windows ending earlier skip this partition.
    pub max_t_out: i64,
}

/// How a batch joins a partition: the segments from `keep` on are replaced by `merged`.
pub(crate) struct Append {
    pub day: i64,
    pub keep: usize,
    pub merged: Segment,
    pub added: u32,
    pub max_t_out: i64,
}

impl Partition {
    pub fn new(day: i64) -> Self {
        Partition {
            day,
            segments: Vec::new(),
            next_seq: 0,
            max_t_out: i64::MIN,
        }
    }

    pub fn start(&self) -> i64 {
        self.day * DAY
    }

    pub fn len(&self) -> usize {
        self.segments.iter().map(Segment::len).sum()
    }

    /// Plans adding `rows` (their `seq` counted from `self.next_seq`); does the
    /// sorting without changing `self`, so readers may run meanwhile.
    pub fn plan_append(&self, rows: Vec<Row>) -> Append {
        let added = rows.len() as u32;
        let max_t_out = rows
            .iter()
            .map(|r| self.start() + i64::from(r.t_out))
            .max()
            .unwrap_or(i64::MIN);
        let mut keep = self.segments.len();
        let mut size = rows.len();
        while keep > 0 && self.segments[keep - 1].len() <= size {
            keep -= 1;
            size += self.segments[keep].len();
        }
        let first_seq = self
            .segments
            .get(keep)
            .map_or(self.next_seq, Segment::first_seq);
        let span = self.next_seq + added - first_seq;
        Append {
            day: self.day,
            keep,
            merged: Segment::merge(rows, &self.segments[keep..], first_seq, span),
            added,
            max_t_out,
        }
    }

    /// The same stays as one segment.
    pub fn compacted(&self) -> Partition {
        let first_seq = self
            .segments
            .first()
            .map_or(self.next_seq, Segment::first_seq);
        let span = self.next_seq - first_seq;
        Partition {
            day: self.day,
            segments: vec![Segment::merge(Vec::new(), &self.segments, first_seq, span)],
            next_seq: self.next_seq,
            max_t_out: self.max_t_out,
        }
    }

    pub fn apply(&mut self, append: Append) {
        self.segments.truncate(append.keep);
        self.segments.push(append.merged);
        self.next_seq += append.added;
        self.max_t_out = self.max_t_out.max(append.max_t_out);
    }

    /// The segment and row of stay `seq`.
    pub fn locate(&self, seq: u32) -> Option<(usize, u32)> {
        let i = self.segments.partition_point(|s| s.end_seq() <= seq);
        let row = self.segments.get(i)?.row_of(seq)?;
        Some((i, row))
    }

    /// A copy without the stays that began before `t`.
    pub fn without_before(&self, t: i64) -> Partition {
        let start = self.start();
        let segments = self
            .segments
            .iter()
            .map(|s| s.retain(|r| start + i64::from(r.t_in) >= t))
            .filter(|s| s.len() > 0)
            .collect();
        Partition {
            day: self.day,
            segments,
            next_seq: self.next_seq,
            max_t_out: self.max_t_out,
        }
    }
}
