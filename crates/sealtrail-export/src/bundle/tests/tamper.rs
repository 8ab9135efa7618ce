//! A good bundle verifies; every kind of tampering is caught and located.

use super::*;

#[test]
fn a_whole_log_bundle_verifies() {
    let mut log = TestLog::new(13);
    let seqs: Vec<u64> = (0..13).collect();
    let bundle = log.bundle(&seqs);
    let mut calls = Vec::new();
    let report = verify_bundle(bundle.as_slice(), |n| calls.push(n)).unwrap();
    assert_eq!(report.first_problem, None);
    assert!(report.is_ok());
    assert_eq!(report.origin, ORIGIN);
    assert_eq!((report.tree_size, report.entries), (13, 13));
    assert_eq!(report.root, log.tree.root_at(13).unwrap());
    assert_eq!(report.public_key, log.signer.verifier().to_string());
    assert_eq!(
        report.filters,
        json!({"channel": "security", "from": "2026-11-01"})
    );
    assert!(report.whole_log);
    assert_eq!(report.erased_values, 0);
    assert_eq!(calls, (1..=13).collect::<Vec<u64>>());
}

#[test]
fn a_selection_with_erased_values_verifies_but_is_not_the_whole_log() {
    let mut log = TestLog::new(20);
    let entries = vec![log.entry(2), log.erased_entry(5), log.entry(19)];
    let bundle = log.bundle_of(&entries);
    let report = verify(&bundle).unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!((report.entries, report.erased_values), (3, 1));
    assert!(!report.whole_log);
    let ms = members(&bundle);
    let line: Value =
        serde_json::from_slice(ms[5].1.split(|b| *b == b'\n').nth(1).unwrap()).unwrap();
    assert_eq!(line["vault"]["actor"]["erased"], json!(true));
    assert_eq!(line["entry"]["actor"]["name"], json!("Erased user"));
}

#[test]
fn an_empty_selection_verifies() {
    let mut log = TestLog::new(4);
    let report = verify(&log.bundle(&[])).unwrap();
    assert!(report.is_ok());
    assert_eq!(report.entries, 0);
    assert!(!report.whole_log);
}

#[test]
fn the_idempotency_key_is_not_part_of_the_evidence() {
    let mut log = TestLog::new(3);
    let bundle = edit_lines(&log.bundle(&[0, 1, 2]), |lines| {
        lines[1]["entry"]["idempotency_key"] = json!("k1");
    });
    assert!(verify(&bundle).unwrap().is_ok());
}

#[test]
fn a_flipped_envelope_byte_is_caught_at_its_seq() {
    let mut log = TestLog::new(9);
    let good = log.bundle(&[1, 4, 7]);
    let bad = edit_lines(&good, |l| flip_b64(&mut l[1]["envelope"], 30, 0x01));
    let p = problem(&bad);
    assert_eq!((p.line, p.seq), (2, Some(4)));
    assert!(p.reason.contains("leaf_hash"), "{p}");
    // Recomputing the leaf hash does not help: the proof no longer leads to the root.
    let bad = edit_lines(&good, |l| {
        flip_b64(&mut l[1]["envelope"], 30, 0x01);
        let env = B64.decode(l[1]["envelope"].as_str().unwrap()).unwrap();
        l[1]["leaf_hash"] = json!(hex::encode(merkle::leaf_hash(&env)));
    });
    let p = problem(&bad);
    assert_eq!(p.seq, Some(4));
    assert!(p.reason.contains("inclusion proof"), "{p}");
}

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

#[test]
fn a_flipped_proof_hash_is_caught() {
    let mut log = TestLog::new(9);
    let bad = edit_lines(&log.bundle(&[1, 4, 7]), |l| {
        flip_hex(&mut l[2]["inclusion_proof"][1], 5, 0x80)
    });
    let p = problem(&bad);
    assert_eq!((p.line, p.seq), (3, Some(7)));
    assert!(p.reason.contains("inclusion proof"), "{p}");
}

#[test]
fn a_flipped_vault_value_or_salt_is_caught() {
    let mut log = TestLog::new(9);
    let good = log.bundle(&[1, 4, 7]);
    for (part, field) in [
        ("actor", "value"),
        ("context", "salt"),
        ("payload", "value"),
    ] {
        let bad = edit_lines(&good, |l| {
            flip_b64(&mut l[0]["vault"][part][field], 3, 0x20)
        });
        let p = problem(&bad);
        assert_eq!(p.seq, Some(1));
        assert!(p.reason.contains(&format!("vault `{part}`")), "{p}");
    }
}

