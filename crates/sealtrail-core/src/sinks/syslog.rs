//! An entry as an RFC 5424 syslog message, framed by octet counting (`<length> <message>`,
//! RFC 6587 §3.4.1, the framing RFC 5425 requires over TLS), so an entry's text can never
//! split or join messages.
//!
//! `<PRI>1 TIMESTAMP HOSTNAME sealtrail - MSGID [sealtrail@32473 …] BOM MSG`: facility 13
//! (log audit); severity info for a success, notice for a warning, warning for a failure or
//! a denial; the time the entry was recorded; the action as MSGID; the entry's key fields as
//! structured data a SIEM indexes without parsing the body; and the entry itself (Sealtrail's
//! JSON or OCSF) as the UTF-8 message.

use crate::entry::{Entry, Outcome};

/// Facility 13, "log audit".
pub const FACILITY_LOG_AUDIT: u8 = 13;

/// The structured-data element's id. 32473 is the private enterprise number RFC 5612 sets
/// aside for documentation; Sealtrail has none registered, so receivers match on this id.
pub const SD_ID: &str = "sealtrail@32473";

/// The longest MSGID RFC 5424 allows.
const MSGID_MAX: usize = 32;
/// The longest HOSTNAME RFC 5424 allows.
const HOSTNAME_MAX: usize = 255;

/// The severity of an entry with `result`.
pub fn severity(result: Outcome) -> u8 {
    match result {
        Outcome::Success | Outcome::Approved | Outcome::Allowed => 6,
        Outcome::Warning => 5,
        Outcome::Failure | Outcome::Denied => 4,
    }
}

/// `entry` of `tenant`, sent from `host`, with `body` (the entry in the sink's format, as
/// JSON text) as its message; not yet framed.
pub fn message(entry: &Entry, body: &str, tenant: &str, host: &str) -> String {
    let pri = FACILITY_LOG_AUDIT * 8 + severity(entry.result);
    let mut sd = format!("[{SD_ID}");
    let mut param = |name: &str, value: &str| {
        sd.push(' ');
        sd.push_str(name);
        sd.push_str("=\"");
        for c in value.chars() {
            if matches!(c, '"' | '\\' | ']') {
                sd.push('\\');
            }
            sd.push(c);
        }
        sd.push('"');
    };
    param("tenant", tenant);
    param("seq", &entry.seq.to_string());
    param("id", &entry.id.to_string());
    param("channel", &entry.channel);
    param("action", &entry.action);
    param("event", &entry.event);
    param("result", entry.result.as_str());
    if let Some(actor) = entry.actor.id.as_deref().or(entry.actor.name.as_deref()) {
        param("actor", actor);
    }
    if let Some(ip) = &entry.context.ip {
        param("ip", ip);
    }
    sd.push(']');
    format!(
        "<{pri}>1 {} {} sealtrail - {} {sd} \u{feff}{body}",
        entry.recorded_at.to_rfc3339(),
        header_field(host, HOSTNAME_MAX),
        header_field(&entry.action, MSGID_MAX),
    )
}

/// A header field as RFC 5424 allows it: printable ASCII without spaces, at most `max`
/// characters, `-` when nothing is left.
fn header_field(text: &str, max: usize) -> String {
    let kept: String = text
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .take(max)
        .collect();
    if kept.is_empty() {
        "-".into()
    } else {
        kept
    }
}

/// `message` framed by octet counting: its length in bytes, a space, the message.
pub fn frame(message: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(message.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(message.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;
    use syslog_rfc5424::{parse_message, SyslogFacility, SyslogSeverity};

    fn entry(action: &str, actor: &str, result: &str) -> Entry {
        serde_json::from_value(json!({
            "id": "01a23adf-544d-71ae-ae1f-eba60744ea34", "seq": 3304,
            "recorded_at": "2026-12-03T07:47:24.365Z", "occurred_at": "2026-12-03T07:00:00.000Z",
            "channel": "hardware", "action": action, "event": "updated",
            "description": "d", "result": result,
            "actor": {"id": actor}, "context": {"ip": "203.0.113.7"}
        }))
        .unwrap()
    }

    #[test]
    fn an_independent_parser_reads_every_part() {
        let e = entry("hardware.updated", "u_17", "success");
        let text = message(&e, r#"{"seq":3304}"#, "default", "node-1");
        assert!(text.starts_with("<110>1 2026-12-03T07:47:24.365Z node-1 sealtrail - hardware.updated [sealtrail@32473 "), "{text}");
        let parsed = parse_message(&text).unwrap();
        assert_eq!(parsed.facility, SyslogFacility::LOG_AUDIT);
        assert_eq!(parsed.severity, SyslogSeverity::SEV_INFO);
        assert_eq!(parsed.hostname.as_deref(), Some("node-1"));
        assert_eq!(parsed.appname.as_deref(), Some("sealtrail"));
        assert_eq!(parsed.msgid.as_deref(), Some("hardware.updated"));
        let sd = |name: &str| parsed.sd.find_tuple(SD_ID, name).cloned();
        assert_eq!(sd("seq").as_deref(), Some("3304"));
        assert_eq!(
            sd("id").as_deref(),
            Some("01a23adf-544d-71ae-ae1f-eba60744ea34")
        );
        assert_eq!(sd("actor").as_deref(), Some("u_17"));
        assert_eq!(sd("ip").as_deref(), Some("203.0.113.7"));
        assert_eq!(parsed.msg.trim_start_matches('\u{feff}'), r#"{"seq":3304}"#);
        let denied = message(&entry("a", "b", "denied"), "{}", "t", "h");
        assert_eq!(
            parse_message(&denied).unwrap().severity,
            SyslogSeverity::SEV_WARNING
        );
    }

    #[test]
    fn frames_count_bytes_not_characters() {
        let mut out = Vec::new();
        frame("ä", &mut out);
        frame("b", &mut out);
        assert_eq!(out, "2 ä1 b".as_bytes());
    }

    proptest! {
        /// Whatever a producer puts in the fields the header and structured data carry, the
        /// message still parses and the values come back exactly.
        #[test]
        fn any_actor_and_action_survive(actor in "\\PC{0,40}", action in "[a-z._]{1,60}") {
            let e = entry(&action, &actor, "success");
            let text = message(&e, "{}", "acme \"quoted\" ]", "host name");
            let parsed = parse_message(&text).unwrap();
            let msgid: String = action.chars().take(32).collect();
            prop_assert_eq!(parsed.msgid.as_deref(), Some(msgid.as_str()));
            prop_assert_eq!(parsed.hostname.as_deref(), Some("host_name"));
            prop_assert_eq!(parsed.sd.find_tuple(SD_ID, "actor").map(String::as_str), Some(actor.as_str()));
            prop_assert_eq!(parsed.sd.find_tuple(SD_ID, "tenant").map(String::as_str), Some("acme \"quoted\" ]"));
        }
    }
}
