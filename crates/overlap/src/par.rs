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

pub(crate) fn sort_unstable<T: Ord + Send>(v: &mut [T]) {
    if v.len() < SMALL {
        v.sort_unstable();
    } else {
        v.par_sort_unstable();
    }
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

/// Sets `out[at] = value` for each `(at, value)` that `items` passes to its
/// callback. Random writes do not split by item without sharing `out`, so
/// each thread owns a stretch of `out` and runs through all the items,
/// keeping those that land in its stretch.
pub(crate) fn scatter<T: Copy + Send>(
    out: &mut [T],
    items: impl Fn(&mut dyn FnMut(usize, T)) + Sync,
) {
    if out.len() < SMALL {
        items(&mut |at, value| out[at] = value);
        return;
    }
    let stretch = out.len().div_ceil(rayon::current_num_threads());
    out.par_chunks_mut(stretch)
        .enumerate()
        .for_each(|(i, mine)| {
            let lo = i * stretch;
            items(&mut |at, value| {
                if let Some(slot) = at.checked_sub(lo).and_then(|at| mine.get_mut(at)) {
                    *slot = value;
                }
            });
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scatter_writes_every_item_once_at_any_size() {
        for n in [0, 5, SMALL - 1, SMALL, 3 * SMALL + 17] {
            // A permutation of 0..n: i * 7919 mod n, 7919 being prime and no factor of these n.
            let at = |i: usize| i * 7919 % n.max(1);
            let mut out = vec![u32::MAX; n];
            scatter(&mut out, |set| (0..n).for_each(|i| set(at(i), i as u32)));
            for i in 0..n {
                assert_eq!(out[at(i)], i as u32);
            }
        }
    }
}
