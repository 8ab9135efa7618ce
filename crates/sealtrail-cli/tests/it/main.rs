//! The `sealtrail` binary as operators run it: commands, crash and fsync-fault durability,
//! tampering, witnesses, PostgreSQL nodes, and the architecture rules.
//!
//! One test binary per package (one link step instead of one per file); each file below is
//! a module, run in parallel threads of this one process.

// Tests may unwrap: a failing unwrap is a failing test (the workspace denies it elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod architecture;
mod bench;
mod cli;
mod cli_backup;
mod cli_config;
mod cli_hardening;
mod cli_integrity;
mod cli_logs;
mod cli_packaging;
mod cli_sinks;
mod cli_tamper;
mod cli_traces;
mod cli_users;
mod cli_witness;
mod common;
mod crash_durability;
mod fsync_fault;
mod pg_erasure_http;
mod pg_export_read_ahead;
mod pg_nodes;
mod pg_nodes_shared;
mod pg_sinks;
mod pg_tls_cli;
mod secrets_at_rest;
mod sink_archive;
mod sink_crash;
mod sink_syslog;
