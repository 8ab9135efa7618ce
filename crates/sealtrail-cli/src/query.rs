//! `sealtrail query`: the API's filters as flags, printed as a table, JSON or NDJSON.

use crate::client::{http_client, json_or_error, Connection};
use crate::filters::FilterArgs;
use clap::{Args, ValueEnum};
use serde_json::{json, Value};
use std::io::Write as _;
use std::process::ExitCode;

/// Filters mirror `GET /v1/events` one to one, so a URL and a command line say the same thing.
/// Filters mirror `GET /v1/events` one to one, so a URL and a command line say the same thing.
#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(flatten)]
    filters: FilterArgs,
    /// Entries per page (1-1000).
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// Continue from a cursor printed by a previous page.
    #[arg(long)]
    cursor: Option<String>,
    /// Follow cursors and print every matching entry, not one page.
    #[arg(long)]
    all: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// A table for people, JSON for scripts, NDJSON for pipelines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
    Ndjson,
}

impl QueryArgs {
    /// The URL query parameters, named exactly as the HTTP API names them.
    fn params(&self) -> anyhow::Result<Vec<(String, String)>> {
        let mut params = self.filters.params()?;
        params.push(("limit".into(), self.limit.to_string()));
        Ok(params)
    }
}

/// Fetches one page (or all, with `--all`) and prints it.
pub async fn run(args: QueryArgs) -> anyhow::Result<ExitCode> {
    let client = http_client()?;
    let base = args.params()?;
    let mut cursor = args.cursor.clone();
    let mut collected: Vec<Value> = Vec::new();
    let mut total: Option<u64> = None;
    let mut stdout = std::io::stdout().lock();
    let mut first_page = true;
    loop {
        let mut params = base.clone();
        if let Some(c) = &cursor {
            params.push(("cursor".into(), c.clone()));
        }
        if !first_page {
            params.push(("count".into(), "false".into()));
        }
        let response = client
            .get(args.connection.endpoint("/v1/events"))
            .bearer_auth(&args.connection.key)
            .query(&params)
            .send()
            .await?;
        let page = json_or_error(response).await?;
        if first_page {
            total = page["total"].as_u64();
        }
        first_page = false;
        let entries = page["entries"].as_array().cloned().unwrap_or_default();
        let next = page["next_cursor"].as_str().map(str::to_string);
        match args.format {
            Format::Ndjson => {
                for entry in &entries {
                    writeln!(stdout, "{entry}")?;
                }
            }
            Format::Json | Format::Table => collected.extend(entries),
        }
        if !args.all || next.is_none() {
            cursor = next;
            break;
        }
        cursor = next;
    }

    match args.format {
        Format::Ndjson => {}
        Format::Json => {
            let out = json!({
                "total": total,
                "entries": collected,
                "next_cursor": if args.all { None } else { cursor.clone() },
            });
            writeln!(stdout, "{}", serde_json::to_string_pretty(&out)?)?;
        }
        Format::Table => {
            let width = console::Term::stdout()
                .size_checked()
                .map(|(_, w)| usize::from(w))
                .unwrap_or(160);
            for line in render_table(&collected, width) {
                writeln!(stdout, "{line}")?;
            }
            let shown = collected.len();
            let total_text = total.map_or_else(String::new, |t| format!(" of {t}"));
            writeln!(stdout, "\n{shown} entries shown{total_text}.")?;
            if let (false, Some(c)) = (args.all, &cursor) {
                writeln!(stdout, "Older entries: add --cursor {c} (or use --all).")?;
            }
        }
    }
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The actor as the page shows it: name and e-mail, with a badge for actors that are not
/// people ([System], [API], [Integration]).
fn actor_label(entry: &Value) -> String {
    let actor = &entry["actor"];
    let badge = match actor["type"].as_str() {
        Some("system") => "System",
        Some("api") => "API",
        Some("integration") => "Integration",
        _ => "",
    };
    if !badge.is_empty() {
        return match actor["name"].as_str().or(actor["id"].as_str()) {
            Some(name) => format!("[{badge}] {name}"),
            None => format!("[{badge}]"),
        };
    }
    let name = actor["name"].as_str();
    let email = actor["email"].as_str();
    let id = actor["id"].as_str().unwrap_or("?");
    match (name, email) {
        (Some(n), Some(e)) => format!("{n} <{e}>"),
        (None, Some(e)) => e.to_string(),
        (Some(n), None) => n.to_string(),
        (None, None) => id.to_string(),
    }
}

/// "type id" of the primary target, or an em dash when the action had none.
fn subject_label(entry: &Value) -> String {
    let target = &entry["targets"][0];
    match target["type"].as_str() {
        Some(kind) => match target["id"].as_str() {
            Some(id) => format!("{kind} {id}"),
            None => kind.to_string(),
        },
        None => "\u{2014}".into(),
    }
}

/// Fixed columns first, the description takes what is left of the terminal width. When is the
/// event's own time, as on the page (the receipt time is in `--format json`).
fn render_table(entries: &[Value], width: usize) -> Vec<String> {
    let rows: Vec<[String; 6]> = entries
        .iter()
        .map(|e| {
            [
                e["occurred_at"].as_str().unwrap_or("").to_string(),
                e["event"].as_str().unwrap_or("").to_string(),
                e["result"].as_str().unwrap_or("").to_string(),
                clip(&actor_label(e), 36),
                clip(&subject_label(e), 24),
                e["description"].as_str().unwrap_or("").to_string(),
            ]
        })
        .collect();
    let headers = [
        "WHEN (UTC)",
        "EVENT",
        "RESULT",
        "ACTOR",
        "SUBJECT",
        "DESCRIPTION",
    ];
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate().take(5) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let fixed: usize = widths[..5].iter().map(|w| w + 2).sum();
    let description_width = width.saturating_sub(fixed).max(20);
    let line = |cells: [&str; 6]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate().take(5) {
            out.push_str(&format!("{cell:<w$}  ", w = widths[i]));
        }
        out.push_str(&clip(cells[5], description_width));
        out.trim_end().to_string()
    };
    let mut lines = vec![line(headers)];
    for row in &rows {
        lines.push(line([&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]]));
    }
    lines
}

