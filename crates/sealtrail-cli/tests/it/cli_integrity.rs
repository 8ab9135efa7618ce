//! The real `sealtrail` binary on a real data directory: `verify` (with and without an
//! independently obtained `--public-key`) after the file is tampered with behind the store's
//! back, `erase` leaving no byte of the subject on disk while the log stays verifiable (and its
//! `--dry-run` changing nothing), and
//! `retention` / `prune` with their audit entries, read back over HTTP from `serve`.

use rusqlite::params;
use serde_json::Value;

use crate::common::tamper::*;
use crate::common::{text, Served};

#[test]
fn verify_passes_on_a_fresh_log_and_names_the_first_bad_seq_after_tampering() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let mut served = Served::start(&dir);
    let key = served.read_first_key();
    // Seqs 0-2 are the bootstrap entries; the events get seqs 3..=42.
    let lines: Vec<String> = (0..40)
        .map(|i| {
            format!(
                r#"{{"action":"invoice.approved","channel":"billing","description":"Invoice {i} approved","actor":{{"id":"u{}","email":"u{}@example.com"}},"properties":{{"n":{i}}}}}"#,
                i % 5,
                i % 5
            )
        })
        .collect();
    ingest(&served.url, &key, root.path(), &lines);
    served.stop_cleanly();

    let ok = local_expect(&["verify"], &dir, 0);
    assert!(ok.contains("default: OK"), "{ok}");
    assert!(
        ok.contains("43 entries (43 verified, 0 pruned)")
            && ok.contains("extends the checkpoint of size 43"),
        "the shutdown checkpoint covers every acknowledged entry: {ok}"
    );

    let public_key = local_expect(&["public-key"], &dir, 0).trim().to_string();
    assert!(
        public_key.starts_with("sealtrail+") && !public_key.contains(char::is_whitespace),
        "{public_key:?}"
    );
    let trusted = local_expect(&["verify", "--public-key", &public_key], &dir, 0);
    assert!(trusted.contains("default: OK"), "{trusted}");

    let elsewhere = root.path().join("elsewhere");
    Served::start(&elsewhere).stop_cleanly();
    let other_key = local_expect(&["public-key"], &elsewhere, 0)
        .trim()
        .to_string();
    assert_ne!(other_key, public_key, "each installation has its own key");
    let args = ["verify", "--public-key", other_key.as_str()];
    let out = local(&args, &dir);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&args, &out));
    assert!(
        text(&out.stdout).contains("default: FAILED — the latest checkpoint does not verify"),
        "{}",
        describe(&args, &out)
    );

    // (a) One byte flipped in the middle of an envelope.
    let a = copy_data_dir(&dir, "case-a");
    {
        let conn = raw(&a);
        let t = tenant_id(&conn, "default");
        let mut bytes = envelope(&conn, t, 17);
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        set_envelope(&conn, t, 17, &bytes);
    }
    assert_verify_fails("a (flipped byte)", &a, &["first bad entry is seq 17:"]);

    // (b) A row deleted.
    let b = copy_data_dir(&dir, "case-b");
    {
        let conn = raw(&b);
        let t = tenant_id(&conn, "default");
        let n = conn
            .execute("DELETE FROM entries WHERE pk = ?1", [pk(t, 9)])
            .unwrap();
        assert_eq!(n, 1);
    }
    assert_verify_fails(
        "b (deleted row)",
        &b,
        &["first bad entry is seq 9: missing entry"],
    );

    // (c) Two envelopes swapped.
    let c = copy_data_dir(&dir, "case-c");
    {
        let conn = raw(&c);
        let t = tenant_id(&conn, "default");
        let (five, six) = (envelope(&conn, t, 5), envelope(&conn, t, 6));
        set_envelope(&conn, t, 5, &six);
        set_envelope(&conn, t, 6, &five);
    }
    assert_verify_fails(
        "c (swapped envelopes)",
        &c,
        &["first bad entry is seq 5: envelope claims seq 6"],
    );

    // (d) A vault value changed (the payload holds the description).
    let d = copy_data_dir(&dir, "case-d");
    {
        let conn = raw(&d);
        let t = tenant_id(&conn, "default");
        let value: Vec<u8> = conn
            .query_row(
                "SELECT payload_value FROM entries WHERE pk = ?1",
                [pk(t, 12)],
                |r| r.get(0),
            )
            .expect("payload of seq 12");
        let original = String::from_utf8(value).expect("payload is UTF-8 JSON");
        assert!(original.contains("approved"), "{original}");
        let altered = original.replace("approved", "rejected");
        conn.execute(
            "UPDATE entries SET payload_value = ?2 WHERE pk = ?1",
            params![pk(t, 12), altered.as_bytes()],
        )
        .unwrap();
    }
    assert_verify_fails(
        "d (vault value)",
        &d,
        &["first bad entry is seq 12: vault value `payload` changed"],
    );

    // (e) The last 3 entries removed consistently (rows with their vault values, tree nodes, log head), so the
    // stored log is a valid log of 39 entries: only the signed checkpoint of 42 shows it.
    let e = copy_data_dir(&dir, "case-e");
    {
        let conn = raw(&e);
        let t = tenant_id(&conn, "default");
        let removed = conn
            .execute(
                "DELETE FROM entries WHERE pk >= ?1 AND pk <= ?2",
                [pk(t, 39), pk(t, 42)],
            )
            .unwrap();
        assert_eq!(removed, 4);
        // Every node whose subtree reaches a leaf at or beyond seq 39.
        let nodes = conn
            .execute(
                "DELETE FROM tree_nodes WHERE tenant = ?1 AND ((idx + 1) << level) > 39",
                [t],
            )
            .unwrap();
        assert!(nodes >= 4, "leaf hashes of seqs 39..=42 deleted ({nodes})");
        let heads = conn
            .execute("UPDATE log_heads SET next_seq = 39 WHERE tenant = ?1", [t])
            .unwrap();
        assert_eq!(heads, 1);
    }
    assert_verify_fails(
        "e (truncated log)",
        &e,
        &[
            "the log has 39 entries but a checkpoint was signed for 43",
            "first missing seq 39",
        ],
    );

    // (e2) The same truncation, with the database's own record of the later checkpoints
    // deleted too: the server's own memory of what it signed (outside the database) still
    // shows it, and once that file is deleted as well, only a checkpoint the auditor kept
    // elsewhere can.
    let kept_note: String = raw(&dir)
        .query_row(
            "SELECT note FROM checkpoints WHERE size = 43 AND tenant = ?1",
            [tenant_id(&raw(&dir), "default")],
            |r| r.get(0),
        )
        .unwrap();
    let kept = root.path().join("kept-checkpoint.txt");
    std::fs::write(&kept, &kept_note).unwrap();
    let e2 = copy_data_dir(&e, "case-e2");
    {
        let conn = raw(&e2);
        let t = tenant_id(&conn, "default");
        conn.execute(
            "DELETE FROM checkpoints WHERE tenant = ?1 AND size > 39",
            [t],
        )
        .unwrap();
        let earlier: i64 = conn
            .query_row(
                "SELECT count(*) FROM checkpoints WHERE tenant = ?1",
                [t],
                |r| r.get(0),
            )
            .unwrap();
        assert!(
            earlier > 0,
            "the start-up checkpoint (size 2) survives the deletion"
        );
    }
    assert_verify_fails(
        "e2 (truncated, checkpoint records deleted)",
        &e2,
        &["against the checkpoint this server remembers signing: the log has 39 entries but a checkpoint was signed for 43"],
    );
    std::fs::remove_file(e2.join("signed-checkpoints.json")).unwrap();
    let blind = local_expect(&["verify"], &e2, 0);
    assert!(
        blind.contains("default: OK"),
        "without any outside checkpoint the truncation is invisible: {blind}"
    );
    let kept_arg = kept.to_str().unwrap();
    let out = local(&["verify", "--checkpoint", kept_arg], &e2);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        describe(&["verify", "--checkpoint", kept_arg], &out)
    );
    assert!(
        text(&out.stdout).contains("against your kept checkpoint: the log has 39 entries but a checkpoint was signed for 43"),
        "{}",
        describe(&["verify", "--checkpoint", kept_arg], &out)
    );
    let fine = local_expect(&["verify", "--checkpoint", kept_arg], &dir, 0);
    assert!(
        fine.contains("and your kept checkpoint of size 43"),
        "{fine}"
    );

    // The untouched original still verifies: the cases really were independent copies.
    let again = local_expect(&["verify"], &dir, 0);
    assert!(again.contains("default: OK"), "{again}");
}

