//! A segment: flat, fixed-width columns indexing the stays of one partition
//! in two orders, venue then time and person then time.
//!
//! Layout, per stay (bytes): person index 4, packed time 4, person-order
//! permutation 4, stay-id map 4; per distinct person 8, per distinct venue 14,
//! per long stay 8. Every column is a plain `Vec` of fixed-width integers so a
//! sealed segment can be backed by a memory-mapped file unchanged
//! ([`crate::store`] writes and maps them).

use crate::column::Column;
use crate::par;
use crate::search;
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};

/// Length of a partition in seconds: partitions are UTC days of `t_in`.
pub const DAY: i64 = 86_400;

/// Bits of the packed time word that hold the duration; `t_in` takes the rest
/// (17 bits, enough for a day).
const DUR_BITS: u32 = 15;

/// Marker duration: the stay lasts this long or longer, and its check-out
/// time is in the long-stay table. Keeping long stays (forgotten check-outs)
/// out of the per-venue duration bound keeps window scans short.
const LONG: u32 = (1 << DUR_BITS) - 1;

/// `row_of_seq` entry of a stay that has expired.
const NO_ROW: u32 = u32::MAX;

/// People whose rows [`Segment::rows_of_each`] searches for at once: enough
/// cache misses in flight to fill the core's, few enough to stay in L1.
const SEARCHED_AT_ONCE: usize = 16;

/// Matches of a venue scan gathered at a time, see [`Segment::scan_venue_at`].
const BATCH: usize = 32;

/// Matches of a venue scan waiting for their person ids: (person index,
/// `t_in`, `t_out`), the first `len` of each.
#[derive(Default)]
struct Batch {
    len: usize,
    index: [u32; BATCH],
    t_in: [u32; BATCH],
    t_out: [u32; BATCH],
}

impl Batch {
    fn push(&mut self, index: u32, t_in: u32, t_out: u32) {
        self.index[self.len] = index;
        self.t_in[self.len] = t_in;
        self.t_out[self.len] = t_out;
        self.len += 1;
    }
}

/// One stay in partition-relative form, as segments are built from and decoded to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::Zeroable)]
pub(crate) struct Row {
    pub venue: u64,
    pub person: u64,
    /// Seconds after the partition start, below [`DAY`].
    pub t_in: u32,
    /// Seconds after the partition start, above `t_in`.
    pub t_out: u32,
    /// Arrival number within the partition: the low half of the stay id.
    pub seq: u32,
}

/// Where a venue's rows are in a segment: its block in the venue order
/// and its first long row. Found once for many scans
/// ([`Segment::venue_places`]), it spares each scan two searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VenuePlace {
    block: u32,
    long_from: u32,
}

impl VenuePlace {
    /// The segment has no stay at the venue.
    pub const NONE: VenuePlace = VenuePlace {
        block: u32::MAX,
        long_from: 0,
    };
}

#[derive(Debug, Default)]
pub(crate) struct Segment {
    /// Names these contents among all the segments of the process: a new
    /// one for every segment made and every change in place, so that what a
    /// trace derived from a segment is made again only when it changed.
    pub generation: u64,
    /// The segment holds the stays with `seq` in `first_seq..first_seq + row_of_seq.len()`.
    pub first_seq: u32,
    /// `seq - first_seq` to row, or [`NO_ROW`].
    pub row_of_seq: Column<u32>,
    /// Distinct venues, sorted; rows of `venues[b]` are `venue_start[b]..venue_start[b + 1]`.
    pub venues: Column<u64>,
    pub venue_start: Column<u32>,
    /// Per venue, the longest duration below [`LONG`]: bounds how far back a window scan looks.
    pub venue_max_short: Column<u16>,
    /// Per row (venue order): index into `persons`.
    pub person: Column<u32>,
    /// Per row: `t_in << DUR_BITS | min(duration, LONG)`; rows of a venue sorted by `t_in`.
    pub time: Column<u32>,
    /// Rows whose duration is at least [`LONG`], sorted, and their check-out times.
    pub long_rows: Column<u32>,
    pub long_t_out: Column<u32>,
    /// Distinct persons, sorted.
    pub persons: Column<u64>,
    /// Rows sorted by (person, `t_in`).
    pub by_person: Column<u32>,
}

/// The columns of a segment as plain vectors, while it is built.
#[derive(Default)]
struct Builder {
    row_of_seq: Vec<u32>,
    venues: Vec<u64>,
    venue_start: Vec<u32>,
    venue_max_short: Vec<u16>,
    person: Vec<u32>,
    time: Vec<u32>,
    long_rows: Vec<u32>,
    long_t_out: Vec<u32>,
    persons: Vec<u64>,
    by_person: Vec<u32>,
}

impl Segment {
    /// Index `rows`, in arrival order, whose `seq` values lie in
    /// `first_seq..first_seq + seq_span`.
    pub fn build(rows: Vec<Row>, first_seq: u32, seq_span: u32) -> Segment {
        debug_assert!(rows.is_sorted_by_key(|r| r.seq), "rows in arrival order");
        // Each order is a sort of keys that end in the row's place in
        // `rows`, not of the 32-byte rows: fewer bytes to move, and the
        // columns come out of the keys. Places go as `seq` does, so among
        // stays that tie the earlier arrival comes first.
        let gapless = gapless_from(&rows, first_seq);
        let ((mut seg, own_row_at), (persons, firsts, mut places)) = rayon::join(
            || Segment::venue_order(&rows, first_seq, seq_span, gapless),
            || {
                let (mut persons, mut firsts) = (Vec::new(), Vec::new());
                let mut places = Vec::with_capacity(rows.len());
                in_order(
                    &rows,
                    |r| r.person,
                    |person, _, at| {
                        if persons.last() != Some(&person) {
                            persons.push(person);
                            firsts.push(places.len() as u32);
                        }
                        places.push(at);
                    },
                );
                (persons, firsts, places)
            },
        );
        let n = rows.len();
        drop(rows);
        seg.persons = persons;
        // Where the batch's seqs run on, `row_of_seq` holds each place's row.
        let row_at = own_row_at.as_deref().unwrap_or_else(|| {
            let base = gapless.expect("a batch with gaps keeps a map of its own");
            &seg.row_of_seq[base..base + n]
        });
        // Each place becomes its row where it is: no fresh memory, whose
        // first touch (page faults, zeroing) costs more than the writes.
        places
            .par_iter_mut()
            .with_min_len(par::SMALL)
            .for_each(|at| *at = row_at[*at as usize]);
        seg.by_person = places;
        seg.person = person_column(&seg.by_person, &firsts);
        seg.finish(first_seq)
    }

