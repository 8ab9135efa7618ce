//! One entry as the page shows it: the five columns the seeds describe (When, Description,
//! Subject, Actor, Event) plus Result, and the Details panel (before/after side by side, the raw
//! entry as formatted JSON, its integrity status). Plain strings and flags only, so templates
//! hold no logic and every value is escaped by the template engine.

use sealtrail_core::changes::{field_changes, FieldChange};
use sealtrail_core::entry::{ActorType, Entry, Outcome};
use sealtrail_core::Timestamp;

/// `2026-11-28 09:30:00 UTC` (milliseconds only when there are some).
fn utc_text(at: Timestamp) -> String {
    at.to_rfc3339()
        .replacen('T', " ", 1)
        .replace(".000Z", "Z")
        .replace('Z', " UTC")
}

/// A table row and its details panel.
#[derive(Debug, Clone)]
pub struct EntryRow {
    /// Entry id (UUID), quotable in correspondence.
    pub id: String,
    /// Position in the tenant's log.
    pub seq: u64,
    /// The event's own time (`occurred_at`) as RFC 3339 UTC, for `<time datetime>` and the
    /// script's local rendering: the When column shows when it happened, not when it arrived.
    pub when_iso: String,
    /// Exact UTC event time, shown on hover and without script.
    pub when_utc: String,
    /// "2 hours ago", from the server's clock (the script keeps it current).
    pub when_relative: String,
    /// When Sealtrail received it (`recorded_at`), exact UTC: in Details always.
    pub received_utc: String,
    /// True when receipt and event time differ by more than a minute (a late event, an
    /// import), so the hover text names both.
    pub received_apart: bool,
    /// The human summary.
    pub description: String,
    /// Primary target as "type id" (or its name), "—" when none.
    pub subject: String,
    /// Primary target's name, shown under the subject when it adds something.
    pub subject_name: String,
    /// Actor's display name (or id).
    pub actor_name: String,
    /// Actor's e-mail, if any.
    pub actor_email: String,
    /// The e-mail cut after `@` and before each `.`, where the Actor column may wrap it
    /// (`<wbr>` between the parts), so a long address never breaks mid-word.
    pub actor_email_parts: Vec<String>,
    /// The badge of an actor that is not a person ("System", "API", "Integration"); empty for
    /// people, so automation stands out in the Actor column.
    pub actor_badge: &'static str,
    /// Where the action came from ("API (App Name)", "CSV Import").
    pub actor_via: String,
    /// Event kind for the badge.
    pub event: String,
    /// The producer's category ("Policy Changes"), shown under the badge; empty if none.
    pub category: String,
    /// Badge colour: emerald, sky, rose or slate.
    pub event_colour: &'static str,
    /// Result for its badge.
    pub result: String,
    /// Result badge colour: good, bad or warn.
    pub result_colour: &'static str,
    /// Log channel (the seeds' "Subject" filter).
    pub channel: String,
    /// Dotted action.
    pub action: String,
    /// Client address, if recorded.
    pub ip: String,
    /// Before/after rows of the change, if the entry records one.
    pub changes: Vec<FieldChange>,
    /// The entry as formatted JSON.
    pub json: String,
    /// Integrity status line.
    pub integrity: String,
    /// True once a signed checkpoint covers the entry.
    pub included: bool,
}

/// The badge colour of an event kind, as the seeds define it.
pub fn event_colour(event: &str) -> &'static str {
    match event {
        "created" => "emerald",
        "updated" => "sky",
        "deleted" => "rose",
        _ => "slate",
    }
}

fn result_colour(result: Outcome) -> &'static str {
    match result {
        Outcome::Success | Outcome::Approved | Outcome::Allowed => "good",
        Outcome::Failure | Outcome::Denied => "bad",
        Outcome::Warning => "warn",
    }
}

/// "just now", "5 minutes ago", "2 hours ago", "3 days ago", "in 2 hours" (clock skew).
pub fn relative_age(now: Timestamp, then: Timestamp) -> String {
    let delta = (now.millis() - then.millis()) / 1000;
    let (future, secs) = (delta < 0, delta.unsigned_abs());
    let (n, unit) = match secs {
        0..=44 => return "just now".into(),
        45..=3_599 => (secs.div_ceil(60).max(1), "minute"),
        3_600..=86_399 => (secs / 3_600, "hour"),
        86_400..=2_591_999 => (secs / 86_400, "day"),
        2_592_000..=31_535_999 => (secs / 2_592_000, "month"),
        _ => (secs / 31_536_000, "year"),
    };
    let plural = if n == 1 { "" } else { "s" };
    if future {
        format!("in {n} {unit}{plural}")
    } else {
        format!("{n} {unit}{plural} ago")
    }
}

