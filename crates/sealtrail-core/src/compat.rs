//! The wire formats of other audit-log services whose clients applications already run, so
//! adopting Sealtrail is a change of base URL rather than of code. Each maps a foreign event
//! onto Sealtrail's [`crate::entry::NewEntry`] through the native validator, so no route
//! stores anything a native request could not.
//!
//! * [`retraced`] — Retraced's publisher API (`@retracedhq/retraced`, `retraced-go`).
//! * [`workos`] — WorkOS Audit Logs' event (`@workos-inc/node` and the other WorkOS SDKs).

pub mod retraced;
pub mod workos;

/// The `to` bound Sealtrail's filters take for an exclusive end: both foreign APIs read a
/// range as `[start, end)`, while `to` includes the instant it names, so a time one
/// millisecond earlier (Sealtrail's precision) selects the same entries. Text that is not an
/// RFC 3339 time is passed on for the filter parser to judge.
pub(crate) fn exclusive_end(end: &str) -> String {
    match crate::timestamp::Timestamp::parse_rfc3339(end) {
        Ok(at) => crate::timestamp::Timestamp(at.millis() - 1).to_string(),
        Err(_) => end.to_string(),
    }
}