    /// The venue-order columns and `row_of_seq` of `rows`, and the row of
    /// each place in `rows` unless `row_of_seq` holds it from `gapless` on
    /// (see [`gapless_from`]).
    fn venue_order(
        rows: &[Row],
        first_seq: u32,
        seq_span: u32,
        gapless: Option<usize>,
    ) -> (Builder, Option<Vec<u32>>) {
        let mut seg = Builder {
            time: Vec::with_capacity(rows.len()),
            ..Builder::default()
        };
        let mut places = Vec::with_capacity(rows.len());
        in_order(
            rows,
            |r| r.venue,
            |venue, t_in, at| {
                let row = seg.time.len() as u32;
                places.push(at);
                if seg.venues.last() != Some(&venue) {
                    seg.venues.push(venue);
                    seg.venue_start.push(row);
                }
                seg.time.push(t_in << DUR_BITS);
            },
        );
        seg.venue_start.push(rows.len() as u32);
        seg.row_of_seq = vec![NO_ROW; seq_span as usize];
        let mut own_row_at = None;
        let row_at: &mut [u32] = match gapless {
            Some(base) => &mut seg.row_of_seq[base..base + rows.len()],
            None => own_row_at.insert(vec![0; rows.len()]),
        };
        // Random stores and (below) loads, each in a loop of its own, so that
        // their cache misses overlap: in the loop above, each stalled it.
        for (row, &at) in places.iter().enumerate() {
            row_at[at as usize] = row as u32;
        }
        let dur_at: Vec<u16> = rows
            .par_iter()
            .with_min_len(par::SMALL)
            .map(|r| (r.t_out - r.t_in).min(LONG) as u16)
            .collect();
        for (time, &at) in seg.time.iter_mut().zip(&places) {
            *time |= u32::from(dur_at[at as usize]);
        }
        for block in seg.venue_start.windows(2) {
            let mut max_short = 0;
            for row in block[0]..block[1] {
                let dur = seg.time[row as usize] & LONG;
                if dur == LONG {
                    seg.long_rows.push(row);
                    seg.long_t_out
                        .push(rows[places[row as usize] as usize].t_out);
                } else {
                    max_short = max_short.max(dur as u16);
                }
            }
            seg.venue_max_short.push(max_short);
        }
        if let Some(own) = &own_row_at {
            for (r, &row) in rows.iter().zip(own) {
                seg.row_of_seq[(r.seq - first_seq) as usize] = row;
            }
        }
        (seg, own_row_at)
    }

    /// Index `fresh` rows together with those of `olds`, segments covering
    /// the stays just before them: `fresh` becomes a segment of its own, and
    /// then all are merged.
    pub fn merge(fresh: Vec<Row>, olds: &[Segment], first_seq: u32, seq_span: u32) -> Segment {
        let Some(last) = olds.last() else {
            return Segment::build(fresh, first_seq, seq_span);
        };
        let fresh_seq = last.end_seq();
        let fresh = (!fresh.is_empty())
            .then(|| Segment::build(fresh, fresh_seq, first_seq + seq_span - fresh_seq));
        let parts: Vec<&Segment> = olds.iter().chain(&fresh).collect();
        Segment::merged(&parts, first_seq, seq_span)
    }

    /// One segment holding the stays of `parts`. Parts cover consecutive
    /// ranges of `seq`, so among stays that tie on (venue, `t_in`) an earlier
    /// part's come first, as `seq` order has it, and each part is already
    /// sorted in both orders: the merge walks the parts venue by venue and
    /// person by person (the two walks at once), merging only where parts
    /// share one. Nothing is decoded or sorted, so a merge holds little
    /// beyond the parts and the result: where each part's rows land, and
    /// each part's person order (some 24 bytes a stay).
    fn merged(parts: &[&Segment], first_seq: u32, seq_span: u32) -> Segment {
        // The parts' rows one after another: part `j`'s row `r` is `firsts[j] + r`.
        let firsts: Vec<usize> = parts
            .iter()
            .scan(0, |n, p| Some(std::mem::replace(n, *n + p.len())))
            .collect();
        let ((mut seg, new_row), (persons, person_firsts, mut by_person)) = rayon::join(
            || Segment::merged_venue_order(parts, &firsts, first_seq, seq_span),
            || Segment::merged_person_order(parts, &firsts),
        );
        seg.persons = persons;
        by_person
            .par_iter_mut()
            .with_min_len(par::SMALL)
            .for_each(|r| *r = new_row[*r as usize]);
        seg.by_person = by_person;
        drop(new_row);
        seg.person = person_column(&seg.by_person, &person_firsts);
        seg.finish(first_seq)
    }

    /// The venue-order columns and `row_of_seq` of the merge of `parts`, and
    /// the row where each row of the parts lands, the parts' rows one after
    /// another from `firsts`.
    fn merged_venue_order(
        parts: &[&Segment],
        firsts: &[usize],
        first_seq: u32,
        seq_span: u32,
    ) -> (Builder, Vec<u32>) {
        let n: usize = parts.iter().map(|p| p.len()).sum();
        let mut seg = Builder {
            time: Vec::with_capacity(n),
            ..Builder::default()
        };
        let mut new_row = vec![0; n];
        // Each part's rows are met in row order, so its long stays are met
        // in the order of its long-stay table.
        let mut next_venue = vec![0usize; parts.len()];
        let mut next_long = vec![0usize; parts.len()];
        let mut blocks: Vec<(usize, usize, usize)> = Vec::new(); // (part, next row, end)
        while let Some(venue) = parts
            .iter()
            .zip(&next_venue)
            .filter_map(|(p, &b)| p.venues.get(b).copied())
            .min()
        {
            blocks.clear();
            for (j, p) in parts.iter().enumerate() {
                let b = next_venue[j];
                if p.venues.get(b) == Some(&venue) {
                    blocks.push((j, p.venue_start[b] as usize, p.venue_start[b + 1] as usize));
                    next_venue[j] += 1;
                }
            }
            seg.venues.push(venue);
            seg.venue_start.push(seg.time.len() as u32);
            let mut max_short = 0;
            // The block whose next stay began first; the earliest part on ties.
            let earliest = |blocks: &[(usize, usize, usize)]| {
                let mut best: Option<(u32, usize)> = None;
                for (k, &(j, r, end)) in blocks.iter().enumerate() {
                    if r == end {
                        continue;
                    }
                    let t_in = parts[j].t_in(r as u32);
                    if best.is_none_or(|(t, _)| t_in < t) {
                        best = Some((t_in, k));
                    }
                }
                best.map(|(_, k)| k)
            };
            while let Some(k) = earliest(&blocks) {
                let (j, r, _) = &mut blocks[k];
                let (part, row) = (parts[*j], seg.time.len() as u32);
                let packed = part.time[*r];
                seg.time.push(packed);
                new_row[firsts[*j] + *r] = row;
                if packed & LONG == LONG {
                    seg.long_rows.push(row);
                    seg.long_t_out.push(part.long_t_out[next_long[*j]]);
                    next_long[*j] += 1;
                } else {
                    max_short = max_short.max((packed & LONG) as u16);
                }
                *r += 1;
            }
            seg.venue_max_short.push(max_short);
        }
        seg.venue_start.push(n as u32);

        seg.row_of_seq = vec![NO_ROW; seq_span as usize];
        for (part, &first) in parts.iter().zip(firsts) {
            let landed = &new_row[first..first + part.len()];
            let base = (part.first_seq - first_seq) as usize;
            for (to, &row) in seg.row_of_seq[base..]
                .iter_mut()
                .zip(part.row_of_seq.iter())
            {
                if row != NO_ROW {
                    *to = landed[row as usize];
                }
            }
        }
        (seg, new_row)
    }

