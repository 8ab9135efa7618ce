//! The layering ARCHITECTURE.md promises, checked against the code on every test run, so the
//! map cannot drift from the house: which crates may depend on what, that every module says
//! what it is for, and that the page does not reach into the API's handlers.
//!
//! Read from the files themselves (Cargo manifests and sources), nothing is built or run.

use std::fs;
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the workspace root is two levels above the CLI crate")
        .to_path_buf()
}

/// The crate names in the `[dependencies]` table of `crates/<krate>/Cargo.toml` (dev- and
/// build-dependencies are not the crate's own code and are left out).
fn dependencies(krate: &str) -> Vec<String> {
    let manifest = workspace().join("crates").join(krate).join("Cargo.toml");
    let text = fs::read_to_string(&manifest).expect("reading a manifest");
    let mut in_dependencies = false;
    let mut names = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_dependencies = line == "[dependencies]";
            continue;
        }
        if in_dependencies && !line.is_empty() && !line.starts_with('#') {
            let name = line
                .split(['=', '.', ' '])
                .next()
                .unwrap_or_default()
                .to_string();
            names.push(name);
        }
    }
    assert!(
        !names.is_empty(),
        "{} lists no dependencies",
        manifest.display()
    );
    names
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("reading a source directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

const CRATES: [&str; 8] = [
    "sealtrail-core",
    "sealtrail-store",
    "sealtrail-testkit",
    "sealtrail-export",
    "sealtrail-service",
    "sealtrail-server",
    "sealtrail-cli",
    "sealtrail-bench",
];

/// Crates that speak HTTP as a server.
const HTTP_SERVER: [&str; 5] = ["axum", "hyper", "hyper-util", "tower", "tower-http"];
/// Crates that speak SQL to a database.
const SQL: [&str; 4] = [
    "rusqlite",
    "postgres",
    "tokio-postgres",
    "tokio-postgres-rustls",
];

#[test]
fn core_does_no_io() {
    let deps = dependencies("sealtrail-core");
    for forbidden in ["tokio", "reqwest", "sealtrail-store"]
        .iter()
        .chain(&SQL)
        .chain(&HTTP_SERVER)
    {
        assert!(
            !deps.iter().any(|d| d == forbidden),
            "sealtrail-core depends on {forbidden}: core is pure (no I/O, no runtime)"
        );
    }
}

#[test]
fn only_the_server_speaks_http_as_a_server() {
    for krate in [
        "sealtrail-core",
        "sealtrail-store",
        "sealtrail-export",
        "sealtrail-service",
        "sealtrail-bench",
        "sealtrail-testkit",
    ] {
        let deps = dependencies(krate);
        for forbidden in HTTP_SERVER {
            assert!(
                !deps.iter().any(|d| d == forbidden),
                "{krate} depends on {forbidden}: HTTP handling belongs to sealtrail-server"
            );
        }
    }
}

#[test]
fn only_the_store_speaks_sql() {
    // The bench's raw baselines are plain tables on the same engines by design: they are what
    // Sealtrail is measured against, so they must not go through the store.
    for krate in CRATES
        .iter()
        .filter(|k| !["sealtrail-store", "sealtrail-bench"].contains(k))
    {
        let deps = dependencies(krate);
        for forbidden in SQL {
            assert!(
                !deps.iter().any(|d| d == forbidden),
                "{krate} depends on {forbidden}: SQL belongs to sealtrail-store"
            );
        }
    }
}

#[test]
fn dependencies_point_downward() {
    // Each crate may use only the ones listed after it in this order.
    let order = [
        "sealtrail-cli",
        "sealtrail-bench",
        "sealtrail-server",
        "sealtrail-service",
        "sealtrail-export",
        "sealtrail-testkit",
        "sealtrail-store",
        "sealtrail-core",
    ];
    for (i, krate) in order.iter().enumerate() {
        let deps = dependencies(krate);
        for upward in &order[..=i] {
            assert!(
                !deps.iter().any(|d| d == upward),
                "{krate} depends on {upward}, which sits above it (ARCHITECTURE.md, Crates)"
            );
        }
    }
}

#[test]
fn test_support_never_ships() {
    for krate in CRATES {
        assert!(
            !dependencies(krate).iter().any(|d| d == "sealtrail-testkit"),
            "{krate} depends on sealtrail-testkit outside [dev-dependencies]: the contract suite \
             and the PostgreSQL harness are for tests only"
        );
    }
}

#[test]
fn every_module_says_what_it_is_for() {
    let mut silent = Vec::new();
    for krate in CRATES {
        for file in sources(&workspace().join("crates").join(krate).join("src")) {
            let text = fs::read_to_string(&file).expect("reading a source file");
            if !text.trim_start().starts_with("//!") {
                silent.push(file.display().to_string());
            }
        }
    }
    assert!(
        silent.is_empty(),
        "modules without a `//!` comment saying why they exist: {silent:#?}"
    );
}

#[test]
fn the_page_does_not_reach_into_the_apis_handlers() {
    let web = workspace().join("crates/sealtrail-server/src/web");
    for file in sources(&web) {
        let text = fs::read_to_string(&file).expect("reading a source file");
        assert!(
            !text.contains("crate::routes"),
            "{} imports from crate::routes: what the page and the API share lives in their own \
             server modules (request parsing, downloads, proofs)",
            file.display()
        );
    }
}

#[test]
fn one_module_file_convention() {
    let mut old_style = Vec::new();
    for krate in CRATES {
        for file in sources(&workspace().join("crates").join(krate).join("src")) {
            if file.file_name().is_some_and(|n| n == "mod.rs") {
                old_style.push(file.display().to_string());
            }
        }
    }
    assert!(
        old_style.is_empty(),
        "modules with children are `name.rs` beside `name/`, not `name/mod.rs`: {old_style:#?}"
    );
}

/// Every metric the code records is in `service::metrics_catalog` (so it has `# HELP`, and a
/// histogram its buckets), and every metric in the catalog is recorded somewhere.
#[test]
fn every_metric_is_in_the_catalog() {
    let catalog: std::collections::BTreeSet<&str> = sealtrail_service::metrics_catalog::ALL
        .iter()
        .map(|m| m.name)
        .collect();
    let mut recorded = std::collections::BTreeSet::new();
    let mut literals = String::new();
    for file in sources(&workspace().join("crates")) {
        let path = file.display().to_string();
        if path.contains("/tests/") || path.ends_with("metrics_catalog.rs") {
            continue;
        }
        let text = fs::read_to_string(&file).expect("reading a source file");
        for call in ["counter!(", "gauge!(", "histogram!("] {
            for (at, _) in text.match_indices(call) {
                let rest = text[at + call.len()..].trim_start();
                if let Some(name) = rest.strip_prefix('"').and_then(|r| r.split('"').next()) {
                    recorded.insert(name.to_string());
                }
            }
        }
        literals.push_str(&text);
    }
    for name in &recorded {
        assert!(
            catalog.contains(name.as_str()),
            "{name} is recorded but not in service::metrics_catalog::ALL"
        );
    }
    for name in catalog {
        assert!(
            literals.contains(&format!("\"{name}\"")),
            "{name} is in service::metrics_catalog::ALL but nothing records it"
        );
    }
}
