//! The wire formats of other audit-log services whose clients applications already run, so
//! adopting Sealtrail is a change of base URL rather than of code. Each maps a foreign event
//! onto Sealtrail's [`crate::entry::NewEntry`] through the native validator, so no route
//! stores anything a native request could not.
//!
//! * [`retraced`] — Retraced's publisher API (`@retracedhq/retraced`, `retraced-go`).
//! * [`workos`] — WorkOS Audit Logs' event (`@workos-inc/node` and the other WorkOS SDKs).

pub mod retraced;
pub mod workos;
