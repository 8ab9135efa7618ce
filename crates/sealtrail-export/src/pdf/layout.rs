//! Where things go on a page and how text fits: page geometry, the table's columns, what each
//! cell says, and line wrapping with an ellipsis when a cell would grow too tall.

use super::font::Font;
use sealtrail_core::changes::change_lines;
use sealtrail_core::{ActorType, Entry, Timestamp};
use serde_json::Value;

/// A4 landscape, in points: the table has eight columns and needs the width.
pub(super) const PAGE_WIDTH: f32 = 841.89;
/// See [`PAGE_WIDTH`].
pub(super) const PAGE_HEIGHT: f32 = 595.28;
/// Left, right and top margin.
pub(super) const MARGIN: f32 = 36.0;
/// Baseline of the page number.
pub(super) const FOOTER_Y: f32 = 20.0;
/// Rows never go below this.
pub(super) const BOTTOM: f32 = 36.0;
/// Width available for content.
pub(super) const CONTENT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;

/// Table text size and line spacing.
pub(super) const BODY_SIZE: f32 = 7.0;
/// See [`BODY_SIZE`].
pub(super) const LEADING: f32 = 8.6;
/// Space between a cell's text and its borders.
pub(super) const PAD: f32 = 2.5;
/// Lines a cell may take before it is cut with an ellipsis, so one long value cannot take
/// over a page (the full text is in every other export format).
pub(super) const MAX_CELL_LINES: usize = 4;

/// Lines an entry's details (its changes and fields, below its row) may take in all before
/// they are cut with an ellipsis; the full values are in every other export format.
pub(super) const MAX_DETAIL_LINES: usize = 8;
/// Where the details start: under the Actor column, leaving Seq and When clear so the eye
/// still finds each row by its seq and time.
pub(super) const DETAILS_INDENT: f32 = 40.0 + 96.0;

/// Column titles and widths; Description takes what is left. Seq, the entry's position in the
/// log, is what the evidence bundle and inclusion proofs are keyed by.
pub(super) const COLUMNS: [(&str, f32); 8] = [
    ("Seq", 40.0),
    ("When (UTC)", 96.0),
    ("Actor", 112.0),
    ("Action", 96.0),
    ("Event", 60.0),
    ("Result", 50.0),
    ("Subject", 100.0),
    ("Entry id · Description", CONTENT_WIDTH - 554.0),
];

/// `2026-11-18 11:06:41.250`: the log's UTC instant, millisecond precision, no `T`/`Z` noise.
pub(super) fn when(at: Timestamp) -> String {
    at.to_rfc3339().replacen('T', " ", 1).replace('Z', "")
}

/// What each column shows for `e` (the Description cell starts with the entry id). "When" is
/// the event's own time (`occurred_at`), as on the page; when Sealtrail received it more than
/// a minute apart from that, the receipt time follows (its time only, when on the same day).
pub(super) fn cells(e: &Entry) -> [String; 8] {
    let mut at = when(e.occurred_at);
    if e.received_apart() {
        let received = when(e.recorded_at);
        let same_day = received.get(..10) == at.get(..10);
        let shown = if same_day {
            &received[11..]
        } else {
            &received[..]
        };
        at.push_str(&format!(" (received {shown})"));
    }
    let a = &e.actor;
    let mut actor = match a.kind {
        ActorType::User => String::new(),
        other => format!("[{}] ", other.as_str()),
    };
    actor.push_str(a.name.as_deref().or(a.id.as_deref()).unwrap_or("—"));
    if let Some(email) = &a.email {
        actor.push_str(&format!(" <{email}>"));
    }
    if let Some(via) = &a.via {
        actor.push_str(&format!(" via {via}"));
    }
    let subject = e.primary_target().map_or(String::new(), |t| {
        match (t.name.as_deref(), t.id.as_deref()) {
            (Some(name), Some(id)) => format!("{} {name} ({id})", t.kind),
            (Some(one), None) | (None, Some(one)) => format!("{} {one}", t.kind),
            (None, None) => t.kind.clone(),
        }
    });
    [
        e.seq.to_string(),
        at,
        actor,
        e.action.clone(),
        e.event.clone(),
        e.result.as_str().to_string(),
        subject,
        // The id first: it is what correspondence quotes, and a UUID is one unbreakable word,
        // so it always sits whole on the cell's first line.
        format!("{} {}", e.id, e.description),
    ]
}

/// What the table cells leave out, as paragraphs under the row: the fields a before/after change
/// touched (`Changes — owner: null → Zoë Martin; status: in_stock → in_use`) and the entry's
/// properties (`Fields — reason: Signed waiver`), so a printed report carries the record's
/// substance, not only who did what. Empty when the entry has neither.
pub(super) fn details(e: &Entry) -> Vec<String> {
    let mut out = Vec::new();
    let changes = e.changes.as_ref().map(change_lines).unwrap_or_default();
    if !changes.is_empty() {
        out.push(format!("Changes — {}", changes.join("; ")));
    }
    if !e.properties.is_empty() {
        let fields: Vec<String> = e
            .properties
            .iter()
            .map(|(key, value)| match value {
                Value::String(s) => format!("{key}: {s}"),
                other => format!("{key}: {other}"),
            })
            .collect();
        out.push(format!("Fields — {}", fields.join("; ")));
    }
    out
}

/// `text` broken into lines no wider than `width` at `size`: at spaces where possible, inside
/// words that are too long on their own. Whitespace and control characters collapse into single
/// spaces. Beyond `max_lines` the last line ends with "…".
pub(super) fn wrap(
    font: &Font,
    text: &str,
    size: f32,
    width: f32,
    max_lines: usize,
) -> Vec<String> {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let space = font.width(" ", size);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut line_width = 0.0;
    let mut cut = false;
    'words: for word in cleaned.split_whitespace() {
        let word_width = font.width(word, size);
        if !line.is_empty() && line_width + space + word_width <= width {
            line.push(' ');
            line.push_str(word);
            line_width += space + word_width;
            continue;
        }
        if word_width > width && !line.is_empty() {
            // Too long for any line: break it from here rather than leave this line short.
            line.push(' ');
            line_width += space;
        } else if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            line_width = 0.0;
            if lines.len() == max_lines {
                cut = true;
                break;
            }
        }
        for c in word.chars() {
            let w = font.width(c.encode_utf8(&mut [0; 4]), size);
            if !line.is_empty() && line_width + w > width {
                lines.push(std::mem::take(&mut line));
                line_width = 0.0;
                if lines.len() == max_lines {
                    cut = true;
                    break 'words;
                }
            }
            line.push(c);
            line_width += w;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    for line in &mut lines {
        line.truncate(line.trim_end().len());
    }
    if cut {
        if let Some(last) = lines.last_mut() {
            *last = ellipsize(font, last, size, width);
        }
    }
    lines
}

/// `text` on one line of at most `width`: whole if it fits, else cut and ended with "…".
pub(super) fn clip(font: &Font, text: &str, size: f32, width: f32) -> String {
    let one_line = wrap(font, text, size, width, 1);
    one_line.into_iter().next().unwrap_or_default()
}

/// `text` followed by "…", with characters dropped from its end until that fits `width`.
fn ellipsize(font: &Font, text: &str, size: f32, width: f32) -> String {
    let mut kept = text.trim_end().to_string();
    loop {
        let candidate = format!("{kept}…");
        if kept.is_empty() || font.width(&candidate, size) <= width {
            return candidate;
        }
        kept.pop();
        kept.truncate(kept.trim_end().len());
    }
}
