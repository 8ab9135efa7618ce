//! Sealtrail's exports: every format an admin or auditor can download, written as a stream.
//!
//! Exports have no row cap, so every encoder takes entries one at a time and writes them to any
//! [`std::io::Write`] in constant memory; the server and CLI own the files and sockets.
//!
//! * [`bundle`] — the signed evidence bundle an auditor verifies offline (see `BUNDLE.md`).

pub mod bundle;
