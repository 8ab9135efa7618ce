//! Test support for every crate of the workspace, kept out of the shipped crates: the store
//! contract suite that each backend's integration tests instantiate, a harness that starts a
//! real PostgreSQL server for the tests that need one, and throwaway TLS certificates.
//!
//! A dev-dependency only. The store crate itself depends on it for its own tests (a
//! dev-dependency cycle Cargo allows): its unit tests use only fixtures made of core types, so
//! the two compiled copies of the store never meet.

pub mod certs;
pub mod contract;
pub mod pg_harness;
