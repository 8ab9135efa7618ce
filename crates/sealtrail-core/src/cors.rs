//! Which web origins may call a tenant's API from a browser (CORS): a tenant setting, empty
//! by default, so no page on another site can read the log with a key it was given unless
//! the tenant's admin named that site. Origins are exact (`https://app.example.com`,
//! `http://localhost:3000`): no wildcards, no paths.

/// The most origins one tenant may name.
pub const MAX_ORIGINS: usize = 20;
/// The longest origin accepted.
const MAX_ORIGIN_BYTES: usize = 255;

/// Checks and normalises a list of origins (lower-case scheme and host, default ports
/// dropped, duplicates removed, order kept); the error names the first bad one.
pub fn check_origins(origins: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for origin in origins {
        let origin = normalise(origin.trim())?;
        if !out.contains(&origin) {
            out.push(origin);
        }
    }
    if out.len() > MAX_ORIGINS {
        return Err(format!("at most {MAX_ORIGINS} origins"));
    }
    Ok(out)
}

/// `scheme://host[:port]` in its canonical spelling, or why it is not an origin.
pub fn normalise(origin: &str) -> Result<String, String> {
    let bad = |why: &str| {
        format!(
            "`{}` is not an origin ({why}): use https://host[:port]",
            crate::excerpt(origin, 60)
        )
    };
    if origin.len() > MAX_ORIGIN_BYTES {
        return Err(bad("too long"));
    }
    let lower = origin.to_ascii_lowercase();
    let (scheme, rest) = lower.split_once("://").ok_or_else(|| bad("no scheme"))?;
    let default_port = match scheme {
        "https" => "443",
        "http" => "80",
        _ => return Err(bad("only https:// or http://")),
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ', '*']) {
        return Err(bad("scheme, host and port only"));
    }
    let (host, port) = match authority.rsplit_once(':') {
        // An IPv6 address without a port: its colons are not a port separator.
        Some((host, _)) if !host.ends_with(']') && host.contains(':') => (authority, None),
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']' | b':'))
    {
        return Err(bad("not a host name"));
    }
    match port {
        Some(port) if port.parse::<u16>().is_err() => Err(bad("not a port")),
        Some(port) if port == default_port => Ok(format!("{scheme}://{host}")),
        Some(port) => Ok(format!("{scheme}://{host}:{port}")),
        None => Ok(format!("{scheme}://{host}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised_and_deduplicated() {
        let list = check_origins(&[
            "https://App.Example.com".into(),
            "https://app.example.com:443/".into(),
            "http://localhost:3000".into(),
        ])
        .unwrap();
        assert_eq!(list, ["https://app.example.com", "http://localhost:3000"]);
    }

    #[test]
    fn anything_but_an_origin_is_refused_by_name() {
        for bad in [
            "app.example.com",
            "ftp://app.example.com",
            "https://app.example.com/path",
            "https://*.example.com",
            "https://user@app.example.com",
            "https://app.example.com:99999",
            "https://",
            "null",
        ] {
            let error = check_origins(&[bad.to_string()]).unwrap_err();
            assert!(error.contains("is not an origin"), "{bad}: {error}");
        }
        let many: Vec<String> = (0..21).map(|i| format!("https://a{i}.example")).collect();
        assert!(check_origins(&many).unwrap_err().contains("at most"));
    }
}