#[test]
fn erase_keeps_the_log_verifiable_and_leaves_no_trace_in_the_files() {
    const EMAIL: &str = "zoe@example.com";
    const NAME: &str = "Zoë Martin";
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let mut served = Served::start(&dir);
    let key = served.read_first_key();
    let zoe = format!(r#"{{"id":"u-zoe","email":"{EMAIL}","name":"{NAME}"}}"#);
    let mut lines = Vec::new();
    for i in 0..3 {
        lines.push(format!(
            r#"{{"action":"document.signed","channel":"docs","description":"Contract {i} signed","actor":{zoe},"context":{{"ip":"198.51.100.{i}"}},"targets":[{{"type":"document","id":"c{i}"}}]}}"#
        ));
    }
    for i in 0..4 {
        lines.push(format!(
            r#"{{"action":"report.created","channel":"reports","description":"Report {i}","actor":{{"id":"u-alice","email":"alice@example.com","name":"Alice Liddell"}}}}"#
        ));
    }
    lines.push(format!(
        r#"{{"action":"hardware.assigned","channel":"it","description":"Laptop assigned to {NAME}","actor":{{"id":"u-bob","email":"bob@example.com","name":"Bob Builder"}},"targets":[{{"type":"hardware","id":"laptop-7"}}],"properties":{{"note":"for zoë martin"}}}}"#
    ));
    ingest(&served.url, &key, root.path(), &lines);
    assert_eq!(query(&served.url, &key, &["--actor", EMAIL])["total"], 3);
    served.stop_cleanly();

    // Her e-mail and name, her name as another actor's property wrote it, her actor id and
    // her IP addresses.
    let needles = [EMAIL, NAME, "zoë martin", "u-zoe", "198.51.100."];
    let before = file_bytes(&dir);
    for needle in needles {
        assert!(
            contains(&before, needle.as_bytes()),
            "`{needle}` is on disk before erasure (else the scan below proves nothing)"
        );
    }

    let erased = local_expect(&["erase", EMAIL], &dir, 0);
    assert!(
        erased.contains("from 4 entries"),
        "3 own + 1 mention: {erased}"
    );
    let pseudonym = erased
        .split_whitespace()
        .find_map(|w| w.strip_prefix("erased-"))
        .map(|rest| format!("erased-{}", rest.trim_end_matches('.')))
        .unwrap_or_else(|| panic!("no pseudonym printed: {erased}"));
    assert_eq!(pseudonym.len(), "erased-".len() + 12, "{erased}");

    let verified = local_expect(&["verify"], &dir, 0);
    assert!(verified.contains("default: OK"), "{verified}");

    let served = Served::start(&dir);
    let (url, key) = (served.url.clone(), key.as_str());
    let all = query(&url, key, &["--all"]);
    let all_text = all.to_string();
    assert_eq!(
        all["total"],
        3 + 8 + 1,
        "bootstrap (tenant, key, owner) + events + subject.erased"
    );
    for trace in [EMAIL, NAME, "zoë martin", "u-zoe", "198.51.100."] {
        assert!(
            !all_text.to_lowercase().contains(&trace.to_lowercase()),
            "`{trace}` still visible after erasure: {all_text}"
        );
    }
    let signed = entries(&query(&url, key, &["--action", "document.signed"]));
    assert_eq!(signed.len(), 3, "{signed:?}");
    for entry in &signed {
        assert_eq!(entry["actor"]["id"], pseudonym.as_str(), "{entry}");
        assert!(entry["actor"]["email"].is_null(), "{entry}");
        assert!(entry["context"]["ip"].is_null(), "{entry}");
    }
    let mention = entries(&query(&url, key, &["--action", "hardware.assigned"]));
    assert_eq!(
        mention[0]["description"],
        format!("Laptop assigned to {pseudonym}"),
        "{mention:?}"
    );
    assert_eq!(
        mention[0]["properties"]["note"],
        format!("for {pseudonym}"),
        "matched ignoring case: {mention:?}"
    );
    assert_eq!(
        mention[0]["actor"]["email"], "bob@example.com",
        "{mention:?}"
    );
    let alice = query(&url, key, &["--actor", "alice@example.com"]);
    assert_eq!(alice["total"], 4, "other subjects untouched: {alice}");

    assert_eq!(query(&url, key, &["--actor", EMAIL])["total"], 0);
    assert_eq!(query(&url, key, &["--actor", "u-zoe"])["total"], 0);
    assert_eq!(query(&url, key, &["--actor", &pseudonym])["total"], 3);
    assert_eq!(
        query(&url, key, &["-q", "martin"])["total"],
        0,
        "the search index forgot the name"
    );

    let audit = query(&url, key, &["--action", "subject.erased"]);
    assert_eq!(audit["total"], 1, "{audit}");
    let audit_text = audit.to_string();
    assert!(
        !audit_text.contains(EMAIL) && !audit_text.contains("zoe") && !audit_text.contains(NAME),
        "the erasure record holds no personal data: {audit_text}"
    );
    assert!(audit_text.contains(&pseudonym), "{audit_text}");
    let via = audit["entries"][0]["actor"]["via"].as_str().unwrap_or("");
    assert!(via.starts_with("CLI"), "{audit_text}");
    served.stop_cleanly();

    let after = file_bytes(&dir);
    for needle in needles {
        assert!(
            !contains(&after, needle.as_bytes()),
            "`{needle}` is still in {DB_FILE} or its WAL after erasure and a restart"
        );
    }
    let verified = local_expect(&["verify"], &dir, 0);
    assert!(verified.contains("default: OK"), "{verified}");
}

/// True when some line of `out` reads exactly these words (columns are padded).
fn has_line(out: &str, words: &[&str]) -> bool {
    out.lines()
        .any(|l| l.split_whitespace().collect::<Vec<_>>() == words)
}

#[test]
fn erase_dry_run_lists_what_would_change_and_unknown_subjects_fail() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let mut served = Served::start(&dir);
    let key = served.read_first_key();
    let ann = r#"{"id":"100","email":"ann@example.com","name":"Ann Lee"}"#;
    let bob = r#"{"id":"bob","email":"bob@example.com","name":"Bob Stone"}"#;
    let lines = [
        format!(
            r#"{{"action":"invoice.created","channel":"billing","description":"Ann Lee created it","actor":{ann},"context":{{"ip":"198.51.100.7"}}}}"#
        ),
        format!(
            r#"{{"action":"invoice.paid","channel":"billing","description":"Invoice 1005 paid, 3100 EUR","actor":{bob},"properties":{{"city":"Berlin"}}}}"#
        ),
        format!(
            r#"{{"action":"invoice.sent","channel":"billing","description":"Sent","actor":{ann}}}"#
        ),
    ];
    ingest(&served.url, &key, root.path(), &lines);
    let before = query(&served.url, &key, &["--all"]);

    for args in [&["erase", "Berlin"][..], &["erase", "--dry-run", "Berlin"]] {
        let out = local(args, &dir);
        assert_eq!(out.status.code(), Some(1), "{}", describe(args, &out));
        assert!(
            text(&out.stderr).contains("no actor or target in this log is identified by `Berlin`"),
            "{}",
            describe(args, &out)
        );
    }

    // Seqs 0-2 are the first start's own entries; Ann's are 3 and 5, Bob's is 4.
    let dry = local_expect(&["erase", "--dry-run", "100"], &dir, 0);
    assert!(
        dry.starts_with("Dry run, nothing was changed: erasing would change 2 entries"),
        "{dry}"
    );
    for words in [
        &["actor", "2"][..],
        &["context", "1"],
        &["description", "1"],
    ] {
        assert!(has_line(&dry, words), "{words:?}: {dry}");
    }
    let listed: Vec<&str> = dry
        .lines()
        .filter(|l| l.trim_start().starts_with("seq "))
        .collect();
    assert_eq!(listed.len(), 2, "{dry}");
    assert!(listed[0].contains("seq 3 ") && listed[0].ends_with("actor, context, description"));
    assert!(
        listed[1].contains("seq 5 ") && listed[1].ends_with("  actor"),
        "{dry}"
    );
    assert_eq!(
        query(&served.url, &key, &["--all"]),
        before,
        "the dry run changed nothing and audited nothing"
    );

    let erased = local_expect(&["erase", "100"], &dir, 0);
    assert!(
        erased.starts_with("Erased the subject's personal data from 2 entries"),
        "{erased}"
    );
    let summary = |out: &str| out.lines().skip(1).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(
        summary(&erased),
        summary(&dry),
        "the erasure did what the dry run listed"
    );
    let bobs = entries(&query(&served.url, &key, &["--action", "invoice.paid"]));
    let bobs_before: Vec<Value> = entries(&before)
        .into_iter()
        .filter(|e| e["action"] == "invoice.paid")
        .collect();
    assert_eq!(bobs, bobs_before, "Bob's entry is unchanged");
    let audit = query(&served.url, &key, &["--action", "subject.erased"]);
    assert_eq!(audit["total"], 1, "{audit}");
    served.stop_cleanly();
}

