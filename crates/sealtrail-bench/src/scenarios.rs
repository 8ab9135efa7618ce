//! The measured scenarios, named as in BENCHMARKS.md: I1/I2 ingest, Q1/Q2/S1 reads, E1
//! export, V1 verification, V2 an evidence bundle exported and verified, P1 pruning under load, O1 overload, L1 visibility lag and K1 a sink's receiver down under
//! ingest.

pub mod bundle;
pub mod export;
pub mod ingest;
pub mod overload;
pub mod read;
pub mod sink_outage;
pub mod verify_and_prune;
pub mod visibility;
