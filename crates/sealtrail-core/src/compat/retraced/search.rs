//! Retraced's structured search string (`action:"user.*" crud:c,u received:<from>,<to>
//! free words`, the `search-query-parser` grammar its clients and viewer send) turned into
//! Sealtrail's list parameters, which [`crate::filter::parse_query`] then checks as it checks
//! `GET /v1/events`, so a Retraced search can select exactly what a native one can.
//!
//! | Retraced term | Sealtrail parameter |
//! |---|---|
//! | `action:x`, `action:"user.*"` | `action` (a trailing `*` is a prefix) |
//! | `crud:c,u,d` | `event=created&event=updated&event=deleted` |
//! | `received:<from>,<to>` | `from`, `to` and `time=recorded` (either end may be empty; the end is exclusive, as Retraced's) |
//! | `created:<from>,<to>` | `from`, `to` (the event's own time) |
//! | `actor.id:x` | `actor` (id or e-mail) |
//! | `target.id:x`, `target.name:x`, `target.type:x` | `target_id`, `target_name`, `target_type` |
//! | `fields.<k>:v` | `properties.<k>=v` |
//! | `actor.name:x`, `description:x`, `location:x`, free words | `q`: every word must occur |
//!
//! `external_id` has no Sealtrail filter and is refused rather than ignored: a search that
//! silently matched more than asked would show an auditor the wrong entries.

/// Why a search string cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SearchError(pub String);

/// The list parameters a Retraced search string stands for (module docs).
pub fn search_params(query: &str) -> Result<Vec<(String, String)>, SearchError> {
    let mut params = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut clock: Option<&'static str> = None;
    for token in tokens(query) {
        let Some((key, value)) = keyword(&token) else {
            words.push(unquote(&token).to_string());
            continue;
        };
        let value = unquote(value);
        let key = match key {
            Key::Field(name) => {
                params.push((format!("properties.{name}"), value.to_string()));
                continue;
            }
            Key::Known(key) => key,
        };
        match key {
            "action" => params.push(("action".into(), value.to_string())),
            "crud" => {
                for letter in value.split(',').filter(|l| !l.is_empty()) {
                    params.push(("event".into(), crud_kind(letter)?.into()));
                }
            }
            "received" | "created" => {
                if clock.is_some_and(|c| c != key) {
                    return Err(SearchError(
                        "search by `received` or by `created`, not both: a period reads one clock"
                            .into(),
                    ));
                }
                clock = Some(key);
                let (from, to) = value.split_once(',').unwrap_or((value, ""));
                if !from.is_empty() {
                    params.push(("from".into(), from.to_string()));
                }
                if !to.is_empty() {
                    params.push(("to".into(), crate::compat::exclusive_end(to)));
                }
                if key == "received" {
                    params.push(("time".into(), "recorded".into()));
                }
            }
            "actor.id" => params.push(("actor".into(), value.to_string())),
            "target.id" => params.push(("target_id".into(), value.to_string())),
            "target.name" => params.push(("target_name".into(), value.to_string())),
            "target.type" => params.push(("target_type".into(), value.to_string())),
            "external_id" => {
                return Err(SearchError(
                    "`external_id` cannot be searched on Sealtrail; search by action, actor, target, fields or text"
                        .into(),
                ))
            }
            // The keywords left: free text, as Retraced matches them.
            _ => words.push(value.to_string()),
        }
    }
    let text = words
        .iter()
        .map(|w| w.trim())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if !text.is_empty() {
        params.push(("q".into(), text));
    }
    Ok(params)
}

/// The keywords Retraced's parser knows; anything else with a colon is a free word.
const KEYWORDS: &[&str] = &[
    "action",
    "crud",
    "received",
    "created",
    "actor.id",
    "actor.name",
    "description",
    "location",
    "external_id",
    "target.id",
    "target.name",
    "target.type",
];

