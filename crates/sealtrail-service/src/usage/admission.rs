//! How much ingest work may be in the server at once, so a flood of large batches meets a 503
//! instead of a writer queue that grows until the process runs out of memory.
//!
//! Two budgets: request bodies being read and parsed (bytes, reserved from `Content-Length`
//! before reading, or the largest allowed body when it is not given), and events waiting for,
//! or inside, a group commit. Queue room is reserved before the body is read, for as many
//! events as a body of that length can hold ([`events_upper_bound`]), and cut to the parsed
//! count afterwards: a full queue then refuses a request before any CPU is spent parsing it
//! (under overload, parsing what would be refused anyway starved the writer). A request that
//! cannot get its share at once is refused with 503 and `Retry-After`; nothing of it was
//! stored.

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
pub struct Admitted(OwnedSemaphorePermit);

/// The fewest bytes a storable event takes in a request body: `{"action":"a","actor":{"id":"u"}}`
/// is 33 (both fields are required).
pub const MIN_EVENT_BYTES: u64 = 32;

/// Most events a body of `declared` bytes can carry, at most `max_batch` (and `max_batch`
/// when the length is unknown).
pub fn events_upper_bound(declared: Option<u64>, max_batch: usize) -> usize {
    declared.map_or(max_batch, |len| {
        usize::try_from(len.div_ceil(MIN_EVENT_BYTES))
            .unwrap_or(usize::MAX)
            .clamp(1, max_batch.max(1))
    })
}

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

    /// Reserves queue room for `events` events.
    pub fn events(&self, events: usize) -> Result<Admitted, Full> {
        let n = u32::try_from(events.max(1)).unwrap_or(u32::MAX);
        self.queued_events
            .clone()
            .try_acquire_many_owned(n)
            .map(Admitted)
            .map_err(|_| Full::Queue)
    }

    /// Makes a queue reservation hold exactly `events` (at least one): the surplus of an upper
    /// bound goes back at once; a shortfall (a bound that was too low) is taken if free.
    pub fn resize(&self, reserved: &mut Admitted, events: usize) -> Result<(), Full> {
        let wanted = events.max(1);
        let held = reserved.0.num_permits();
        if held > wanted {
            drop(reserved.0.split(held - wanted));
        } else if held < wanted {
            let more = self.events(wanted - held)?;
            reserved.0.merge(more.0);
        }
        Ok(())
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

    #[test]
    fn a_reservation_is_cut_to_what_was_parsed_or_grown_when_room_is_free() {
        let a = IngestAdmission::new(1, 100);
        let mut r = a.events(60).unwrap();
        assert_eq!(a.events(50).unwrap_err(), Full::Queue);
        a.resize(&mut r, 10).unwrap();
        let other = a.events(90).unwrap();
        assert_eq!(a.resize(&mut r, 11).unwrap_err(), Full::Queue);
        drop(other);
        a.resize(&mut r, 70).unwrap();
        assert_eq!(a.events(31).unwrap_err(), Full::Queue);
        assert!(a.events(30).is_ok());
    }

    #[test]
    fn the_upper_bound_covers_the_smallest_storable_events() {
        let one = r#"{"action":"a","actor":{"id":"u"}}"#;
        let many = format!(r#"{{"events":[{}]}}"#, vec![one; 500].join(","));
        for (body, events) in [(one.to_string(), 1), (many, 500)] {
            let bound = events_upper_bound(Some(body.len() as u64), 1_000);
            assert!(
                bound >= events,
                "{bound} < {events} for {} bytes",
                body.len()
            );
        }
        assert_eq!(events_upper_bound(None, 1_000), 1_000);
        assert_eq!(events_upper_bound(Some(10 << 20), 1_000), 1_000);
        assert_eq!(events_upper_bound(Some(0), 1_000), 1);
    }
}
