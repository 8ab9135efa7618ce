//! Encrypted connections to PostgreSQL: rustls, verifying the server's certificate and name.
//! Trusted roots are Mozilla's (webpki-roots), or — when a CA file is given (a private CA, a
//! managed database's own CA) — only the certificates in that file. With the URL's default
//! `sslmode=prefer` a server offering TLS is always used encrypted and verified, and one that
//! offers none is used in plain text; `sslmode=require` refuses plain text.

use crate::StoreError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use std::path::Path;
use std::sync::Arc;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The certificates in the PEM file `path` (a CA bundle the operator gives): an error naming
/// the file when it cannot be read or holds none. Also what `serve --sink-ca` reads.
pub fn read_ca_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| StoreError::Invalid(format!("reading the CA file {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(StoreError::Invalid(format!(
            "the CA file {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

/// The TLS connector every connection of a store uses.
pub(crate) fn connector(ca_file: Option<&Path>) -> Result<MakeRustlsConnect, StoreError> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            for cert in read_ca_certificates(path)? {
                roots.add(cert).map_err(|e| {
                    StoreError::Invalid(format!(
                        "a certificate in {} is not usable: {e}",
                        path.display()
                    ))
                })?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Backend(format!("configuring TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let dir = std::env::temp_dir().join(format!("sealtrail-tls-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let empty = dir.join("empty.pem");
        let _ = std::fs::write(&empty, "not a certificate\n");
        assert!(
            matches!(connector(Some(&empty)), Err(StoreError::Invalid(m)) if m.contains("no PEM"))
        );
        assert!(matches!(
            connector(Some(&dir.join("missing.pem"))),
            Err(StoreError::Invalid(_))
        ));
        assert!(connector(None).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
