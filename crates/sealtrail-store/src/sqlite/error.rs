//! How SQLite errors become [`StoreError`]s, and which of them must stop the writer.

use crate::StoreError;
use rusqlite::ErrorCode;

/// Wraps an SQLite error for this one operation; the message names what was being done so an
/// operator reading logs knows where it failed.
pub(crate) fn backend(context: &str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |e| StoreError::Backend(format!("{context}: {e}"))
}

/// True when the error means the file or the disk under it can no longer be trusted: after a
/// failed write or fsync the page cache may hold data that never reached the disk, so carrying
/// on could acknowledge entries that a restart would not find.
pub(crate) fn is_fatal(e: &rusqlite::Error) -> bool {
    match e {
        rusqlite::Error::SqliteFailure(err, _) => matches!(
            err.code,
            ErrorCode::SystemIoFailure
                | ErrorCode::DiskFull
                | ErrorCode::DatabaseCorrupt
                | ErrorCode::CannotOpen
                | ErrorCode::NotADatabase
                | ErrorCode::FileLockingProtocolFailed
                | ErrorCode::NoLargeFileSupport
        ),
        _ => false,
    }
}

/// True when another connection held the write lock past the busy timeout.
pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(err, _)
            if matches!(err.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// True for a uniqueness or foreign-key refusal, which the admin operations turn into
/// `Conflict` / `NotFound` for the caller.
pub(crate) fn constraint_kind(e: &rusqlite::Error) -> Option<Constraint> {
    match e {
        rusqlite::Error::SqliteFailure(err, _) if err.code == ErrorCode::ConstraintViolation => {
            Some(match err.extended_code {
                rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => Constraint::ForeignKey,
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => Constraint::Unique,
                _ => Constraint::Other,
            })
        }
        _ => None,
    }
}

/// The kinds of constraint failure callers distinguish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Constraint {
    /// A unique or primary key already holds the value.
    Unique,
    /// A referenced row (for example the tenant) does not exist.
    ForeignKey,
    /// Any other CHECK/NOT NULL refusal.
    Other,
}

/// A poisoned lock means another thread panicked mid-operation; report it instead of panicking
/// in turn.
pub(crate) fn poisoned<T>(_: std::sync::PoisonError<T>) -> StoreError {
    StoreError::Backend("a store lock was poisoned by a panicking thread".into())
}
