//! Pure per-row work spread over every core, results in input order. Opening a page of entries
//! (JSON decoding of the envelope and its vault values), encoding it for an export, and
//! checking entries during verification are independent per row; on one core they kept the
//! others idle while an export or a verification waited on them; so are an evidence bundle's
//! lines when an auditor verifies it. In the core because the store, the export service and
//! the offline bundle verifier (which needs no store) all use it.
//!
//! Two shapes: [`runs`] splits one slice over the cores and waits for all of it (a page asked
//! for at once); [`Lanes`] keeps one worker per core busy with a stream of batches while the
//! caller reads the next and takes finished ones back in order, with no wait between batches
//! (a verification's or an export's whole log).

use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::sync::OnceLock;
use std::thread::JoinHandle;

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

/// Batches queued for each lane before [`Lanes::submit`] waits: enough to keep every core
/// busy, few enough that memory stays a few batches.
const QUEUED_PER_LANE: usize = 2;

/// A lane stopped before finishing what it was given: its work panicked (logged when the lanes
/// are joined). The caller must fail rather than pass over the batches it never got back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a worker thread stopped unexpectedly; the cause has been logged")]
pub struct LaneStopped;

/// One worker thread and both ends of its queues.
struct Lane<I, O> {
    batches: SyncSender<I>,
    results: Receiver<O>,
    thread: JoinHandle<()>,
}

/// One worker per core applying the same work to a stream of batches: batches go to the
/// lanes in turn and their results are taken back in the same turn, so they come back in the
/// order they were submitted without a barrier between batches. The caller (typically reading
/// the next batch from a database) keeps going while earlier batches are worked on; the
/// lanes stop when this is dropped.
pub struct Lanes<I: Send + 'static, O: Send + 'static> {
    /// What the threads do, for the log when one panics.
    name: &'static str,
    lanes: Vec<Lane<I, O>>,
    /// Batches handed over so far.
    submitted: usize,
    /// Batches whose results have been taken back.
    taken: usize,
    /// Set once a lane stopped early.
    stopped: bool,
}

impl<I: Send + 'static, O: Send + 'static> Lanes<I, O> {
    /// Starts one lane per core, each applying `work` to the batches it is given; `name` says
    /// what they do in the log.
    pub fn start(name: &'static str, work: impl Fn(I) -> O + Send + Clone + 'static) -> Self {
        let lanes = (0..cores())
            .map(|_| {
                let work = work.clone();
                let (batches, queue) = sync_channel::<I>(QUEUED_PER_LANE);
                let (done, results) = channel();
                let thread = std::thread::spawn(move || {
                    while let Ok(batch) = queue.recv() {
                        if done.send(work(batch)).is_err() {
                            return;
                        }
                    }
                });
                Lane {
                    batches,
                    results,
                    thread,
                }
            })
            .collect();
        Lanes {
            name,
            lanes,
            submitted: 0,
            taken: 0,
            stopped: false,
        }
    }

    /// The lane whose turn batch `n` is.
    fn lane(&self, n: usize) -> Option<&Lane<I, O>> {
        self.lanes.get(n % self.lanes.len().max(1))
    }

    /// Hands `batch` to the next lane (waiting while its queue is full) and returns the
    /// results already finished, in order.
    pub fn submit(&mut self, batch: I) -> Result<Vec<O>, LaneStopped> {
        let sent = !self.stopped
            && self
                .lane(self.submitted)
                .is_some_and(|lane| lane.batches.send(batch).is_ok());
        if !sent {
            return Err(self.stop());
        }
        self.submitted += 1;
        self.take(false)
    }

    /// Waits for every batch handed over and returns their results, in order.
    pub fn drain(&mut self) -> Result<Vec<O>, LaneStopped> {
        self.take(true)
    }

    /// Takes back the results of the batches handed over, in order: all of them when `wait`
    /// is set, else those already finished.
    fn take(&mut self, wait: bool) -> Result<Vec<O>, LaneStopped> {
        let mut ready = Vec::new();
        while self.taken < self.submitted {
            let next = self.lane(self.taken).and_then(|lane| {
                if wait {
                    lane.results.recv().ok()
                } else {
                    lane.results.try_recv().ok()
                }
            });
            match next {
                Some(done) => {
                    self.taken += 1;
                    ready.push(done);
                }
                None if wait => return Err(self.stop()),
                None => break,
            }
        }
        Ok(ready)
    }

    /// Stops the lanes: one only stops early by panicking, a bug to report, never to pass
    /// over as if its batches had been done.
    fn stop(&mut self) -> LaneStopped {
        self.stopped = true;
        for lane in self.lanes.drain(..) {
            drop(lane.batches);
            if lane.thread.join().is_err() {
                tracing::error!(work = self.name, "a worker thread panicked");
            }
        }
        LaneStopped
    }
}

impl<I: Send + 'static, O: Send + 'static> Drop for Lanes<I, O> {
    fn drop(&mut self) {
        // Closing the queues ends each lane once it has finished its batch; its unread
        // results are dropped with it.
        for lane in self.lanes.drain(..) {
            drop(lane.batches);
            drop(lane.results);
            let _ = lane.thread.join();
        }
    }
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

    proptest! {
        /// Whatever the batches, their results come back once each, in the order submitted,
        /// some as later batches are handed over and the rest when the lanes are drained.
        #[test]
        fn lanes_return_every_result_in_order(
            batches in proptest::collection::vec(proptest::collection::vec(any::<u16>(), 0..40), 0..60),
        ) {
            let mut lanes = Lanes::start("test", |batch: Vec<u16>| {
                batch.iter().map(|x| u32::from(*x) * 2).collect::<Vec<u32>>()
            });
            let mut got = Vec::new();
            for batch in batches.clone() {
                let ready = lanes.submit(batch);
                prop_assert!(ready.is_ok());
                got.extend(ready.unwrap_or_default());
            }
            got.extend(lanes.drain().unwrap_or_default());
            let expected: Vec<Vec<u32>> = batches
                .iter()
                .map(|b| b.iter().map(|x| u32::from(*x) * 2).collect())
                .collect();
            prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn a_lane_that_panics_stops_the_lanes_with_an_error() {
        let mut lanes = Lanes::start("test", |n: u32| {
            if n == 7 {
                panic!("boom");
            }
            n
        });
        let mut failed = false;
        for n in 0..20 {
            if lanes.submit(n).is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed || lanes.drain().is_err());
        assert_eq!(lanes.submit(30), Err(LaneStopped));
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
