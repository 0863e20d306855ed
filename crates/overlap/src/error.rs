//! The one error type of the engine: every way a call can be refused.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// Why a call was refused. A refused call changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    /// Columns that must have one value per row have different lengths.
    #[error("column {column} has {got} values, expected {expected} (one per row)")]
    LengthMismatch {
        /// The column whose length is wrong.
        column: &'static str,
        /// The length of the first column.
        expected: usize,
        /// The length of this column.
        got: usize,
    },
    /// A stay whose times cannot be stored.
    #[error("row {row}: {problem}")]
    InvalidStay {
        /// Position of the first bad row in the batch.
        row: usize,
        /// What is wrong with it.
        problem: StayProblem,
    },
    /// A stay id that the engine does not hold (never issued, or expired).
    #[error("row {row}: unknown stay id {id}")]
    UnknownStay {
        /// Position of the id in the batch.
        row: usize,
        /// The id itself.
        id: u64,
    },
    /// A query window that is empty or reversed.
    #[error("row {row}: window [{start}, {end}) is empty: end must be after start")]
    EmptyWindow {
        /// Position of the window among the cases (0 for a single query).
        row: usize,
        /// Window start, seconds since the Unix epoch.
        start: i64,
        /// Window end, seconds since the Unix epoch.
        end: i64,
    },
    /// The same case twice in one multi-case query.
    #[error("row {row}: case {person} appears more than once")]
    DuplicateCase {
        /// Position of the second occurrence.
        row: usize,
        /// The repeated person id.
        person: u64,
    },
    /// A batch's columns changed while they were read: another thread wrote
    /// to them during the call.
    #[error("the batch changed while it was read (another thread wrote to its columns): nothing was stored")]
    ChangedWhileRead,
    /// A day already holds as many stays as its ids can number (2^32 - 1).
    #[error("the day {day} (days since the Unix epoch) is full: no more stay ids")]
    PartitionFull {
        /// Days since the Unix epoch.
        day: i64,
    },
    /// A parameter that must not be negative.
    #[error("{name} must be zero or positive, got {value}")]
    NegativeParameter {
        /// Parameter name as the caller spells it.
        name: &'static str,
        /// The value given.
        value: i64,
    },
    /// A file of a durable store could not be read, written or synced.
    /// Nothing of the call was acknowledged; the store stays readable.
    #[error("{op} {path}: {message}")]
    Io {
        /// What was being done (`"write"`, `"fsync"`, ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's reason.
        kind: std::io::ErrorKind,
        /// The operating system's message.
        message: String,
    },
    /// A file of a durable store fails its checksum or its structure is
    /// impossible: it was damaged after it was written.
    #[error("{path} is corrupt at byte {offset}: {what}")]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// Offset of the damaged record, block or field in the file.
        offset: u64,
        /// What is wrong there.
        what: String,
    },
    /// A file written by a newer (or unknown) version of the store format.
    #[error("{path} has format version {found}; this build reads version {expected}")]
    UnknownVersion {
        /// The file.
        path: PathBuf,
        /// The version it declares.
        found: u32,
        /// The version this build reads and writes.
        expected: u32,
    },
    /// Another open engine (in this or another process) holds the store.
    #[error("the store {path} is locked: another engine has it open")]
    Locked {
        /// The store's directory.
        path: PathBuf,
    },
    /// The engine was closed.
    #[error("the engine is closed")]
    Closed,
    /// A change failed midway (a panic: a bug), so the stays held may be
    /// behind the store's log. A durable engine refuses changes until the
    /// store is reopened, which replays the log; an in-memory one refuses
    /// those begun before the failure. Queries still answer.
    #[error("a change failed midway: a durable store takes changes again once reopened, which replays its log")]
    Interrupted,
    /// A query given up because its caller cancelled it.
    #[error("the query was cancelled")]
    Cancelled,
}

impl Error {
    pub(crate) fn io<'a>(
        op: &'static str,
        path: &'a Path,
    ) -> impl FnOnce(std::io::Error) -> Error + 'a {
        move |e| Error::Io {
            op,
            path: path.to_path_buf(),
            kind: e.kind(),
            message: e.to_string(),
        }
    }

    pub(crate) fn corrupt(path: &Path, offset: u64, what: impl Into<String>) -> Error {
        Error::Corrupt {
            path: path.to_path_buf(),
            offset,
            what: what.into(),
        }
    }
}

/// What is wrong with the times of one stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum StayProblem {
    /// `t_out <= t_in`: a stay must last at least one second.
    #[error("t_out {t_out} is not after t_in {t_in}")]
    NotAfterCheckIn {
        /// Check-in time.
        t_in: i64,
        /// Check-out time.
        t_out: i64,
    },
    /// A check-in before the point up to which stays were expired.
    #[error("t_in {t_in} is before {before}, up to which stays were expired")]
    Expired {
        /// Check-in time.
        t_in: i64,
        /// The expiry point.
        before: i64,
    },
    /// A time outside the years 2000 to 2100.
    #[error("{column} {value} is outside 2000-01-01..2100-01-01 (seconds since the Unix epoch)")]
    OutOfRange {
        /// `t_in` or `t_out`.
        column: &'static str,
        /// The value given.
        value: i64,
    },
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, Error>;
