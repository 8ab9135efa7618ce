//! The single writer: one OS thread owns the only read-write connection and commits queued
//! appends in groups, acknowledging each request only after its group's COMMIT returned.

use super::append::{write_group, RequestRef};
use super::error::{is_busy, is_fatal};
use crate::StoreError;
use rusqlite::Connection;
use sealtrail_core::entry::{Appended, NewEntry};
use sealtrail_core::TenantId;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Why a write did not happen: an SQLite error (which may be fatal for the writer) or a
/// refusal already phrased for the caller.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    /// SQLite failed; [`is_fatal`] decides whether the writer may carry on.
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
    /// A refusal for the caller (conflict, unknown tenant, …).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A job run on the writer connection (tenant and key changes), outside any group.
pub(crate) type Job = Box<dyn FnOnce(&mut Connection, &WriterShared) + Send>;

/// One `append` call waiting for the writer.
pub(crate) struct AppendRequest {
    /// The log the events go to.
    pub tenant: TenantId,
    /// The events, in request order.
    pub entries: Vec<NewEntry>,
    /// Answered only after the group holding this request has committed (or failed).
    pub reply: oneshot::Sender<Result<Vec<Appended>, StoreError>>,
}

/// What the writer thread receives.
pub(crate) enum Command {
    /// Events to append; grouped with whatever else is queued.
    Append(AppendRequest),
    /// A tenant or key change, run on its own between groups.
    Job(Job),
}

/// How the writer forms groups.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GroupLimits {
    /// Stop draining the queue once a group holds this many entries.
    pub max_entries: usize,
    /// After the first request, wait up to this long for more before committing.
    pub wait: Duration,
}

/// State the writer thread shares with the store handle.
#[derive(Debug, Default)]
pub(crate) struct WriterShared {
    /// Set once, on the first fatal storage error; every later write is refused with it.
    failure: OnceLock<String>,
    /// Group transactions committed, for tests and operators.
    commits: AtomicU64,
}

impl WriterShared {
    /// The fatal error that stopped the writer, if any.
    pub(crate) fn failure(&self) -> Option<&str> {
        self.failure.get().map(String::as_str)
    }

    /// Marks the writer failed: after a failed write or fsync nothing more may be acknowledged.
    pub(crate) fn fail(&self, reason: String) {
        if self.failure.set(reason.clone()).is_ok() {
            metrics::counter!("sealtrail_writer_failures_total").increment(1);
            tracing::error!(%reason, "log writer stopped after a fatal storage error");
        }
    }

    /// Group transactions committed so far.
    pub(crate) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// The error every write gets once the writer has failed.
    pub(crate) fn failed_error(&self) -> Option<StoreError> {
        self.failure()
            .map(|reason| StoreError::WriterFailed(reason.to_string()))
    }

    /// Converts a write error, stopping the writer if it is fatal.
    pub(crate) fn classify(&self, error: WriteError) -> StoreError {
        match error {
            WriteError::Sql(e) if is_fatal(&e) => {
                self.fail(e.to_string());
                StoreError::WriterFailed(e.to_string())
            }
            WriteError::Sql(e) => StoreError::Backend(e.to_string()),
            WriteError::Store(e) => e,
        }
    }
}

/// The store's handle on the writer thread. Dropping it closes the queue; the thread commits
/// whatever was already queued, closes its connection and is joined.
pub(crate) struct WriterHandle {
    sender: Option<Sender<Command>>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<WriterShared>,
}

impl WriterHandle {
    /// Starts the writer thread around an already migrated connection.
    pub(crate) fn spawn(conn: Connection, limits: GroupLimits) -> Result<Self, StoreError> {
        let (sender, receiver) = std::sync::mpsc::channel();
        let shared = Arc::new(WriterShared::default());
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("sealtrail-writer".into())
            .spawn(move || run(conn, receiver, &thread_shared, limits))
            .map_err(|e| StoreError::Backend(format!("starting the writer thread: {e}")))?;
        Ok(WriterHandle {
            sender: Some(sender),
            thread: Some(thread),
            shared,
        })
    }

    /// The state shared with the thread.
    pub(crate) fn shared(&self) -> &WriterShared {
        &self.shared
    }

    /// True while the thread is running and has not failed.
    pub(crate) fn healthy(&self) -> Result<(), StoreError> {
        if let Some(e) = self.shared.failed_error() {
            return Err(e);
        }
        match &self.thread {
            Some(t) if !t.is_finished() => Ok(()),
            _ => Err(stopped()),
        }
    }

    /// Queues a command for the writer thread.
    pub(crate) fn send(&self, command: Command) -> Result<(), StoreError> {
        self.sender
            .as_ref()
            .ok_or_else(stopped)?
            .send(command)
            .map_err(|_| stopped())
    }

    /// Queues an append and waits for its durable acknowledgement.
    pub(crate) async fn append(
        &self,
        tenant: TenantId,
        entries: Vec<NewEntry>,
    ) -> Result<Vec<Appended>, StoreError> {
        if let Some(e) = self.shared.failed_error() {
            return Err(e);
        }
        let (reply, answer) = oneshot::channel();
        self.send(Command::Append(AppendRequest {
            tenant,
            entries,
            reply,
        }))?;
        answer.await.map_err(|_| stopped())?
    }

