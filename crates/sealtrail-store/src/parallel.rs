//! Pure per-row work spread over every core, results in input order. Opening a page of entries
//! (JSON decoding of the envelope and its vault values), encoding it for an export, and
//! checking entries during verification are independent per row; on one core they kept the
//! others idle while an export or a verification waited on them. Public because exports open
//! and encode each run of a page on the thread that holds it (`SealedPage`).

use std::sync::OnceLock;

/// Rows each extra thread must get before one is started: starting a thread costs tens of
/// microseconds, opening a row a few, so small pages stay on the calling thread.
const MIN_ROWS_PER_THREAD: usize = 256;

/// The cores this process may use, read once.
pub fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// `f(start, run)` of each contiguous run of `items`, `start` being the index of the run's
/// first item: one run per core (a single run when `items` is small), results in order; the
/// calling thread takes the first run. A panic in `f` is resumed on the calling thread, as if
/// `f` had run there.
pub fn runs<T: Sync, U: Send>(items: &[T], f: impl Fn(usize, &[T]) -> U + Sync) -> Vec<U> {
    let threads = cores().min(items.len() / MIN_ROWS_PER_THREAD).max(1);
    if threads == 1 {
        return vec![f(0, items)];
    }
    let per_run = items.len().div_ceil(threads);
    let mut chunks = items.chunks(per_run).enumerate();
    let first = chunks.next().map_or(&items[..0], |(_, run)| run);
    let f = &f;
    std::thread::scope(|scope| {
        let others: Vec<_> = chunks
            .map(|(i, run)| scope.spawn(move || f(i * per_run, run)))
            .collect();
        let mut out = Vec::with_capacity(others.len() + 1);
        out.push(f(0, first));
        for other in others {
            match other.join() {
                Ok(done) => out.push(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

/// `items.iter().map(f).collect()`, over every core when there are many items.
pub fn map<T: Sync, U: Send>(items: &[T], f: impl Fn(&T) -> U + Sync) -> Vec<U> {
    runs(items, |_, run| run.iter().map(&f).collect::<Vec<U>>())
        .into_iter()
        .flatten()
        .collect()
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
            prop_assert_eq!(map(&items, |x| u64::from(*x) * 3), expected);
        }

        /// The runs cover the items exactly once, in order, each told where it starts, and
        /// there are never more runs than cores.
        #[test]
        fn runs_partition_the_items(items in proptest::collection::vec(any::<u32>(), 0..3000)) {
            let parts = runs(&items, |start, run| (start, run.to_vec()));
            prop_assert!(parts.len() <= cores().max(1));
            let mut next = 0;
            for (start, run) in &parts {
                prop_assert_eq!(*start, next);
                next += run.len();
            }
            let joined: Vec<u32> = parts.into_iter().flat_map(|(_, run)| run).collect();
            prop_assert_eq!(joined, items);
        }
    }

    #[test]
    fn a_panic_in_another_thread_reaches_the_caller() {
        let items: Vec<u32> = (0..4000).collect();
        let caught = std::panic::catch_unwind(|| {
            map(&items, |x| if *x == 3999 { panic!("boom") } else { *x })
        });
        assert!(caught.is_err());
    }
}
