//! Searching sorted columns by interpolation.
//!
//! The sorted columns the queries search (venue ids, person ids, row numbers,
//! a venue's check-in times) are spread fairly evenly over their range, so
//! guessing a key's place from its value lands next to it. A few probes then
//! replace the twenty-odd of a binary search, each of which is a cache miss
//! on a large column. Uneven data costs a few probes more than a binary
//! search: [`ROUNDS`] at most, and the column's two ends.

/// Rounds of interpolation before falling back to bisection: on evenly
/// spread keys the answer is found well before; on skewed ones a round
/// narrows the range less, and bisection bounds the cost.
const ROUNDS: usize = 8;
/// Below this many candidates, bisection is as quick as guessing.
const SMALL: usize = 4;

/// The first index `i` in `0..n` with `key(i) >= target`, or `n`; `key` must
/// be non-decreasing.
pub(crate) fn lower_bound(n: usize, target: u64, key: impl Fn(usize) -> u64) -> usize {
    if n == 0 {
        return 0;
    }
    let first = key(0);
    if target <= first {
        return 0;
    }
    let last = key(n - 1);
    if target > last {
        return n;
    }
    // The answer lies in lo..=hi, between below = key(lo - 1) < target and
    // target <= above = key(hi). Each guess is read once and becomes one of
    // the two, so that the next guesses from keys close to the target; a
    // probe beside a guess to bracket it would be a cache miss, most often
    // in vain.
    let (mut lo, mut hi, mut below, mut above) = (1, n - 1, first, last);
    for _ in 0..ROUNDS {
        if hi - lo <= SMALL {
            break;
        }
        // below < target <= above, so the guess falls in lo - 1..=hi.
        let span = (hi - lo + 1) as u128;
        let at = (u128::from(target - below) * span / u128::from(above - below)) as usize;
        let guess = (lo - 1 + at).clamp(lo, hi - 1);
        let k = key(guess);
        if k < target {
            (lo, below) = (guess + 1, k);
        } else {
            (hi, above) = (guess, k);
        }
    }
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if key(mid) < target {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// [`lower_bound`] of each of `targets` in one column, into `out`: the same
/// probes, taken a round at a time across the targets. One search's probes
/// each wait on the one before; a round's are independent, so that their
/// cache misses overlap.
pub(crate) fn lower_bounds(
    n: usize,
    targets: &[u64],
    key: impl Fn(usize) -> u64,
    out: &mut Vec<usize>,
) {
    out.clear();
    if n == 0 {
        out.resize(targets.len(), 0);
        return;
    }
    let (first, last) = (key(0), key(n - 1));
    // Each open search as lower_bound's (lo, hi, below, above) and its target's place.
    let mut open: Vec<(usize, usize, u64, u64, usize)> = Vec::with_capacity(targets.len());
    for (t, &target) in targets.iter().enumerate() {
        out.push(if target <= first {
            0
        } else if target > last {
            n
        } else {
            open.push((1, n - 1, first, last, t));
            1
        });
    }
    for _ in 0..ROUNDS {
        let mut guessing = false;
        for (lo, hi, below, above, t) in &mut open {
            if *hi - *lo <= SMALL {
                continue;
            }
            guessing = true;
            let target = targets[*t];
            let span = (*hi - *lo + 1) as u128;
            let at = (u128::from(target - *below) * span / u128::from(*above - *below)) as usize;
            let guess = (*lo - 1 + at).clamp(*lo, *hi - 1);
            let k = key(guess);
            if k < target {
                (*lo, *below) = (guess + 1, k);
            } else {
                (*hi, *above) = (guess, k);
            }
        }
        if !guessing {
            break;
        }
    }
    while !open.is_empty() {
        open.retain_mut(|(lo, hi, .., t)| {
            if *lo < *hi {
                let mid = *lo + (*hi - *lo) / 2;
                if key(mid) < targets[*t] {
                    *lo = mid + 1;
                } else {
                    *hi = mid;
                }
            }
            out[*t] = *lo;
            *lo < *hi
        });
    }
}

/// The index of `target` in the strictly increasing `sorted`, if it is there.
pub(crate) fn find<T: Copy + Into<u64> + PartialEq>(sorted: &[T], target: T) -> Option<usize> {
    let i = lower_bound(sorted.len(), target.into(), |i| sorted[i].into());
    (sorted.get(i) == Some(&target)).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn lower_bound_agrees_with_partition_point(
            mut keys in prop::collection::vec(prop_oneof![0u64..50, any::<u64>(), Just(u64::MAX)], 0..300),
            target in prop_oneof![0u64..60, any::<u64>(), Just(u64::MAX), Just(0)],
            skew in 0u32..4,
        ) {
            // Uneven spreads too: squares and cubes crowd the low end.
            for k in &mut keys {
                *k = k.saturating_pow(skew.max(1));
            }
            keys.sort_unstable();
            let expected = keys.partition_point(|&k| k < target);
            prop_assert_eq!(lower_bound(keys.len(), target, |i| keys[i]), expected);
            keys.dedup();
            prop_assert_eq!(find(&keys, target), keys.binary_search(&target).ok());
        }

        #[test]
        fn lower_bounds_agree_with_lower_bound(
            mut keys in prop::collection::vec(prop_oneof![0u64..50, any::<u64>()], 0..300),
            targets in prop::collection::vec(prop_oneof![0u64..60, any::<u64>(), Just(u64::MAX), Just(0)], 0..40),
            skew in 0u32..4,
        ) {
            for k in &mut keys {
                *k = k.saturating_pow(skew.max(1));
            }
            keys.sort_unstable();
            let mut out = vec![7];
            lower_bounds(keys.len(), &targets, |i| keys[i], &mut out);
            let each: Vec<usize> = targets.iter().map(|&t| lower_bound(keys.len(), t, |i| keys[i])).collect();
            prop_assert_eq!(out, each);
        }

        #[test]
        fn lower_bound_finds_every_key_of_an_even_column(n in 1usize..5000, step in 1u64..1000) {
            let keys: Vec<u64> = (0..n as u64).map(|i| 7 + i * step).collect();
            for (i, &k) in keys.iter().enumerate().step_by(37) {
                prop_assert_eq!(find(&keys, k), Some(i));
                prop_assert_eq!(lower_bound(n, k + 1, |j| keys[j]), i + 1);
            }
        }
    }
}
