//! Discrete draws by Walker's alias method, one 64-bit draw each.
//!
//! `rand_distr`'s `WeightedAliasIndex` draws twice a sample (a column, then a
//! float to compare): with every stay drawing a venue, that was a sixth of
//! generating. Here the draw's low half picks the column and its high half
//! decides between the column and its alias.

use rand::Rng;

/// A distribution over `0..n` by weight.
pub(crate) struct Alias {
    /// Per column: below this the draw keeps the column, else takes the alias.
    columns: Vec<(u32, u32)>,
}

impl Alias {
    /// Fails on no weights, more than `u32::MAX`, or any negative, non-finite,
    /// or all zero.
    pub(crate) fn new(weights: &[f64]) -> Result<Alias, &'static str> {
        let n = weights.len();
        let sum: f64 = weights.iter().sum();
        if n == 0 || n > u32::MAX as usize {
            return Err("from 1 to 2**32 - 1 weights");
        }
        if !(weights.iter().all(|w| *w >= 0.0) && sum > 0.0 && sum.is_finite()) {
            return Err("weights must be finite, not negative, and not all zero");
        }
        // Vose's construction: each column gets its own share and tops up
        // from one larger column.
        let mut share: Vec<f64> = weights.iter().map(|w| w * n as f64 / sum).collect();
        let mut columns: Vec<(u32, u32)> = (0..n as u32).map(|i| (u32::MAX, i)).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| share[i] < 1.0);
        while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
            small.pop();
            columns[s] = (cutoff(share[s]), l as u32);
            share[l] -= 1.0 - share[s];
            if share[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // What is left holds a share of 1 up to rounding: it keeps itself.
        Ok(Alias { columns })
    }

    /// The distribution of `Poisson(mean)` up to where its tail is below
    /// 1e-12; fails past a mean of about 700, where `exp(-mean)` is 0.
    pub(crate) fn poisson(mean: f64) -> Result<Alias, &'static str> {
        let mut weights = vec![(-mean).exp()];
        let (mut k, mut below) = (0.0, weights[0]);
        while 1.0 - below > 1e-12 && k < 10_000.0 {
            k += 1.0;
            let next = weights[weights.len() - 1] * mean / k;
            weights.push(next);
            below += next;
        }
        Alias::new(&weights)
    }

    pub(crate) fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        let draw = rng.next_u64();
        // The column: the low half scaled to `0..n` (a bias below n / 2^32).
        let column = (((draw & u64::from(u32::MAX)) * self.columns.len() as u64) >> 32) as usize;
        let (keep, alias) = self.columns[column];
        if ((draw >> 32) as u32) < keep {
            column
        } else {
            alias as usize
        }
    }
}

/// A probability in `0..=1` as a 32-bit threshold.
fn cutoff(p: f64) -> u32 {
    (p * 4_294_967_296.0).min(f64::from(u32::MAX)) as u32
}
