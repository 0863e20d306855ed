//! The one door through which the store writes and syncs files, so tests can
//! make the disk fill up or fsync fail at will.

use std::fs::File;
use std::io::{self, Write};

/// Writes and syncs files. Reads, renames and deletes go straight to `std::fs`:
/// the failures the store must survive are those of writing and syncing.
pub(crate) trait Disk: Send + Sync + std::fmt::Debug {
    /// Writes all of `bytes` at the file's position.
    fn write(&self, file: &File, bytes: &[u8]) -> io::Result<()>;
    /// Makes what was written to `file` (or to the directory `file`) durable.
    fn sync(&self, file: &File) -> io::Result<()>;
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
}

#[cfg(test)]
pub(crate) mod faulty {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

    use super::{Disk, File, RealDisk};
    use std::io;

    /// A disk that is full (writes half of what they are given, then fail
    /// with ENOSPC) or whose fsyncs (of files, or of directories only) fail
    /// with EIO, while the flags are set.
    #[derive(Debug, Default)]
    pub struct FaultyDisk {
        pub full: AtomicBool,
        pub sync_fails: AtomicBool,
        pub dir_sync_fails: AtomicBool,
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
            if self.sync_fails.load(SeqCst) || (is_dir && self.dir_sync_fails.load(SeqCst)) {
                return Err(io::Error::from_raw_os_error(5)); // EIO
            }
            RealDisk.sync(file)
        }
    }
}
