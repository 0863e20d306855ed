//! The one door through which the store writes, syncs and deletes files, so
//! tests can make the disk fill up, fsync fail or a file refuse to go.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Writes, syncs and deletes files. Reads and renames go straight to
/// `std::fs`: the failures the store must survive are those of writing and
/// syncing, and of deleting expired data.
pub(crate) trait Disk: Send + Sync + std::fmt::Debug {
    /// Writes all of `bytes` at the file's position.
    fn write(&self, file: &File, bytes: &[u8]) -> io::Result<()>;
    /// Makes what was written to `file` (or to the directory `file`) durable.
    fn sync(&self, file: &File) -> io::Result<()>;
    /// Deletes the file at `path`.
    fn remove(&self, path: &Path) -> io::Result<()>;
}

/// The operating system's disk.
#[derive(Debug)]
pub(crate) struct RealDisk;

impl Disk for RealDisk {
    fn write(&self, mut file: &File, bytes: &[u8]) -> io::Result<()> {
        file.write_all(bytes)
    }

    fn sync(&self, file: &File) -> io::Result<()> {
        file.sync_data()
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }
}

#[cfg(test)]
pub(crate) mod faulty {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

    use super::{Disk, File, Path, RealDisk};
    use std::io;

    /// A disk that is full (writes half of what they are given, then fail
    /// with ENOSPC), whose fsyncs (of files, or of directories only, after
    /// a number of them succeeded) fail with EIO, or whose files cannot be
    /// deleted (EPERM), while the flags are set.
    #[derive(Debug, Default)]
    pub struct FaultyDisk {
        pub full: AtomicBool,
        pub sync_fails: AtomicBool,
        pub dir_sync_fails: AtomicBool,
        pub dir_syncs_before_failing: AtomicUsize,
        pub remove_fails: AtomicBool,
    }

    impl FaultyDisk {
        pub fn set_full(&self, on: bool) {
            self.full.store(on, SeqCst);
        }

        pub fn set_sync_fails(&self, on: bool) {
            self.sync_fails.store(on, SeqCst);
        }

        pub fn set_dir_sync_fails(&self, on: bool) {
            self.dir_sync_fails.store(on, SeqCst);
        }

        /// Directory syncs fail from the `(n + 1)`th on.
        pub fn set_dir_sync_fails_after(&self, n: usize) {
            self.dir_syncs_before_failing.store(n, SeqCst);
            self.dir_sync_fails.store(true, SeqCst);
        }

        pub fn set_remove_fails(&self, on: bool) {
            self.remove_fails.store(on, SeqCst);
        }
    }

    impl Disk for FaultyDisk {
        fn write(&self, file: &File, bytes: &[u8]) -> io::Result<()> {
            if self.full.load(SeqCst) {
                RealDisk.write(file, &bytes[..bytes.len() / 2])?;
                return Err(io::Error::from_raw_os_error(28)); // ENOSPC
            }
            RealDisk.write(file, bytes)
        }

        fn sync(&self, file: &File) -> io::Result<()> {
            let is_dir = file.metadata()?.is_dir();
            let dir_fails = is_dir
                && self.dir_sync_fails.load(SeqCst)
                && self
                    .dir_syncs_before_failing
                    .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
                    .is_err();
            if self.sync_fails.load(SeqCst) || dir_fails {
                return Err(io::Error::from_raw_os_error(5)); // EIO
            }
            RealDisk.sync(file)
        }

        fn remove(&self, path: &Path) -> io::Result<()> {
            if self.remove_fails.load(SeqCst) {
                return Err(io::Error::from_raw_os_error(1)); // EPERM
            }
            RealDisk.remove(path)
        }
    }
}
