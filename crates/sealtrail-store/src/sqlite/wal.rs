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
//! If the writer outruns the thread anyway (large batches back to back), the writer's own
//! backstop checkpoints once the WAL passes [`BACKSTOP_FRAMES`], as SQLite's auto-checkpoint
//! would, but at a bound eight times higher and after the thread has copied most of it.
//!
//! A checkpoint that fails with an I/O error (a failed fsync of the main file) means the disk
//! can no longer be trusted: the writer is stopped exactly as if its own commit had failed.

use super::error::is_fatal;
use super::schema::BUSY_TIMEOUT;
use crate::group_commit::WriterShared;
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

/// WAL frames (32 MiB of 4 KiB pages) past which the writer checkpoints by itself, after its
/// commit. Under a steady stream of groups the thread's RESTART often waits several hundred
/// milliseconds for a gap between the writer's transactions; with a bound of 32,768 frames the
/// WAL grew that far meanwhile and the copy left held the writer 100–250 ms once a second
/// (the I1 p99). At 8,192 the writer restarts the WAL itself when the thread has not managed
/// to: more often, but each wait is short (39 ms median) because passive rounds have already
/// copied most of the WAL. A bulk load of large batches gets here too, and waiting for the
/// copy is then the back-pressure that keeps the WAL file bounded.
pub(crate) const BACKSTOP_FRAMES: i32 = 8_192;

/// Installs the writer's backstop ([`BACKSTOP_FRAMES`]). Must run after any
/// `wal_autocheckpoint` pragma on `conn`, which replaces the hook.
pub(crate) fn install_backstop(conn: &Connection) {
    conn.wal_hook(Some(backstop));
}

/// Called by SQLite after every commit with the frames now in the WAL. Past the bound the
/// writer waits for the checkpoint thread's round in progress (SQLite answers "busy" at once
/// while another connection checkpoints) and then restarts the WAL itself. The commit has
/// already happened, so nothing is reported back: a checkpoint that fails here (still busy
/// after [`BUSY_TIMEOUT`], or an I/O error) is left to the checkpoint thread's next round,
/// which stops the writer on an I/O error.
fn backstop(wal: &rusqlite::hooks::Wal, frames: std::ffi::c_int) -> rusqlite::Result<()> {
    if frames <= BACKSTOP_FRAMES {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let outcome = loop {
        match wal.checkpoint_v2(rusqlite::hooks::CheckpointMode::RESTART) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            outcome => break outcome,
        }
    };
    metrics::counter!("sealtrail_wal_backstops_total").increment(1);
    // Routine under sustained load (a few times a second), so not at info level; a wait long
    // enough to matter is logged by the writer as a slow write.
    tracing::debug!(
        frames,
        ms = started.elapsed().as_millis() as u64,
        ?outcome,
        "WAL past its hard bound: the writer waited for a checkpoint"
    );
    Ok(())
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
        let started = std::time::Instant::now();
        let restarted = checkpoint(conn, "RESTART")?;
        metrics::counter!("sealtrail_wal_restarts_total").increment(1);
        tracing::debug!(
            ?restarted,
            ms = started.elapsed().as_millis() as u64,
            "WAL past its bound: restart checkpoint"
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A WAL connection with the writer's settings and no checkpoint thread.
    fn writer_alone(path: &Path, backstop: bool) -> Connection {
        let conn = Connection::open(path).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (b BLOB);")
            .unwrap();
        if backstop {
            install_backstop(&conn);
        }
        conn
    }

    /// Writes about 1.25 × the backstop in 4 MiB rows and returns the WAL's frames after.
    fn frames_after_a_bulk_load(backstop: bool) -> i64 {
        let dir = tempfile::tempdir().unwrap();
        let conn = writer_alone(&dir.path().join("db"), backstop);
        let blob = vec![7u8; 4 << 20];
        let rows = (BACKSTOP_FRAMES as usize * 4096 * 5 / 4) / blob.len();
        for _ in 0..rows {
            conn.execute("INSERT INTO t (b) VALUES (?1)", [&blob])
                .unwrap();
        }
        // A PASSIVE checkpoint from the same connection reports the WAL's size.
        checkpoint(&conn, "PASSIVE").unwrap().wal_frames
    }

    #[test]
    fn the_writer_checkpoints_by_itself_only_past_the_backstop() {
        let without = frames_after_a_bulk_load(false);
        assert!(
            without > i64::from(BACKSTOP_FRAMES),
            "without the backstop the WAL keeps growing: {without} frames"
        );
        let with = frames_after_a_bulk_load(true);
        assert!(
            with < i64::from(BACKSTOP_FRAMES) / 2,
            "the backstop restarted the WAL: {with} frames"
        );
    }
}
