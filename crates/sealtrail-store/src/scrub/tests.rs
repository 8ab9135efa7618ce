//! The text rules: specificity, token boundaries, JSON walks and their field paths.

use super::*;
use proptest::prelude::*;

const P: &str = "erased-x";

fn scrub(ids: &[&str], s: &str) -> Option<String> {
    Identifiers::new(ids.iter().copied()).scrub_str(s, P)
}

#[test]
fn pseudonyms_are_stable_per_log_and_case_insensitive() {
    let key = PseudonymKey::from_bytes([7; 32]);
    let a = pseudonym(&key, "sealtrail/0011aabb/acme", "Zoe@Example.com");
    // Known answer, from Python's `hmac.new(bytes([7] * 32),
    // b"sealtrail/0011aabb/acme\0zoe@example.com", "sha256").hexdigest()[:12]`.
    assert_eq!(a, "erased-364f3a6b130d");
    assert_eq!(
        a,
        pseudonym(&key, "sealtrail/0011aabb/acme", "zoe@example.com")
    );
    assert_ne!(
        a,
        pseudonym(&key, "sealtrail/0011aabb/globex", "zoe@example.com")
    );
    let other = PseudonymKey::from_bytes([8; 32]);
    assert_ne!(
        a,
        pseudonym(&other, "sealtrail/0011aabb/acme", "zoe@example.com"),
        "without the deployment's key a guess cannot be confirmed"
    );
    assert!(
        a.starts_with("erased-") && a.len() == "erased-".len() + 12,
        "{a}"
    );
}

#[test]
fn only_specific_identifiers_count_in_text() {
    for (kind, s) in [
        (Kind::Id, "u-1042"),
        (Kind::Id, "a1b2c"),
        (Kind::Id, "zoemartin"),
        (Kind::Id, "4711080015"),
        (Kind::Id, "0190c3a2-7b1e-7c4d-9e6f-123456789abc"),
        (Kind::Id, "zoe@example.com"),
        (Kind::Email, "Zoe@Example.com"),
        (Kind::Name, "Zoë Martin"),
        (Kind::Name, "  Zoë   Martin "),
        (Kind::Name, "zoe@example.com"),
    ] {
        assert!(specific(kind, s), "{kind:?} {s} should be specific");
    }
    for (kind, s) in [
        (Kind::Id, "100"),
        (Kind::Id, "u1"),
        (Kind::Id, "42"),
        (Kind::Id, "u-zoe"),
        (Kind::Id, "ab12"),
        (Kind::Id, "alice"),
        (Kind::Id, "20240001"),
        (Kind::Email, "zoe"),
        (Kind::Name, "Zoë"),
        (Kind::Name, "Berlin"),
        (Kind::Name, "Zoë 42"),
        (Kind::Name, ""),
    ] {
        assert!(!specific(kind, s), "{kind:?} {s} should not be specific");
    }
    assert!(is_email("a@b") && !is_email("@b") && !is_email("a@") && !is_email("a b@c"));
    assert!(same_email(
        "Zoe.Martin@EXAMPLE.com",
        "zoe.martin@example.com"
    ));
    assert!(!same_email("zoë@example.com", "zoe@example.com"));
}

#[test]
fn the_issues_examples_are_left_alone() {
    // Even an id matched as a whole token only where it stands alone: the boundary rules are
    // checked here with identifiers the specificity rule would never let into text.
    let text = "Invoice 1005 paid, 3100 EUR";
    assert_eq!(scrub(&["100"], text), None);
    assert_eq!(scrub(&["Berlin"], "Berlin-Mitte"), None);
    assert_eq!(scrub(&["u1"], "u10 and u1x"), None);
    assert_eq!(scrub(&["u1"], "u1"), Some(P.into()));
    assert_eq!(
        scrub(&["100"], "paid 100 EUR"),
        Some(format!("paid {P} EUR"))
    );
}

#[test]
fn tokens_end_where_words_end() {
    let email = ["zoe@example.com"];
    assert_eq!(scrub(&email, "mail zoe@example.com.au now"), None);
    assert_eq!(scrub(&email, "x-zoe@example.com"), None);
    assert_eq!(scrub(&email, "zoe@example.com_old"), None);
    assert_eq!(
        scrub(&email, "…sent to Zoe@Example.COM."),
        Some(format!("…sent to {P}."))
    );
    assert_eq!(
        scrub(&email, "<zoe@example.com>, mailto:zoe@example.com"),
        Some(format!("<{P}>, mailto:{P}"))
    );
    assert_eq!(scrub(&["martin@x.io"], "zoe.martin@x.io"), None);
    assert_eq!(scrub(&["martin@x.io"], "martin@x.io"), Some(P.into()));

    let name = ["Zoë Martin"];
    assert_eq!(
        scrub(
            &name,
            "Laptop (ZOË MARTIN) assigned to zoë\n  martin's desk"
        ),
        Some(format!("Laptop ({P}) assigned to {P}'s desk"))
    );
    assert_eq!(scrub(&name, "Zoë Martinez"), None);
    assert_eq!(scrub(&name, "Zoë Martin-Smith"), None);
    assert_eq!(scrub(&name, "ZoëMartin"), None);
    assert_eq!(
        scrub(&["a1b2c3d4"], "/users/a1b2c3d4/edit?id=a1b2c3d4"),
        Some(format!("/users/{P}/edit?id={P}"))
    );
}