#[test]
fn a_changed_readable_entry_is_caught() {
    let mut log = TestLog::new(9);
    let bad = edit_lines(&log.bundle(&[1, 4, 7]), |l| {
        l[2]["entry"]["description"] = json!("Nothing happened here");
    });
    let p = problem(&bad);
    assert_eq!(p.seq, Some(7));
    assert!(p.reason.contains("field `description`"), "{p}");
    let bad = edit_lines(&log.bundle(&[1, 4, 7]), |l| {
        l[0]["entry"]["actor"]["email"] = json!("someone@else.example");
    });
    assert!(problem(&bad).reason.contains("field `actor`"));
}

#[test]
fn a_dropped_line_is_caught_by_the_count() {
    let mut log = TestLog::new(9);
    let bad = edit_lines(&log.bundle(&[1, 4, 7]), |l| {
        l.remove(1);
    });
    let p = problem(&bad);
    assert_eq!((p.line, p.seq), (0, None));
    assert!(p.reason.contains("says 3 entries, the file has 2"), "{p}");
    // Even with the count fixed up, a whole-log bundle no longer claims to be whole.
    let whole = log.bundle(&(0..9).collect::<Vec<_>>());
    let dropped = edit_lines(&whole, |l| {
        l.remove(4);
    });
    let dropped = edit_member(&dropped, files::MANIFEST, |m| {
        *m = String::from_utf8(m.clone())
            .unwrap()
            .replace("\"entries\": 9", "\"entries\": 8")
            .into_bytes();
    });
    let report = verify(&dropped).unwrap();
    assert!(report.is_ok());
    assert!(!report.whole_log);
}

#[test]
fn swapped_lines_are_caught_where_the_order_breaks() {
    let mut log = TestLog::new(9);
    let bad = edit_lines(&log.bundle(&[1, 4, 7, 8]), |l| l.swap(1, 2));
    let p = problem(&bad);
    assert_eq!((p.line, p.seq), (3, Some(4)));
    assert!(p.reason.contains("out of order"), "{p}");
}

/// Lines are checked in batches on several threads (three lines a batch in tests); what is
/// reported is still the first bad line of the file, and an order break across a batch
/// boundary is still found.
#[test]
fn the_first_bad_line_is_reported_whichever_batch_holds_it() {
    let mut log = TestLog::new(12);
    let whole = log.bundle(&(0..12).collect::<Vec<_>>());
    let bad = edit_lines(&whole, |l| {
        l[10]["entry"]["description"] = json!("later");
        l[4]["entry"]["description"] = json!("earlier");
    });
    let p = problem(&bad);
    assert_eq!((p.line, p.seq), (5, Some(4)));
    let report = verify(&bad).unwrap();
    assert_eq!(report.entries, 12);
    assert!(!report.is_ok());
    // Lines 3 and 4 straddle the first two batches.
    let swapped = edit_lines(&whole, |l| l.swap(2, 3));
    let p = problem(&swapped);
    assert_eq!((p.line, p.seq), (4, Some(2)));
    assert!(p.reason.contains("out of order: comes after seq 3"), "{p}");
}

#[test]
fn a_line_moved_to_another_seq_is_caught() {
    let mut log = TestLog::new(9);
    let bad = edit_lines(&log.bundle(&[1, 4]), |l| l[1]["seq"] = json!(5));
    let p = problem(&bad);
    assert_eq!(p.seq, Some(5));
    assert!(p.reason.contains("inclusion proof"), "{p}");
}

#[test]
fn a_bad_checkpoint_signature_is_an_error() {
    let mut log = TestLog::new(5);
    let bad = edit_member(&log.bundle(&[0, 1]), files::CHECKPOINT, |note| {
        let at = note.len() - 10;
        note[at] = if note[at] == b'A' { b'B' } else { b'A' };
    });
    let err = verify(&bad).unwrap_err();
    assert!(matches!(err, BundleError::Checkpoint(_)), "{err}");
    // Another key cannot vouch for this checkpoint either.
    let other = NoteSigner::from_seed("sealtrail.example", [8; 32]).unwrap();
    let bad = edit_member(&log.bundle(&[0]), files::PUBLIC_KEY, |k| {
        *k = format!("{}\n", other.verifier()).into_bytes();
    });
    assert!(matches!(verify(&bad), Err(BundleError::Checkpoint(_))));
}

#[test]
fn a_manifest_that_disagrees_with_the_checkpoint_is_an_error() {
    let mut log = TestLog::new(5);
    let good = log.bundle(&[0, 1]);
    let root = hex::encode(log.tree.root_at(5).unwrap());
    let mut flipped = root.clone().into_bytes();
    flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).unwrap();
    let bad = edit_member(&good, files::MANIFEST, |m| {
        *m = String::from_utf8(m.clone())
            .unwrap()
            .replace(&root, &flipped)
            .into_bytes();
    });
    let err = verify(&bad).unwrap_err();
    assert!(matches!(err, BundleError::Mismatch(_)), "{err}");
    assert!(err.to_string().contains("root"), "{err}");
}

