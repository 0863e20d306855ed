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

/// The length of the pieces a pass over `n` items is cut into: a few per
/// thread, so that a slow thread holds up little, and one piece when small.
pub(crate) fn piece(n: usize) -> usize {
    n.div_ceil(4 * rayon::current_num_threads()).max(SMALL)
}

/// The first index whose item passes `test`.
pub(crate) fn position_first<T: Sync>(
    v: &[T],
    test: impl Fn(&T) -> bool + Sync + Send,
) -> Option<usize> {
    if v.len() < SMALL {
        v.iter().position(test)
    } else {
        v.par_iter().position_first(test)
    }
}