    /// The persons of the merge of `parts`, where each one's rows begin, and
    /// the rows in person order, as rows of the parts one after another
    /// from `firsts`; ties go to the earliest part. Each part's order is
    /// gathered first, on every core, so that the merge reads in order.
    fn merged_person_order(parts: &[&Segment], firsts: &[usize]) -> (Vec<u64>, Vec<u32>, Vec<u32>) {
        let orders: Vec<Vec<(u64, u32, u32)>> = parts
            .iter()
            .map(|p| {
                p.by_person
                    .par_iter()
                    .with_min_len(par::SMALL)
                    .map(|&r| (p.person_of(r), p.t_in(r), r))
                    .collect()
            })
            .collect();
        let n = orders.iter().map(Vec::len).sum();
        let (mut persons, mut person_firsts, mut rows) =
            (Vec::new(), Vec::new(), Vec::with_capacity(n));
        let mut next = vec![0usize; parts.len()];
        loop {
            let mut best: Option<((u64, u32), usize)> = None;
            for (j, order) in orders.iter().enumerate() {
                if let Some(&(person, t_in, _)) = order.get(next[j]) {
                    if best.is_none_or(|(b, _)| (person, t_in) < b) {
                        best = Some(((person, t_in), j));
                    }
                }
            }
            let Some(((person, _), j)) = best else { break };
            if persons.last() != Some(&person) {
                persons.push(person);
                person_firsts.push(rows.len() as u32);
            }
            rows.push((firsts[j] + orders[j][next[j]].2 as usize) as u32);
            next[j] += 1;
        }
        (persons, person_firsts, rows)
    }

    /// The `seq` of each row.
    pub fn seqs_by_row(&self) -> Vec<u32> {
        let mut seqs = vec![0; self.len()];
        for (i, &row) in self.row_of_seq.iter().enumerate() {
            if row != NO_ROW {
                seqs[row as usize] = self.first_seq + i as u32;
            }
        }
        seqs
    }

    /// Number of stays held.
    pub fn len(&self) -> usize {
        self.time.len()
    }

    pub fn first_seq(&self) -> u32 {
        self.first_seq
    }

    /// One past the last `seq` this segment covers.
    pub fn end_seq(&self) -> u32 {
        self.first_seq + self.row_of_seq.len() as u32
    }

    /// Bytes held by the columns, on the heap or mapped.
    pub fn memory_bytes(&self) -> usize {
        self.row_of_seq.bytes()
            + self.venues.bytes()
            + self.venue_start.bytes()
            + self.venue_max_short.bytes()
            + self.person.bytes()
            + self.time.bytes()
            + self.long_rows.bytes()
            + self.long_t_out.bytes()
            + self.persons.bytes()
            + self.by_person.bytes()
    }

    /// The row of stay `seq`, if this segment holds it.
    pub fn row_of(&self, seq: u32) -> Option<u32> {
        let i = seq.checked_sub(self.first_seq)? as usize;
        self.row_of_seq.get(i).copied().filter(|&r| r != NO_ROW)
    }

    pub fn t_in(&self, row: u32) -> u32 {
        self.time[row as usize] >> DUR_BITS
    }

    pub fn t_out(&self, row: u32) -> u32 {
        let packed = self.time[row as usize];
        let dur = packed & LONG;
        if dur == LONG {
            let i = search::find(&self.long_rows, row).expect("long row listed");
            self.long_t_out[i]
        } else {
            (packed >> DUR_BITS) + dur
        }
    }

    fn venue_index(&self, row: u32) -> usize {
        let starts = &self.venue_start;
        search::lower_bound(starts.len(), u64::from(row) + 1, |i| starts[i].into()) - 1
    }

    pub fn venue_of(&self, row: u32) -> u64 {
        self.venues[self.venue_index(row)]
    }

    pub fn person_of(&self, row: u32) -> u64 {
        self.persons[self.person[row as usize] as usize]
    }

    /// [`Segment::scan_venue_at`] by venue id.
    #[cfg(test)]
    pub fn scan_venue(
        &self,
        venue: u64,
        start: i64,
        end: i64,
        skip: Option<&[u64]>,
        f: impl FnMut(u64, u32, u32),
    ) {
        if let Some(at) = self.venue_place(venue) {
            self.scan_venue_at(at, start, end, skip, f);
        }
    }

    /// Calls `f(person, t_in, t_out)` for every stay at the venue at `at`
    /// ([`Segment::venue_place`]) with `t_in < end` and `t_out > start` (all
    /// partition-relative), in no set order; but for the persons whose bit is
    /// set in `skip` (one bit per entry of `persons`, from
    /// [`Segment::bits_of`]).
    pub fn scan_venue_at(
        &self,
        at: VenuePlace,
        start: i64,
        end: i64,
        skip: Option<&[u64]>,
        mut f: impl FnMut(u64, u32, u32),
    ) {
        // Matches are gathered a batch at a time: their person ids are
        // random reads, cache misses that a tight loop overlaps.
        let mut batch = Batch::default();
        let mut emit = |batch: &mut Batch| {
            let n = batch.len;
            let mut ids = [0; BATCH];
            for (id, &index) in ids[..n].iter_mut().zip(&batch.index[..n]) {
                *id = self.persons[index as usize];
            }
            for ((&id, &t_in), &t_out) in
                ids[..n].iter().zip(&batch.t_in[..n]).zip(&batch.t_out[..n])
            {
                f(id, t_in, t_out);
            }
            batch.len = 0;
        };
        self.scan_indexes_at(at, start, end, |index, t_in, t_out| {
            let skipped =
                skip.is_some_and(|bits| bits[index as usize / 64] >> (index % 64) & 1 == 1);
            if !skipped {
                batch.push(index, t_in, t_out);
                if batch.len == BATCH {
                    emit(&mut batch);
                }
            }
        });
        emit(&mut batch);
    }