#[test]
fn retention_and_prune_from_the_cli() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let mut served = Served::start(&dir);
    let key = served.read_first_key();
    let url = served.url.clone();

    let args = ["retention", "set", "--days", "10"];
    let out = local(&args, &dir);
    assert!(!out.status.success(), "{}", describe(&args, &out));
    assert!(
        text(&out.stderr).contains("30"),
        "the refusal names the 30-day minimum: {}",
        describe(&args, &out)
    );

    let set = local_expect(&["retention", "set", "--days", "45"], &dir, 0);
    assert!(set.contains("default: retention is now 45 days"), "{set}");
    let show = local_expect(&["retention", "show"], &dir, 0);
    assert!(
        show.contains("default: retention 45 days, legal hold off"),
        "{show}"
    );

    // The audit page's default period, from the CLI too.
    let set = local_expect(&["period", "set", "3m"], &dir, 0);
    assert!(
        set.contains("default: the audit page now opens on 3m"),
        "{set}"
    );
    let show = local_expect(&["period", "show"], &dir, 0);
    assert!(
        show.contains("default: the audit page opens on 3m"),
        "{show}"
    );
    let args = ["period", "set", "fortnight"];
    let out = local(&args, &dir);
    assert!(!out.status.success(), "{}", describe(&args, &out));
    assert!(
        text(&out.stderr).contains("unknown period"),
        "{}",
        describe(&args, &out)
    );
    let any = local_expect(&["period", "set", "any"], &dir, 0);
    assert!(any.contains("opens on any time"), "{any}");

    let on = local_expect(&["retention", "legal-hold", "on"], &dir, 0);
    assert!(on.contains("default: legal hold on"), "{on}");
    let show = local_expect(&["retention", "show"], &dir, 0);
    assert!(show.contains("legal hold on"), "{show}");
    let held = local_expect(&["prune"], &dir, 2);
    assert!(
        held.contains("default: not pruned") && held.contains("legal hold"),
        "{held}"
    );

    let off = local_expect(&["retention", "legal-hold", "off"], &dir, 0);
    assert!(off.contains("default: legal hold off"), "{off}");
    let pruned = local_expect(&["prune"], &dir, 0);
    assert!(
        pruned.contains("default: removed 0 entries") && pruned.contains("starts at seq 0"),
        "{pruned}"
    );

    for (action, expected_props) in [
        ("retention.changed", Some(("after", serde_json::json!(45)))),
        ("legal_hold.placed", None),
        ("legal_hold.lifted", None),
        ("retention.pruned", Some(("removed", serde_json::json!(0)))),
    ] {
        let answer = query(&url, &key, &["--action", action]);
        assert_eq!(
            answer["total"], 1,
            "exactly one `{action}` (refused commands leave none): {answer}"
        );
        let entry = &answer["entries"][0];
        let via = entry["actor"]["via"].as_str().unwrap_or("");
        assert!(via.starts_with("CLI"), "`{action}` by the CLI: {entry}");
        assert_eq!(entry["actor"]["type"], "system", "{entry}");
        if let Some((prop, value)) = expected_props {
            assert_eq!(entry["properties"][prop], value, "{entry}");
        }
    }
    let pruned_entry = &query(&url, &key, &["--action", "retention.pruned"])["entries"][0];
    assert_eq!(
        pruned_entry["properties"]["retention_days"], 45,
        "{pruned_entry}"
    );
    served.stop_cleanly();

    let verified = local_expect(&["verify"], &dir, 0);
    assert!(verified.contains("default: OK"), "{verified}");
}
