//! Sending framed syslog messages over TLS (RFC 5425): a connection per batch to the sink's
//! `syslog+tls://host:port` (6514 when no port is given), the receiver's certificate and name
//! verified, private networks refused unless the operator allows them.
//!
//! Syslog has no acknowledgement. A batch counts as delivered once every byte is written, the
//! TLS session is closed (`close_notify`) and the receiver has closed its side in turn: it
//! has read the whole stream by then. That is as far as the protocol lets a sender know; a
//! receiver that crashes after reading and before writing loses what it read (docs say so).

use super::address::REFUSED;
use rustls::pki_types::ServerName;
use sealtrail_core::sinks::is_public_address;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The port RFC 5425 assigns to syslog over TLS.
pub const DEFAULT_PORT: u16 = 6514;

/// Where a syslog sink sends: its host (for the certificate) and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// A name or an address.
    pub host: String,
    /// The TCP port.
    pub port: u16,
}

/// Reads `syslog+tls://host[:port]`.
pub fn parse(url: &str) -> Result<Target, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("the URL does not parse: {e}"))?;
    if parsed.scheme() != "syslog+tls" {
        return Err("a syslog sink's URL is syslog+tls://host:port".into());
    }
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("the URL names no host")?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    Ok(Target {
        host,
        port: parsed.port().unwrap_or(DEFAULT_PORT),
    })
}

/// Sends `bytes` (framed messages) to `target` and waits for the receiver to close.
pub async fn send(
    tls: &TlsConnector,
    target: &Target,
    private_networks: bool,
    bytes: &[u8],
    timeout: Duration,
) -> Result<(), String> {
    let work = async {
        let addresses: Vec<SocketAddr> =
            tokio::net::lookup_host((target.host.as_str(), target.port))
                .await
                .map_err(|e| format!("resolving {}: {e}", target.host))?
                .filter(|a| private_networks || is_public_address(a.ip()))
                .collect();
        let Some(address) = addresses.first() else {
            return Err(REFUSED.to_string());
        };
        let tcp = TcpStream::connect(address)
            .await
            .map_err(|e| format!("connecting: {e}"))?;
        tcp.set_nodelay(true).ok();
        let name = ServerName::try_from(target.host.clone())
            .map_err(|e| format!("the host is not a usable name: {e}"))?;
        let mut stream = tls
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        stream
            .write_all(bytes)
            .await
            .map_err(|e| format!("sending: {e}"))?;
        stream.flush().await.map_err(|e| format!("sending: {e}"))?;
        // close_notify and FIN; the receiver closes once it has read everything before them.
        stream
            .shutdown()
            .await
            .map_err(|e| format!("closing: {e}"))?;
        let mut rest = [0u8; 256];
        loop {
            match stream.read(&mut rest).await {
                Ok(0) => return Ok(()),
                Ok(_) => continue,
                // A receiver that closes without its own close_notify has still read it all.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(format!("waiting for the receiver to close: {e}")),
            }
        }
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| format!("no answer within {} s", timeout.as_secs()))?
}

/// The TLS client: Mozilla's roots and, when the operator gives one, the CAs in `ca_file`
/// (a private CA for receivers inside).
pub fn connector(
    extra_roots: &[rustls::pki_types::CertificateDer<'static>],
) -> Result<TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in extra_roots {
        roots
            .add(cert.clone())
            .map_err(|e| format!("a sink CA certificate is not usable: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("configuring TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}