    /// Where `venue`'s rows are, if the segment has stays there.
    pub fn venue_place(&self, venue: u64) -> Option<VenuePlace> {
        let block = search::find(&self.venues, venue)?;
        let r0 = u64::from(self.venue_start[block]);
        let long_rows = &self.long_rows;
        let long_from = search::lower_bound(long_rows.len(), r0, |i| long_rows[i].into());
        Some(VenuePlace {
            block: block as u32,
            long_from: long_from as u32,
        })
    }

    /// [`VenuePlace`] of each of `venues` (ascending), in one walk along
    /// them, the segment's venues and its long rows.
    pub fn venue_places(&self, venues: &[u64]) -> Vec<VenuePlace> {
        let mut places = vec![VenuePlace::NONE; venues.len()];
        let (mut block, mut long_from) = (0, 0);
        for (place, &venue) in places.iter_mut().zip(venues) {
            while block < self.venues.len() && self.venues[block] < venue {
                block += 1;
            }
            if self.venues.get(block) == Some(&venue) {
                let r0 = self.venue_start[block];
                while long_from < self.long_rows.len() && self.long_rows[long_from] < r0 {
                    long_from += 1;
                }
                *place = VenuePlace {
                    block: block as u32,
                    long_from: long_from as u32,
                };
            }
        }
        places
    }

    /// [`Segment::scan_venue_at`] by each person's index in `persons`, their
    /// id not read.
    pub fn scan_indexes_at(
        &self,
        at: VenuePlace,
        start: i64,
        end: i64,
        mut f: impl FnMut(u32, u32, u32),
    ) {
        if at.block == VenuePlace::NONE.block || end <= 0 {
            return;
        }
        let b = at.block as usize;
        let (r0, r1) = (
            self.venue_start[b] as usize,
            self.venue_start[b + 1] as usize,
        );
        let end_in = end.min(DAY) as u32;
        // A short stay overlapping the window began after `start - max_short`.
        let first_in =
            (start.saturating_sub(i64::from(self.venue_max_short[b])) + 1).clamp(0, DAY) as u32;
        // A window that begins after the venue's short stays have all ended
        // (one on the next day, often) meets long stays only: their block
        // is not read.
        if first_in < end_in {
            let block = &self.time[r0..r1];
            let from = search::lower_bound(block.len(), first_in.into(), |i| {
                (block[i] >> DUR_BITS).into()
            });
            for (i, &packed) in block[from..].iter().enumerate() {
                let (t_in, dur) = (packed >> DUR_BITS, packed & LONG);
                if t_in >= end_in {
                    break;
                }
                if dur != LONG && i64::from(t_in + dur) > start {
                    f(self.person[r0 + from + i], t_in, t_in + dur);
                }
            }
        }
        let lo = at.long_from as usize;
        let long = self.long_rows[lo..].iter().zip(&self.long_t_out[lo..]);
        // The check-out, at hand, first: `t_in` is a read elsewhere. A
        // venue's rows go by `t_in`, so the first that begins too late ends
        // the scan.
        for (&row, &t_out) in long.take_while(|(&r, _)| (r as usize) < r1) {
            if i64::from(t_out) <= start {
                continue;
            }
            let t_in = self.t_in(row);
            if t_in >= end_in {
                break;
            }
            f(self.person[row as usize], t_in, t_out);
        }
    }

    /// Calls `f(venue, n)` for each venue with `n > 0` stays beginning in
    /// `[start, end)` (partition-relative): two binary searches per venue,
    /// no row decoded.
    pub fn count_by_venue(&self, start: i64, end: i64, mut f: impl FnMut(u64, u64)) {
        let (lo, hi) = (start.clamp(0, DAY) as u32, end.clamp(0, DAY) as u32);
        if lo >= hi {
            return;
        }
        for (b, &venue) in self.venues.iter().enumerate() {
            let block = &self.time[self.venue_start[b] as usize..self.venue_start[b + 1] as usize];
            let from = block.partition_point(|&t| t >> DUR_BITS < lo);
            let to = block.partition_point(|&t| t >> DUR_BITS < hi);
            if to > from {
                f(venue, (to - from) as u64);
            }
        }
    }

    /// A bit per entry of `persons`, set for those in `sorted` (ascending).
    pub fn bits_of(&self, sorted: &[u64]) -> Vec<u64> {
        let mut bits = vec![0; self.persons.len().div_ceil(64)];
        self.each_person_in(sorted, |i, _| bits[i / 64] |= 1 << (i % 64));
        bits
    }

    /// The entries of `persons` that are not in `sorted` (ascending), ascending.
    pub fn persons_not_in(&self, sorted: &[u64]) -> Vec<u64> {
        let listed = self.bits_of(sorted);
        self.persons
            .iter()
            .enumerate()
            .filter(|&(i, _)| listed[i / 64] >> (i % 64) & 1 == 0)
            .map(|(_, &person)| person)
            .collect()
    }

    /// For each entry of `persons`, `place(rank)` of its place in `sorted`
    /// (ascending), or `absent`.
    pub fn places_in<T: Copy>(
        &self,
        sorted: &[u64],
        absent: T,
        place: impl Fn(usize) -> T,
    ) -> Vec<T> {
        let mut places = vec![absent; self.persons.len()];
        self.each_person_in(sorted, |i, rank| places[i] = place(rank));
        places
    }

    /// Calls `f(index, rank)` for each of `persons` that is `sorted[rank]`
    /// (`sorted` ascending): one walk along both.
    fn each_person_in(&self, sorted: &[u64], mut f: impl FnMut(usize, usize)) {
        let mut j = 0;
        for (i, &person) in self.persons.iter().enumerate() {
            while j < sorted.len() && sorted[j] < person {
                j += 1;
            }
            if sorted.get(j) == Some(&person) {
                f(i, j);
            }
        }
    }

    /// Calls `f(rank, venue, t_in, t_out)` (partition-relative) for each
    /// stay of a person who is `sorted[rank]` (`sorted` ascending), in one
    /// pass over the rows: for many people, far fewer cache misses than a
    /// search for each.
    pub fn each_stay_of(&self, sorted: &[u64], mut f: impl FnMut(u32, u64, u32, u32)) {
        // Membership by bits, which stay in the caches as the rows go by;
        // the rank only for members.
        let mut bits = vec![0u64; self.persons.len().div_ceil(64)];
        let mut ranks = vec![0u32; self.persons.len()];
        self.each_person_in(sorted, |i, rank| {
            bits[i / 64] |= 1 << (i % 64);
            ranks[i] = rank as u32;
        });
        for (b, &venue) in self.venues.iter().enumerate() {
            for row in self.venue_start[b]..self.venue_start[b + 1] {
                let p = self.person[row as usize] as usize;
                if bits[p / 64] >> (p % 64) & 1 == 1 {
                    f(ranks[p], venue, self.t_in(row), self.t_out(row));
                }
            }
        }
    }

