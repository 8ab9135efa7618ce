//! A synchronous engine called from the benchmark's async scenarios.
//!
//! The `postgres` client drives a small Tokio runtime of its own, which refuses to block (or
//! be dropped) on a thread that is already driving the benchmark's runtime: called from an
//! async scenario directly it panics. [`OffRuntime`] runs every call — creation and drop
//! included — through `block_in_place`, which hands this worker's other tasks to another
//! thread and leaves the runtime context for the call's duration. That hand-over costs a few
//! microseconds, which the raw PostgreSQL timings include.

use super::{RawCursor, RawEngine, RawError, RawFilter, RawInsert, RawRow};
use std::io::Write;

/// `engine`, callable from inside the benchmark's multi-threaded runtime.
pub struct OffRuntime<E: RawEngine> {
    /// `None` only while being dropped.
    engine: Option<E>,
}

impl<E: RawEngine> OffRuntime<E> {
    /// Creates the engine outside the runtime context too (the client starts its runtime then).
    pub fn create(create: impl FnOnce() -> Result<E, RawError>) -> Result<Self, RawError> {
        Ok(OffRuntime {
            engine: Some(off_runtime(create)?),
        })
    }

    fn call<T>(&mut self, f: impl FnOnce(&mut E) -> Result<T, RawError>) -> Result<T, RawError> {
        let engine = self.engine.as_mut().ok_or(RawError::Closed)?;
        off_runtime(|| f(engine))
    }
}

/// Runs `f` outside the current Tokio runtime context, if there is one.
fn off_runtime<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(_) => tokio::task::block_in_place(f),
        Err(_) => f(),
    }
}

impl<E: RawEngine> Drop for OffRuntime<E> {
    fn drop(&mut self) {
        if let Some(engine) = self.engine.take() {
            off_runtime(move || drop(engine));
        }
    }
}

impl<E: RawEngine> RawEngine for OffRuntime<E> {
    fn insert_rows(&mut self, rows: &[RawInsert<'_>]) -> Result<(), RawError> {
        self.call(|e| e.insert_rows(rows))
    }

    fn newest(
        &mut self,
        tenant: u32,
        filter: &RawFilter,
        after: Option<&RawCursor>,
        limit: usize,
    ) -> Result<Vec<RawRow>, RawError> {
        self.call(|e| e.newest(tenant, filter, after, limit))
    }

    fn count(&mut self, tenant: u32, filter: &RawFilter) -> Result<u64, RawError> {
        self.call(|e| e.count(tenant, filter))
    }

    fn day_counts(&mut self, tenant: u32, filter: &RawFilter) -> Result<u64, RawError> {
        self.call(|e| e.day_counts(tenant, filter))
    }

    fn search(&mut self, tenant: u32, term: &str, limit: usize) -> Result<Vec<RawRow>, RawError> {
        self.call(|e| e.search(tenant, term, limit))
    }

    fn substring(
        &mut self,
        tenant: u32,
        needle: &str,
        limit: usize,
    ) -> Result<Vec<RawRow>, RawError> {
        self.call(|e| e.substring(tenant, needle, limit))
    }

    fn export_csv(&mut self, tenant: u32, out: &mut dyn Write) -> Result<u64, RawError> {
        self.call(|e| e.export_csv(tenant, out))
    }

    fn name(&self) -> &'static str {
        self.engine.as_ref().map_or("raw (closed)", RawEngine::name)
    }
}

#[cfg(test)]
mod tests {
    use super::super::postgres::RawPostgres;
    use super::super::suite;
    use super::*;
    use sealtrail_testkit::pg_harness;

    /// The way `sealtrail bench --database` uses it: created, queried and dropped on a worker
    /// of a multi-threaded runtime. A bare `RawPostgres` panics there ("Cannot start a
    /// runtime from within a runtime").
    #[test]
    fn a_postgres_engine_works_inside_the_benchmark_runtime() {
        let url = pg_harness::require_shared().create_database().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let mut engine = OffRuntime::create(|| RawPostgres::create(&url)).unwrap();
            assert_eq!(engine.name(), "raw PostgreSQL");
            suite::pages(&mut engine);
            drop(engine);
        });
    }
}
