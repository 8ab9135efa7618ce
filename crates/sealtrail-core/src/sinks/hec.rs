//! An entry as a Splunk HTTP Event Collector event: what `POST /services/collector/event`
//! takes, one JSON object per entry, objects concatenated one per line (not an array).
//!
//! `time` is when the action happened (Splunk's `_time`), in seconds with milliseconds;
//! `source` names the tenant; `sourcetype` says which shape `event` has (`sealtrail:audit`
//! for the entry as the API returns it, `ocsf:sealtrail` for OCSF 6003, the prefix the OCSF-CIM
//! add-on looks for); `fields` are indexed, so only a few low-cardinality strings.

use super::SinkFormat;
use crate::entry::Entry;
use serde_json::{json, Value};

/// The `sourcetype` of events in `format`.
pub fn sourcetype(format: SinkFormat) -> &'static str {
    match format {
        SinkFormat::Sealtrail => "sealtrail:audit",
        SinkFormat::Ocsf => "ocsf:sealtrail",
    }
}

/// One HEC event for `entry`, whose body (`event`) is already in the sink's format; `host`
/// names the node that sent it.
pub fn event(entry: &Entry, body: Value, format: SinkFormat, tenant: &str, host: &str) -> Value {
    let millis = entry.occurred_at.millis();
    // `<seconds>.<milliseconds>` exactly, without the rounding of a float.
    let time: Value = format!("{}.{:03}", millis.div_euclid(1000), millis.rem_euclid(1000))
        .parse::<serde_json::Number>()
        .map(Value::Number)
        .unwrap_or_else(|_| json!(millis / 1000));
    json!({
        "time": time,
        "host": host,
        "source": format!("sealtrail:{tenant}"),
        "sourcetype": sourcetype(format),
        "event": body,
        "fields": {
            "tenant": tenant,
            "channel": entry.channel,
            "event_kind": entry.event,
            "result": entry.result.as_str(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_is_seconds_with_milliseconds_and_fields_are_strings() {
        let entry: Entry = serde_json::from_value(json!({
            "id": "01a23adf-544d-71ae-ae1f-eba60744ea34", "seq": 7,
            "recorded_at": "2026-12-03T07:47:24.365Z", "occurred_at": "2026-12-03T07:00:00.045Z",
            "channel": "hardware", "action": "hardware.updated", "event": "updated",
            "description": "d", "result": "success", "actor": {"id": "u_17"}
        }))
        .unwrap();
        let event = event(
            &entry,
            json!({"seq": 7}),
            SinkFormat::Sealtrail,
            "acme",
            "node-1",
        );
        assert_eq!(event["time"].to_string(), "1796281200.045");
        assert_eq!(event["source"], "sealtrail:acme");
        assert_eq!(event["sourcetype"], "sealtrail:audit");
        assert_eq!(event["host"], "node-1");
        assert_eq!(event["event"], json!({"seq": 7}));
        assert!(event["fields"]
            .as_object()
            .unwrap()
            .values()
            .all(Value::is_string));
    }
}