    /// Calls `f(rank, row)` for each row of a person who is `sorted[rank]`
    /// (`sorted` ascending), by person and then `t_in`: [`Segment::person_rows`]
    /// of each, their searches taken a few people at a time, so that their
    /// cache misses overlap (see [`search::lower_bounds`]).
    pub fn rows_of_each(&self, sorted: &[u64], mut f: impl FnMut(usize, u32)) {
        let (by_person, index) = (&self.by_person, &self.person);
        let (mut at, mut from) = (Vec::new(), Vec::new());
        let mut found: Vec<(usize, u64)> = Vec::new();
        for (g, group) in sorted.chunks(SEARCHED_AT_ONCE).enumerate() {
            search::lower_bounds(self.persons.len(), group, |i| self.persons[i], &mut at);
            found.clear();
            for (k, (&i, &person)) in at.iter().zip(group).enumerate() {
                if self.persons.get(i) == Some(&person) {
                    found.push((g * SEARCHED_AT_ONCE + k, i as u64));
                }
            }
            let places: Vec<u64> = found.iter().map(|&(_, p)| p).collect();
            search::lower_bounds(
                by_person.len(),
                &places,
                |i| index[by_person[i] as usize].into(),
                &mut from,
            );
            for (&(rank, p), &lo) in found.iter().zip(&from) {
                for &row in by_person[lo..]
                    .iter()
                    .take_while(|&&r| u64::from(index[r as usize]) == p)
                {
                    f(rank, row);
                }
            }
        }
    }

    /// The rows of `person`, sorted by `t_in`.
    pub fn person_rows(&self, person: u64) -> &[u32] {
        let Some(p) = search::find(&self.persons, person) else {
            return &[];
        };
        let p = p as u32;
        let (by_person, index) = (&self.by_person, &self.person);
        let lo = search::lower_bound(by_person.len(), p.into(), |i| {
            index[by_person[i] as usize].into()
        });
        // A person has a few stays a day: walking to the end beats a second search.
        let len = self.by_person[lo..]
            .iter()
            .take_while(|&&r| self.person[r as usize] == p)
            .count();
        &self.by_person[lo..lo + len]
    }

    /// Changes the check-out of `row` (partition-relative, above its `t_in`).
    pub fn set_t_out(&mut self, row: u32, t_out: u32) {
        self.generation = next_generation();
        let t_in = self.t_in(row);
        let dur = t_out - t_in;
        let listed = self.long_rows.binary_search(&row);
        if dur >= LONG {
            self.time.to_mut()[row as usize] = t_in << DUR_BITS | LONG;
            match listed {
                Ok(i) => self.long_t_out.to_mut()[i] = t_out,
                Err(i) => {
                    self.long_rows.to_mut().insert(i, row);
                    self.long_t_out.to_mut().insert(i, t_out);
                }
            }
        } else {
            if let Ok(i) = listed {
                self.long_rows.to_mut().remove(i);
                self.long_t_out.to_mut().remove(i);
            }
            self.time.to_mut()[row as usize] = t_in << DUR_BITS | dur;
            let b = self.venue_index(row);
            let max = &mut self.venue_max_short.to_mut()[b];
            *max = (*max).max(dur as u16);
        }
    }

    /// Every stay held, decoded.
    pub fn rows(&self) -> Vec<Row> {
        let mut rows = Vec::with_capacity(self.len());
        for (b, &venue) in self.venues.iter().enumerate() {
            for row in self.venue_start[b]..self.venue_start[b + 1] {
                rows.push(Row {
                    venue,
                    person: self.person_of(row),
                    t_in: self.t_in(row),
                    t_out: self.t_out(row),
                    seq: 0,
                });
            }
        }
        for (row, seq) in rows.iter_mut().zip(self.seqs_by_row()) {
            row.seq = seq;
        }
        rows
    }

    /// Rebuilt without the stays that `keep` rejects; their ids become unknown.
    pub fn retain(&self, keep: impl Fn(&Row) -> bool) -> Segment {
        let mut rows: Vec<Row> = self.rows().into_iter().filter(|r| keep(r)).collect();
        rows.sort_unstable_by_key(|r| r.seq);
        Segment::build(rows, self.first_seq, self.row_of_seq.len() as u32)
    }

    /// Checks the invariants that queries rely on (sizes and bounds of every
    /// index), so that a segment read from a file can never index out of range.
    pub fn check(&self) -> std::result::Result<(), &'static str> {
        let n = self.time.len();
        let (starts, venues) = (&*self.venue_start, self.venues.len());
        let ok = |c: bool, what| if c { Ok(()) } else { Err(what) };
        ok(
            self.person.len() == n && self.by_person.len() == n,
            "column lengths differ",
        )?;
        ok(
            starts.len() == venues + 1 && self.venue_max_short.len() == venues,
            "venue table lengths differ",
        )?;
        ok(
            starts.first() == Some(&0) && starts.last() == Some(&(n as u32)),
            "venue table does not cover the rows",
        )?;
        ok(
            starts.windows(2).all(|w| w[0] < w[1]),
            "venue table not increasing",
        )?;
        ok(
            self.venues.windows(2).all(|w| w[0] < w[1]),
            "venues not sorted",
        )?;
        ok(
            self.persons.windows(2).all(|w| w[0] < w[1]),
            "persons not sorted",
        )?;
        ok(
            {
                let persons = self.persons.len();
                self.person
                    .par_iter()
                    .with_min_len(par::SMALL)
                    .all(|&p| (p as usize) < persons)
            },
            "person index out of range",
        )?;
        ok(
            self.by_person
                .par_iter()
                .with_min_len(par::SMALL)
                .all(|&r| (r as usize) < n),
            "person order out of range",
        )?;
        // Every entry in range, and as many rows listed as there are.
        let listed = self
            .row_of_seq
            .par_iter()
            .with_min_len(par::SMALL)
            .try_fold(
                || 0,
                |k, &r| match r {
                    NO_ROW => Ok(k),
                    r if (r as usize) < n => Ok(k + 1),
                    _ => Err("stay id map out of range"),
                },
            )
            .try_reduce(|| 0, |a, b| Ok(a + b))?;
        ok(listed == n, "stay id map does not cover the rows")?;
        ok(
            self.long_rows.len() == self.long_t_out.len(),
            "long-stay table lengths differ",
        )?;
        ok(
            self.long_rows.windows(2).all(|w| w[0] < w[1]),
            "long stays not sorted",
        )?;
        ok(
            self.long_rows.iter().all(|&r| (r as usize) < n),
            "long stay out of range",
        )?;
        // Each venue's rows in `t_in` order within the day; a row marked
        // LONG exactly when the long-stay table lists it, with a check-out
        // after its `t_in`; every other row within its venue's bound.
        // Queries and merges rely on these, and would panic or misread.
        // Venues are checked in pieces, side by side: this pass reads every
        // row, and reopening a store waits for it.
        let venue_pieces: Vec<usize> = (0..venues).step_by(4_096).collect();
        venue_pieces
            .into_par_iter()
            .try_for_each(|first| self.check_times(first..(first + 4_096).min(venues)))?;
        ok(
            u32::try_from(self.first_seq as usize + self.row_of_seq.len()).is_ok(),
            "stay ids overflow",
        )
    }
}

