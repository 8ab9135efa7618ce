//! The bundled Python verifier agrees with ours, on good and on tampered bundles.

use super::*;
use std::path::Path;
use std::process::Command;

fn python_with_cryptography() -> bool {
    let probe = &mut Command::new("python3");
    probe.args(["-c", "import cryptography"]);
    crate::testutil::external_checker(
        probe,
        "python3 with the `cryptography` package, so verify_bundle.py was not run",
        "pip install cryptography",
    )
}

/// Unpacks `bundle` and runs its own `verify_bundle.py`; returns (success, stdout).
fn run_script(bundle: &[u8]) -> (bool, String) {
    run_script_with(bundle, &[])
}

/// [`run_script`] with more arguments (`--public-key`).
fn run_script_with(bundle: &[u8], extra: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    tar::Archive::new(bundle).unpack(dir.path()).unwrap();
    let out = Command::new("python3")
        .arg(dir.path().join(files::SCRIPT))
        .arg(dir.path())
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), String::from_utf8(out.stdout).unwrap())
}

#[test]
fn the_python_script_verifies_a_good_bundle_and_catches_tampering() {
    if !python_with_cryptography() {
        return;
    }
    let mut log = TestLog::new(40);
    let entries = vec![
        log.entry(0),
        log.erased_entry(7),
        log.entry(21),
        log.entry(39),
    ];
    let good = log.bundle_of(&entries);
    let (ok, out) = run_script(&good);
    assert!(ok, "{out}");
    assert!(
        out.starts_with("OK: 4 entries of log sealtrail.example/acme"),
        "{out}"
    );
    assert!(out.contains("1 vault values were erased"), "{out}");

    assert!(
        out.contains("A selection of 4 of the log's 40 entries"),
        "{out}"
    );
    assert!(out.contains("pass --public-key"), "{out}");

    let whole = log.bundle(&(0..40).collect::<Vec<_>>());
    let (ok, out) = run_script(&whole);
    assert!(ok, "{out}");
    assert!(
        out.contains("The bundle holds the whole log: every seq from 0 to 39."),
        "{out}"
    );
    let key = log.signer.verifier().to_string();
    let (ok, out) = run_script_with(&whole, &["--public-key", &key]);
    assert!(ok && out.contains("Signed by the key you trust"), "{out}");
    let other = sealtrail_core::checkpoint::NoteSigner::generate("sealtrail")
        .unwrap()
        .verifier()
        .to_string();
    let (ok, out) = run_script_with(&whole, &["--public-key", &other]);
    assert!(
        !ok && out.starts_with("FAILED: the bundle is signed by"),
        "a pinned key catches a bundle re-signed with another: {out}"
    );

    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "envelope",
            edit_lines(&good, |l| flip_b64(&mut l[2]["envelope"], 9, 4)),
        ),
        (
            "proof",
            edit_lines(&good, |l| flip_hex(&mut l[2]["inclusion_proof"][0], 0, 1)),
        ),
        (
            "vault",
            edit_lines(&good, |l| {
                flip_b64(&mut l[2]["vault"]["payload"]["value"], 5, 1)
            }),
        ),
        (
            "entry",
            edit_lines(&good, |l| l[2]["entry"]["result"] = json!("denied")),
        ),
        ("order", edit_lines(&good, |l| l.swap(2, 3))),
        (
            "dropped",
            edit_lines(&good, |l| {
                l.remove(2);
            }),
        ),
        (
            "signature",
            edit_member(&good, files::CHECKPOINT, |n| {
                let at = n.len() - 5;
                n[at] ^= 0x01;
            }),
        ),
    ];
    for (what, bad) in cases {
        let (ok, out) = run_script(&bad);
        assert!(!ok, "python missed tampered {what}: {out}");
        assert!(out.starts_with("FAILED: "), "{what}: {out}");
        // And ours agrees.
        assert!(!matches!(verify(&bad), Ok(r) if r.is_ok()), "{what}");
        if what != "signature" && what != "dropped" {
            assert!(out.contains("(seq 21)"), "{what}: {out}");
        }
    }
}

#[test]
fn the_documents_name_every_file_of_the_layout() {
    let spec = include_str!("../../../BUNDLE.md");
    for doc in [README_TEXT, spec] {
        for name in files::ALL {
            assert!(doc.contains(&format!("`{name}`")), "{name} missing");
        }
        assert!(doc.contains(FORMAT));
    }
    assert!(Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("BUNDLE.md")
        .exists());
}