/// Shortens to `max` characters with an ellipsis, and flattens control characters so hostile
/// content cannot move the terminal cursor.
fn clip(text: &str, max: usize) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.chars().count() <= max {
        clean
    } else {
        let mut cut: String = clean.chars().take(max.saturating_sub(1)).collect();
        cut.push('\u{2026}');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_shows_system_badge_subject_dash_and_neutralises_control_characters() {
        let entries = vec![
            json!({"occurred_at": "2026-11-23T10:00:00.000Z", "event": "other", "result": "success",
                   "actor": {"type": "system", "name": "Sealtrail"}, "targets": [],
                   "description": "Nightly\u{1b}[2J prune"}),
            json!({"occurred_at": "2026-11-23T09:00:00.000Z", "event": "updated", "result": "failure",
                   "actor": {"type": "user", "id": "u1", "name": "Ada", "email": "ada@example.com"},
                   "targets": [{"type": "hardware", "id": "142"}], "description": "Laptop"}),
        ];
        let lines = render_table(&entries, 200);
        assert!(lines[0].starts_with("WHEN (UTC)"));
        assert!(
            lines[1].starts_with("2026-11-23T10:00:00.000Z"),
            "event time"
        );
        assert!(lines[1].contains("[System] Sealtrail") && lines[1].contains('\u{2014}'));
        assert!(!lines[1].contains('\u{1b}'));
        assert!(lines[2].contains("Ada <ada@example.com>") && lines[2].contains("hardware 142"));
    }

    #[test]
    fn clip_adds_an_ellipsis_only_when_needed() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("abcdefghijkl", 5), "abcd\u{2026}");
    }
}
