//! What an operator installs beside the binary: the systemd unit (checked by
//! `systemd-analyze verify` with the real binary in place), shell completions (loaded by the
//! real bash), and the Dockerfile, whose structure is checked here because this machine has
//! no Docker daemon to build it (docs/operations.md says so).

use crate::common::BIN;
use std::path::Path;
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("the workspace root")
}

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    let unit = std::fs::read_to_string(repo().join("deploy/systemd/sealtrail.service")).unwrap();
    for hardening in [
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=\n",
        "User=sealtrail",
        "StateDirectoryMode=0700",
    ] {
        assert!(unit.contains(hardening), "{hardening}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sealtrail.service");
    std::fs::write(&file, unit.replace("/usr/local/bin/sealtrail", BIN)).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&file)
        .output()
        .expect("systemd-analyze (Debian's systemd package)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && said.trim().is_empty(), "{said}");
}

#[test]
fn bash_loads_the_completions_and_they_know_the_commands() {
    let out = Command::new(BIN)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let script = String::from_utf8(out.stdout).unwrap();
    for command in ["serve", "verify", "sinks", "completions"] {
        assert!(script.contains(command), "{command}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sealtrail.bash");
    std::fs::write(&file, &script).unwrap();
    let loaded = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p sealtrail",
            file.display()
        ))
        .output()
        .unwrap();
    assert!(
        loaded.status.success(),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    for shell in ["zsh", "fish"] {
        let out = Command::new(BIN)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success() && !out.stdout.is_empty(), "{shell}");
    }
    let refused = Command::new(BIN)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
}

/// The Dockerfile's instructions, without building it: two stages (the binary built in the
/// first, copied into the second), an unprivileged user, the data directory a volume, a
/// health check on /healthz, `serve` by default.
#[test]
fn the_dockerfile_builds_in_one_stage_and_runs_unprivileged_in_another() {
    let text = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let mut instructions: Vec<(String, String)> = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim_end();
        if current.is_empty() && (line.trim().is_empty() || line.trim_start().starts_with('#')) {
            continue;
        }
        current.push_str(line.trim_end_matches('\\'));
        current.push(' ');
        if !line.ends_with('\\') {
            let (op, args) = current
                .trim()
                .split_once(' ')
                .unwrap_or((current.trim(), ""));
            instructions.push((op.to_string(), args.trim().to_string()));
            current.clear();
        }
    }
    const KNOWN: [&str; 18] = [
        "FROM",
        "RUN",
        "CMD",
        "LABEL",
        "EXPOSE",
        "ENV",
        "ADD",
        "COPY",
        "ENTRYPOINT",
        "VOLUME",
        "USER",
        "WORKDIR",
        "ARG",
        "ONBUILD",
        "STOPSIGNAL",
        "HEALTHCHECK",
        "SHELL",
        "MAINTAINER",
    ];
    for (op, _) in &instructions {
        assert!(KNOWN.contains(&op.as_str()), "unknown instruction {op}");
    }
    let of = |op: &str| -> Vec<&str> {
        instructions
            .iter()
            .filter(|(o, _)| o == op)
            .map(|(_, a)| a.as_str())
            .collect()
    };
    let stages = of("FROM");
    assert_eq!(stages.len(), 2, "{stages:?}");
    assert!(stages[0].ends_with(" AS build"), "{stages:?}");
    assert!(of("COPY").iter().any(|a| a.starts_with("--from=build ")));
    let last_user = of("USER").last().copied().unwrap_or("root").to_string();
    assert!(
        !last_user.starts_with("root") && !last_user.starts_with('0'),
        "{last_user}"
    );
    assert_eq!(of("VOLUME"), ["[\"/var/lib/sealtrail\"]"]);
    assert!(of("HEALTHCHECK").iter().any(|a| a.contains("/healthz")));
    assert_eq!(of("CMD"), ["[\"serve\"]"]);
    assert!(of("ENV")
        .iter()
        .any(|a| a.contains("SEALTRAIL_DATA_DIR=/var/lib/sealtrail")));
    let ignore = std::fs::read_to_string(repo().join(".dockerignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "target"));
}
