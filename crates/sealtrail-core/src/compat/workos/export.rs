//! WorkOS Audit Log exports (`POST /audit_logs/exports`): the request's range and lists
//! turned into Sealtrail's list parameters, and the download link WorkOS hands out — a URL
//! the SDK user fetches **without credentials** for ten minutes — made safe by a signature
//! over the tenant, the export and the expiry (HMAC-SHA256 under a deployment key), so the
//! link names one file of one tenant and nothing else, and stops working when it expires.

use super::{invalid, Invalid};
use crate::timestamp::Timestamp;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

/// How long a download link works: ten minutes, as WorkOS's. Fetching the export again
/// makes a new one.
pub const LINK_TTL_SECONDS: i64 = 600;

/// What an export request asks for, as `GET /v1/events` parameters, and its organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRequest {
    /// `organization_id`: must name the key's tenant.
    pub organization_id: String,
    /// `from`, `to` and the list filters.
    pub params: Vec<(String, String)>,
}

/// Reads `{"organization_id", "range_start", "range_end", "actions"?, "actor_ids"?,
/// "targets"?, "actor_names"?, "actors"?}`. `actions`, `targets` (target types) and
/// `actor_ids` may hold one value each (Sealtrail's filters match one); `actor_names` (and
/// the deprecated `actors`) are refused when not empty, as Sealtrail has no filter by actor
/// name. Refused rather than widened: an export that silently held more than asked would
/// hand an auditor the wrong file.
pub fn parse_export(body: &Map<String, Value>) -> Result<ExportRequest, Invalid> {
    const KEYS: [&str; 8] = [
        "organization_id",
        "range_start",
        "range_end",
        "actions",
        "actor_names",
        "actor_ids",
        "targets",
        "actors",
    ];
    if let Some(key) = body.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(invalid(
            format!("/{key}"),
            format!("unknown property; allowed: {}", KEYS.join(", ")),
        ));
    }
    let text = |key: &str| match body.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(invalid(format!("/{key}"), "is required: a string")),
    };
    let organization_id = text("organization_id")?;
    let mut params = vec![
        ("from".to_string(), text("range_start")?),
        (
            "to".to_string(),
            crate::compat::exclusive_end(&text("range_end")?),
        ),
    ];
    for (key, param) in [
        ("actions", "action"),
        ("targets", "target_type"),
        ("actor_ids", "actor"),
    ] {
        let values = list(body, key)?;
        if values.len() > 1 {
            return Err(invalid(
                format!("/{key}"),
                format!(
                    "Sealtrail exports match one `{param}` at a time: give one value, or make one export per value"
                ),
            ));
        }
        params.extend(values.into_iter().map(|v| (param.to_string(), v)));
    }
    for key in ["actor_names", "actors"] {
        if !list(body, key)?.is_empty() {
            return Err(invalid(
                format!("/{key}"),
                "Sealtrail cannot export by actor name; filter by `actor_ids` instead",
            ));
        }
    }
    Ok(ExportRequest {
        organization_id,
        params,
    })
}

/// An optional list of non-empty strings.
fn list(body: &Map<String, Value>, key: &str) -> Result<Vec<String>, Invalid> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) if !s.is_empty() => Ok(s.clone()),
                _ => Err(invalid(format!("/{key}/{i}"), "must be a non-empty string")),
            })
            .collect(),
        Some(_) => Err(invalid(format!("/{key}"), "must be an array of strings")),
    }
}

/// The query string of a download link for export `id` of `tenant`, valid until
/// `now + LINK_TTL_SECONDS`: `tenant=<id>&expires=<unix seconds>&signature=<hex>`.
pub fn sign_link(key: &[u8; 32], tenant: i64, id: &str, now: Timestamp) -> String {
    let expires = now.millis() / 1000 + LINK_TTL_SECONDS;
    let signature = hex::encode(mac(key, tenant, id, expires).finalize().into_bytes());
    format!("tenant={tenant}&expires={expires}&signature={signature}")
}

/// Whether a link's `signature` covers `tenant`, `id` and `expires`, and `expires` is still
/// ahead of `now`.
pub fn check_link(
    key: &[u8; 32],
    tenant: i64,
    id: &str,
    expires: i64,
    signature: &str,
    now: Timestamp,
) -> bool {
    let Ok(signature) = hex::decode(signature) else {
        return false;
    };
    now.millis() / 1000 < expires
        && mac(key, tenant, id, expires)
            .verify_slice(&signature)
            .is_ok()
}

/// The MAC over one link's fields, unambiguously separated.
fn mac(key: &[u8; 32], tenant: i64, id: &str, expires: i64) -> Hmac<Sha256> {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new(&block.into());
    mac.update(format!("workos-export-link\n{tenant}\n{id}\n{expires}").as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: [u8; 32] = [3; 32];
    const NOW: Timestamp = Timestamp(1_795_000_000_000);

    fn parse(body: Value) -> Result<ExportRequest, Invalid> {
        parse_export(body.as_object().unwrap())
    }

    #[test]
    fn a_request_becomes_list_parameters() {
        let request = parse(json!({
            "organization_id": "acme",
            "range_start": "2026-11-01T00:00:00.000Z",
            "range_end": "2026-12-01T00:00:00.000Z",
            "actions": ["user.signed_in"],
            "actor_ids": ["u_1"],
            "targets": ["document"],
            "actor_names": []
        }))
        .unwrap();
        assert_eq!(request.organization_id, "acme");
        let pairs: Vec<(&str, &str)> = request
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("from", "2026-11-01T00:00:00.000Z"),
                ("to", "2026-11-30T23:59:59.999Z"),
                ("action", "user.signed_in"),
                ("target_type", "document"),
                ("actor", "u_1"),
            ]
        );
    }

    #[test]
    fn what_cannot_be_exported_exactly_is_refused() {
        let base = json!({"organization_id": "acme", "range_start": "a", "range_end": "b"});
        for (extra, path) in [
            (json!({"actor_names": ["Ada"]}), "/actor_names"),
            (json!({"actors": ["Ada"]}), "/actors"),
            (json!({"actor_ids": ["u1", "u2"]}), "/actor_ids"),
            (json!({"actions": ["a.b", "c.d"]}), "/actions"),
            (json!({"actions": [1]}), "/actions/0"),
            (json!({"bogus": 1}), "/bogus"),
        ] {
            let mut body = base.clone();
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            assert_eq!(parse(body).unwrap_err().instance_path, path);
        }
        assert_eq!(
            parse(json!({"organization_id": "acme"}))
                .unwrap_err()
                .instance_path,
            "/range_start"
        );
    }

    #[test]
    fn a_link_works_for_its_export_until_it_expires() {
        let query = sign_link(&KEY, 7, "job-1", NOW);
        let fields: std::collections::HashMap<&str, &str> =
            query.split('&').filter_map(|p| p.split_once('=')).collect();
        let expires: i64 = fields["expires"].parse().unwrap();
        let signature = fields["signature"];
        assert!(check_link(&KEY, 7, "job-1", expires, signature, NOW));
        assert!(!check_link(&KEY, 8, "job-1", expires, signature, NOW));
        assert!(!check_link(&KEY, 7, "job-2", expires, signature, NOW));
        assert!(!check_link(&KEY, 7, "job-1", expires + 60, signature, NOW));
        assert!(!check_link(&[4; 32], 7, "job-1", expires, signature, NOW));
        let later = Timestamp(NOW.millis() + LINK_TTL_SECONDS * 1000);
        assert!(!check_link(&KEY, 7, "job-1", expires, signature, later));
        assert!(!check_link(&KEY, 7, "job-1", expires, "zz", NOW));
    }
}
