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

    /// `d` later, saturating rather than overflowing (an absurd retention or window setting
    /// must not wrap a deadline into the past).
    pub fn plus(self, d: std::time::Duration) -> Self {
        Self(self.0.saturating_add(duration_millis(d)))
    }

    /// `d` earlier, saturating: the start of a window that ends now.
    pub fn minus(self, d: std::time::Duration) -> Self {
        Self(self.0.saturating_sub(duration_millis(d)))
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
        if let Some(at) = Self::parse_canonical(s) {
            return Ok(at);
        }
        Self::parse_general(s)
    }

    /// The fixed-width form this system writes (`2026-11-23T09:30:00.000Z`, what every stored
    /// envelope holds) read directly: opening an entry reads two of them, and the general
    /// parser was a visible part of every page, export and verification. `None` for anything
    /// else — another offset or precision, a leap second, a year outside 1970–9999, an
    /// impossible date — which the general parser then decides, so both agree on every input.
    fn parse_canonical(s: &str) -> Option<Self> {
        let b: &[u8; 24] = s.as_bytes().try_into().ok()?;
        let shape_ok = b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && b[16] == b':'
            && b[19] == b'.'
            && b[23] == b'Z';
        if !shape_ok {
            return None;
        }
        let number = |from: usize, to: usize| -> Option<u32> {
            b[from..to].iter().try_fold(0u32, |n, d| {
                d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
            })
        };
        let year = i32::try_from(number(0, 4)?).ok()?;
        let month = u8::try_from(number(5, 7)?).ok()?;
        let day = u8::try_from(number(8, 10)?).ok()?;
        let (hour, minute, second, millis) = (
            number(11, 13)?,
            number(14, 16)?,
            number(17, 19)?,
            number(20, 23)?,
        );
        if year < 1970 || hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let date =
            time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
        // 2440588 is the Julian day number of 1970-01-01.
        let days = i64::from(date.to_julian_day()) - 2_440_588;
        let seconds = days * 86_400 + i64::from(hour * 3_600 + minute * 60 + second);
        Some(Self(seconds * 1_000 + i64::from(millis)))
    }

    fn parse_general(s: &str) -> Result<Self, TimestampError> {
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
        self.rfc3339_text().as_str().to_owned()
    }

    /// [`Timestamp::to_rfc3339`] without allocating: exports write two per entry, millions
    /// per file, and formatting through `format!` was a visible part of an export's time.
    pub fn rfc3339_text(self) -> Rfc3339Text {
        let dt = self.to_datetime();
        let Ok(year) = u16::try_from(dt.year()) else {
            return Rfc3339Text::Other(self.formatted());
        };
        if year > 9999 {
            return Rfc3339Text::Other(self.formatted());
        }
        let mut buf = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, value: u32, digits: usize| {
            let mut v = value;
            for i in (at..at + digits).rev() {
                buf[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, u32::from(year), 4);
        put(5, u32::from(u8::from(dt.month())), 2);
        put(8, u32::from(dt.day()), 2);
        put(11, u32::from(dt.hour()), 2);
        put(14, u32::from(dt.minute()), 2);
        put(17, u32::from(dt.second()), 2);
        put(20, u32::from(dt.millisecond()), 3);
        Rfc3339Text::Fixed(buf)
    }

    /// The general formatting, for instants outside years 0–9999 (which ingest never stores).
    fn formatted(self) -> String {
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

/// An instant's RFC 3339 text, on the stack for every year ingest accepts.
#[derive(Debug, Clone)]
pub enum Rfc3339Text {
    /// The fixed-width form (ASCII only).
    Fixed([u8; 24]),
    /// Anything else, formatted the general way.
    Other(String),
}

impl Rfc3339Text {
    /// The text.
    pub fn as_str(&self) -> &str {
        match self {
            // Only ASCII digits and separators are ever written into the buffer.
            Rfc3339Text::Fixed(buf) => std::str::from_utf8(buf).unwrap_or_default(),
            Rfc3339Text::Other(text) => text,
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rfc3339_text().as_str())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.rfc3339_text().as_str())
    }
}

/// Described to API clients as what it is on the wire: an RFC 3339 instant in UTC.
impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            )))
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Reads the text where the decoder holds it, without copying it into a `String`.
        struct Rfc3339Visitor;
        impl serde::de::Visitor<'_> for Rfc3339Visitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Timestamp, E> {
                Timestamp::parse_rfc3339(text).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Rfc3339Visitor)
    }
}

