//! Pure per-row work spread over every core, results in input order. Opening a page of entries
//! (JSON decoding of the envelope and its vault values) and checking entries during
//! verification (hashes, commitments, the entry's copies) are independent per row; on one core
//! they kept the others idle while an export or a verification waited on them.

use std::sync::OnceLock;

/// Rows each extra thread must get before one is started: starting a thread costs tens of
/// microseconds, opening a row a few, so small pages stay on the calling thread.
const MIN_ROWS_PER_THREAD: usize = 256;

/// The cores this process may use, read once.
pub(crate) fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// `items.into_iter().map(f).collect()`, with the items split into contiguous runs, one per
/// core, the calling thread taking the first. A panic in `f` is resumed on the calling thread,
/// as if `f` had run there.
pub(crate) fn map<T: Send, U: Send>(items: Vec<T>, f: impl Fn(T) -> U + Sync) -> Vec<U> {
    let threads = cores().min(items.len() / MIN_ROWS_PER_THREAD).max(1);
    if threads == 1 {
        return items.into_iter().map(f).collect();
    }
    let per_thread = items.len().div_ceil(threads);
    let mut runs: Vec<Vec<T>> = Vec::with_capacity(threads);
    let mut rest = items.into_iter();
    loop {
        let run: Vec<T> = rest.by_ref().take(per_thread).collect();
        if run.is_empty() {
            break;
        }
        runs.push(run);
    }
    let mut runs = runs.into_iter();
    let first = runs.next().unwrap_or_default();
    let f = &f;
    std::thread::scope(|scope| {
        let others: Vec<_> = runs
            .map(|run| scope.spawn(move || run.into_iter().map(f).collect::<Vec<U>>()))
            .collect();
        let mut out: Vec<U> = first.into_iter().map(f).collect();
        for other in others {
            match other.join() {
                Ok(done) => out.extend(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the length, the result is the sequential map, in order.
        #[test]
        fn results_keep_the_input_order(items in proptest::collection::vec(any::<u32>(), 0..3000)) {
            let expected: Vec<u64> = items.iter().map(|x| u64::from(*x) * 3).collect();
            prop_assert_eq!(map(items, |x| u64::from(x) * 3), expected);
        }
    }

    #[test]
    fn a_panic_in_another_thread_reaches_the_caller() {
        let items: Vec<u32> = (0..4000).collect();
        let caught =
            std::panic::catch_unwind(|| map(items, |x| if x == 3999 { panic!("boom") } else { x }));
        assert!(caught.is_err());
    }
}
