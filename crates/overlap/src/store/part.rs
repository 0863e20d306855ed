//! Sealed partition files: one partition's segments, column by column,
//! checksummed in blocks, read back by memory-mapping them.
//!
//! ```text
//! header   64 bytes   magic "TKHPART\0", version, segment count, day,
//!                     max_t_out, next_seq, block size, body length, CRC32C
//! body                per segment: first_seq and the length of each of its
//!                     ten columns, then the columns themselves, each padded
//!                     to 8 bytes so it maps as an aligned slice
//! trailer             CRC32C of each 64 KiB block of the body
//! ```
//! All integers little-endian.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytemuck::Pod;
use memmap2::Mmap;
use rayon::prelude::*;

use super::disk::Disk;
use crate::column::Column;
use crate::error::{Error, Result};
use crate::partition::Partition;
use crate::segment::{next_generation, Segment};

const MAGIC: &[u8; 8] = b"TKHPART\0";
pub(crate) const VERSION: u32 = 1;
const HEADER: usize = 64;
const BLOCK: usize = 1 << 16;
const COLUMNS: usize = 10;
/// Per segment in the body's table: `first_seq`, padding, ten lengths.
const TABLE_ENTRY: usize = 8 + 8 * COLUMNS;

/// Writes `partition` to a new file at `path` and returns it, for the
/// caller to sync (see `Store::checkpoint`); `created` gets the path once
/// the file exists. The columns go to the file as they are, with no copy
/// of the partition made (hundreds of MB a day at national scale): their
/// block checksums are summed piece by piece.
pub(crate) fn write(
    disk: &dyn Disk,
    path: &Path,
    partition: &Partition,
    created: &mut Vec<PathBuf>,
) -> Result<File> {
    let mut table = Vec::with_capacity(TABLE_ENTRY * partition.segments.len());
    for seg in &partition.segments {
        table.extend_from_slice(&seg.first_seq.to_le_bytes());
        table.extend_from_slice(&[0; 4]);
        for (bytes, width) in columns(seg) {
            table.extend_from_slice(&((bytes.len() / width) as u64).to_le_bytes());
        }
    }
    // The body: the table, then every column, each padded to 8 bytes.
    let mut body: Vec<&[u8]> = vec![&table];
    let mut len = table.len();
    for seg in &partition.segments {
        for (bytes, _) in columns(seg) {
            let end = len + bytes.len();
            let pad = end.next_multiple_of(8) - end;
            body.extend([bytes, &[0; 8][..pad]]);
            len = end + pad;
        }
    }
    let mut header = Vec::with_capacity(HEADER);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&VERSION.to_le_bytes());
    header.extend_from_slice(&(partition.segments.len() as u32).to_le_bytes());
    header.extend_from_slice(&partition.day.to_le_bytes());
    header.extend_from_slice(&partition.max_t_out.to_le_bytes());
    header.extend_from_slice(&partition.next_seq.to_le_bytes());
    header.extend_from_slice(&(BLOCK as u32).to_le_bytes());
    header.extend_from_slice(&(len as u64).to_le_bytes());
    header.resize(HEADER - 4, 0);
    header.extend_from_slice(&crc32c::crc32c(&header).to_le_bytes());
    let trailer = block_sums(&body);

    let file = File::create_new(path).map_err(Error::io("create", path))?;
    created.push(path.to_path_buf());
    for part in [&[&header[..]], &body[..], &[&trailer[..]]].concat() {
        disk.write(&file, part).map_err(Error::io("write", path))?;
    }
    Ok(file)
}

/// The checksum of each `BLOCK` bytes of `pieces` taken as one run, as
/// little-endian bytes: the file's trailer.
fn block_sums(pieces: &[&[u8]]) -> Vec<u8> {
    let (mut sums, mut sum, mut filled) = (Vec::new(), 0, 0);
    for mut piece in pieces.iter().copied() {
        while !piece.is_empty() {
            let (now, rest) = piece.split_at((BLOCK - filled).min(piece.len()));
            sum = crc32c::crc32c_append(sum, now);
            filled += now.len();
            piece = rest;
            if filled == BLOCK {
                sums.extend_from_slice(&sum.to_le_bytes());
                (sum, filled) = (0, 0);
            }
        }
    }
    if filled > 0 {
        sums.extend_from_slice(&sum.to_le_bytes());
    }
    sums
}

