//! One time representation for the whole system: UTC instants with millisecond precision.
//!
//! Milliseconds are what every consumer (browsers, spreadsheets, SIEMs) handles exactly, and an
//! `i64` of milliseconds sorts, indexes and compares the same in every storage backend.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// A UTC instant, in whole milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

/// Why a timestamp string was refused; the message is shown to API clients.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not an RFC 3339 timestamp (for example 2026-11-23T09:30:00Z)")]
pub struct TimestampError(pub String);

impl Timestamp {
    /// The current time, truncated to milliseconds.
    pub fn now() -> Self {
        Self::from_datetime(OffsetDateTime::now_utc())
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// Converts from a `time` value, dropping sub-millisecond precision.
    pub fn from_datetime(dt: OffsetDateTime) -> Self {
        Self((dt.unix_timestamp_nanos() / 1_000_000) as i64)
    }

    /// The `time` value for calendar arithmetic (presets such as "this month").
    pub fn to_datetime(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// Parses RFC 3339 with any offset and normalises to UTC.
    pub fn parse_rfc3339(s: &str) -> Result<Self, TimestampError> {
        let dt = OffsetDateTime::parse(s, &Rfc3339).map_err(|_| TimestampError(s.to_string()))?;
        let year = dt.to_offset(UtcOffset::UTC).year();
        if !(1970..=9999).contains(&year) {
            return Err(TimestampError(s.to_string()));
        }
        Ok(Self::from_datetime(dt))
    }

    /// RFC 3339 in UTC with exactly three fractional digits, e.g. `2026-11-23T09:30:00.000Z`:
    /// fixed width, so the strings sort like the instants.
    pub fn to_rfc3339(self) -> String {
        let dt = self.to_datetime();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            dt.year(),
            u8::from(dt.month()),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second(),
            dt.millisecond()
        )
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Timestamp::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_offsets_to_utc_with_millis() {
        let t = Timestamp::parse_rfc3339("2026-11-23T10:30:00.5+01:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-23T09:30:00.500Z");
    }

    #[test]
    fn refuses_non_rfc3339() {
        assert!(Timestamp::parse_rfc3339("2026-11-23 10:30").is_err());
        assert!(Timestamp::parse_rfc3339("yesterday").is_err());
    }

    #[test]
    fn round_trips() {
        let t = Timestamp(1_795_000_123_456);
        assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()).unwrap(), t);
    }
}
