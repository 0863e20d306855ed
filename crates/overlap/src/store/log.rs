//! The write-ahead log: every change since the last checkpoint, one
//! checksummed record per call, replayed on open.
//!
//! ```text
//! file header  16 bytes   magic "TKHWAL\0\0", version, CRC32C of both
//! record       16 bytes   body length (u64), CRC32C of the body,
//!                         CRC32C of those 12 bytes (a damaged length is
//!                         caught, not mistaken for a torn tail)
//!              body       kind, then its columns (below)
//! ```
//! A record that the file ends in the middle of is a torn write: the call
//! that wrote it was never acknowledged, and the log is cut back to the
//! record before. So is a record that fails a checksum where the file ends
//! in zeros from inside it on: a crash after the file grew but before its
//! last blocks were written leaves them zero, and no whole record ends in
//! zeros (its last column holds times). Any other record that fails a
//! checksum is damage to acknowledged data and stops the open with an error.

use std::path::Path;

use crate::batch::DayRows;
use crate::error::{Error, Result};
use crate::segment::DAY;

const MAGIC: &[u8; 8] = b"TKHWAL\0\0";
pub(crate) const VERSION: u32 = 1;
pub(crate) const HEADER_LEN: u64 = 16;
const RECORD_HEAD: usize = 16;

const ADD: u8 = 1;
const CHECKOUT: u8 = 2;

/// One logged call.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Record {
    /// `add_stays`: the first stay number given on each day it touched
    /// (replay checks it gets the same ids), then the batch's columns.
    Add {
        bases: Vec<(i64, u32)>,
        persons: Vec<u64>,
        venues: Vec<u64>,
        t_in: Vec<i64>,
        t_out: Vec<i64>,
    },
    /// `set_checkout`.
    Checkout { ids: Vec<u64>, t_out: Vec<i64> },
}

pub(crate) fn header() -> Vec<u8> {
    let mut h = MAGIC.to_vec();
    h.extend_from_slice(&VERSION.to_le_bytes());
    h.extend_from_slice(&crc32c::crc32c(&h).to_le_bytes());
    h
}

/// The framed bytes of an `add_stays` record: each day's first stay
/// number, then the batch's columns, written from its rows day by day.
/// Replay numbers each day's rows in that order, so they get the same ids.
pub(crate) fn encode_add(bases: &[(i64, u32)], days: &[DayRows]) -> Vec<u8> {
    let rows = || {
        days.iter()
            .flat_map(|(day, rows)| rows.iter().map(move |r| (day * DAY, r)))
    };
    let n = days.iter().map(|(_, rows)| rows.len()).sum::<usize>();
    let mut body = head_room(13 + 12 * bases.len() + 32 * n);
    body.push(ADD);
    body.extend_from_slice(&(bases.len() as u32).to_le_bytes());
    for &(day, base) in bases {
        body.extend_from_slice(&day.to_le_bytes());
        body.extend_from_slice(&base.to_le_bytes());
    }
    body.extend_from_slice(&(n as u64).to_le_bytes());
    rows().for_each(|(_, r)| body.extend_from_slice(&r.person.to_le_bytes()));
    rows().for_each(|(_, r)| body.extend_from_slice(&r.venue.to_le_bytes()));
    rows()
        .for_each(|(start, r)| body.extend_from_slice(&(start + i64::from(r.t_in)).to_le_bytes()));
    rows()
        .for_each(|(start, r)| body.extend_from_slice(&(start + i64::from(r.t_out)).to_le_bytes()));
    framed(body)
}

/// The framed bytes of a `set_checkout` record.
pub(crate) fn encode_checkout(ids: &[u64], t_out: &[i64]) -> Vec<u8> {
    let mut body = head_room(9 + 16 * ids.len());
    body.push(CHECKOUT);
    body.extend_from_slice(&(ids.len() as u64).to_le_bytes());
    body.extend_from_slice(bytemuck::cast_slice(ids));
    body.extend_from_slice(bytemuck::cast_slice(t_out));
    framed(body)
}

/// A record's buffer, for a body of `body` bytes: room for its head first,
/// so that the body (hundreds of MB in a bulk load) is written once.
fn head_room(body: usize) -> Vec<u8> {
    let mut record = Vec::with_capacity(RECORD_HEAD + body);
    record.resize(RECORD_HEAD, 0);
    record
}