/// A duration in whole milliseconds, at most `i64::MAX`.
fn duration_millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_move_a_time_and_saturate() {
        let t = Timestamp(10_000);
        let d = std::time::Duration::from_millis(2_500);
        assert_eq!(t.plus(d), Timestamp(12_500));
        assert_eq!(t.minus(d), Timestamp(7_500));
        assert_eq!(t.plus(std::time::Duration::MAX), Timestamp(i64::MAX));
        assert_eq!(Timestamp(i64::MIN + 1).minus(d), Timestamp(i64::MIN));
    }

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
    fn the_fixed_width_form_is_read_directly_and_anything_else_generally() {
        let at = Timestamp::parse_rfc3339("2026-11-23T09:30:00.123Z").unwrap();
        assert_eq!(
            at,
            Timestamp::parse_general("2026-11-23T09:30:00.123Z").unwrap()
        );
        assert!(Timestamp::parse_canonical("2026-11-23T09:30:00.123Z").is_some());
        for other in [
            "2026-11-23T09:30:00Z",
            "2026-11-23T10:30:00.123+01:00",
            "2026-02-30T09:30:00.000Z",
            "1969-12-31T23:59:59.999Z",
            "2026-11-23T23:59:60.000Z",
            "2026-11-23T09:30:00.12aZ",
        ] {
            assert_eq!(Timestamp::parse_canonical(other), None, "{other}");
        }
        let json: Timestamp = serde_json::from_str("\"2026-11-23T09:30:00.123Z\"").unwrap();
        assert_eq!(json, at);
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
        assert!(serde_json::from_str::<Timestamp>("12").is_err());
    }

    proptest::proptest! {
        /// The direct reading agrees with the general parser on every string of the fixed
        /// shape, valid or not (impossible days, hours, seconds, years before 1970).
        #[test]
        fn the_direct_reading_agrees_with_the_general_parser(
            year in 1900u32..10000, month in 0u32..14, day in 0u32..33,
            hour in 0u32..26, minute in 0u32..62, second in 0u32..62, millis in 0u32..1000,
        ) {
            let text = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z");
            let general = Timestamp::parse_general(&text).ok();
            if let Some(direct) = Timestamp::parse_canonical(&text) {
                proptest::prop_assert_eq!(Some(direct), general);
            }
            proptest::prop_assert_eq!(Timestamp::parse_rfc3339(&text).ok(), general);
        }

        /// Every instant this system writes reads back directly.
        #[test]
        fn written_instants_read_back_directly(ms in 0i64..253_402_300_800_000) {
            let text = Timestamp(ms).to_rfc3339();
            proptest::prop_assert_eq!(Timestamp::parse_canonical(&text), Some(Timestamp(ms)));
        }

        /// The stack-buffer text is exactly the general formatting, over every year ingest
        /// accepts and the instants around the epoch.
        #[test]
        fn fixed_width_text_matches_the_general_formatting(millis in -1_000_000_000i64..253_402_300_799_999) {
            let t = Timestamp(millis);
            proptest::prop_assert_eq!(t.to_rfc3339(), t.formatted());
            proptest::prop_assert_eq!(t.to_rfc3339().len(), 24);
        }
    }

    #[test]
    fn round_trips() {
        let t = Timestamp(1_795_000_123_456);
        assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()).unwrap(), t);
    }
}
