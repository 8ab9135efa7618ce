//! Reading database files into the OS page cache right before a scenario that scans them.
//!
//! On the machines these figures come from, the page cache of an idle file drains within a
//! minute (a 2.8 GB database went from fully cached to a third uncached in 60 s with nothing
//! running). A whole-log scan timed after other scenarios then read most of Sealtrail's file
//! from the virtual disk (the first E1 CSV of a run took 17–18 s, 10 s of it kernel time,
//! against 3.1–3.7 s warm) while the raw engine's smaller file, written just before, was still
//! cached. Each side's files are read just before it is timed, so both scan from memory and
//! the ratio compares the engines, not the disk. On PostgreSQL, whose files the bench does
//! not manage, each side's scan runs once untimed instead.

use crate::error::BenchError;
use std::path::{Path, PathBuf};

/// The files of an SQLite database: the main file and its WAL, where they exist.
pub fn sqlite_files(db: &Path) -> Vec<PathBuf> {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    [db.to_path_buf(), PathBuf::from(wal)]
        .into_iter()
        .filter(|p| p.exists())
        .collect()
}

/// Reads every file in `files` to its end and returns the bytes read.
pub fn warm(files: &[PathBuf]) -> Result<u64, BenchError> {
    let mut total = 0u64;
    for path in files {
        let file = std::fs::File::open(path)
            .map_err(BenchError::io(format!("opening {}", path.display())))?;
        // Read in 1 MiB requests: a few thousand system calls for a size-M database.
        let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
        total += std::io::copy(&mut reader, &mut std::io::sink())
            .map_err(BenchError::io(format!("reading {}", path.display())))?;
    }
    Ok(total)
}

/// The SQLite databases a whole-log scenario scans: Sealtrail's and the raw baseline's
/// (`None` on PostgreSQL, whose files the benchmark does not manage).
#[derive(Debug, Clone, Default)]
pub struct ScannedDatabases {
    /// Sealtrail's database file.
    pub sealtrail: Option<PathBuf>,
    /// The raw baseline's database file.
    pub raw: Option<PathBuf>,
}

impl ScannedDatabases {
    /// Warms Sealtrail's files, just before a scan of them is timed.
    pub fn warm_sealtrail(&self) -> Result<u64, BenchError> {
        self.sealtrail
            .as_deref()
            .map_or(Ok(0), |db| warm(&sqlite_files(db)))
    }

    /// True when Sealtrail's files are the bench's to read (SQLite). Where they are not
    /// (PostgreSQL, a server of its own), a scan is warmed by running it once untimed.
    pub fn reads_sealtrail(&self) -> bool {
        self.sealtrail.is_some()
    }

    /// True when the raw baseline's files are the bench's to read, as for Sealtrail's.
    pub fn reads_raw(&self) -> bool {
        self.raw.is_some()
    }

    /// Warms the raw baseline's files, just before a scan of them is timed.
    pub fn warm_raw(&self) -> Result<u64, BenchError> {
        self.raw
            .as_deref()
            .map_or(Ok(0), |db| warm(&sqlite_files(db)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_database_and_its_wal_when_there_is_one() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        std::fs::write(&db, vec![1u8; 3 << 20]).unwrap();
        assert_eq!(sqlite_files(&db), vec![db.clone()]);
        std::fs::write(dir.path().join("x.db-wal"), b"wal").unwrap();
        let files = sqlite_files(&db);
        assert_eq!(files.len(), 2);
        assert_eq!(warm(&files).unwrap(), (3 << 20) + 3);
    }
}
