//! Property tests: any selection of any log verifies; any flipped byte of evidence is located.

use super::*;
use proptest::collection::vec;
use proptest::prelude::*;

/// The seqs selected by `picks` from a log of `n` (at least one).
fn selection(n: u64, picks: &[bool]) -> Vec<u64> {
    let seqs: Vec<u64> = (0..n).filter(|s| picks[*s as usize]).collect();
    if seqs.is_empty() {
        vec![n / 2]
    } else {
        seqs
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn any_selection_of_any_log_verifies(
        n in 1u64..=300,
        picks in vec(any::<bool>(), 300),
        erase in vec(any::<bool>(), 300),
    ) {
        let mut log = TestLog::new(n);
        let seqs = selection(n, &picks);
        let entries: Vec<BundleEntry> = seqs
            .iter()
            .map(|s| if erase[*s as usize] { log.erased_entry(*s) } else { log.entry(*s) })
            .collect();
        let report = verify(&log.bundle_of(&entries)).unwrap();
        prop_assert!(report.is_ok(), "{:?}", report.first_problem);
        prop_assert_eq!(report.entries, seqs.len() as u64);
        prop_assert_eq!(report.whole_log, seqs.len() as u64 == n);
        let erased = seqs.iter().filter(|s| erase[**s as usize]).count() as u64;
        prop_assert_eq!(report.erased_values, erased);
    }

    #[test]
    fn a_flipped_byte_of_evidence_is_reported_at_its_line(
        n in 1u64..=300,
        picks in vec(any::<bool>(), 300),
        line in any::<prop::sample::Index>(),
        field in 0usize..5,
        at in any::<usize>(),
        mask in 1u8..=255,
    ) {
        let mut log = TestLog::new(n);
        let seqs = selection(n, &picks);
        let i = line.index(seqs.len());
        let bad = edit_lines(&log.bundle(&seqs), |l| {
            let l = &mut l[i];
            let has_proof = !l["inclusion_proof"].as_array().unwrap().is_empty();
            match field {
                1 if has_proof => {
                    let proof = l["inclusion_proof"].as_array_mut().unwrap();
                    let k = at % proof.len();
                    flip_hex(&mut proof[k], at / 7, mask);
                }
                2 => flip_b64(&mut l["vault"]["actor"]["value"], at, mask),
                3 => flip_b64(&mut l["vault"]["context"]["salt"], at, mask),
                4 => flip_b64(&mut l["vault"]["payload"]["value"], at, mask),
                _ => flip_b64(&mut l["envelope"], at, mask),
            }
        });
        let p = problem(&bad);
        prop_assert_eq!((p.line, p.seq), (i as u64 + 1, Some(seqs[i])), "{}", p);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_verifier(bytes in vec(any::<u8>(), 0..4096)) {
        let _ = verify(&bytes);
    }

    #[test]
    fn arbitrary_entry_lines_never_panic_and_never_pass(junk in vec(any::<u8>(), 1..512)) {
        let mut log = TestLog::new(3);
        let bad = edit_member(&log.bundle(&[0, 1, 2]), files::ENTRIES, |e| {
            e.extend_from_slice(&junk);
        });
        if let Ok(report) = verify(&bad) {
            prop_assert!(!report.is_ok());
        }
    }
}
