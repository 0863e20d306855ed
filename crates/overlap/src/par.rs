//! Parallel where it pays. A call from a thread outside rayon's pool hands
//! each parallel step to the pool and waits for it; for a small input (a
//! single check-in, say) the handoff costs more than the work, so small
//! inputs run on the calling thread.

use rayon::prelude::*;

/// Inputs shorter than this run on the calling thread (for rayon's own
/// iterators: `.with_min_len(SMALL)`).
pub(crate) const SMALL: usize = 1 << 13;

pub(crate) fn sort_unstable_by_key<T: Send, K: Ord>(v: &mut [T], key: impl Fn(&T) -> K + Sync) {
    if v.len() < SMALL {
        v.sort_unstable_by_key(key);
    } else {
        v.par_sort_unstable_by_key(key);
    }
}