/// The key of a `key:value` term.
enum Key<'a> {
    /// One of [`KEYWORDS`].
    Known(&'static str),
    /// `fields.<name>`: the name.
    Field(&'a str),
}

/// `key:value` when the key is a keyword or `fields.<name>`; `None` for a free word.
fn keyword(token: &str) -> Option<(Key<'_>, &str)> {
    let (key, value) = token.split_once(':')?;
    if let Some(known) = KEYWORDS.iter().find(|k| **k == key) {
        return Some((Key::Known(known), value));
    }
    let name = key.strip_prefix("fields.").filter(|n| !n.is_empty())?;
    Some((Key::Field(name), value))
}

/// The Sealtrail badge kind of one `crud` letter.
fn crud_kind(letter: &str) -> Result<&'static str, SearchError> {
    Ok(match letter.trim() {
        "c" => "created",
        "r" => "read",
        "u" => "updated",
        "d" => "deleted",
        other => {
            return Err(SearchError(format!(
                "`crud:{other}`: each letter must be one of c, r, u, d"
            )))
        }
    })
}

/// A value without its surrounding double quotes.
fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

/// Splits on whitespace outside double quotes (`description:"two words"` is one token).
fn tokens(query: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in query.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::parse_query;
    use crate::timestamp::Timestamp;
    use proptest::prelude::*;

    fn params(query: &str) -> Vec<(String, String)> {
        search_params(query).unwrap()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_term_becomes_its_parameter() {
        assert_eq!(
            params(r#"action:"user.*" crud:c,u,d actor.id:ada@example.com target.type:doc"#),
            pairs(&[
                ("action", "user.*"),
                ("event", "created"),
                ("event", "updated"),
                ("event", "deleted"),
                ("actor", "ada@example.com"),
                ("target_type", "doc"),
            ])
        );
        assert_eq!(
            params("received:2026-12-01T00:00:00.000Z,2026-12-02T00:00:00.000Z"),
            pairs(&[
                ("from", "2026-12-01T00:00:00.000Z"),
                ("to", "2026-12-01T23:59:59.999Z"),
                ("time", "recorded"),
            ])
        );
        // The client writes a one-sided range as `start,`.
        assert_eq!(
            params("created:2026-12-01T00:00:00.000Z,"),
            pairs(&[("from", "2026-12-01T00:00:00.000Z")])
        );
        assert_eq!(
            params(r#"fields.site:Berlin description:"plan updated" actor.name:"Ada" loose 10:30"#),
            pairs(&[
                ("properties.site", "Berlin"),
                ("q", "plan updated Ada loose 10:30"),
            ])
        );
        assert_eq!(params("   "), pairs(&[]));
    }

    #[test]
    fn what_sealtrail_cannot_search_is_refused() {
        for query in [
            "external_id:x",
            "crud:c,x",
            "received:2026-12-01T00:00:00Z, created:2026-12-01T00:00:00Z,",
        ] {
            assert!(search_params(query).is_err(), "{query}");
        }
    }

    #[test]
    fn the_viewers_default_search_selects_changes() {
        let query = parse_query(&params("crud:c,u,d"), Timestamp(0), &[]).unwrap();
        assert_eq!(query.filter.event, ["created", "updated", "deleted"]);
    }

    proptest! {
        /// Any text is parameters or a refusal, never a panic, and the parameters of an
        /// accepted search name only what the module docs list.
        #[test]
        fn any_search_string_is_parsed_or_refused(query in "[a-z.:,\" *0-9-]{0,40}") {
            if let Ok(params) = search_params(&query) {
                for (name, _) in &params {
                    let known = ["action", "event", "from", "to", "time", "actor", "target_id",
                        "target_name", "target_type", "q"];
                    prop_assert!(known.contains(&name.as_str()) || name.starts_with("properties."), "{name}");
                }
            }
        }

        /// What the client's `stringifyStructuredQuery` writes comes back as the same values.
        #[test]
        fn the_clients_own_strings_round_trip(
            action in "[a-z]{1,8}(\\.[a-z]{1,8}){0,2}",
            crud in proptest::sample::subsequence(vec!["c", "r", "u", "d"], 1..4),
            actor in "[a-z0-9@.]{1,12}",
        ) {
            let query = format!(r#"action:"{action}" crud:{} actor.id:{actor}"#, crud.join(","));
            let params = search_params(&query).unwrap();
            prop_assert_eq!(&params[0], &("action".to_string(), action.clone()));
            prop_assert_eq!(params.iter().filter(|(k, _)| k == "event").count(), crud.len());
            prop_assert_eq!(params.last().unwrap(), &("actor".to_string(), actor.clone()));
        }
    }
}
