//! The tabular view of an entry shared by the spreadsheet formats (CSV and XLSX), so both
//! always have the same columns in the same order and a change to one cannot miss the other.

use sealtrail_core::changes::{field_changes, FieldChange};
use sealtrail_core::envelope::EntryView;
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
pub fn row<'a>(e: &'a EntryView<'a>, tenant: &'a str) -> [Cell<'a>; 23] {
    let opt = |v: &'a Option<Cow<'a, str>>| Cell::Text(Cow::Borrowed(v.as_deref().unwrap_or("")));
    let text = |v: &'a str| Cell::Text(Cow::Borrowed(v));
    let (changed_fields, change_lines) = match &e.changes {
        Some(changes) => {
            let changed: Vec<FieldChange> = field_changes(changes)
                .into_iter()
                .filter(|c| c.changed)
                .collect();
            let fields: Vec<&str> = changed.iter().map(|c| c.field.as_str()).collect();
            let lines: Vec<String> = changed.iter().map(FieldChange::line).collect();
            (fields.join(", "), lines.join("\n"))
        }
        None => (String::new(), String::new()),
    };
    let target = e.target.as_ref();
    [
        Cell::Text(Cow::Owned(e.id.to_string())),
        Cell::Time(e.recorded_at),
        Cell::Time(e.occurred_at),
        text(&e.channel),
        text(&e.action),
        text(&e.event),
        opt(&e.category),
        text(&e.description),
        text(e.result.as_str()),
        text(e.actor_kind.as_str()),
        opt(&e.actor_id),
        opt(&e.actor_name),
        opt(&e.actor_email),
        opt(&e.actor_via),
        text(target.map_or("", |t| &t.kind)),
        target.map_or(Cell::Text(Cow::Borrowed("")), |t| opt(&t.id)),
        target.map_or(Cell::Text(Cow::Borrowed("")), |t| opt(&t.name)),
        opt(&e.ip),
        opt(&e.user_agent),
        text(&e.properties),
        Cell::Text(Cow::Owned(changed_fields)),
        Cell::Text(Cow::Owned(change_lines)),
        text(tenant),
    ]
}
