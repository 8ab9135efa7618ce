//! Sealtrail's benchmark suite (`sealtrail bench`): a seeded workload shaped like real audit
//! traffic, the scenarios whose figures BENCHMARKS.md records, and raw-engine baselines run in
//! the same process and the same run, so every figure comes with the ratio that makes it
//! meaningful on a noisy machine.

pub mod batches;
pub mod error;
pub mod http;
pub mod load;
pub mod page_cache;
pub mod raw;
pub mod report;
pub mod rng;
pub mod run;
pub mod scenarios;
pub mod server;
pub mod stats;
pub mod workload;
