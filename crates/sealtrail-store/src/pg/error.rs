//! How PostgreSQL errors become [`StoreError`]s, and which of them mean the connection is gone.

use postgres::error::SqlState;

/// The server's message when there is one (`postgres::Error`'s own text is only "db error").
pub(crate) fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_string(),
        },
        // The client's own errors ("error performing TLS handshake") say why only in their
        // sources ("invalid peer certificate: UnknownIssuer").
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    }
}

/// True when the connection can no longer be used: closed, reset, or the server shut down or
/// crashed. The pool then opens a new one instead of handing this one out again.
pub(crate) fn is_connection_lost(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            code.code().starts_with("08") // connection exception class
                || *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
        }
        // No SQLSTATE: an I/O error on the socket.
        None => e.as_db_error().is_none(),
    }
}

/// True when the transaction lost a lock race (serialization failure or deadlock) and can
/// simply be run again.
pub(crate) fn is_retryable(e: &postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(code) if *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
    )
}

/// True when a text value could not be stored or compared: PostgreSQL refuses U+0000 in
/// text (ingest refuses it too, but lookups such as a sign-in e-mail can still carry one).
pub(crate) fn is_unstorable_text(e: &postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(code) if *code == SqlState::CHARACTER_NOT_IN_REPERTOIRE
            || *code == SqlState::UNTRANSLATABLE_CHARACTER
    )
}
