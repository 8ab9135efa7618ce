//! Both store backends against real files and a real PostgreSQL: the shared contract suite,
//! durability, integrity checks, filters as properties, TLS and replicas.
//!
//! One test binary per package (one link step instead of one per file); each file below is
//! a module, run in parallel threads of this one process.

// Tests may unwrap: a failing unwrap is a failing test (the workspace denies it elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pg_compression;
mod pg_contract;
mod pg_erasure_traces;
mod pg_lifecycle;
mod pg_pages_by_month;
mod pg_replica;
mod pg_row_types;
mod pg_tls;
mod sqlite_contract;
mod sqlite_durability;
mod sqlite_filter_props;
mod sqlite_integrity;
