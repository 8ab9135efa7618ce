//! `serve --config` and `sealtrail config check` as an operator uses them: the real binary,
//! a TOML file, the environment and flags overriding it in that order, mistakes named; and
//! docs/configuration.md listing every setting.

use crate::common::{text, BIN};
use std::process::{Command, Stdio};

fn write(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let file = dir.join("sealtrail.toml");
    std::fs::write(&file, text).unwrap();
    file
}

#[test]
fn config_check_names_each_settings_source_and_refuses_mistakes() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "listen = \"127.0.0.1:9999\"\nmax_body_bytes = 1048576\nno_nightly_prune = true\n\
         database = \"postgres://app:s3cret@db.example:5432/audit\"\n",
    );
    let out = Command::new(BIN)
        .args(["config", "check", "--config"])
        .arg(&file)
        .env("SEALTRAIL_MAX_BODY_BYTES", "2048")
        .output()
        .unwrap();
    let said = text(&out.stdout);
    assert!(out.status.success(), "{said}{}", text(&out.stderr));
    assert!(said.contains("listen = 127.0.0.1:9999  (file)"), "{said}");
    assert!(
        said.contains("max_body_bytes = 2048  (environment)"),
        "{said}"
    );
    assert!(said.contains("no_nightly_prune = true  (file)"), "{said}");
    assert!(
        said.contains("request_timeout_secs = 30  (default)"),
        "{said}"
    );
    assert!(said.contains("postgres://app:***@db.example"), "{said}");
    assert!(!said.contains("s3cret"), "a password is never printed");

    // A setting the file completes for one the environment gives (`database_ca` needs
    // `database`) is read, not skipped.
    let file = write(
        dir.path(),
        "database = \"postgres://app@db.example/audit\"\n",
    );
    let out = Command::new(BIN)
        .args(["config", "check", "--config"])
        .arg(&file)
        .env("SEALTRAIL_DATABASE_CA", "/etc/ssl/db-ca.pem")
        .output()
        .unwrap();
    let said = text(&out.stdout);
    assert!(out.status.success(), "{said}{}", text(&out.stderr));
    assert!(
        said.contains("database_ca = /etc/ssl/db-ca.pem  (environment)"),
        "{said}"
    );

    for (bad, says) in [
        ("lisen = \"127.0.0.1:1\"\n", "`lisen` is not a setting"),
        ("listen = \"not an address\"\n", "listen"),
        (
            "request_timeout_secs = 60\nidle_timeout_secs = 30\n",
            "idle-timeout",
        ),
        ("no_nightly_prune = 1\n", "true or false"),
    ] {
        let file = write(dir.path(), bad);
        let out = Command::new(BIN)
            .args(["config", "check", "--config"])
            .arg(&file)
            .output()
            .unwrap();
        let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!out.status.success(), "{bad}: {said}");
        assert!(said.contains(says), "{bad}: {said}");
    }
}

#[test]
fn serve_runs_from_the_file_and_a_flag_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = write(
        dir.path(),
        &format!(
            "listen = \"127.0.0.1:1\"\ndata_dir = \"{}\"\nno_nightly_prune = true\n",
            data.display()
        ),
    );
    // The file says port 1 (unusable); the flag wins.
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut first,
    )
    .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        first.starts_with("Sealtrail listening on http://127.0.0.1:"),
        "{first}"
    );
    assert!(!first.contains(":1\n"), "{first}");
    assert!(
        data.join("sealtrail.db").exists(),
        "the file's data_dir was used"
    );
}

#[test]
fn the_configuration_guide_lists_every_setting() {
    let guide = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md"),
    )
    .unwrap();
    let help = text(
        &Command::new(BIN)
            .args(["serve", "--help"])
            .output()
            .unwrap()
            .stdout,
    );
    let mut settings = 0;
    for flag in help.split_whitespace().filter(|w| w.starts_with("--")) {
        let name = flag.trim_start_matches("--").trim_end_matches([',', '.']);
        if name.is_empty()
            || name == "help"
            || name == "version"
            || name == "config"
            || !name.chars().all(|c| c.is_ascii_lowercase() || c == '-')
        {
            continue;
        }
        let key = name.replace('-', "_");
        assert!(
            guide.contains(&format!("| `{key}` |")),
            "docs/configuration.md does not list `{key}`"
        );
        settings += 1;
    }
    assert!(settings > 25, "{settings}");
}

/// `sealtrail cors`: origins set, shown and cleared on the data directory, normalised, a bad
/// one refused by name.
#[test]
fn cors_origins_from_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let server = crate::common::Served::start(dir.path());
    let run = |args: &[&str]| crate::common::tamper::local(args, dir.path());
    let set = run(&[
        "cors",
        "set",
        "https://App.Example.com",
        "http://localhost:3000",
    ]);
    assert!(set.status.success(), "{}", text(&set.stderr));
    assert!(text(&set.stdout).contains("https://app.example.com, http://localhost:3000"));
    let shown = run(&["cors", "show"]);
    assert!(text(&shown.stdout).contains("https://app.example.com"));
    let bad = run(&["cors", "set", "ftp://files.example.com"]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("is not an origin"),
        "{}",
        text(&bad.stderr)
    );
    let cleared = run(&["cors", "clear"]);
    assert!(text(&cleared.stdout).contains("no web origin"));
    server.stop_cleanly();
}
