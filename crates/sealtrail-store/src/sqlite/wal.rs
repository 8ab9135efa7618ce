//! WAL checkpoints on their own thread and connection, so the writer never does them.
//!
//! By default SQLite checkpoints inside the commit that pushes the WAL past 1,000 pages: that
//! commit copies every changed page into the main file and fsyncs it before its requests are
//! acknowledged. Under I1 load this was 28% of the writer's time, and it made one group in
//! every few dozen wait several times longer than the rest (the p99).
//!
//! Here the writer's connection has auto-checkpoints off and this thread backfills the WAL
//! with PASSIVE checkpoints, which never take the write lock: the writer keeps appending while
//! pages are copied. A passive checkpoint cannot finish while readers hold old snapshots, so
//! past [`WalPolicy::restart_frames`] the thread runs a RESTART checkpoint, which waits for
//! the writer and readers to step aside once and lets the next commit start the WAL file
//! from its beginning again: the WAL's size stays bounded under any load.
//!
//! A checkpoint that fails with an I/O error (a failed fsync of the main file) means the disk
//! can no longer be trusted: the writer is stopped exactly as if its own commit had failed.

use super::error::is_fatal;
use super::schema::BUSY_TIMEOUT;
use crate::group::WriterShared;
use crate::StoreError;
use rusqlite::Connection;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// When the WAL is backfilled.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WalPolicy {
    /// How often a passive checkpoint runs. Each copies the newest version of every page
    /// changed since the last, so a longer interval writes a hot page (a tenant's rightmost
    /// leaf) once instead of many times, at the cost of a longer WAL.
    pub interval: Duration,
    /// WAL frames (pages) past which a RESTART checkpoint bounds the file.
    pub restart_frames: i64,
}

impl Default for WalPolicy {
    fn default() -> Self {
        WalPolicy {
            interval: Duration::from_millis(50),
            // 16 MiB of 4 KiB pages.
            restart_frames: 4_096,
        }
    }
}

/// What one checkpoint reported: frames in the WAL, and frames now in the main file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CheckpointProgress {
    /// False when the checkpoint could not run to the end (readers or the writer in the way).
    pub complete: bool,
    /// Frames in the WAL when it ran.
    pub wal_frames: i64,
    /// Frames of those copied into the main file.
    pub backfilled: i64,
}

/// Runs `PRAGMA wal_checkpoint(<mode>)` on `conn`.
pub(crate) fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<CheckpointProgress> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok(CheckpointProgress {
            complete: r.get::<_, i64>(0)? == 0,
            wal_frames: r.get(1)?,
            backfilled: r.get(2)?,
        })
    })
}

/// The checkpoint thread. Dropping it stops the thread and waits for it, so its connection
/// is closed before the writer's (the last connection to close checkpoints whatever is left).
pub(crate) struct WalCheckpointer {
    /// Checkpoint rounds that ran to the end of the WAL as it was when they started.
    complete_rounds: Arc<AtomicU64>,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl WalCheckpointer {
    /// Opens a connection to `path` and starts backfilling its WAL; a fatal checkpoint error
    /// stops the writer through `shared`.
    pub(crate) fn spawn(
        path: &Path,
        policy: WalPolicy,
        shared: Arc<WriterShared>,
    ) -> Result<WalCheckpointer, StoreError> {
        let conn = Connection::open(path)
            .map_err(|e| StoreError::Backend(format!("opening the checkpoint connection: {e}")))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| StoreError::Backend(format!("setting busy_timeout: {e}")))?;
        // FULL: the main file is fsynced after each checkpoint, before the WAL may be reused.
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 0;")
            .map_err(|e| StoreError::Backend(format!("setting checkpoint pragmas: {e}")))?;
        let (stop, stopped) = mpsc::channel::<()>();
        let complete_rounds = Arc::new(AtomicU64::new(0));
        let rounds = complete_rounds.clone();
        let thread = std::thread::Builder::new()
            .name("sealtrail-wal".into())
            .spawn(move || loop {
                match stopped.recv_timeout(policy.interval) {
                    Err(RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
                if shared.failure().is_some() {
                    return;
                }
                match backfill(&conn, policy) {
                    Ok(true) => {
                        rounds.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(false) => {}
                    Err(e) if is_fatal(&e) => {
                        shared.fail(format!("WAL checkpoint: {e}"));
                        return;
                    }
                    // Busy or locked: another process is checkpointing; try again later.
                    Err(e) => tracing::debug!(error = %e, "WAL checkpoint deferred"),
                }
            })
            .map_err(|e| StoreError::Backend(format!("starting the checkpoint thread: {e}")))?;
        Ok(WalCheckpointer {
            complete_rounds,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Rounds that copied the whole WAL into the main file, for tests and operators.
    pub(crate) fn complete_rounds(&self) -> u64 {
        self.complete_rounds.load(Ordering::Relaxed)
    }
}

/// One round: a passive checkpoint, and a restart when the WAL has outgrown the bound.
/// True when the round backfilled the whole WAL.
fn backfill(conn: &Connection, policy: WalPolicy) -> rusqlite::Result<bool> {
    let progress = checkpoint(conn, "PASSIVE")?;
    metrics::gauge!("sealtrail_wal_frames").set(progress.wal_frames as f64);
    if progress.wal_frames > policy.restart_frames {
        let restarted = checkpoint(conn, "RESTART")?;
        metrics::counter!("sealtrail_wal_restarts_total").increment(1);
        tracing::debug!(?restarted, "WAL past its bound: restart checkpoint");
        return Ok(restarted.complete);
    }
    Ok(progress.complete && progress.backfilled == progress.wal_frames)
}

impl Drop for WalCheckpointer {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
