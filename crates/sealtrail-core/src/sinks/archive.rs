//! Archive sinks: a tenant's log kept in an S3-compatible object store beyond its retention,
//! cut into chunks an auditor verifies offline. This module says where (the sink's URL), how
//! big a chunk grows before it is written, and what its objects are called. Pure: the
//! service talks to the object store, `sealtrail_export::archive` writes and checks a chunk.
//!
//! A sink's URL is `s3://<bucket>[/<prefix>][?endpoint=…&region=…&entries=…&minutes=…]`:
//! without `endpoint` the bucket is on AWS S3 in `region`; with it (`https://minio.example:9000`)
//! any S3-compatible server, addressed path-style. The access key travels apart from the URL,
//! kept sealed like a Splunk token, so the URL can be shown wherever the sink is.

use std::time::Duration;

/// Entries per chunk when the URL does not say.
pub const DEFAULT_ENTRIES: usize = 10_000;
/// The most entries one chunk may hold: a chunk is built in memory before it is written.
pub const MAX_ENTRIES: usize = 50_000;
/// Minutes the oldest waiting entry may wait for its chunk to fill when the URL does not say.
pub const DEFAULT_MINUTES: u32 = 5;
/// The longest wait the URL may ask for: one day.
pub const MAX_MINUTES: u32 = 1440;
/// The region of an AWS bucket when the URL does not say.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The suffix of a chunk's entries, in the sink's format.
pub const DATA_SUFFIX: &str = ".ndjson.gz";
/// The suffix of a chunk's evidence (header, then envelope and vault of each entry).
pub const EVIDENCE_SUFFIX: &str = ".evidence.ndjson.gz";

/// Where an archive sink writes, as its URL says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveTarget {
    /// The bucket.
    pub bucket: String,
    /// The folder inside the bucket, without leading or trailing `/` (may be empty).
    pub prefix: String,
    /// An S3-compatible server's base URL; `None` for AWS S3.
    pub endpoint: Option<String>,
    /// The region requests are signed for.
    pub region: String,
    /// A chunk is written once this many entries wait…
    pub entries: usize,
    /// …or once the oldest waiting entry has waited this long.
    pub wait: Duration,
}

/// Reads an archive sink's URL; the error names what is wrong.
pub fn parse(url: &str) -> Result<ArchiveTarget, String> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or("an archive sink's URL is s3://bucket/prefix (an S3-compatible object store)")?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
    check_bucket(bucket)?;
    let prefix = prefix.trim_matches('/');
    check_prefix(prefix)?;
    let mut target = ArchiveTarget {
        bucket: bucket.to_string(),
        prefix: prefix.to_string(),
        endpoint: None,
        region: DEFAULT_REGION.to_string(),
        entries: DEFAULT_ENTRIES,
        wait: Duration::from_secs(u64::from(DEFAULT_MINUTES) * 60),
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("URL parameter `{pair}` has no value"))?;
        match name {
            "endpoint" => {
                let host = value
                    .strip_prefix("https://")
                    .or_else(|| value.strip_prefix("http://"))
                    .ok_or("endpoint: an https:// (or http://) URL of the object store")?;
                if host.is_empty() || host.contains(['@', '?', '#']) {
                    return Err("endpoint: a host (and port), without credentials".into());
                }
                target.endpoint = Some(value.trim_end_matches('/').to_string());
            }
            "region" => {
                if value.is_empty()
                    || value.len() > 64
                    || !value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                {
                    return Err("region: letters, digits and '-', like eu-west-1".into());
                }
                target.region = value.to_string();
            }
            "entries" => {
                target.entries = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_ENTRIES).contains(n))
                    .ok_or(format!("entries: a number from 1 to {MAX_ENTRIES}"))?;
            }
            "minutes" => {
                let minutes: u32 = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_MINUTES).contains(n))
                    .ok_or(format!("minutes: a number from 1 to {MAX_MINUTES}"))?;
                target.wait = Duration::from_secs(u64::from(minutes) * 60);
            }
            other => {
                return Err(format!(
                    "unknown URL parameter `{other}` (endpoint, region, entries, minutes)"
                ))
            }
        }
    }
    Ok(target)
}

/// S3's bucket naming rules: 3-63 characters of a-z, 0-9, '.' and '-', starting and ending
/// with a letter or digit.
fn check_bucket(bucket: &str) -> Result<(), String> {
    let edges_ok = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !(3..=63).contains(&bucket.len())
        || !bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        || !edges_ok(bucket.bytes().next())
        || !edges_ok(bucket.bytes().last())
    {
        return Err(
            "bucket: 3-63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit"
                .into(),
        );
    }
    Ok(())
}