/// `record` ([`head_room`], then the body) with its head: the body's length
/// and checksum, and the checksum of those.
fn framed(mut record: Vec<u8>) -> Vec<u8> {
    let body = &record[RECORD_HEAD..];
    let (len, sum) = (
        (body.len() as u64).to_le_bytes(),
        crc32c::crc32c(body).to_le_bytes(),
    );
    record[..8].copy_from_slice(&len);
    record[8..12].copy_from_slice(&sum);
    let head_sum = crc32c::crc32c(&record[..12]).to_le_bytes();
    record[12..RECORD_HEAD].copy_from_slice(&head_sum);
    record
}

/// The records of a whole log file, each with its offset, and the length of
/// its clean prefix (shorter than `bytes` when the last write was torn).
pub(crate) fn decode(path: &Path, bytes: &[u8]) -> Result<(Vec<(u64, Record)>, u64)> {
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    if bytes.len() < HEADER_LEN as usize || &bytes[..8] != MAGIC {
        return Err(Error::corrupt(path, 0, "not a log file (no TKHWAL header)"));
    }
    if crc32c::crc32c(&bytes[..12]) != u32_at(12) {
        return Err(Error::corrupt(path, 0, "header checksum mismatch"));
    }
    if u32_at(8) != VERSION {
        return Err(Error::UnknownVersion {
            path: path.to_path_buf(),
            found: u32_at(8),
            expected: VERSION,
        });
    }
    let mut records = Vec::new();
    let mut at = HEADER_LEN as usize;
    // Where the zeros that the file ends in begin.
    let zeros_from = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    while at < bytes.len() {
        let torn = || Ok(at as u64);
        if bytes.len() - at < RECORD_HEAD {
            return torn().map(|end| (records, end));
        }
        if crc32c::crc32c(&bytes[at..at + 12]) != u32_at(at + 12) {
            if zeros_from < at + RECORD_HEAD {
                return torn().map(|end| (records, end));
            }
            return Err(Error::corrupt(
                path,
                at as u64,
                "record header checksum mismatch",
            ));
        }
        let len = u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let body_at = at + RECORD_HEAD;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if bytes.len() - body_at < len {
            return torn().map(|end| (records, end));
        }
        let body = &bytes[body_at..body_at + len];
        if crc32c::crc32c(body) != u32_at(at + 8) {
            // Its last value (a time) among the zeros: never wholly written.
            if zeros_from + 8 <= body_at + len {
                return torn().map(|end| (records, end));
            }
            return Err(Error::corrupt(path, at as u64, "record checksum mismatch"));
        }
        let record =
            parse(body).ok_or_else(|| Error::corrupt(path, at as u64, "record body malformed"))?;
        records.push((at as u64, record));
        at = body_at + len;
    }
    Ok((records, at as u64))
}

