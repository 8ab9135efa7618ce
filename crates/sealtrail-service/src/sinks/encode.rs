//! A batch's bytes as each kind of receiver takes them, with each entry in the sink's format:
//! a webhook's signed JSON batch, a Splunk collector's events one per line, a syslog
//! receiver's octet-counted RFC 5424 messages. Pure: the deliverer reads the entries and the
//! log's origin, and sends what this returns.

use sealtrail_core::entry::Entry;
use sealtrail_core::sinks::{hec, ocsf, syslog, SinkFormat, SinkKind};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// What every encoding needs besides the entries.
pub struct Batch<'a> {
    /// `sealtrail.entries`, or `sealtrail.test` for a test (webhooks only say it).
    pub kind: &'static str,
    /// The sink.
    pub sink: Uuid,
    /// The receiver's kind.
    pub receiver: SinkKind,
    /// The entries' shape.
    pub format: SinkFormat,
    /// The tenant's name.
    pub tenant: &'a str,
    /// The tenant's log origin (OCSF's `metadata.log_source`); empty when not needed.
    pub origin: &'a str,
    /// The sending machine's name (Splunk's `host`, syslog's HOSTNAME).
    pub host: &'a str,
}

/// A webhook batch as receivers get it.
#[derive(Serialize)]
struct WebhookBatch<'a> {
    /// Always `sealtrail.entries` (`sealtrail.test` for a test).
    #[serde(rename = "type")]
    kind: &'static str,
    /// The sink's id.
    sink: Uuid,
    /// The tenant's name.
    tenant: &'a str,
    /// The entries (or their OCSF events), in seq order; each `id` is stable across resends.
    entries: &'a [Value],
}

/// The request body (or, for syslog, the stream) carrying `entries`.
pub fn encode(batch: &Batch<'_>, entries: &[Entry]) -> Result<Vec<u8>, serde_json::Error> {
    let bodies = entries
        .iter()
        .map(|entry| match batch.format {
            SinkFormat::Sealtrail => serde_json::to_value(entry),
            SinkFormat::Ocsf => Ok(ocsf::api_activity(entry, batch.tenant, batch.origin)),
        })
        .collect::<Result<Vec<Value>, _>>()?;
    let mut out = Vec::new();
    match batch.receiver {
        SinkKind::Webhook => serde_json::to_writer(
            &mut out,
            &WebhookBatch {
                kind: batch.kind,
                sink: batch.sink,
                tenant: batch.tenant,
                entries: &bodies,
            },
        )?,
        // An archive writes chunks of its own (`archive`); asked for a batch, it is NDJSON.
        SinkKind::Archive => {
            for body in bodies {
                serde_json::to_writer(&mut out, &body)?;
                out.push(b'\n');
            }
        }
        SinkKind::SplunkHec => {
            for (entry, body) in entries.iter().zip(bodies) {
                let event = hec::event(entry, body, batch.format, batch.tenant, batch.host);
                serde_json::to_writer(&mut out, &event)?;
                out.push(b'\n');
            }
        }
        SinkKind::Syslog => {
            for (entry, body) in entries.iter().zip(bodies) {
                let body = serde_json::to_string(&body)?;
                let message = syslog::message(entry, &body, batch.tenant, batch.host);
                syslog::frame(&message, &mut out);
            }
        }
    }
    Ok(out)
}

/// This machine's name, or `sealtrail` when the system does not say.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "sealtrail".to_string())
}
