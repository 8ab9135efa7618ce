//! Test fixtures shared by every module: deterministic entries that exercise every field.

use sealtrail_core::{
    Actor, ActorType, Changes, Context, Entry, Outcome, RequestInfo, Target, Timestamp,
};
use serde_json::json;
use std::io::Write;
use uuid::Uuid;

/// A deterministic, varied entry for position `seq`.
pub(crate) fn sample_entry(seq: u64) -> Entry {
    let mut properties = serde_json::Map::new();
    properties.insert("repository".into(), json!(format!("repo-{}", seq % 7)));
    if seq % 3 == 0 {
        properties.insert(
            "nested".into(),
            json!({"b": [3, 2, 1], "a": null, "f": 1.5}),
        );
    }
    Entry {
        id: Uuid::from_u128(0x0193_a0b0_0000_7000_8000_0000_0000_0000 + u128::from(seq)),
        seq,
        recorded_at: Timestamp(1_795_000_000_000 + seq as i64 * 1_250),
        occurred_at: Timestamp(1_795_000_000_000 + seq as i64 * 1_000),
        channel: ["auth", "security", "compliance"][seq as usize % 3].into(),
        action: "member.role_changed".into(),
        event: ["created", "updated", "deleted", "read"][seq as usize % 4].into(),
        category: (seq % 2 == 0).then(|| "Policy Changes".into()),
        description: format!("Zoë changed role #{seq} — \"admin\" → viewer, =1+1"),
        result: Outcome::ALL[seq as usize % 6],
        actor: Actor {
            kind: if seq % 5 == 4 {
                ActorType::System
            } else {
                ActorType::User
            },
            id: Some(format!("u_{seq}")),
            name: Some("Ada Admin".into()),
            email: (seq % 2 == 1).then(|| "ada@example.com".into()),
            via: None,
        },
        targets: vec![Target {
            kind: "member".into(),
            id: Some(format!("m_{seq}")),
            name: None,
        }],
        context: Context {
            ip: (seq % 4 != 3).then(|| "203.0.113.7".into()),
            user_agent: Some("curl/8".into()),
            location: (seq % 5 == 1).then(|| "Berlin, DE".into()),
            request: (seq % 7 == 6).then(|| RequestInfo {
                method: Some("POST".into()),
                path: Some("/v1/members".into()),
                body: Some(json!({"role": "viewer", "n": [1, 2.5, null]})),
                response: None,
            }),
        },
        changes: (seq % 2 == 0).then(|| Changes {
            before: Some(json!({"role": "admin"})),
            after: Some(json!({"role": "viewer"})),
        }),
        properties,
        redacted: if seq % 6 == 5 {
            vec!["properties.password".into()]
        } else {
            vec![]
        },
        idempotency_key: Some(format!("k{seq}")),
    }
}

/// Whether an external checker runs (`probe` exits 0). When it does not, the calling test
/// skips with a loud notice on a developer machine, and fails in CI (`CI=true`), where
/// `.ci/run` installs every checker, so a missing one means a broken set-up, not a skip.
pub(crate) fn external_checker(
    probe: &mut std::process::Command,
    what: &str,
    install: &str,
) -> bool {
    let ok = probe.output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but {what} is not available ({install})"
        );
        // Straight to stderr, not `eprintln!`, which the test harness captures and hides.
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!!! SKIPPED: {what} is not available ({install}) !!!!!\n"
        );
    }
    ok
}

/// The process's peak resident memory in KiB (Linux `VmHWM`; 0 elsewhere), for the ignored
/// scale tests that check an encoder's memory does not grow with the number of entries.
pub(crate) fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// A log of `n` sealed entries of `origin` with its tree and a signing key; `salt` varies the
/// vault salts, so two logs of the same entries have different trees (a fork).
pub(crate) fn sealed_log(
    n: u64,
    origin: &str,
    salt: u8,
) -> (
    sealtrail_core::merkle::MemoryTree,
    Vec<sealtrail_core::envelope::Sealed>,
    sealtrail_core::checkpoint::NoteSigner,
) {
    let mut tree = sealtrail_core::merkle::MemoryTree::new();
    let mut sealed = Vec::new();
    for seq in 0..n {
        let b = seq as u8 ^ salt;
        let s = sealtrail_core::envelope::seal(
            &sample_entry(seq),
            origin,
            [[b; 16], [b ^ 0x55; 16], [b ^ 0xaa; 16]],
        );
        tree.push(s.leaf_hash);
        sealed.push(s);
    }
    let signer = sealtrail_core::checkpoint::NoteSigner::from_seed("sealtrail.example", [7; 32])
        .unwrap_or_else(|e| panic!("a test key: {e}"));
    (tree, sealed, signer)
}
