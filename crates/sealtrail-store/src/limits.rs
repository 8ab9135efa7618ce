//! A tenant's usage limits: kept with its other settings so every node enforces the same
//! numbers, and so an operator can tune one noisy tenant without restarting anything. The
//! server enforces them; the store only keeps them valid.

use crate::StoreError;
use serde::{Deserialize, Serialize};

/// Per-tenant limits; `None` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantLimits {
    /// Requests per second one API key may make to any `/v1` endpoint (a runaway client or
    /// leaked key cannot starve the tenant's other keys or the node).
    pub requests_per_second_per_key: Option<u32>,
    /// Events per second the tenant may ingest across all its keys (its share of the writer).
    pub ingest_events_per_second: Option<u32>,
    /// Entries the tenant's log may grow by per UTC day (a contractual or cost ceiling).
    pub daily_event_quota: Option<u64>,
}

impl TenantLimits {
    /// What a new tenant gets: generous enough for any ordinary application sending one event
    /// per action (or batches), low enough that one broken client cannot monopolise a node.
    /// No quota: that is a business decision, not a safety one.
    pub const DEFAULT: TenantLimits = TenantLimits {
        requests_per_second_per_key: Some(500),
        ingest_events_per_second: Some(5_000),
        daily_event_quota: None,
    };

    /// No limit at all (benchmarks and trusted internal tenants).
    pub const UNLIMITED: TenantLimits = TenantLimits {
        requests_per_second_per_key: None,
        ingest_events_per_second: None,
        daily_event_quota: None,
    };

    /// Highest rate accepted: far beyond what one node can do, so a larger number is a typo.
    pub const MAX_RATE: u32 = 10_000_000;
    /// Highest daily quota accepted.
    pub const MAX_DAILY_QUOTA: u64 = 1_000_000_000_000;

    /// Refuses zero (which would block the tenant entirely — use a key revocation for that;
    /// unlimited is `None`) and implausibly large numbers.
    pub fn check(&self) -> Result<(), StoreError> {
        let rate = |name: &str, value: Option<u32>| match value {
            Some(v) if v == 0 || v > Self::MAX_RATE => Err(StoreError::Invalid(format!(
                "{name} must be between 1 and {} (or unlimited), not {v}",
                Self::MAX_RATE
            ))),
            _ => Ok(()),
        };
        rate(
            "requests_per_second_per_key",
            self.requests_per_second_per_key,
        )?;
        rate("ingest_events_per_second", self.ingest_events_per_second)?;
        match self.daily_event_quota {
            Some(q) if q == 0 || q > Self::MAX_DAILY_QUOTA => Err(StoreError::Invalid(format!(
                "daily_event_quota must be between 1 and {} (or unlimited), not {q}",
                Self::MAX_DAILY_QUOTA
            ))),
            _ => Ok(()),
        }
    }

    /// The stored form (a JSON object with every field present).
    pub(crate) fn to_json(self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Reads the stored form; anything unreadable is `Corrupt`, never "unlimited".
    pub(crate) fn from_json(value: serde_json::Value, tenant: i64) -> Result<Self, StoreError> {
        serde_json::from_value(value)
            .map_err(|e| StoreError::Corrupt(format!("tenant {tenant} limits: {e}")))
    }
}

impl Default for TenantLimits {
    fn default() -> Self {
        TenantLimits::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_absurd_values_are_refused_and_defaults_pass() {
        assert!(TenantLimits::DEFAULT.check().is_ok());
        assert!(TenantLimits::UNLIMITED.check().is_ok());
        for bad in [
            TenantLimits {
                requests_per_second_per_key: Some(0),
                ..TenantLimits::DEFAULT
            },
            TenantLimits {
                ingest_events_per_second: Some(TenantLimits::MAX_RATE + 1),
                ..TenantLimits::DEFAULT
            },
            TenantLimits {
                daily_event_quota: Some(0),
                ..TenantLimits::DEFAULT
            },
        ] {
            assert!(
                matches!(bad.check(), Err(StoreError::Invalid(_))),
                "{bad:?}"
            );
        }
        let stored = TenantLimits::DEFAULT.to_json();
        assert_eq!(
            TenantLimits::from_json(stored, 1).unwrap(),
            TenantLimits::DEFAULT
        );
        assert!(matches!(
            TenantLimits::from_json(serde_json::json!({"x": 1}), 1),
            Err(StoreError::Corrupt(_))
        ));
    }
}
