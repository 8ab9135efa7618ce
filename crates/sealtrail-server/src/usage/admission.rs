//! How much ingest work may be in the server at once, so a flood of large batches meets a 503
//! instead of a writer queue that grows until the process runs out of memory.
//!
//! Two budgets: request bodies being read and parsed (bytes, reserved from `Content-Length`
//! before reading, or the largest allowed body when it is not given), and events parsed and
//! waiting for, or inside, a group commit. A request that cannot get its share at once is
//! refused with 503 and `Retry-After`; nothing of it was stored.

use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why a request was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// Too many bytes of request bodies are being read and parsed.
    Bodies,
    /// Too many events are queued for the writer.
    Queue,
}

/// The two budgets.
#[derive(Debug)]
pub struct IngestAdmission {
    body_kib: Arc<Semaphore>,
    queued_events: Arc<Semaphore>,
}

/// Held while the budget it took is in use.
#[derive(Debug)]
pub struct Admitted(#[allow(dead_code)] OwnedSemaphorePermit);

impl IngestAdmission {
    /// Budgets of `body_mib` MiB of bodies and `queued_events` events.
    pub fn new(body_mib: usize, queued_events: usize) -> Self {
        let kib = body_mib
            .saturating_mul(1024)
            .clamp(1, Semaphore::MAX_PERMITS);
        IngestAdmission {
            body_kib: Arc::new(Semaphore::new(kib)),
            queued_events: Arc::new(Semaphore::new(
                queued_events.clamp(1, Semaphore::MAX_PERMITS),
            )),
        }
    }

    /// Reserves room for a body of `declared` bytes (or `max_body` when unknown).
    pub fn body(&self, declared: Option<u64>, max_body: usize) -> Result<Admitted, Full> {
        let bytes = declared.map_or(max_body as u64, |d| d.min(max_body as u64));
        let kib = u32::try_from(bytes.div_ceil(1024).max(1)).unwrap_or(u32::MAX);
        self.body_kib
            .clone()
            .try_acquire_many_owned(kib)
            .map(Admitted)
            .map_err(|_| Full::Bodies)
    }

    /// Reserves queue room for `events` parsed events.
    pub fn events(&self, events: usize) -> Result<Admitted, Full> {
        let n = u32::try_from(events.max(1)).unwrap_or(u32::MAX);
        self.queued_events
            .clone()
            .try_acquire_many_owned(n)
            .map(Admitted)
            .map_err(|_| Full::Queue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_refuse_when_spent_and_free_up_when_released() {
        let a = IngestAdmission::new(1, 1_500);
        let big = a.body(Some(900 * 1024), 8 << 20).unwrap();
        assert_eq!(a.body(Some(200 * 1024), 8 << 20).unwrap_err(), Full::Bodies);
        assert_eq!(
            a.body(None, 8 << 20).unwrap_err(),
            Full::Bodies,
            "unknown size counts as the maximum"
        );
        drop(big);
        assert!(a.body(Some(200 * 1024), 8 << 20).is_ok());
        let batch = a.events(1_000).unwrap();
        assert_eq!(a.events(1_000).unwrap_err(), Full::Queue);
        drop(batch);
        assert!(a.events(1_000).is_ok());
    }
}
