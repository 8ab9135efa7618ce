//! Group commit, for every backend: one writer thread owns the log's write connection, takes the
//! first queued append, drains whatever else is queued behind it (up to a size and time budget),
//! commits them in one transaction, and only then acknowledges each request. One fsync (or one
//! WAL flush on PostgreSQL) is thereby shared by every request that arrived meanwhile.
//!
//! A backend supplies a [`GroupWriter`] (how one group is written and committed, how its
//! failures are classified, and any work it defers past the acknowledgement, which this loop
//! runs when it falls due, before every job and before the thread stops); the queueing, the
//! retry of a failed group request by request and the "stop after a fatal error" rule live
//! here once.

use crate::StoreError;
use sealtrail_core::entry::{Appended, NewEntry};
use sealtrail_core::envelope::{random_salts, Presealed};
use sealtrail_core::TenantId;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// One request's events, as the writer hands them over (borrowed, so a failed group can be
/// retried request by request).
pub(crate) struct RequestRef<'a> {
    /// The log the events go to.
    pub tenant: TenantId,
    /// The events, in request order, their vaulted parts already sealed.
    pub entries: &'a [Presealed],
}

/// What one committed group produced.
pub(crate) struct GroupOutcome {
    /// One answer per request, in order. A request can fail on its own (unknown tenant) without
    /// failing the group; it then wrote nothing.
    pub results: Vec<Result<Vec<Appended>, StoreError>>,
    /// Entries actually stored (duplicates excluded).
    pub stored: u64,
}

/// Why a group did not commit, and what that means for its requests.
#[derive(Debug)]
pub(crate) enum CommitError {
    /// The storage can no longer be trusted (a failed fsync): fail the group and every later
    /// write, so nothing more is acknowledged until a restart recovers from what is on disk.
    Fatal(String),
    /// Fail every request of the group without retrying: retrying would only wait again (the
    /// database is busy) or could store twice (the commit's outcome is unknown because the
    /// connection broke during it).
    Group(StoreError),
    /// Something in one request failed the transaction: retry the requests one by one, so one
    /// bad request cannot fail the others.
    Request(StoreError),
}

