//! How the workload's producers batch their events, shared by every loader so Sealtrail and
//! the raw baseline receive exactly the same transactions.
//!
//! Each tenant's producer sends a batch when it is full or, at the latest, every
//! [`FLUSH_EVERY_DAYS`] of workload time; without the deadline a small tenant's events would
//! wait for the end of the load, hundreds of thousands of them held at once, and the loader
//! would measure the memory allocator rather than the store. After the workload, the one large
//! log follows in batches that also never span more than a day, since a batch is recorded at
//! its newest event's time and a small bulk log must still spread over the year.

use crate::workload::{Submission, Workload, WorkloadSpec, DAY_MS};
use std::collections::VecDeque;

/// How long a producer holds events before sending a partial batch.
pub const FLUSH_EVERY_DAYS: i64 = 60;

/// Who sends a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Producer {
    /// The workload tenant of this rank.
    Tenant(u32),
    /// The tenant holding the one large log.
    Bulk,
}

/// The spec of the one large log that follows `spec`: one tenant, no retries, its own seed.
pub fn bulk_spec(spec: &WorkloadSpec, bulk_events: u64) -> WorkloadSpec {
    WorkloadSpec {
        seed: spec.seed ^ 0xb01c,
        events: bulk_events,
        tenants: 1,
        duplicate_rate: 0.0,
        ..spec.clone()
    }
}

/// The load's batches in sending order: the workload's (duplicates included, as producers
/// retry them), then the large log's.
pub struct Batches {
    workload: Workload,
    bulk: Workload,
    batch: usize,
    buffers: Vec<Vec<Submission>>,
    window_end: i64,
    workload_done: bool,
    chunk: Vec<Submission>,
    ready: VecDeque<(Producer, Vec<Submission>)>,
    submitted: u64,
}

impl Batches {
    /// The batches of `spec` and a `bulk_events` log, at most `batch` events each.
    pub fn new(spec: &WorkloadSpec, bulk_events: u64, batch: usize) -> Batches {
        Batches {
            workload: Workload::new(spec.clone()),
            bulk: Workload::new(bulk_spec(spec, bulk_events)),
            batch: batch.max(1),
            buffers: vec![Vec::new(); spec.tenants.max(1) as usize],
            window_end: spec.start().millis() + FLUSH_EVERY_DAYS * DAY_MS,
            workload_done: false,
            chunk: Vec::new(),
            ready: VecDeque::new(),
            submitted: 0,
        }
    }

    /// Submissions taken from the workloads so far (for progress reports).
    pub fn submitted(&self) -> u64 {
        self.submitted
    }

    /// Queues every producer's partial batch, in rank order.
    fn flush_all(&mut self) {
        for (rank, buffer) in self.buffers.iter_mut().enumerate() {
            if !buffer.is_empty() {
                self.ready
                    .push_back((Producer::Tenant(rank as u32), std::mem::take(buffer)));
            }
        }
    }

    fn take_workload(&mut self, s: Submission) {
        let at = s.event.at.millis();
        if at >= self.window_end {
            while self.window_end <= at {
                self.window_end += FLUSH_EVERY_DAYS * DAY_MS;
            }
            self.flush_all();
        }
        let rank = s.tenant as usize;
        self.buffers[rank].push(s);
        if self.buffers[rank].len() == self.batch {
            let full = std::mem::take(&mut self.buffers[rank]);
            self.ready.push_back((Producer::Tenant(rank as u32), full));
        }
    }

    fn take_bulk(&mut self, s: Submission) {
        let spans_a_day = self
            .chunk
            .first()
            .is_some_and(|first| s.event.at.millis() - first.event.at.millis() > DAY_MS);
        if spans_a_day {
            self.ready
                .push_back((Producer::Bulk, std::mem::take(&mut self.chunk)));
        }
        self.chunk.push(s);
        if self.chunk.len() == self.batch {
            self.ready
                .push_back((Producer::Bulk, std::mem::take(&mut self.chunk)));
        }
    }
}

impl Iterator for Batches {
    type Item = (Producer, Vec<Submission>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(ready) = self.ready.pop_front() {
                return Some(ready);
            }
            if !self.workload_done {
                match self.workload.next() {
                    Some(s) => {
                        self.submitted += 1;
                        self.take_workload(s);
                    }
                    None => {
                        self.workload_done = true;
                        self.flush_all();
                    }
                }
                continue;
            }
            match self.bulk.next() {
                Some(s) => {
                    self.submitted += 1;
                    self.take_bulk(s);
                }
                None if self.chunk.is_empty() => return None,
                None => return Some((Producer::Bulk, std::mem::take(&mut self.chunk))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealtrail_core::Timestamp;

    #[test]
    fn every_submission_is_sent_once_in_batches_that_respect_size_and_windows() {
        let spec = WorkloadSpec {
            tenants: 20,
            ..WorkloadSpec::standard(3, 5_000, Timestamp(1_795_000_000_000))
        };
        let mut batches = Batches::new(&spec, 900, 100);
        let mut seen = 0u64;
        let mut bulk = 0u64;
        for (producer, batch) in batches.by_ref() {
            assert!(!batch.is_empty() && batch.len() <= 100);
            let first = batch[0].event.at.millis();
            let last = batch[batch.len() - 1].event.at.millis();
            match producer {
                Producer::Tenant(rank) => {
                    assert!(batch.iter().all(|s| s.tenant == rank));
                    assert!(last - first < FLUSH_EVERY_DAYS * DAY_MS);
                }
                Producer::Bulk => {
                    assert!(last - first <= DAY_MS);
                    bulk += batch.len() as u64;
                }
            }
            seen += batch.len() as u64;
        }
        assert_eq!((seen, bulk, batches.submitted()), (5_900, 900, 5_900));
    }
}
