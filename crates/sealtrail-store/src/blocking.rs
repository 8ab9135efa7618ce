//! Synchronous database work run off the async threads, a bounded number at a time. Both
//! backends' clients are synchronous (rusqlite, postgres), so each pooled call waits for a
//! permit (one per connection) and then runs on a blocking thread that holds it.

use crate::StoreError;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Waits for one of `permits`, then runs `work` on a blocking thread holding it: never more
/// calls at once than `pool` has connections, and an async thread never blocks on a query.
/// `pool` names the pool in the error when it was closed or the task died.
pub(crate) async fn with_permit<T: Send + 'static>(
    permits: &Arc<Semaphore>,
    pool: &'static str,
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let permit = permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| StoreError::Backend(format!("the {pool} is closed")))?;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work()
    })
    .await
    .map_err(|e| StoreError::Backend(format!("a task of the {pool} failed: {e}")))?
}

/// Runs file work on a blocking thread (no permit: it holds no connection); `what` names it
/// in the error when the task died.
pub(crate) async fn run<T: Send + 'static>(
    what: &'static str,
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Backend(format!("a task of the {what} failed: {e}")))?
}
