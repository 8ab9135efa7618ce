//! The API's filters as command-line flags, shared by `query` and `export` so both select
//! exactly what `GET /v1/events` with the same parameters would.

use clap::Args;

/// One flag per filter parameter of the HTTP API.
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// From this date (`2026-11-01`) or RFC 3339 time, inclusive.
    #[arg(long)]
    from: Option<String>,
    /// Up to this date (inclusive: the whole day) or RFC 3339 time (exclusive).
    #[arg(long)]
    to: Option<String>,
    /// A preset period: 24h, 7d, 30d, 90d, 3m or this_month.
    #[arg(long)]
    range: Option<String>,
    /// Which clock the period reads: `occurred` (the event's own time, the default) or
    /// `recorded` (when Sealtrail received it).
    #[arg(long, value_name = "occurred|recorded")]
    time: Option<String>,
    /// Actor id or e-mail.
    #[arg(long)]
    actor: Option<String>,
    /// Action, exactly (`user.created`) or as a prefix (`user.*`).
    #[arg(long)]
    action: Option<String>,
    /// Event kind: created, updated, deleted, read, other.
    #[arg(long)]
    event: Option<String>,
    /// Channel (the page's "Subject" dropdown).
    #[arg(long)]
    channel: Option<String>,
    /// Event-type category.
    #[arg(long)]
    category: Option<String>,
    /// Target type (any target of the entry).
    #[arg(long)]
    target_type: Option<String>,
    /// Target id (any target of the entry).
    #[arg(long)]
    target_id: Option<String>,
    /// Target name (any target of the entry).
    #[arg(long)]
    target_name: Option<String>,
    /// Result: success, failure, denied, warning, approved, allowed.
    #[arg(long)]
    result: Option<String>,
    /// Client IP address.
    #[arg(long)]
    ip: Option<String>,
    /// Only entries by System actors.
    #[arg(long)]
    system: bool,
    /// `KEY=VALUE` on a property; repeat for several.
    #[arg(long = "property", value_name = "KEY=VALUE")]
    properties: Vec<String>,
    /// Free text: every word must prefix-match the description, actor or action.
    #[arg(long, short = 'q')]
    search: Option<String>,
}

impl FilterArgs {
    /// The URL query parameters, named exactly as the HTTP API names them.
    pub fn params(&self) -> anyhow::Result<Vec<(String, String)>> {
        let mut params = Vec::new();
        let named = [
            ("from", &self.from),
            ("to", &self.to),
            ("range", &self.range),
            ("time", &self.time),
            ("actor", &self.actor),
            ("action", &self.action),
            ("event", &self.event),
            ("channel", &self.channel),
            ("category", &self.category),
            ("target_type", &self.target_type),
            ("target_id", &self.target_id),
            ("target_name", &self.target_name),
            ("result", &self.result),
            ("ip", &self.ip),
            ("q", &self.search),
        ];
        for (name, value) in named {
            if let Some(v) = value {
                params.push((name.to_string(), v.clone()));
            }
        }
        if self.system {
            params.push(("system".into(), "true".into()));
        }
        for property in &self.properties {
            let (key, value) = property.split_once('=').ok_or_else(|| {
                anyhow::anyhow!("--property `{property}` must look like KEY=VALUE")
            })?;
            params.push((format!("properties.{key}"), value.to_string()));
        }
        Ok(params)
    }
}
