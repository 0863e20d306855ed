//! A fixed-width column held either on the heap or in a memory-mapped,
//! sealed partition file. Queries see a plain slice either way.

use std::ops::Deref;
use std::sync::Arc;

use bytemuck::Pod;
use memmap2::Mmap;

#[derive(Debug)]
pub(crate) enum Column<T> {
    Owned(Vec<T>),
    /// `len` values starting `offset` bytes into a checked, aligned file map.
    Mapped {
        map: Arc<Mmap>,
        offset: usize,
        len: usize,
    },
}

impl<T> Default for Column<T> {
    fn default() -> Self {
        Column::Owned(Vec::new())
    }
}

impl<T> From<Vec<T>> for Column<T> {
    fn from(v: Vec<T>) -> Self {
        Column::Owned(v)
    }
}

impl<T: Pod> Deref for Column<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        match self {
            Column::Owned(v) => v,
            Column::Mapped { map, offset, len } => {
                bytemuck::cast_slice(&map[*offset..*offset + len * std::mem::size_of::<T>()])
            }
        }
    }
}

impl<T: Pod> Column<T> {
    /// The values as a vector to change, copied off the file first if mapped
    /// (sealed files are never written in place).
    pub fn to_mut(&mut self) -> &mut Vec<T> {
        if let Column::Mapped { .. } = self {
            *self = Column::Owned(self.to_vec());
        }
        match self {
            Column::Owned(v) => v,
            Column::Mapped { .. } => unreachable!("copied above"),
        }
    }

    /// Bytes the values take, on the heap or in the page cache.
    pub fn bytes(&self) -> usize {
        match self {
            Column::Owned(v) => v.capacity() * std::mem::size_of::<T>(),
            Column::Mapped { len, .. } => len * std::mem::size_of::<T>(),
        }
    }

    pub fn shrink_to_fit(&mut self) {
        if let Column::Owned(v) = self {
            v.shrink_to_fit();
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        bytemuck::cast_slice(self)
    }
}