/// Parses a body whose checksum passed; `None` if its lengths do not add up.
fn parse(body: &[u8]) -> Option<Record> {
    let mut r = Reader(body);
    let record = match r.take(1)?[0] {
        ADD => {
            let days = r.u32()? as usize;
            let bases = (0..days)
                .map(|_| Some((r.u64()? as i64, r.u32()?)))
                .collect::<Option<Vec<_>>>()?;
            let n = usize::try_from(r.u64()?).ok()?;
            Record::Add {
                bases,
                persons: r.column(n)?,
                venues: r.column(n)?,
                t_in: r.column::<u64>(n)?.into_iter().map(|v| v as i64).collect(),
                t_out: r.column::<u64>(n)?.into_iter().map(|v| v as i64).collect(),
            }
        }
        CHECKOUT => {
            let n = usize::try_from(r.u64()?).ok()?;
            Record::Checkout {
                ids: r.column(n)?,
                t_out: r.column::<u64>(n)?.into_iter().map(|v| v as i64).collect(),
            }
        }
        _ => return None,
    };
    r.0.is_empty().then_some(record)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn column<T: From<u64>>(&mut self, n: usize) -> Option<Vec<T>> {
        let bytes = self.take(n.checked_mul(8)?)?;
        Some(
            bytes
                .chunks_exact(8)
                .map(|c| T::from(u64::from_le_bytes(c.try_into().expect("8 bytes"))))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::Row;

    /// An add of one day's stays (person, venue, `t_in`, `t_out` after the day's start).
    fn add(day: i64, base: u32, stays: &[(u64, u64, u32, u32)]) -> Vec<u8> {
        let rows = stays
            .iter()
            .zip(base..)
            .map(|(&(person, venue, t_in, t_out), seq)| Row {
                venue,
                person,
                t_in,
                t_out,
                seq,
            })
            .collect();
        encode_add(&[(day, base)], &[(day, rows)])
    }

    fn log_of(records: &[Vec<u8>]) -> Vec<u8> {
        let mut bytes = header();
        for r in records {
            bytes.extend_from_slice(r);
        }
        bytes
    }

    #[test]
    fn records_round_trip() {
        let add = add(19_000, 7, &[(1, 3, 5, 7), (2, 4, 6, 8)]);
        let checkout = encode_checkout(&[9], &[10]);
        let bytes = log_of(&[add.clone(), checkout]);
        let (records, end) = decode(Path::new("x"), &bytes).unwrap();
        assert_eq!(end, bytes.len() as u64);
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].0, HEADER_LEN);
        assert_eq!(records[1].0, HEADER_LEN + add.len() as u64);
        let start = 19_000 * DAY;
        assert_eq!(
            records[0].1,
            Record::Add {
                bases: vec![(19_000, 7)],
                persons: vec![1, 2],
                venues: vec![3, 4],
                t_in: vec![start + 5, start + 6],
                t_out: vec![start + 7, start + 8],
            }
        );
        assert_eq!(
            records[1].1,
            Record::Checkout {
                ids: vec![9],
                t_out: vec![10]
            }
        );
    }

    #[test]
    fn a_last_record_ending_in_zeros_is_torn_not_damaged() {
        let first = encode_checkout(&[1, 2, 3], &[946_684_800, 5, 6]);
        let last = add(10_958, 0, &[(1, 2, 3, 4)]);
        let bytes = log_of(&[first.clone(), last.clone()]);
        let clean = HEADER_LEN + first.len() as u64;
        // A crash after the file grew, before its last blocks were written:
        // the record is zero from some byte on, and perhaps zeros follow.
        for from in clean as usize..bytes.len() - 7 {
            for grown in [0, 1, 4096] {
                let mut torn = bytes.clone();
                torn[from..].fill(0);
                torn.resize(bytes.len() + grown, 0);
                let (records, end) = decode(Path::new("x"), &torn)
                    .unwrap_or_else(|e| panic!("zero from {from}, {grown} more: {e}"));
                assert_eq!((records.len(), end), (1, clean), "zero from {from}");
            }
        }
        // Zeros after whole records: the file grew, nothing was written.
        let mut grown = bytes.clone();
        grown.resize(bytes.len() + 100, 0);
        let (records, end) = decode(Path::new("x"), &grown).unwrap();
        assert_eq!((records.len(), end), (2, bytes.len() as u64));
        // The same zeros in a record with a whole record after it are damage.
        let mut damaged = log_of(&[last.clone(), first.clone()]);
        let end_of_last = HEADER_LEN as usize + last.len();
        damaged[end_of_last - 8..end_of_last].fill(0);
        let err = decode(Path::new("x"), &damaged).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Corrupt {
                    offset: HEADER_LEN,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_torn_tail_is_cut_at_every_offset_and_damage_is_reported() {
        let first = encode_checkout(&[1, 2, 3], &[4, 5, 6]);
        let last = add(1, 0, &[(1, 2, 3, 4)]);
        let bytes = log_of(&[first.clone(), last.clone()]);
        let clean = HEADER_LEN + first.len() as u64;
        for cut in clean as usize..bytes.len() {
            let (records, end) = decode(Path::new("x"), &bytes[..cut]).unwrap();
            assert_eq!((records.len(), end), (1, clean), "cut at {cut}");
        }
        for at in HEADER_LEN as usize..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x10;
            let err = decode(Path::new("x"), &damaged).unwrap_err();
            let Error::Corrupt { offset, .. } = err else {
                panic!("flip at {at}: {err}")
            };
            let record_at = if at < clean as usize {
                HEADER_LEN
            } else {
                clean
            };
            assert_eq!(offset, record_at, "flip at {at}");
        }
    }
}