#[test]
fn the_longest_identifier_at_a_position_wins() {
    let ids = ["zoe@example.com", "zoe@example.com.au"];
    assert_eq!(
        scrub(&ids, "zoe@example.com.au zoe@example.com"),
        Some(format!("{P} {P}"))
    );
}

#[test]
fn json_is_walked_with_paths_and_structure_kept() {
    let ids = Identifiers::new(["Zoë Martin", "4711080015"]);
    let mut walk = TextScrub::new(&ids, P);
    let mut v = json!({
        "to": ["Zoë Martin", 3, 4711080015_u64, 47110800150_u64],
        "Zoë Martin": { "n": "x" },
        "zoë martin": "kept apart",
        "k": true
    });
    walk.key("properties", |w| w.text(&mut v));
    assert_eq!(
        v,
        json!({
            "to": [P, 3, P, 47110800150_u64],
            P: { "n": "x" },
            format!("{P}#2"): "kept apart",
            "k": true
        })
    );
    let paths: Vec<&str> = walk.changed.iter().map(String::as_str).collect();
    assert_eq!(
        paths,
        [
            "properties.erased-x",
            "properties.erased-x#2",
            "properties.to[0]",
            "properties.to[2]"
        ]
    );

    let mut again = TextScrub::new(&ids, P);
    again.text(&mut v);
    assert!(again.changed.is_empty(), "idempotent: {:?}", again.changed);

    let mut fields = json!({ "Zoë Martin": "Zoë Martin" });
    let mut walk = TextScrub::new(&ids, P);
    walk.key("changes", |w| w.fields(&mut fields));
    assert_eq!(fields, json!({ "Zoë Martin": P }), "structural keys stay");
    assert_eq!(
        walk.changed.into_iter().collect::<Vec<_>>(),
        ["changes.Zoë Martin"]
    );
}

/// Words that may stand next to each other in generated text.
fn text_strategy() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            "[a-zA-Z0-9]{1,8}",
            "[ .,;:()@+_/'-]{1,3}",
            Just("Zoë".to_string()),
            Just("martin".to_string()),
            Just("100".to_string()),
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    /// Text in which no identifier stands as a whole token is returned unchanged — here text
    /// that does not even contain the identifier's characters in order.
    #[test]
    fn text_without_the_identifier_is_never_changed(text in text_strategy()) {
        let ids = ["Zoë Martin", "zoe@example.com", "a1b2c3d4e5"];
        // Whitespace runs count as one space inside a name, as they do when matching.
        let squashed = text.to_lowercase().split_whitespace().collect::<Vec<_>>().join(" ");
        prop_assume!(ids.iter().all(|id| !squashed.contains(&id.to_lowercase())));
        prop_assert_eq!(scrub(&ids, &text), None);
    }

    /// An identifier glued to a letter or digit (or joined to one by `.-_@+`) is a different
    /// token and stays; the same identifier standing alone is replaced.
    #[test]
    fn glued_identifiers_stay_and_free_ones_go(
        before in "[a-z0-9]{1,4}[.@_+-]?",
        after in "[.@_+-]?[a-z0-9]{1,4}",
        id in "[a-z]{3,6}[0-9]{2,5}",
    ) {
        let ids = [id.as_str()];
        let glued = format!("{before}{id}{after}");
        prop_assume!(glued.matches(id.as_str()).count() == 1);
        prop_assert_eq!(scrub(&ids, &glued), None);
        let free = format!("{before} {id}, {after}");
        prop_assert_eq!(scrub(&ids, &free), Some(format!("{before} {P}, {after}")));
    }

    /// Scrubbing is idempotent: the result holds no identifier token any more.
    #[test]
    fn scrubbed_text_holds_no_identifier(text in text_strategy()) {
        let ids = ["Zoë Martin", "100"];
        let once = scrub(&ids, &text).unwrap_or(text);
        prop_assert_eq!(scrub(&ids, &once), None);
    }
}
