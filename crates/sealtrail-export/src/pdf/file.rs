//! The PDF file structure, written as it goes: each object goes straight to the output and
//! only its byte offset is kept (8 bytes per object, two objects per page) for the
//! cross-reference table written at the end.

use crate::ExportError;
use pdf_writer::{Chunk, Ref};
use std::io::{self, BufWriter, Write};

/// A PDF being written to `W`.
pub(super) struct PdfFile<W: Write> {
    out: BufWriter<W>,
    /// Bytes written so far.
    pos: u64,
    /// Byte offset of each object by object number; 0 for numbers not written (yet).
    offsets: Vec<u64>,
}

impl<W: Write> PdfFile<W> {
    /// Writes the file header. The second line's high bytes mark the file as binary, so
    /// transfer tools do not mangle it.
    pub fn start(out: W) -> io::Result<Self> {
        let mut file = PdfFile {
            out: BufWriter::new(out),
            pos: 0,
            offsets: vec![0],
        };
        file.write(b"%PDF-1.7\n%\x80\x80\x80\x80\n")?;
        Ok(file)
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    /// Writes `chunk`, which holds exactly one object, and records where it starts.
    pub fn emit(&mut self, chunk: Chunk) -> io::Result<()> {
        let mut refs = chunk.refs();
        let (Some(id), None) = (refs.next(), refs.next()) else {
            return Err(io::Error::other(
                "internal: a chunk must hold exactly one object",
            ));
        };
        let n = usize::try_from(id.get()).map_err(io::Error::other)?;
        if self.offsets.len() <= n {
            self.offsets.resize(n + 1, 0);
        }
        self.offsets[n] = self.pos;
        self.write(chunk.as_bytes())
    }

    /// Writes the cross-reference table and trailer, flushes, and returns the output.
    pub fn finish(mut self, catalog: Ref, info: Ref) -> Result<W, ExportError> {
        if let Some(n) = self.offsets.iter().skip(1).position(|&o| o == 0) {
            return Err(ExportError::Pdf(format!(
                "internal: object {} never written",
                n + 1
            )));
        }
        let xref = self.pos;
        let offsets = std::mem::take(&mut self.offsets);
        let size = offsets.len();
        let mut table = format!("xref\n0 {size}\n0000000000 65535 f\r\n");
        for offset in &offsets[1..] {
            table.push_str(&format!("{offset:010} 00000 n\r\n"));
            if table.len() > 64 * 1024 {
                self.write(table.as_bytes())?;
                table.clear();
            }
        }
        table.push_str(&format!(
            "trailer\n<< /Size {size} /Root {} 0 R /Info {} 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            catalog.get(),
            info.get()
        ));
        self.write(table.as_bytes())?;
        self.out
            .into_inner()
            .map_err(|e| ExportError::Io(e.into_error()))
    }
}