/// The Subject cell's two lines: `type #id` with the name under it, or, when the id is an
/// opaque UUID (a user's id on a sign-in entry), the name first and the id under it, because
/// people recognise `user ada@example.com`, not `user #0193…`.
fn subject_lines(target: Option<&sealtrail_core::entry::Target>) -> (String, String) {
    let Some(t) = target else {
        return ("—".into(), String::new());
    };
    match (&t.id, &t.name) {
        (Some(id), Some(name)) if uuid::Uuid::parse_str(id).is_ok() => {
            (format!("{} {name}", t.kind), format!("#{id}"))
        }
        (Some(id), name) => (
            format!("{} #{id}", t.kind),
            name.clone().unwrap_or_default(),
        ),
        (None, Some(name)) => (format!("{} {name}", t.kind), String::new()),
        (None, None) => (t.kind.clone(), String::new()),
    }
}

/// `first.last@mail.example.com` → `first`, `.last@`, `mail`, `.example`, `.com`: the places
/// a reader expects an address to wrap.
fn email_parts(email: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut part = String::new();
    for c in email.chars() {
        if c == '.' && !part.is_empty() {
            parts.push(std::mem::take(&mut part));
        }
        part.push(c);
        if c == '@' {
            parts.push(std::mem::take(&mut part));
        }
    }
    if !part.is_empty() {
        parts.push(part);
    }
    parts
}

impl EntryRow {
    /// Builds the row; `signed_size` is the latest signed checkpoint's tree size, if any.
    pub fn new(entry: &Entry, now: Timestamp, signed_size: Option<u64>) -> Self {
        let (subject, subject_name) = subject_lines(entry.targets.first());
        let actor = &entry.actor;
        let actor_name = actor
            .name
            .clone()
            .or_else(|| actor.id.clone())
            .unwrap_or_else(|| actor.kind.as_str().to_string());
        let (included, integrity) = match signed_size {
            Some(size) if size > entry.seq => (
                true,
                format!(
                    "Included in the signed checkpoint of {size} entries (leaf {})",
                    entry.seq
                ),
            ),
            _ => (
                false,
                "Pending: the next signed checkpoint (within about a second) will cover it".into(),
            ),
        };
        let changes = entry
            .changes
            .as_ref()
            .map(field_changes)
            .unwrap_or_default();
        EntryRow {
            id: entry.id.to_string(),
            seq: entry.seq,
            when_iso: entry.occurred_at.to_rfc3339(),
            when_utc: utc_text(entry.occurred_at),
            when_relative: relative_age(now, entry.occurred_at),
            received_utc: utc_text(entry.recorded_at),
            received_apart: entry.received_apart(),
            description: entry.description.clone(),
            subject,
            subject_name,
            actor_name,
            actor_email: actor.email.clone().unwrap_or_default(),
            actor_email_parts: email_parts(actor.email.as_deref().unwrap_or_default()),
            actor_badge: match actor.kind {
                ActorType::User => "",
                ActorType::System => "System",
                ActorType::Api => "API",
                ActorType::Integration => "Integration",
            },
            actor_via: actor.via.clone().unwrap_or_default(),
            event_colour: event_colour(&entry.event),
            event: entry.event.clone(),
            category: entry.category.clone().unwrap_or_default(),
            result_colour: result_colour(entry.result),
            result: entry.result.as_str().to_string(),
            channel: entry.channel.clone(),
            action: entry.action.clone(),
            ip: entry.context.ip.clone().unwrap_or_default(),
            changes,
            json: serde_json::to_string_pretty(entry).unwrap_or_default(),
            integrity,
            included,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_wrap_at_their_dots_and_at_sign_only() {
        assert_eq!(
            email_parts("first.last@mail.example.com"),
            ["first", ".last@", "mail", ".example", ".com"]
        );
        assert_eq!(email_parts("ada@x"), ["ada@", "x"]);
        assert!(email_parts("").is_empty());
    }

    #[test]
    fn an_opaque_id_yields_to_the_name_in_the_subject() {
        let target = |id: &str| sealtrail_core::entry::Target {
            kind: "user".into(),
            id: Some(id.into()),
            name: Some("ada@example.com".into()),
        };
        assert_eq!(
            subject_lines(Some(&target("0193a0b0-0000-7000-8000-000000000001"))),
            (
                "user ada@example.com".to_string(),
                "#0193a0b0-0000-7000-8000-000000000001".to_string()
            )
        );
        assert_eq!(
            subject_lines(Some(&target("u_17"))),
            ("user #u_17".to_string(), "ada@example.com".to_string())
        );
        assert_eq!(subject_lines(None), ("—".to_string(), String::new()));
    }

    #[test]
    fn badges_follow_the_seeds_colours() {
        assert_eq!(event_colour("created"), "emerald");
        assert_eq!(event_colour("updated"), "sky");
        assert_eq!(event_colour("deleted"), "rose");
        assert_eq!(event_colour("exported"), "slate");
    }

    #[test]
    fn relative_ages_read_naturally() {
        let now = Timestamp(10_000_000_000);
        let ago = |secs: i64| relative_age(now, Timestamp(now.millis() - secs * 1000));
        assert_eq!(ago(5), "just now");
        assert_eq!(ago(60), "1 minute ago");
        assert_eq!(ago(7_200), "2 hours ago");
        assert_eq!(ago(3 * 86_400), "3 days ago");
        assert_eq!(ago(400 * 86_400), "1 year ago");
        assert_eq!(ago(-7_200), "in 2 hours");
    }
}
