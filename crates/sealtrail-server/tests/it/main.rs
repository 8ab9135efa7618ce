//! The HTTP service over real loopback connections: the API, the page in real headless Chromium,
//! exports, integrity, limits and sign-in.
//!
//! One test binary per package (one link step instead of one per file); each file below is
//! a module, run in parallel threads of this one process.

// Tests may unwrap: a failing unwrap is a failing test (the workspace denies it elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod browser;
mod browser_audit;
mod browser_cors;
mod browser_harness;
mod common;
mod compat_retraced;
mod compat_retraced_exports;
mod compat_retraced_viewer;
mod compat_workos;
mod http_concurrency;
mod http_cors;
mod http_erasure;
mod http_errors;
mod http_export;
mod http_export_jobs;
mod http_ingest;
mod http_ingest_hardening;
mod http_integrity;
mod http_limits;
mod http_read;
mod http_schemas;
mod http_signin;
mod http_sinks;
mod http_sinks_splunk;
mod openapi;
mod ops_metrics;
mod web;
