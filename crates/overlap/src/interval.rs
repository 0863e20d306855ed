//! Half-open intervals `[start, end)` in seconds, and the two operations the
//! queries are made of: union and intersection.

/// Unites intervals sorted by start into maximal disjoint ones, in order.
/// Overlapping and touching intervals merge: `[1, 5)` and `[5, 9)` give `[1, 9)`.
pub(crate) fn unite(sorted: impl IntoIterator<Item = (i64, i64)>) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    unite_into(&mut out, sorted);
    out
}

/// [`unite`] into a buffer that is cleared first, so hot loops reuse one allocation.
pub(crate) fn unite_into(out: &mut Vec<(i64, i64)>, sorted: impl IntoIterator<Item = (i64, i64)>) {
    out.clear();
    for (a, b) in sorted {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
}

/// The length of [`unite`]'s answer, without building it.
pub(crate) fn covered(sorted: impl IntoIterator<Item = (i64, i64)>) -> i64 {
    let mut sorted = sorted.into_iter();
    let Some((mut from, mut to)) = sorted.next() else {
        return 0;
    };
    let mut total = 0;
    for (a, b) in sorted {
        if a > to {
            total += to - from;
            from = a;
        }
        to = to.max(b);
    }
    total + to - from
}

/// An interval `[start, end)`, alone or tagged (with a venue, say).
pub(crate) trait Span: Copy {
    fn span(self) -> (i64, i64);
}

impl Span for (i64, i64) {
    fn span(self) -> (i64, i64) {
        self
    }
}

impl<T: Copy> Span for (T, i64, i64) {
    fn span(self) -> (i64, i64) {
        (self.1, self.2)
    }
}

/// Length of `a ∩ b` and its earliest instant, for two sorted disjoint lists;
/// `None` when they do not intersect.
pub(crate) fn intersect(a: &[impl Span], b: &[impl Span]) -> Option<(i64, i64)> {
    let (mut i, mut j) = (0, 0);
    let mut found: Option<(i64, i64)> = None;
    while i < a.len() && j < b.len() {
        let ((a0, a1), (b0, b1)) = (a[i].span(), b[j].span());
        let lo = a0.max(b0);
        let hi = a1.min(b1);
        if lo < hi {
            found = Some(match found {
                Some((total, first)) => (total + hi - lo, first.min(lo)),
                None => (hi - lo, lo),
            });
        }
        if a1 <= b1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unite_merges_touching_and_nested() {
        assert_eq!(
            unite([(1, 5), (5, 9), (6, 7), (10, 11)]),
            vec![(1, 9), (10, 11)]
        );
        assert_eq!(unite([]), vec![]);
    }

    #[test]
    fn covered_is_the_length_of_the_union() {
        let cases: [&[(i64, i64)]; 4] = [
            &[(1, 5), (5, 9), (6, 7), (10, 11)],
            &[],
            &[(0, 3), (1, 2), (2, 8), (9, 10)],
            &[(4, 5)],
        ];
        for sorted in cases {
            let united = unite(sorted.iter().copied());
            let length: i64 = united.iter().map(|(a, b)| b - a).sum();
            assert_eq!(covered(sorted.iter().copied()), length, "{sorted:?}");
        }
    }

    #[test]
    fn intersect_sums_and_finds_first() {
        assert_eq!(intersect(&[(0, 10), (20, 30)], &[(5, 25)]), Some((10, 5)));
        assert_eq!(intersect(&[(0, 10)], &[(10, 20)]), None);
    }
}
