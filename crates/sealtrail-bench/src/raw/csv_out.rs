//! The CSV both baselines' exports write, rendered the same way Sealtrail's export renders
//! (times as RFC 3339, via the `csv` crate) so the export figures compare engine cost, not
//! formatting choices.

use super::sql::COLUMNS;
use super::RawError;
use sealtrail_core::Timestamp;
use std::fmt::Write as _;
use std::io::Write;
use uuid::Uuid;

/// How many text columns follow the five fixed ones (`tenant` … `occurred_at`) in
/// [`COLUMNS`] order.
pub(crate) const TEXT_COLUMNS: usize = COLUMNS.len() - 5;

/// One stored entry as borrowed cells, so an engine can hand over a row without copying its
/// strings.
#[derive(Debug)]
pub(crate) struct ExportRow<'a> {
    pub(crate) tenant: i64,
    pub(crate) seq: i64,
    pub(crate) id: Uuid,
    pub(crate) recorded_at: i64,
    pub(crate) occurred_at: i64,
    /// `action` … `idempotency_key` in [`COLUMNS`] order; an absent value (no actor email) is
    /// empty.
    pub(crate) text: [&'a str; TEXT_COLUMNS],
}

/// A CSV writer that counts rows and reuses one buffer for numbers, so the per-row cost is the
/// engine's read plus the unavoidable formatting.
pub(crate) struct CsvRows<'w> {
    out: csv::Writer<&'w mut dyn Write>,
    rows: u64,
    number: String,
}

impl<'w> CsvRows<'w> {
    /// Writes the header (the column names) to `out`.
    pub(crate) fn new(out: &'w mut dyn Write) -> Result<Self, RawError> {
        let mut out = csv::Writer::from_writer(out);
        out.write_record(COLUMNS)?;
        Ok(CsvRows {
            out,
            rows: 0,
            number: String::new(),
        })
    }

    /// Writes one entry.
    pub(crate) fn write(&mut self, row: &ExportRow<'_>) -> Result<(), RawError> {
        self.int(row.tenant)?;
        self.int(row.seq)?;
        let mut id = Uuid::encode_buffer();
        self.out
            .write_field(row.id.hyphenated().encode_lower(&mut id))?;
        self.out
            .write_field(Timestamp(row.recorded_at).to_rfc3339())?;
        self.out
            .write_field(Timestamp(row.occurred_at).to_rfc3339())?;
        for cell in row.text {
            self.out.write_field(cell)?;
        }
        self.out.write_record(None::<&[u8]>)?;
        self.rows += 1;
        Ok(())
    }

    /// Flushes the output and returns how many entries were written.
    pub(crate) fn finish(mut self) -> Result<u64, RawError> {
        self.out.flush().map_err(csv::Error::from)?;
        Ok(self.rows)
    }

    fn int(&mut self, value: i64) -> Result<(), RawError> {
        self.number.clear();
        // Writing to a String cannot fail.
        let _ = write!(self.number, "{value}");
        self.out.write_field(&self.number)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_follow_the_header_with_every_column_rendered() {
        let mut bytes = Vec::new();
        let id = Uuid::now_v7();
        let mut text = [""; TEXT_COLUMNS];
        text[0] = "role.assigned";
        text[7] = "said \"hi\", twice";
        let written = {
            let mut rows = CsvRows::new(&mut bytes).unwrap();
            let row = ExportRow {
                tenant: 3,
                seq: 42,
                id,
                recorded_at: 0,
                occurred_at: 1_500,
                text,
            };
            rows.write(&row).unwrap();
            rows.write(&row).unwrap();
            rows.finish().unwrap()
        };
        assert_eq!(written, 2);
        let mut reader = csv::Reader::from_reader(bytes.as_slice());
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(header, COLUMNS);
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), 2);
        let r = &records[0];
        assert_eq!(&r[0], "3");
        assert_eq!(&r[1], "42");
        assert_eq!(&r[2], id.to_string());
        assert_eq!(&r[3], "1970-01-01T00:00:00.000Z");
        assert_eq!(&r[4], "1970-01-01T00:00:01.500Z");
        assert_eq!(&r[5], "role.assigned");
        assert_eq!(&r[12], "said \"hi\", twice");
        assert_eq!(r.len(), COLUMNS.len());
    }
}
