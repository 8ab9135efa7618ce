//! Where a store's writer takes `recorded_at` from.
//!
//! In service it is always the system clock. A benchmark needs a log whose recorded times are
//! spread over a year the way a real one is (date presets, retention and pruning all depend on
//! them), and loading a year of history cannot wait a year, so a loader may drive the clock
//! itself. The writer still never lets time go backwards along a tenant's log.

use sealtrail_core::timestamp::Timestamp;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// The source of `recorded_at` for appends.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The machine's clock: the only choice `sealtrail serve` makes.
    #[default]
    System,
    /// A time set by the program that owns the store (a bulk loader), in Unix milliseconds.
    Replayed(Arc<AtomicI64>),
}

impl Clock {
    /// A replayed clock starting at `start`, and the handle that moves it.
    pub fn replayed(start: Timestamp) -> (Clock, ReplayHandle) {
        let cell = Arc::new(AtomicI64::new(start.millis()));
        (Clock::Replayed(cell.clone()), ReplayHandle(cell))
    }

    /// The current time by this clock.
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Replayed(cell) => Timestamp(cell.load(Ordering::Acquire)),
        }
    }
}

/// Moves a replayed [`Clock`]; every store holding that clock sees the new time at its next
/// group commit.
#[derive(Debug, Clone)]
pub struct ReplayHandle(Arc<AtomicI64>);

impl ReplayHandle {
    /// Sets the time appends will be recorded at from now on.
    pub fn set(&self, at: Timestamp) {
        self.0.store(at.millis(), Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replayed_clock_reads_what_its_handle_set() {
        let (clock, handle) = Clock::replayed(Timestamp(1_000));
        assert_eq!(clock.now(), Timestamp(1_000));
        handle.set(Timestamp(5_000));
        assert_eq!(clock.now(), Timestamp(5_000));
        assert!(Clock::System.now().millis() > 1_700_000_000_000);
    }
}