    /// Runs `job` on the writer connection, between groups, and returns its answer.
    pub(crate) async fn run_job<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Connection) -> Result<T, WriteError> + Send + 'static,
    ) -> Result<T, StoreError> {
        if let Some(e) = self.shared.failed_error() {
            return Err(e);
        }
        let (reply, answer) = oneshot::channel();
        self.send(Command::Job(Box::new(move |conn, shared| {
            let result = match shared.failed_error() {
                Some(e) => Err(e),
                None => job(conn).map_err(|e| shared.classify(e)),
            };
            // The caller may have given up waiting; nothing to do then.
            let _ = reply.send(result);
        })))?;
        answer.await.map_err(|_| stopped())?
    }
}

impl Drop for WriterHandle {
    fn drop(&mut self) {
        self.sender.take();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the log writer thread panicked");
            }
        }
    }
}

fn stopped() -> StoreError {
    StoreError::WriterFailed("the log writer thread has stopped".into())
}

/// The writer thread's loop: take one command, drain a group behind it, commit, reply.
fn run(
    mut conn: Connection,
    receiver: Receiver<Command>,
    shared: &WriterShared,
    limits: GroupLimits,
) {
    let mut carried: Option<Command> = None;
    loop {
        let command = match carried.take() {
            Some(c) => c,
            None => match receiver.recv() {
                Ok(c) => c,
                Err(_) => break, // the store was dropped and the queue is empty
            },
        };
        match command {
            Command::Job(job) => job(&mut conn, shared),
            Command::Append(first) => {
                let (group, next) = collect_group(first, &receiver, limits);
                carried = next;
                commit_group(&mut conn, shared, group);
            }
        }
    }
}

/// Drains queued appends behind `first` up to the group limits. A command that does not fit
/// (a job, or a request that would overflow the group) is handed back to run next.
fn collect_group(
    first: AppendRequest,
    receiver: &Receiver<Command>,
    limits: GroupLimits,
) -> (Vec<AppendRequest>, Option<Command>) {
    let deadline = Instant::now() + limits.wait;
    let mut entries = first.entries.len();
    let mut group = vec![first];
    while entries < limits.max_entries {
        let next = match receiver.try_recv() {
            Ok(c) => c,
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                match receiver.recv_timeout(left) {
                    Ok(c) => c,
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                }
            }
        };
        match next {
            Command::Append(r) if entries + r.entries.len() <= limits.max_entries => {
                entries += r.entries.len();
                group.push(r);
            }
            other => return (group, Some(other)),
        }
    }
    (group, None)
}

/// Commits a group and replies to each request. A non-fatal failure retries the requests one
/// by one, so one bad request cannot fail the others; a fatal one stops the writer.
fn commit_group(conn: &mut Connection, shared: &WriterShared, group: Vec<AppendRequest>) {
    if let Some(reason) = shared.failure() {
        for request in group {
            let _ = request
                .reply
                .send(Err(StoreError::WriterFailed(reason.to_string())));
        }
        return;
    }
    let started = Instant::now();
    let refs: Vec<RequestRef<'_>> = group
        .iter()
        .map(|r| RequestRef {
            tenant: r.tenant,
            entries: &r.entries,
        })
        .collect();
    let outcome = write_group(conn, &refs);
    drop(refs);
    match outcome {
        Ok(outcome) => {
            shared.commits.fetch_add(1, Ordering::Relaxed);
            metrics::histogram!("sealtrail_commit_seconds").record(started.elapsed().as_secs_f64());
            metrics::histogram!("sealtrail_commit_group_entries").record(outcome.stored as f64);
            metrics::counter!("sealtrail_entries_appended_total").increment(outcome.stored);
            for (request, result) in group.into_iter().zip(outcome.results) {
                let _ = request.reply.send(result);
            }
        }
        Err(error) => {
            let busy = matches!(&error, WriteError::Sql(e) if is_busy(e));
            match shared.classify(error) {
                StoreError::WriterFailed(reason) => {
                    for request in group {
                        let _ = request
                            .reply
                            .send(Err(StoreError::WriterFailed(reason.clone())));
                    }
                }
                error if group.len() > 1 && !busy => {
                    tracing::warn!(%error, requests = group.len(), "group commit failed; retrying its requests one by one");
                    for request in group {
                        commit_group(conn, shared, vec![request]);
                    }
                }
                // A single request fails alone. A busy database (another process held the
                // write lock past the busy timeout) fails the whole group: retrying request by
                // request would only wait that long again, once per request.
                error => {
                    let message = match &error {
                        StoreError::Backend(m) => m.clone(),
                        other => other.to_string(),
                    };
                    let mut group = group.into_iter();
                    if let Some(first) = group.next() {
                        let _ = first.reply.send(Err(error));
                    }
                    for request in group {
                        let _ = request
                            .reply
                            .send(Err(StoreError::Backend(message.clone())));
                    }
                }
            }
        }
    }
}