#[test]
fn structural_damage_is_an_error_with_a_clear_message() {
    let mut log = TestLog::new(3);
    let good = log.bundle(&[0, 1, 2]);
    let ms = members(&good);

    let garbage = vec![0x42u8; 2048];
    assert!(matches!(verify(&garbage), Err(BundleError::NotTar(_))));
    assert!(matches!(verify(&[]), Err(BundleError::NoEntries)));

    let without_key: Vec<_> = ms
        .iter()
        .filter(|(n, _)| n != files::PUBLIC_KEY)
        .cloned()
        .collect();
    let err = verify(&pack(&without_key)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the bundle has no public-key.txt before entries.ndjson"
    );

    let mut doubled = ms.clone();
    doubled.push(ms[5].clone());
    assert!(matches!(
        verify(&pack(&doubled)),
        Err(BundleError::Duplicate(_))
    ));

    let mut extra = ms.clone();
    extra.push(("notes.txt".into(), b"trust me".to_vec()));
    assert!(matches!(
        verify(&pack(&extra)),
        Err(BundleError::UnexpectedFile(_))
    ));

    let without_entries: Vec<_> = ms[..5].to_vec();
    assert!(matches!(
        verify(&pack(&without_entries)),
        Err(BundleError::NoEntries)
    ));

    let wrong_format = edit_member(&good, files::MANIFEST, |m| {
        *m = String::from_utf8(m.clone())
            .unwrap()
            .replace("bundle/1", "bundle/2")
            .into_bytes();
    });
    assert!(matches!(
        verify(&wrong_format),
        Err(BundleError::Manifest(_))
    ));

    // Truncating the archive inside entries.ndjson never passes as a good bundle.
    let truncated = &good[..good.len() - 1024 - 600];
    assert!(!matches!(verify(truncated), Ok(r) if r.is_ok()));
}

#[test]
fn a_line_that_is_not_json_is_located() {
    let mut log = TestLog::new(3);
    let bad = edit_member(&log.bundle(&[0, 1, 2]), files::ENTRIES, |e| {
        let second = e.iter().position(|b| *b == b'\n').unwrap() + 1;
        e.insert(second + 1, b'x');
    });
    let p = problem(&bad);
    assert_eq!((p.line, p.seq), (2, None));
    assert!(
        p.to_string().starts_with("line 2: not a bundle line"),
        "{p}"
    );
}

#[test]
fn the_writer_refuses_entries_that_would_not_verify() {
    let mut log = TestLog::new(6);
    let header = log.header();
    let mut w = BundleWriter::new(Vec::new(), header).unwrap();
    w.add(&log.entry(3)).unwrap();
    let err = w.add(&log.entry(2)).unwrap_err();
    assert!(err.to_string().contains("increasing seq order"), "{err}");
    let mut wrong_proof = log.entry(4);
    wrong_proof.inclusion_proof[0][0] ^= 1;
    assert!(matches!(
        w.add(&wrong_proof),
        Err(BundleError::InvalidEntry { seq: 4, .. })
    ));
    let mut tampered = log.entry(4);
    if let Slot::Committed(v) = &mut tampered.slots[2] {
        v.value[2] ^= 1;
    }
    assert!(w
        .add(&tampered)
        .unwrap_err()
        .to_string()
        .contains("payload"));
    let mut missing = log.entry(4);
    missing.slots.pop();
    assert!(w.add(&missing).is_err());
    let mut misplaced = log.entry(4);
    misplaced.seq = 5;
    assert!(w.add(&misplaced).is_err());
    w.add(&log.entry(4)).unwrap();
    assert_eq!(w.entries(), 2);
    assert!(verify(&w.finish().unwrap()).unwrap().is_ok());
}

#[test]
fn the_writer_refuses_a_header_its_checkpoint_does_not_back() {
    let mut log = TestLog::new(6);
    let mut header = log.header();
    header.tree_size = 5;
    assert!(matches!(
        BundleWriter::new(Vec::new(), header),
        Err(BundleError::Mismatch(_))
    ));
    let mut header = log.header();
    header.verifier = NoteSigner::from_seed("sealtrail.example", [9; 32])
        .unwrap()
        .verifier();
    assert!(matches!(
        BundleWriter::new(Vec::new(), header),
        Err(BundleError::Checkpoint(_))
    ));
}
