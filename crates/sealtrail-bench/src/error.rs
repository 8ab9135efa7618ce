//! What can stop a benchmark run, phrased for the person running it.

/// A benchmark run failed; the message says which step and why.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The store refused or failed while loading the workload.
    #[error("{step}: {source}")]
    Store {
        /// What the benchmark was doing, e.g. "loading the workload"; the message's prefix.
        step: &'static str,
        #[source]
        /// The store's own error, kept as the source so the whole chain is reported.
        source: sealtrail_store::StoreError,
    },
    /// Creating a tenant or key for the workload failed.
    #[error("setting up tenants: {0}")]
    Admin(#[from] sealtrail_service::ServiceError),
    /// An HTTP request to the server under test failed or was answered with an error.
    #[error("{0}")]
    Http(String),
    /// The server process could not be started or stopped.
    #[error("server: {0}")]
    Server(String),
    /// A raw-engine baseline failed.
    #[error("raw baseline: {0}")]
    Raw(String),
    /// Reading or writing the work directory or the report.
    #[error("{what}: {source}")]
    Io {
        /// What was being read or written, e.g. `creating <dir>`; the message's prefix.
        what: String,
        #[source]
        /// The operating system's error, kept as the source of the chain.
        source: std::io::Error,
    },
    /// The workload does not hold what a scenario needs (e.g. too few events).
    #[error("{0}")]
    Workload(String),
}

impl From<crate::raw::RawError> for BenchError {
    fn from(e: crate::raw::RawError) -> Self {
        BenchError::Raw(e.to_string())
    }
}

impl BenchError {
    /// Wraps an I/O error with what was being done.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
        let what = what.into();
        move |source| BenchError::Io { what, source }
    }

    /// Wraps a store error with the step that failed.
    pub fn store(step: &'static str) -> impl FnOnce(sealtrail_store::StoreError) -> BenchError {
        move |source| BenchError::Store { step, source }
    }
}
