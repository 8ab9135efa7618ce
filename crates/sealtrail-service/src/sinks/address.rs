//! Keeping sinks off private networks unless the operator allows them: a resolver that
//! answers only public addresses (so the check is made where the connection is, for every
//! name, each time), and the same check for URLs that name an address directly.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use sealtrail_core::sinks::{archive, is_public_address, SinkKind};
use std::net::{IpAddr, SocketAddr};

/// What a sink is told when its receiver is on a private network the operator has not allowed.
pub const REFUSED: &str =
    "the receiver is on a private network (loopback, RFC 1918, link-local, …); \
    the operator allows those with `serve --sink-private-networks`";

/// Resolves names to their public addresses only; a name with none is refused.
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all
                .into_iter()
                .filter(|a| is_public_address(a.ip()))
                .collect();
            if public.is_empty() {
                return Err(REFUSED.into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// Refuses a URL whose host is a private address written out (names go through
/// [`PublicOnly`]).
pub fn check_literal(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("the URL does not parse: {e}"))?;
    let host = parsed.host_str().unwrap_or_default();
    let Ok(ip) = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    else {
        return Ok(());
    };
    if is_public_address(ip) {
        Ok(())
    } else {
        Err(REFUSED.to_string())
    }
}

/// [`check_literal`] on the address a sink connects to: an archive's endpoint (none for AWS
/// S3 itself), any other sink's URL.
pub fn check_sink_literal(kind: SinkKind, url: &str) -> Result<(), String> {
    if kind == SinkKind::Archive {
        return match archive::parse(url)?.endpoint {
            Some(endpoint) => check_literal(&endpoint),
            None => Ok(()),
        };
    }
    check_literal(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_archive_is_checked_at_its_endpoint() {
        let local = "s3://logs?endpoint=http://127.0.0.1:9000";
        assert_eq!(
            check_sink_literal(SinkKind::Archive, local),
            Err(REFUSED.to_string())
        );
        assert!(check_sink_literal(SinkKind::Archive, "s3://logs").is_ok());
        assert!(check_sink_literal(SinkKind::Webhook, "http://10.0.0.1/in").is_err());
    }

    #[test]
    fn written_out_private_addresses_are_refused_and_names_left_to_the_resolver() {
        for refused in [
            "http://127.0.0.1:8080/in",
            "http://[::1]/in",
            "http://169.254.169.254/latest/meta-data",
            "http://10.0.0.5/",
            "http://[::ffff:192.168.0.1]/",
        ] {
            assert_eq!(
                check_literal(refused),
                Err(REFUSED.to_string()),
                "{refused}"
            );
        }
        for allowed in ["https://93.184.216.34/in", "https://siem.example.com/in"] {
            assert_eq!(check_literal(allowed), Ok(()), "{allowed}");
        }
    }

    #[tokio::test]
    async fn a_name_of_a_private_address_is_refused_where_it_is_resolved() {
        let name: Name = "localhost".parse().unwrap();
        let refused = PublicOnly.resolve(name).await.err().map(|e| e.to_string());
        assert_eq!(refused.as_deref(), Some(REFUSED));
    }
}
