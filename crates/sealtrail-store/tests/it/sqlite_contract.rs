//! The shared contract suite against the embedded SQLite store, on a fresh temporary directory
//! per case.

use sealtrail_store::sqlite::{SqliteOptions, SqliteStore};
use sealtrail_testkit::contract::StoreUnderTest;
use std::sync::Arc;

async fn sqlite() -> StoreUnderTest {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open store");
    StoreUnderTest {
        store: Arc::new(store),
        guard: Box::new(dir),
    }
}

sealtrail_testkit::store_contract_tests!(sqlite);