/// How a backend writes one group. Implementations own the write connection.
pub(crate) trait GroupWriter: Send + 'static {
    /// Writes every request in one transaction and commits it. Nothing may be acknowledged
    /// before this returns `Ok`.
    fn commit(&mut self, requests: &[RequestRef<'_>]) -> Result<GroupOutcome, CommitError>;

    /// When work deferred from the acknowledgement path (derived indexes) is next due; `None`
    /// while nothing waits. The writer wakes up for it even when no request arrives.
    fn deferred_due(&self) -> Option<Instant> {
        None
    }

    /// Committed entries whose deferred work is not done yet.
    fn deferred_entries(&self) -> u64 {
        0
    }

    /// Does the deferred work: all of it when `all` (before a job, and before the thread
    /// stops), otherwise only what is ready; returns the entries it completed. Failures are
    /// the implementation's to report (a fatal one through [`WriterShared::fail`]) and must
    /// push [`GroupWriter::deferred_due`] into the future.
    fn run_deferred(&mut self, _shared: &WriterShared, _all: bool) -> u64 {
        0
    }
}

/// A job run on the writer's connection, between groups.
pub(crate) type Job<W> = Box<dyn FnOnce(&mut W, &WriterShared) + Send>;

/// One `append` call waiting for the writer.
struct AppendRequest {
    tenant: TenantId,
    entries: Vec<Presealed>,
    /// Answered only after the group holding this request has committed (or failed).
    reply: oneshot::Sender<Result<Vec<Appended>, StoreError>>,
}

/// What the writer thread receives.
enum Command<W> {
    /// Events to append; grouped with whatever else is queued.
    Append(AppendRequest),
    /// Any other write, run on its own between groups.
    Job(Job<W>),
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
    /// Entries committed whose derived indexes are not written yet.
    deferred: AtomicU64,
    /// Append requests queued (or taken and carried) that no group has served yet.
    waiting: AtomicU64,
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

    /// Entries committed whose derived indexes (search, targets, facets) are not written yet;
    /// a read that needs them first asks the writer to catch up while this is not zero.
    pub(crate) fn deferred(&self) -> u64 {
        self.deferred.load(Ordering::Acquire)
    }

    /// Records how many entries await their derived indexes.
    pub(crate) fn set_deferred(&self, entries: u64) {
        self.deferred.store(entries, Ordering::Release);
        metrics::gauge!("sealtrail_index_pending_entries").set(entries as f64);
    }

    /// True while append requests wait for the writer: deferred work then goes in short
    /// slices between groups rather than in one long batch that would hold them all.
    pub(crate) fn appends_waiting(&self) -> bool {
        self.waiting.load(Ordering::Acquire) > 0
    }

    /// The error every write gets once the writer has failed.
    pub(crate) fn failed_error(&self) -> Option<StoreError> {
        self.failure()
            .map(|reason| StoreError::WriterFailed(reason.to_string()))
    }
}

/// The store's handle on the writer thread. Dropping it closes the queue; the thread commits
/// whatever was already queued, drops its writer and is joined.
pub(crate) struct WriterHandle<W> {
    sender: Option<Sender<Command<W>>>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<WriterShared>,
}

impl<W: GroupWriter> WriterHandle<W> {
    /// Starts the writer thread around a ready writer.
    pub(crate) fn spawn(writer: W, limits: GroupLimits) -> Result<Self, StoreError> {
        let (sender, receiver) = std::sync::mpsc::channel();
        let shared = Arc::new(WriterShared::default());
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("sealtrail-writer".into())
            .spawn(move || run(writer, receiver, &thread_shared, limits))
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

    /// The shared state, for helper threads (the WAL checkpointer) whose fatal errors must
    /// stop the writer too.
    pub(crate) fn shared_arc(&self) -> Arc<WriterShared> {
        self.shared.clone()
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

    fn send(&self, command: Command<W>) -> Result<(), StoreError> {
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
        // Sealed here, on the caller's thread, so the writer's share of each event is only its
        // envelope (see `Presealed`).
        let entries = entries
            .into_iter()
            .map(|entry| Presealed::new(entry, random_salts()))
            .collect();
        let (reply, answer) = oneshot::channel();
        let waiting = self.shared.waiting.fetch_add(1, Ordering::AcqRel) + 1;
        // Set here too, so a writer stuck in a commit shows its growing queue.
        metrics::gauge!("sealtrail_writer_queue_requests").set(waiting as f64);
        let sent = self.send(Command::Append(AppendRequest {
            tenant,
            entries,
            reply,
        }));
        if sent.is_err() {
            self.shared.waiting.fetch_sub(1, Ordering::AcqRel);
        }
        sent?;
        answer.await.map_err(|_| stopped())?
    }

    /// Runs `job` on the writer, between groups, and returns its answer; refused once the
    /// writer has failed.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut W, &WriterShared) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        if let Some(e) = self.shared.failed_error() {
            return Err(e);
        }
        let (reply, answer) = oneshot::channel();
        self.send(Command::Job(Box::new(move |writer, shared| {
            let result = match shared.failed_error() {
                Some(e) => Err(e),
                None => job(writer, shared),
            };
            // The caller may have given up waiting; nothing to do then.
            let _ = reply.send(result);
        })))?;
        answer.await.map_err(|_| stopped())?
    }
}

impl<W> Drop for WriterHandle<W> {
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
fn run<W: GroupWriter>(
    mut writer: W,
    receiver: Receiver<Command<W>>,
    shared: &WriterShared,
    limits: GroupLimits,
) {
    let mut carried: Option<Command<W>> = None;
    loop {
        let command = match carried.take() {
            Some(c) => c,
            None => match next_command(&mut writer, &receiver, shared) {
                Some(c) => c,
                None => break, // the store was dropped and the queue is empty
            },
        };
        match command {
            Command::Job(job) => {
                // Jobs (prune, erasure, a reader catching up) see every derived index written.
                run_deferred(&mut writer, shared, true);
                let started = Instant::now();
                job(&mut writer, shared);
                note_busy("job", 0, started.elapsed());
            }
            Command::Append(first) => {
                let started = Instant::now();
                let (group, next) = collect_group(first, &receiver, limits);
                carried = next;
                let left = shared
                    .waiting
                    .fetch_sub(group.len() as u64, Ordering::AcqRel)
                    .saturating_sub(group.len() as u64);
                metrics::gauge!("sealtrail_writer_queue_requests").set(left as f64);
                let entries = group.iter().map(|r| r.entries.len()).sum();
                commit_group(&mut writer, shared, group);
                note_busy("group", entries, started.elapsed());
                run_deferred(&mut writer, shared, false);
            }
        }
    }
    run_deferred(&mut writer, shared, true);
}

/// Waits for the next command, doing the writer's deferred work whenever it falls due in the
/// meantime; `None` once the queue is closed and empty.
fn next_command<W: GroupWriter>(
    writer: &mut W,
    receiver: &Receiver<Command<W>>,
    shared: &WriterShared,
) -> Option<Command<W>> {
    loop {
        let Some(due) = writer.deferred_due() else {
            return receiver.recv().ok();
        };
        match receiver.recv_timeout(due.saturating_duration_since(Instant::now())) {
            Ok(c) => return Some(c),
            Err(RecvTimeoutError::Disconnected) => return None,
            Err(RecvTimeoutError::Timeout) => {
                run_deferred(writer, shared, false);
            }
        }
    }
}

/// Runs the writer's deferred work and records how long it held the writer.
fn run_deferred<W: GroupWriter>(writer: &mut W, shared: &WriterShared, all: bool) {
    let started = Instant::now();
    let entries = writer.run_deferred(shared, all);
    if entries > 0 {
        note_busy("deferred", entries as usize, started.elapsed());
    }
}

/// Records how long the writer was busy with one group or job: every queued append waits
/// behind it, so these durations are what ingest latency is made of.
fn note_busy(kind: &'static str, entries: usize, took: Duration) {
    metrics::histogram!("sealtrail_writer_busy_seconds", "kind" => kind).record(took.as_secs_f64());
    if kind == "group" {
        metrics::histogram!("sealtrail_writer_group_entries").record(entries as f64);
    }
    if took >= SLOW_WRITE {
        tracing::info!(
            kind,
            entries,
            ms = took.as_millis() as u64,
            "slow write on the log writer"
        );
    }
}

/// A group or job holding the writer at least this long is logged.
const SLOW_WRITE: Duration = Duration::from_millis(100);

/// Drains queued appends behind `first` up to the group limits. A command that does not fit
/// (a job, or a request that would overflow the group) is handed back to run next.
fn collect_group<W>(
    first: AppendRequest,
    receiver: &Receiver<Command<W>>,
    limits: GroupLimits,
) -> (Vec<AppendRequest>, Option<Command<W>>) {
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

/// Commits a group and replies to each request, per the [`CommitError`] rules.
fn commit_group<W: GroupWriter>(writer: &mut W, shared: &WriterShared, group: Vec<AppendRequest>) {
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
    let outcome = writer.commit(&refs);
    drop(refs);
    match outcome {
        Ok(outcome) => {
            shared.commits.fetch_add(1, Ordering::Relaxed);
            // Before any reply: a client that reads after its acknowledgement must see that
            // its entries still await their derived indexes.
            shared.set_deferred(writer.deferred_entries());
            metrics::histogram!("sealtrail_commit_seconds").record(started.elapsed().as_secs_f64());
            metrics::histogram!("sealtrail_commit_group_entries").record(outcome.stored as f64);
            metrics::counter!("sealtrail_entries_appended_total").increment(outcome.stored);
            for (request, result) in group.into_iter().zip(outcome.results) {
                let _ = request.reply.send(result);
            }
        }
        Err(CommitError::Fatal(reason)) => {
            shared.fail(reason.clone());
            for request in group {
                let _ = request
                    .reply
                    .send(Err(StoreError::WriterFailed(reason.clone())));
            }
        }
        Err(CommitError::Request(error)) if group.len() > 1 => {
            tracing::warn!(%error, requests = group.len(), "group commit failed; retrying its requests one by one");
            for request in group {
                commit_group(writer, shared, vec![request]);
            }
        }
        // A single request fails alone; a group-wide failure fails every request alike.
        Err(CommitError::Request(error) | CommitError::Group(error)) => {
            for request in group {
                let _ = request.reply.send(Err(error.clone()));
            }
        }
    }
}
