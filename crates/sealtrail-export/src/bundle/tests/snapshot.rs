//! The bundle's exact bytes are a format: snapshots catch any unintended change.
//!
//! Snapshots live in `snapshots/`; run with `UPDATE_SNAPSHOTS=1` to rewrite them after an
//! intended change, then review the diff (a format change needs a new `FORMAT` version).

use super::*;
use std::fmt::Write as _;
use std::path::PathBuf;

pub(super) fn assert_snapshot(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/bundle/tests/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}; run with UPDATE_SNAPSHOTS=1",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "snapshot {name} differs; rerun with UPDATE_SNAPSHOTS=1 and review.\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

/// Name, size, mode, owner, mtime and format of every member, as `tar tv` would show them.
fn listing(bundle: &[u8]) -> String {
    let mut archive = tar::Archive::new(bundle);
    let mut out = String::new();
    for m in archive.entries().unwrap() {
        let m = m.unwrap();
        let h = m.header();
        writeln!(
            out,
            "{} size={} mode={:o} uid={} gid={} mtime={} ustar={} type={:?}",
            m.path().unwrap().display(),
            h.size().unwrap(),
            h.mode().unwrap(),
            h.uid().unwrap(),
            h.gid().unwrap(),
            h.mtime().unwrap(),
            h.as_ustar().is_some(),
            h.entry_type(),
        )
        .unwrap();
    }
    out
}

#[test]
fn the_bundle_layout_is_stable() {
    let mut log = TestLog::new(3);
    let entries = vec![log.entry(0), log.erased_entry(2)];
    let bundle = log.bundle_of(&entries);
    assert_eq!(
        bundle,
        log.bundle_of(&entries),
        "equal inputs give equal archives"
    );
    assert_eq!(bundle.len() % 512, 0);
    let ms = members(&bundle);
    let names: Vec<&str> = ms.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, files::ALL);
    assert_eq!(ms[0].1, README_TEXT.as_bytes());
    assert_eq!(ms[1].1, VERIFY_SCRIPT.as_bytes());
    let text = |i: usize| String::from_utf8(ms[i].1.clone()).unwrap();
    assert_snapshot("listing.txt", &listing(&bundle));
    assert_snapshot("manifest.json", &text(2));
    assert_snapshot("public-key.txt", &text(3));
    assert_snapshot("checkpoint.txt", &text(4));
    assert_snapshot("entries.ndjson", &text(5));
}
