//! The shared contract suite against PostgreSQL: one real server per test process (started by
//! [`sealtrail_testkit::pg_harness`] with `initdb`/`pg_ctl`), a fresh database per case. Without
//! PostgreSQL's server binaries every case fails, loudly: this suite never skips.

use sealtrail_store::pg::{PgOptions, PgStore};
use sealtrail_testkit::contract::StoreUnderTest;
use sealtrail_testkit::pg_harness;
use std::sync::Arc;

async fn postgres() -> StoreUnderTest {
    let server = pg_harness::require_shared();
    let url = server.create_database().expect("create a database");
    let store = PgStore::connect(
        &url,
        PgOptions {
            pool_size: 4,
            ..PgOptions::default()
        },
    )
    .await
    .expect("connect to PostgreSQL");
    StoreUnderTest {
        store: Arc::new(store),
        guard: Box::new(()),
    }
}

sealtrail_testkit::store_contract_tests!(postgres);