impl Segment {
    /// [`Segment::check`]'s times of the rows of `venues` (indexes).
    fn check_times(&self, venues: std::ops::Range<usize>) -> std::result::Result<(), &'static str> {
        // Plain slices: a column's every read would otherwise ask where it lives.
        let (starts, long_rows, long_t_out): (&[u32], &[u32], &[u32]) =
            (&self.venue_start, &self.long_rows, &self.long_t_out);
        let (time, max_shorts): (&[u32], &[u16]) = (&self.time, &self.venue_max_short);
        let (r0, r1) = (starts[venues.start], starts[venues.end]);
        let mut next_long = long_rows.partition_point(|&r| r < r0);
        for b in venues {
            let max_short = u32::from(max_shorts[b]);
            let mut last = 0;
            for (row, &packed) in
                (starts[b]..).zip(&time[starts[b] as usize..starts[b + 1] as usize])
            {
                let (t_in, dur) = (packed >> DUR_BITS, packed & LONG);
                let listed = long_rows.get(next_long) == Some(&row);
                if t_in < last || i64::from(t_in) >= DAY {
                    return Err("a venue's times out of order");
                }
                if listed != (dur == LONG) {
                    return Err(if listed {
                        "long-stay table lists a short stay"
                    } else {
                        "long stay not listed"
                    });
                }
                if listed {
                    if long_t_out[next_long] <= t_in {
                        return Err("long stay ends before it begins");
                    }
                    next_long += 1;
                } else if dur == 0 || dur > max_short {
                    return Err("short stay past its venue's bound");
                }
                last = t_in;
            }
        }
        if long_rows.get(next_long).is_some_and(|&r| r < r1) {
            return Err("long-stay table lists a short stay");
        }
        Ok(())
    }
}

/// A [`Segment::generation`] not given before.
pub(crate) fn next_generation() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Where the rows, in arrival order, begin in `row_of_seq` when their
/// `seq`s run on without gaps, as a fresh batch's do: the row of each place
/// in `rows` is then a stretch of `row_of_seq` itself, and needs no map of
/// its own. (Rows kept past an expiry may have gaps.)
fn gapless_from(rows: &[Row], first_seq: u32) -> Option<usize> {
    let (first, last) = (rows.first()?, rows.last()?);
    ((last.seq - first.seq) as usize == rows.len() - 1).then(|| (first.seq - first_seq) as usize)
}

/// The person column: `p` for each row of `by_person[firsts[p]..firsts[p + 1]]`.
fn person_column(by_person: &[u32], firsts: &[u32]) -> Vec<u32> {
    let mut person = vec![0; by_person.len()];
    let ends = firsts
        .iter()
        .skip(1)
        .copied()
        .chain([by_person.len() as u32]);
    for (p, (&first, end)) in firsts.iter().zip(ends).enumerate() {
        for &row in &by_person[first as usize..end as usize] {
            person[row as usize] = p as u32;
        }
    }
    person
}

/// Bits of a partition-relative `t_in`, below [`DAY`]: as many as the time
/// column leaves it above the duration.
const T_IN_BITS: u32 = u32::BITS - DUR_BITS;
const _: () = assert!(DAY <= 1 << T_IN_BITS);

/// Calls `f(id, t_in, place)` for each of `rows` in (id, `t_in`, place)
/// order, the place being the row's index in `rows`. It sorts one key a
/// row: the id less the smallest, above `t_in`, above the place, each in as
/// few bits as the batch needs. The key fits 64 bits, whose sort takes two
/// thirds of the time of 128, when the bits of the batch's range of ids
/// (largest less smallest), 17 of `t_in` and those of the last place add
/// up to 64 or fewer: ids handed out in sequence, as the service and the
/// workload do, fit in batches of millions; hashed ones never do.
fn in_order(rows: &[Row], id: impl Fn(&Row) -> u64 + Sync, mut f: impl FnMut(u64, u32, u32)) {
    let Some(last) = rows.len().checked_sub(1) else {
        return;
    };
    let (lo, hi) = rows
        .par_iter()
        .with_min_len(par::SMALL)
        .map(|r| {
            let x = id(r);
            (x, x)
        })
        .reduce(|| (u64::MAX, 0), |a, b| (a.0.min(b.0), a.1.max(b.1)));
    let at_bits = u64::BITS - (last as u64).leading_zeros();
    let t_in_shift = at_bits;
    let id_shift = at_bits + T_IN_BITS;
    let key = |r: &Row, at: usize| {
        debug_assert!(r.t_in < 1 << T_IN_BITS, "t_in within its partition's day");
        u128::from(id(r) - lo) << id_shift | u128::from(r.t_in) << t_in_shift | at as u128
    };
    let mut unpack = |key: u128| {
        let at = key as u32 & ((1u64 << at_bits) - 1) as u32;
        let t_in = (key >> t_in_shift) as u32 & ((1 << T_IN_BITS) - 1);
        f((key >> id_shift) as u64 + lo, t_in, at);
    };
    if id_shift + (u64::BITS - (hi - lo).leading_zeros()) <= u64::BITS {
        for k in sorted_keys(rows, |r, at| key(r, at) as u64) {
            unpack(k.into());
        }
    } else {
        for k in sorted_keys(rows, key) {
            unpack(k);
        }
    }
}

/// `key(row, place)` of each of `rows`, sorted.
fn sorted_keys<K: Ord + Send>(
    rows: &[Row],
    key: impl Fn(&Row, usize) -> K + Sync + Send,
) -> Vec<K> {
    let mut keys: Vec<K> = rows
        .par_iter()
        .with_min_len(par::SMALL)
        .enumerate()
        .map(|(at, r)| key(r, at))
        .collect();
    // The standard library's sort, on one core: the two orders are sorted
    // at once (and the days of a batch), which keeps two cores busy, and
    // its sort does in two thirds of the time what rayon's does on one core.
    // (On a machine of many cores, one day's batch would leave most idle.)
    keys.sort_unstable();
    keys
}

