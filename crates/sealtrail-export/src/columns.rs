//! The tabular view of an entry shared by the spreadsheet formats (CSV and XLSX), so both
//! always have the same columns in the same order and a change to one cannot miss the other.

use sealtrail_core::changes::{field_changes, FieldChange};
use sealtrail_core::envelope::{EntryView, Text};
use sealtrail_core::Timestamp;
use std::borrow::Cow;

/// The header row; one column per cell of [`row`].
pub const HEADER: [&str; 23] = [
    "entry_id",
    "recorded_at (UTC)",
    "occurred_at (UTC)",
    "channel",
    "action",
    "event",
    "category",
    "description",
    "result",
    "actor_type",
    "actor_id",
    "actor_name",
    "actor_email",
    "actor_via",
    "target_type",
    "target_id",
    "target_name",
    "ip",
    "user_agent",
    "properties",
    "changed_fields",
    "changes",
    "tenant",
];

/// One cell, typed so a format with real date cells (XLSX) can write instants as dates while a
/// text format (CSV) writes them as RFC 3339. Text borrows from the entry where it can: an
/// export writes 23 cells per entry, millions of entries per file.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    /// Text, empty when the field is absent.
    Text(Cow<'a, str>),
    /// A UTC instant.
    Time(Timestamp),
}

/// The cells of one entry, in [`HEADER`] order. Only the primary (first) target has columns;
/// properties are compact JSON (empty when there are none). A before/after change becomes the
/// names of the fields that changed (`owner, status`: a column to filter on) and one line per
/// changed field, `owner: null → Zoë Martin` (a column to read); unchanged fields are left out.
/// The last column names the tenant (organisation) the export belongs to, on every row, so a
/// file forwarded out of context still says whose log it is; it comes last so the columns
/// before it keep their places. Read from an [`EntryView`], which an export builds straight
/// from the stored bytes or from an opened entry ([`EntryView::of`]).
pub fn row<'a>(e: &'a EntryView<'a>, tenant: &'a str) -> Result<[Cell<'a>; 23], serde_json::Error> {
    let text = |v: &'a str| Cell::Text(Cow::Borrowed(v));
    let opt = |v: &'a Option<Text<'a>>| text(v.as_deref().unwrap_or(""));
    let (changed_fields, change_lines) = match &e.changes {
        Some(changes) => {
            let changed: Vec<FieldChange> = field_changes(&changes.parse()?)
                .into_iter()
                .filter(|c| c.changed)
                .collect();
            let fields: Vec<&str> = changed.iter().map(|c| c.field.as_str()).collect();
            let lines: Vec<String> = changed.iter().map(FieldChange::line).collect();
            (fields.join(", "), lines.join("\n"))
        }
        None => (String::new(), String::new()),
    };
    let target = e.primary_target();
    let none = &None;
    Ok([
        Cell::Text(Cow::Owned(e.id.to_string())),
        Cell::Time(e.recorded_at),
        Cell::Time(e.occurred_at),
        text(&e.channel),
        text(&e.action),
        text(&e.event),
        text(e.category.as_deref().unwrap_or("")),
        text(&e.description),
        text(e.result.as_str()),
        text(e.actor.kind.as_str()),
        opt(&e.actor.id),
        opt(&e.actor.name),
        opt(&e.actor.email),
        opt(&e.actor.via),
        text(target.map_or("", |t| &t.kind)),
        opt(target.map_or(none, |t| &t.id)),
        opt(target.map_or(none, |t| &t.name)),
        opt(&e.context.ip),
        opt(&e.context.user_agent),
        text(e.properties_text()),
        Cell::Text(Cow::Owned(changed_fields)),
        Cell::Text(Cow::Owned(change_lines)),
        text(tenant),
    ])
}
