//! A throwaway certificate authority and a server certificate for `localhost`/`127.0.0.1`,
//! made with the real `openssl` command: what the tests of encrypted connections (PostgreSQL
//! over TLS, syslog sinks over TLS) give their servers and trust on the client side.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The files [`issue`] wrote.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The CA's certificate (PEM): what clients trust.
    pub ca: PathBuf,
    /// The server's certificate (PEM), valid for `localhost` and `127.0.0.1`.
    pub cert: PathBuf,
    /// The server's private key (PEM, mode 0600).
    pub key: PathBuf,
}

/// Makes a CA and a server certificate it signed, in `dir`.
pub fn issue(dir: &Path) -> Result<Issued, String> {
    let (ca_key, ca) = (dir.join("ca.key"), dir.join("ca.pem"));
    let (key, csr, cert, ext) = (
        dir.join("server.key"),
        dir.join("server.csr"),
        dir.join("server.crt"),
        dir.join("server.ext"),
    );
    let path = |p: &PathBuf| p.display().to_string();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=Sealtrail test CA",
        "-keyout",
        &path(&ca_key),
        "-out",
        &path(&ca),
    ])?;
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        &path(&key),
        "-out",
        &path(&csr),
    ])?;
    fs::write(&ext, "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        .map_err(|e| format!("writing the certificate extensions: {e}"))?;
    openssl(&[
        "x509",
        "-req",
        "-days",
        "2",
        "-in",
        &path(&csr),
        "-CA",
        &path(&ca),
        "-CAkey",
        &path(&ca_key),
        "-CAcreateserial",
        "-extfile",
        &path(&ext),
        "-out",
        &path(&cert),
    ])?;
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("chmod the server key: {e}"))?;
    Ok(Issued { ca, cert, key })
}

fn openssl(args: &[&str]) -> Result<(), String> {
    let out = Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("openssl: cannot run it: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "openssl {} failed ({}): {}",
        args.first().copied().unwrap_or_default(),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    ))
}