impl Builder {
    fn finish(self, first_seq: u32) -> Segment {
        let mut seg = Segment {
            generation: next_generation(),
            first_seq,
            row_of_seq: self.row_of_seq.into(),
            venues: self.venues.into(),
            venue_start: self.venue_start.into(),
            venue_max_short: self.venue_max_short.into(),
            person: self.person.into(),
            time: self.time.into(),
            long_rows: self.long_rows.into(),
            long_t_out: self.long_t_out.into(),
            persons: self.persons.into(),
            by_person: self.by_person.into(),
        };
        seg.venues.shrink_to_fit();
        seg.venue_start.shrink_to_fit();
        seg.venue_max_short.shrink_to_fit();
        seg.long_rows.shrink_to_fit();
        seg.long_t_out.shrink_to_fit();
        seg.persons.shrink_to_fit();
        seg
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy;

    fn row(venue: u64, person: u64, t_in: u32, t_out: u32, seq: u32) -> Row {
        Row {
            venue,
            person,
            t_in,
            t_out,
            seq,
        }
    }

    #[test]
    fn decodes_what_it_was_built_from() {
        let rows = vec![
            row(7, 1, 100, 200, 0),
            row(3, 2, 50, 50 + LONG + 10, 1),
            row(7, 2, 10, 40, 2),
            row(3, 1, 86_399, 90_000, 3),
        ];
        let seg = Segment::build(rows.clone(), 0, 4);
        let mut back = seg.rows();
        back.sort_by_key(|r| r.seq);
        assert_eq!(back, rows);
        assert_eq!(seg.row_of(4), None);
        assert_eq!(seg.person_rows(2).len(), 2);
    }

    #[test]
    fn long_stays_are_found_by_window_scans_and_survive_checkout_changes() {
        let rows = vec![row(1, 9, 0, 80_000, 0), row(1, 8, 100, 160, 1)];
        let mut seg = Segment::build(rows, 0, 2);
        let mut seen = vec![];
        seg.scan_venue(1, 70_000, 70_001, None, |p, a, b| seen.push((p, a, b)));
        assert_eq!(seen, vec![(9, 0, 80_000)]);

        let long = seg.row_of(0).unwrap();
        seg.set_t_out(long, 30);
        assert_eq!(seg.t_out(long), 30);
        let short = seg.row_of(1).unwrap();
        seg.set_t_out(short, 100 + LONG);
        assert_eq!(seg.t_out(short), 100 + LONG);
        seen.clear();
        seg.scan_venue(1, 20_000, 20_001, None, |p, a, b| seen.push((p, a, b)));
        assert_eq!(seen, vec![(8, 100, 100 + LONG)]);
    }

    #[test]
    fn check_finds_columns_that_disagree() {
        let rows = vec![row(7, 1, 100, 200, 0), row(7, 2, 150, 150 + LONG + 5, 1)];
        assert_eq!(Segment::build(rows.clone(), 0, 2).check(), Ok(()));
        let mut unlisted = Segment::build(rows.clone(), 0, 2);
        unlisted.time.to_mut()[0] |= LONG;
        assert_eq!(unlisted.check(), Err("long stay not listed"));
        let mut beyond = Segment::build(rows.clone(), 0, 2);
        beyond.venue_max_short.to_mut()[0] = 10;
        assert_eq!(beyond.check(), Err("short stay past its venue's bound"));
        let mut unordered = Segment::build(rows.clone(), 0, 2);
        unordered.time.to_mut()[0] = (160 << DUR_BITS) + 40; // after row 1's t_in
        assert_eq!(unordered.check(), Err("a venue's times out of order"));
        let mut unmapped = Segment::build(rows, 0, 2);
        unmapped.row_of_seq.to_mut()[1] = NO_ROW;
        assert_eq!(unmapped.check(), Err("stay id map does not cover the rows"));
    }

    /// Every column of a segment, to compare two layouts.
    fn columns(seg: &Segment) -> Vec<Vec<u64>> {
        let widen = |c: &[u32]| c.iter().map(|&x| u64::from(x)).collect();
        vec![
            widen(&seg.row_of_seq),
            seg.venues.to_vec(),
            widen(&seg.venue_start),
            seg.venue_max_short.iter().map(|&x| u64::from(x)).collect(),
            widen(&seg.person),
            widen(&seg.time),
            widen(&seg.long_rows),
            widen(&seg.long_t_out),
            seg.persons.to_vec(),
            widen(&seg.by_person),
        ]
    }

    /// Rows of (venue, person, `t_in` in thousands of seconds, duration),
    /// arriving in that order.
    fn rows_of(stays: &[(u64, u64, u32, u32)]) -> Vec<Row> {
        stays
            .iter()
            .enumerate()
            .map(|(i, &(v, p, t, dur))| row(v, p, t * 1_000, t * 1_000 + dur, i as u32))
            .collect()
    }

    proptest::proptest! {
        /// The walk that places many venues at once places each where a
        /// search for it does, venues with no stay there included.
        #[test]
        fn venue_places_agree_with_a_search_for_each(
            stays in proptest::collection::vec(
                ((0u64..12).prop_map(|v| v * 3), 0u64..4, 0u32..4, proptest::prop_oneof![1u32..3, 40_000u32..40_002]),
                1..60,
            ),
            asked in proptest::collection::btree_set(0u64..14, 0..14),
        ) {
            let rows = rows_of(&stays);
            let seg = Segment::build(rows.clone(), 0, rows.len() as u32);
            let asked: Vec<u64> = asked.into_iter().map(|v| v * 3 + u64::from(v % 4 == 3)).collect();
            let found = seg.venue_places(&asked);
            for (&venue, &at) in asked.iter().zip(&found) {
                proptest::prop_assert_eq!(at, seg.venue_place(venue).unwrap_or(VenuePlace::NONE));
            }
        }

        /// The rows of many people, searched for a group at a time, are
        /// each one's own rows, in order: people with no stay there, and
        /// groups cut anywhere, included.
        #[test]
        fn rows_of_many_are_each_ones_rows(
            stays in proptest::collection::vec((0u64..3, 0u64..40, 0u32..4, 1u32..3), 1..120),
            asked in proptest::collection::btree_set(0u64..45, 0..40),
        ) {
            let rows = rows_of(&stays);
            let seg = Segment::build(rows.clone(), 0, rows.len() as u32);
            let asked: Vec<u64> = asked.into_iter().collect();
            let mut met = vec![];
            seg.rows_of_each(&asked, |rank, row| met.push((rank, row)));
            let want: Vec<(usize, u32)> = asked
                .iter()
                .enumerate()
                .flat_map(|(rank, &p)| seg.person_rows(p).iter().map(move |&row| (rank, row)))
                .collect();
            proptest::prop_assert_eq!(met, want);
        }

        /// `in_order` meets rows as a sort by (id, `t_in`, place) does,
        /// whether the keys fit 64 bits or not: ids spanning every width,
        /// from a single id to all of `u64`, at either end of its range.
        #[test]
        fn rows_are_met_in_id_then_time_then_arrival_order(
            width in 0u32..=64,
            high in proptest::bool::ANY,
            stays in proptest::collection::vec((0u8..3, proptest::num::u64::ANY, 0u32..DAY as u32), 0..80),
        ) {
            let span = u64::MAX.checked_shr(64 - width).unwrap_or(0);
            let lo = if high { u64::MAX - span } else { 0 };
            // The range's ends, and ids between.
            let id = |pick: u8, x: u64| match pick {
                0 => lo,
                1 => lo + span,
                _ => lo + span.checked_add(1).map_or(x, |n| x % n),
            };
            let rows: Vec<Row> = stays
                .iter()
                .enumerate()
                .map(|(i, &(pick, x, t_in))| row(0, id(pick, x), t_in, t_in + 1, i as u32))
                .collect();
            let mut met = vec![];
            in_order(&rows, |r| r.person, |id, t_in, at| met.push((id, t_in, at)));
            let mut want: Vec<(u64, u32, u32)> =
                rows.iter().map(|r| (r.person, r.t_in, r.seq)).collect();
            want.sort_unstable();
            proptest::prop_assert_eq!(met, want);
        }

        /// A batch built at once and the same batch built in parts and
        /// merged have one layout: both put stays that tie on (venue,
        /// `t_in`) or (person, `t_in`) in arrival order, whatever their
        /// durations.
        #[test]
        fn built_and_merged_segments_are_laid_out_alike(
            stays in proptest::collection::vec(
                (0u64..3, 0u64..4, 0u32..4, proptest::prop_oneof![1u32..3, 30_000u32..30_002]),
                1..60,
            ),
            cuts in proptest::collection::vec(0usize..60, 0..3),
            wide in proptest::bool::ANY,
        ) {
            // Wide ids: keys of 128 bits.
            let widen = |id: u64| if wide && id % 2 == 1 { u64::MAX - id } else { id };
            let stays: Vec<_> = stays.iter().map(|&(v, p, t, d)| (widen(v), widen(p), t, d)).collect();
            let rows = rows_of(&stays);
            let n = rows.len() as u32;
            let whole = Segment::build(rows.clone(), 0, n);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % rows.len()).collect();
            cuts.sort_unstable();
            let bounds: Vec<usize> = std::iter::once(0).chain(cuts).chain([rows.len()]).collect();
            let parts: Vec<Segment> = bounds
                .windows(2)
                .filter(|w| w[0] < w[1])
                .map(|w| Segment::build(rows[w[0]..w[1]].to_vec(), w[0] as u32, (w[1] - w[0]) as u32))
                .collect();
            let merged = Segment::merge(Vec::new(), &parts, 0, n);
            proptest::prop_assert_eq!(columns(&merged), columns(&whole));
        }

        /// A segment built from stays whose `seq`s have gaps (those kept
        /// past an expiry), or run on from past its first, holds and finds
        /// exactly those stays.
        #[test]
        fn stays_with_gaps_in_their_seqs_are_held_and_found(
            stays in proptest::collection::vec(
                (0u64..4, 0u64..5, 0u32..4, 1u32..3, proptest::bool::weighted(0.7)),
                1..60,
            ),
        ) {
            let all = rows_of(&stays.iter().map(|s| (s.0, s.1, s.2, s.3)).collect::<Vec<_>>());
            let kept: Vec<Row> = all.iter().zip(&stays).filter(|(_, s)| s.4).map(|(r, _)| *r).collect();
            let seg = Segment::build(kept.clone(), 0, all.len() as u32);
            proptest::prop_assert_eq!(seg.check(), Ok(()));
            let mut back = seg.rows();
            back.sort_by_key(|r| r.seq);
            proptest::prop_assert_eq!(&back, &kept);
            for r in &all {
                let found = seg.row_of(r.seq).map(|row| (seg.venue_of(row), seg.person_of(row), seg.t_in(row)));
                let want = kept.contains(r).then_some((r.venue, r.person, r.t_in));
                proptest::prop_assert_eq!(found, want);
            }
        }

        /// A merge of many parts, one stay each (a day fed in ever smaller
        /// batches keeps that many segments), is laid out as a build.
        #[test]
        fn a_merge_of_hundreds_of_parts_is_laid_out_as_a_build(
            stays in proptest::collection::vec((0u64..4, 0u64..6, 0u32..4, 1u32..3), 300..400),
        ) {
            let rows = rows_of(&stays);
            let n = rows.len() as u32;
            let parts: Vec<Segment> = rows.iter().map(|r| Segment::build(vec![*r], r.seq, 1)).collect();
            let merged = Segment::merge(Vec::new(), &parts, 0, n);
            proptest::prop_assert_eq!(columns(&merged), columns(&Segment::build(rows, 0, n)));
        }

        /// A window scan finds exactly the stays at the venue with
        /// `t_in < end` and `t_out > start`, short and long alike, also
        /// when a window begins or ends where a stay does.
        #[test]
        fn venue_scans_find_what_meets_the_window(
            stays in proptest::collection::vec(
                (
                    0u64..3,
                    0u64..4,
                    0u32..24,
                    // Short, long, and whole hours of either, ending on a window's edge.
                    proptest::prop_oneof![1u32..3_000, 30_000u32..90_000, (1u32..25).prop_map(|h| h * 3_600)],
                ),
                1..60,
            ),
            venue in 0u64..3,
            start in -1i64..26,
            length in proptest::prop_oneof![1i64..100_000, (1i64..30).prop_map(|h| h * 3_600)],
        ) {
            // Check-ins on the hour, so that windows meet stays edge to edge.
            let rows: Vec<Row> = stays
                .iter()
                .enumerate()
                .map(|(i, &(v, p, hour, dur))| row(v, p, hour * 3_600, hour * 3_600 + dur, i as u32))
                .collect();
            let seg = Segment::build(rows.clone(), 0, rows.len() as u32);
            let (start, end) = (start * 3_600, start * 3_600 + length);
            let mut seen = vec![];
            seg.scan_venue(venue, start, end, None, |p, a, b| seen.push((p, a, b)));
            seen.sort_unstable();
            let mut want: Vec<(u64, u32, u32)> = rows
                .iter()
                .filter(|r| r.venue == venue && i64::from(r.t_in) < end && i64::from(r.t_out) > start)
                .map(|r| (r.person, r.t_in, r.t_out))
                .collect();
            want.sort_unstable();
            proptest::prop_assert_eq!(seen, want);
        }
    }
}
