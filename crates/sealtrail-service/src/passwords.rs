//! Password hashing and checking with bounded CPU and memory.
//!
//! Argon2 is slow and memory-hard on purpose (19 MiB and tens of milliseconds per check), which
//! makes it a lever for anyone who can make the server check passwords — the sign-in form needs
//! no account. So checks run at most [`PasswordWork::concurrency`] at a time, each in one of a
//! fixed set of reused Argon2 memories (so a burst never grows the process), and an anonymous
//! check is refused at once, before any hashing, when too many are already waiting.

use sealtrail_core::users::{self, PasswordHashError, PasswordMemory};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::Semaphore;

/// Too many password checks are queued; the caller should answer 429 and not hash anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// The process's password work: a fixed number of slots, each with its own Argon2 memory.
#[derive(Debug)]
pub struct PasswordWork {
    slots: Arc<Semaphore>,
    concurrency: usize,
    memories: Mutex<Vec<PasswordMemory>>,
    /// Checks admitted and not finished (running or waiting for a slot).
    in_flight: Arc<AtomicUsize>,
    /// Most anonymous checks admitted beyond the running ones.
    max_waiting: usize,
}

/// Decrements the in-flight count when the work ends, however it ends.
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PasswordWork {
    /// `concurrency` checks at once (at least one), with up to `max_waiting` anonymous checks
    /// queued behind them.
    pub fn new(concurrency: usize, max_waiting: usize) -> Arc<Self> {
        let concurrency = concurrency.max(1);
        Arc::new(PasswordWork {
            slots: Arc::new(Semaphore::new(concurrency)),
            concurrency,
            memories: Mutex::new(Vec::new()),
            in_flight: Arc::new(AtomicUsize::new(0)),
            max_waiting,
        })
    }

    /// The process-wide instance: one slot per core (memory: 19 MiB per core at most), and
    /// eight waiting checks per slot (a few hundred milliseconds of queue).
    pub fn global() -> Arc<Self> {
        static GLOBAL: OnceLock<Arc<PasswordWork>> = OnceLock::new();
        GLOBAL
            .get_or_init(|| {
                let cores = std::thread::available_parallelism().map_or(2, usize::from);
                PasswordWork::new(cores, cores * 8)
            })
            .clone()
    }

    /// How many checks run at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Runs `work` in a slot on a blocking thread. The slot, and the memory, are released only
    /// when the work itself ends — even if the caller stopped waiting — so the bound holds.
    async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        in_flight: InFlight,
        work: impl FnOnce(&mut PasswordMemory) -> T + Send + 'static,
    ) -> Option<T> {
        let slot = self.slots.clone().acquire_owned().await.ok()?;
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut memory = crate::lock(&this.memories).pop().unwrap_or_default();
            let result = work(&mut memory);
            crate::lock(&this.memories).push(memory);
            drop((slot, in_flight));
            result
        })
        .await
        .ok()
    }

    fn admit(&self) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.in_flight.clone())
    }

    /// Checks a password for an anonymous caller (sign-in): `Busy` at once, before any hashing,
    /// when the queue is full.
    pub async fn verify_or_busy(
        self: &Arc<Self>,
        password: String,
        stored: String,
    ) -> Result<bool, Busy> {
        let in_flight = self.admit();
        if self.in_flight.load(Ordering::Acquire) > self.concurrency + self.max_waiting {
            metrics::counter!("sealtrail_password_checks_refused_total").increment(1);
            return Err(Busy);
        }
        Ok(self
            .run(in_flight, move |memory| {
                users::verify_password(&password, &stored, memory)
            })
            .await
            .unwrap_or(false))
    }

    /// Checks a password for a signed-in caller (changing their own password): waits its turn.
    pub async fn verify(self: &Arc<Self>, password: String, stored: String) -> bool {
        let in_flight = self.admit();
        self.run(in_flight, move |memory| {
            users::verify_password(&password, &stored, memory)
        })
        .await
        .unwrap_or(false)
    }

    /// Hashes a new password (account creation and changes, never anonymous): waits its turn.
    pub async fn hash(self: &Arc<Self>, password: String) -> Result<String, PasswordHashError> {
        let in_flight = self.admit();
        self.run(in_flight, move |_| users::hash_password(&password))
            .await
            .unwrap_or_else(|| Err(PasswordHashError::interrupted()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_is_refused_beyond_the_queue_and_memory_is_reused() {
        let work = PasswordWork::new(1, 2);
        let stored = users::hash_password("correct horse battery").unwrap();
        let mut checks = Vec::new();
        for _ in 0..20 {
            let work = work.clone();
            let stored = stored.clone();
            checks.push(tokio::spawn(async move {
                work.verify_or_busy("wrong password!".into(), stored).await
            }));
        }
        let mut refused = 0;
        for check in checks {
            match check.await.unwrap() {
                Ok(matched) => assert!(!matched),
                Err(Busy) => refused += 1,
            }
        }
        assert!(refused >= 17 - 3, "only {refused} of 20 refused");
        assert!(work.verify("correct horse battery".into(), stored).await);
        assert_eq!(
            work.memories.lock().unwrap().len(),
            1,
            "one slot, one memory, reused"
        );
        assert_eq!(work.in_flight.load(Ordering::Acquire), 0);
    }
}
