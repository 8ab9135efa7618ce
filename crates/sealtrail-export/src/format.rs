//! The export formats by name: the one place that knows their file extensions, content types
//! and download file names, so the page, the API and the CLI name files the same way.

use sealtrail_core::Timestamp;
use std::fmt;
use std::str::FromStr;

/// Every downloadable format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Spreadsheet-safe CSV.
    Csv,
    /// An Excel workbook with date cells.
    Xlsx,
    /// One JSON document with the export's metadata.
    Json,
    /// One JSON entry per line.
    Ndjson,
    /// A paginated report for auditors.
    Pdf,
    /// The signed evidence bundle (a tar).
    Bundle,
}

/// A format name that is not one of [`Format::ALL`]; the message lists the valid ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown export format `{0}` (expected csv, xlsx, json, ndjson, pdf or bundle)")]
pub struct UnknownFormat(pub String);

impl Format {
    /// Every format, in the order the Export buttons show them.
    pub const ALL: [Format; 6] = [
        Format::Csv,
        Format::Xlsx,
        Format::Json,
        Format::Ndjson,
        Format::Pdf,
        Format::Bundle,
    ];

    /// The name used in URLs (`?format=csv`) and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Pdf => "pdf",
            Format::Bundle => "bundle",
        }
    }

    /// The file extension, without the dot.
    pub fn file_extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Pdf => "pdf",
            Format::Bundle => "tar",
        }
    }

    /// The HTTP `Content-Type` of a download.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Json => "application/json",
            Format::Ndjson => "application/x-ndjson",
            Format::Pdf => "application/pdf",
            Format::Bundle => "application/x-tar",
        }
    }

    /// `audit-log-<UTC time like 20261123T101500Z>.<ext>`: sortable, unambiguous in every time
    /// zone, and free of characters that file systems or `Content-Disposition` mangle.
    pub fn file_name(self, now: Timestamp) -> String {
        let compact: String = now
            .to_rfc3339()
            .chars()
            .take(19) // 2026-11-23T10:15:00
            .filter(|c| *c != '-' && *c != ':')
            .collect();
        format!("audit-log-{compact}Z.{}", self.file_extension())
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = UnknownFormat;

    /// Accepts the names of [`Format::as_str`], case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownFormat(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_utc_and_compact() {
        let now = Timestamp::parse_rfc3339("2026-11-23T11:15:00.999+01:00").unwrap();
        let names: Vec<String> = Format::ALL.iter().map(|f| f.file_name(now)).collect();
        assert_eq!(
            names,
            [
                "audit-log-20261123T101500Z.csv",
                "audit-log-20261123T101500Z.xlsx",
                "audit-log-20261123T101500Z.json",
                "audit-log-20261123T101500Z.ndjson",
                "audit-log-20261123T101500Z.pdf",
                "audit-log-20261123T101500Z.tar",
            ]
        );
    }

    #[test]
    fn names_parse_and_content_types_are_set() {
        for f in Format::ALL {
            assert_eq!(f.as_str().parse::<Format>().unwrap(), f);
            assert_eq!(f.to_string().to_uppercase().parse::<Format>().unwrap(), f);
            assert!(!f.content_type().is_empty());
        }
        assert_eq!(Format::Csv.content_type(), "text/csv; charset=utf-8");
        assert_eq!(
            Format::Xlsx.content_type(),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        );
        assert_eq!(Format::Pdf.content_type(), "application/pdf");
        let err = "xls".parse::<Format>().unwrap_err();
        assert!(err
            .to_string()
            .contains("csv, xlsx, json, ndjson, pdf or bundle"));
    }
}