/// A prefix is folders of letters, digits, '.', '_' and '-', never `.` or `..`.
fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Ok(());
    }
    let bad = prefix.len() > 512
        || prefix.split('/').any(|segment| {
            segment.is_empty()
                || segment == "."
                || segment == ".."
                || !segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        });
    if bad {
        return Err(
            "prefix: folders of letters, digits, '.', '_' and '-', separated by single '/'".into(),
        );
    }
    Ok(())
}

/// Splits an archive sink's credential, `ACCESS_KEY_ID:SECRET_ACCESS_KEY`.
pub fn split_credential(credential: &str) -> Result<(&str, &str), String> {
    match credential.split_once(':') {
        Some((id, secret)) if !id.is_empty() && !secret.is_empty() => Ok((id, secret)),
        _ => Err(
            "token: an archive sink needs the object store's access key as ACCESS_KEY_ID:SECRET_ACCESS_KEY"
                .into(),
        ),
    }
}

/// The folder of one tenant's chunks, relative to the bucket.
pub fn tenant_folder(prefix: &str, tenant: &str) -> String {
    if prefix.is_empty() {
        tenant.to_string()
    } else {
        format!("{prefix}/{tenant}")
    }
}

/// The common name of a chunk's two objects: the first and last seq, zero-padded so names
/// sort in log order.
pub fn chunk_stem(folder: &str, first: u64, last: u64) -> String {
    format!("{folder}/{first:020}-{last:020}")
}

/// The first and last seq a chunk's object name claims, read back from its file name.
pub fn parse_chunk_name(name: &str) -> Option<(u64, u64)> {
    let file = name.rsplit('/').next()?;
    let stem = file
        .strip_suffix(EVIDENCE_SUFFIX)
        .or_else(|| file.strip_suffix(DATA_SUFFIX))?;
    let (first, last) = stem.split_once('-')?;
    if first.len() != 20 || last.len() != 20 {
        return None;
    }
    Some((first.parse().ok()?, last.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_bucket_is_on_aws_with_the_defaults() {
        let t = parse("s3://audit-archive").unwrap();
        assert_eq!(t.bucket, "audit-archive");
        assert_eq!(t.prefix, "");
        assert_eq!(t.endpoint, None);
        assert_eq!(t.region, DEFAULT_REGION);
        assert_eq!(t.entries, DEFAULT_ENTRIES);
        assert_eq!(t.wait, Duration::from_secs(300));
    }

    #[test]
    fn parameters_name_the_server_region_and_chunk_size() {
        let t = parse(
            "s3://logs/sealtrail/prod/?endpoint=http://127.0.0.1:9000/&region=eu-west-1&entries=500&minutes=2",
        )
        .unwrap();
        assert_eq!(t.prefix, "sealtrail/prod");
        assert_eq!(t.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(t.region, "eu-west-1");
        assert_eq!(t.entries, 500);
        assert_eq!(t.wait, Duration::from_secs(120));
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (url, says) in [
            ("https://bucket", "s3://"),
            ("s3://B", "bucket"),
            ("s3://logs/../etc", "prefix"),
            ("s3://logs/a//b", "prefix"),
            ("s3://logs?entries=0", "entries"),
            ("s3://logs?entries=50001", "entries"),
            ("s3://logs?minutes=1441", "minutes"),
            ("s3://logs?endpoint=ftp://x", "endpoint"),
            ("s3://logs?endpoint=http://user:pw@host", "credentials"),
            ("s3://logs?colour=blue", "unknown URL parameter"),
            ("s3://logs?region", "no value"),
        ] {
            let error = parse(url).unwrap_err();
            assert!(error.contains(says), "{url}: {error}");
        }
    }

    #[test]
    fn chunk_names_sort_in_log_order_and_read_back() {
        let folder = tenant_folder("archive", "acme");
        let a = chunk_stem(&folder, 0, 99);
        let b = chunk_stem(&folder, 100, 1_000);
        assert!(a < b);
        assert_eq!(a, "archive/acme/00000000000000000000-00000000000000000099");
        assert_eq!(
            parse_chunk_name(&format!("{b}{EVIDENCE_SUFFIX}")),
            Some((100, 1000))
        );
        assert_eq!(
            parse_chunk_name(&format!("{b}{DATA_SUFFIX}")),
            Some((100, 1000))
        );
        assert_eq!(parse_chunk_name("archive/acme/README"), None);
        assert_eq!(tenant_folder("", "acme"), "acme");
    }

    #[test]
    fn a_credential_is_key_id_and_secret() {
        assert_eq!(split_credential("AKIA:s3cr:et"), Ok(("AKIA", "s3cr:et")));
        assert!(split_credential("AKIA").is_err());
        assert!(split_credential(":x").is_err());
    }
}