/// Maps the file at `path`, checks every checksum and invariant, and returns
/// the partition it holds, served from the map.
pub(crate) fn read(path: &Path) -> Result<Partition> {
    let file = File::open(path).map_err(Error::io("open", path))?;
    let map = Arc::new(map(&file).map_err(Error::io("mmap", path))?);
    let corrupt = |offset: usize, what: &str| Error::corrupt(path, offset as u64, what);
    let u32_at = |at: usize| u32::from_le_bytes(map[at..at + 4].try_into().expect("4 bytes"));
    let u64_at = |at: usize| u64::from_le_bytes(map[at..at + 8].try_into().expect("8 bytes"));

    if map.len() < HEADER || &map[..8] != MAGIC {
        return Err(corrupt(0, "not a partition file (no TKHPART header)"));
    }
    if crc32c::crc32c(&map[..HEADER - 4]) != u32_at(HEADER - 4) {
        return Err(corrupt(0, "header checksum mismatch"));
    }
    let version = u32_at(8);
    if version != VERSION {
        return Err(Error::UnknownVersion {
            path: path.to_path_buf(),
            found: version,
            expected: VERSION,
        });
    }
    let n_segments = u32_at(12) as usize;
    let day = u64_at(16) as i64;
    let max_t_out = u64_at(24) as i64;
    let next_seq = u32_at(32);
    let block = u32_at(36) as usize;
    let body_len = usize::try_from(u64_at(40)).unwrap_or(usize::MAX);
    let blocks = body_len.div_ceil(block.max(1));
    let expected_len = HEADER
        .checked_add(body_len)
        .and_then(|n| n.checked_add(blocks.checked_mul(4)?));
    if block == 0 || expected_len != Some(map.len()) {
        return Err(corrupt(
            map.len(),
            "file length does not match its header (truncated?)",
        ));
    }

    let body = &map[HEADER..HEADER + body_len];
    let trailer = HEADER + body_len;
    let bad_block = body
        .par_chunks(block)
        .enumerate()
        .find_first(|(i, chunk)| crc32c::crc32c(chunk) != u32_at(trailer + 4 * i));
    if let Some((i, _)) = bad_block {
        return Err(corrupt(HEADER + i * block, "block checksum mismatch"));
    }

    // The checksums passed; lengths are still checked so that no bug or
    // forged file can make a query index out of bounds.
    let mut at = n_segments
        .checked_mul(TABLE_ENTRY)
        .filter(|&n| n <= body_len)
        .ok_or_else(|| corrupt(HEADER, "segment table longer than the body"))?;
    let mut segments = Vec::with_capacity(n_segments);
    for s in 0..n_segments {
        let entry = HEADER + s * TABLE_ENTRY;
        let lens: Vec<usize> = (0..COLUMNS)
            .map(|c| usize::try_from(u64_at(entry + 8 + 8 * c)).unwrap_or(usize::MAX))
            .collect();
        let mut take = |i: usize, width: usize| -> Result<(usize, usize)> {
            let bytes = lens[i]
                .checked_mul(width)
                .filter(|&b| at.checked_add(b).is_some_and(|end| end <= body_len))
                .ok_or_else(|| corrupt(entry, "column runs past the end of the body"))?;
            let start = HEADER + at;
            at = (at + bytes).next_multiple_of(8);
            Ok((start, lens[i]))
        };
        let seg = Segment {
            generation: next_generation(),
            first_seq: u32_at(entry),
            row_of_seq: mapped(&map, take(0, 4)?),
            venues: mapped(&map, take(1, 8)?),
            venue_start: mapped(&map, take(2, 4)?),
            venue_max_short: mapped(&map, take(3, 2)?),
            person: mapped(&map, take(4, 4)?),
            time: mapped(&map, take(5, 4)?),
            long_rows: mapped(&map, take(6, 4)?),
            long_t_out: mapped(&map, take(7, 4)?),
            persons: mapped(&map, take(8, 8)?),
            by_person: mapped(&map, take(9, 4)?),
        };
        seg.check().map_err(|what| corrupt(entry, what))?;
        segments.push(seg);
    }
    let seqs_ok = segments
        .windows(2)
        .all(|w| w[0].end_seq() <= w[1].first_seq)
        && segments.last().is_none_or(|s| s.end_seq() <= next_seq);
    if !seqs_ok {
        return Err(corrupt(HEADER, "segments' stay ids overlap"));
    }
    Ok(Partition {
        day,
        segments,
        next_seq,
        max_t_out,
    })
}

/// The columns of a segment as bytes, with their value widths, in file order.
fn columns(seg: &Segment) -> [(&[u8], usize); COLUMNS] {
    [
        (seg.row_of_seq.as_bytes(), 4),
        (seg.venues.as_bytes(), 8),
        (seg.venue_start.as_bytes(), 4),
        (seg.venue_max_short.as_bytes(), 2),
        (seg.person.as_bytes(), 4),
        (seg.time.as_bytes(), 4),
        (seg.long_rows.as_bytes(), 4),
        (seg.long_t_out.as_bytes(), 4),
        (seg.persons.as_bytes(), 8),
        (seg.by_person.as_bytes(), 4),
    ]
}

fn mapped<T: Pod>(map: &Arc<Mmap>, (offset, len): (usize, usize)) -> Column<T> {
    // Offsets are 8-aligned from a page-aligned map: slices cast cleanly.
    Column::Mapped {
        map: Arc::clone(map),
        offset,
        len,
    }
}

/// Maps a sealed partition file read-only, its pages loaded up front.
#[allow(unsafe_code)]
fn map(file: &File) -> std::io::Result<Mmap> {
    // SAFETY: the map is only sound while nobody changes the file. Partition
    // files are written once under a new name, synced, and never written
    // again; the store's lock keeps other engines out of the directory, and
    // an expired file is unlinked, which leaves existing maps intact.
    unsafe { memmap2::MmapOptions::new().populate().map(file) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_sums_of_pieces_are_those_of_their_run() {
        // Pieces that end short of a block, on one, and across several.
        let run: Vec<u8> = (0..3 * BLOCK + 100).map(|i| (i * 7 % 251) as u8).collect();
        let cuts = [
            0,
            5,
            BLOCK - 3,
            BLOCK,
            BLOCK,
            2 * BLOCK + 17,
            3 * BLOCK + 100,
        ];
        let pieces: Vec<&[u8]> = cuts.windows(2).map(|c| &run[c[0]..c[1]]).collect();
        let whole: Vec<u8> = run
            .chunks(BLOCK)
            .flat_map(|b| crc32c::crc32c(b).to_le_bytes())
            .collect();
        assert_eq!(block_sums(&pieces), whole);
    }
}
