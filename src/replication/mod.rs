//! Region-to-Region replication on the wire (docs/multi-region.md): the
//! tonic `replication.v1.Replication` service a kmsd serves on its
//! replication listener (`server.rs`), the [`PeerTransport`] the core
//! delivers through (`client.rs`), the peer identity checks of both
//! directions (`tls.rs`) and the proto ⇄ core conversions (`convert.rs`).
//!
//! Outside the core on purpose: `crate::kms::replication` owns what is
//! replicated and when, and knows no wire format; this module owns how.
//!
//! [`PeerTransport`]: crate::kms::replication::PeerTransport

pub mod client;
pub mod convert;
pub mod server;
pub mod tls;

use std::collections::BTreeMap;

use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::CertificateDer;

use crate::model::multi_region::is_valid_region;
use crate::server::TlsPem;

/// How this kmsd replicates (`kmsd serve --peer … --replication-listen …
/// --peer-cert … --peer-key … --peer-ca …`). The listener itself is passed
/// to `KmsServer::serve_with_replication` (tests bind `127.0.0.1:0`).
#[derive(Clone, Debug)]
pub struct ReplicationConfig {
    /// The peer Regions and their replication URLs (`https://HOST:PORT`).
    pub peers: BTreeMap<String, String>,
    /// This Region's peer certificate and key (`peer.pem`, `peer.key`:
    /// the replication listener's server certificate and the client
    /// certificate it dials peers with), and the CA peers' certificates
    /// must chain to (`client_ca`, from `--peer-ca`).
    pub tls: TlsPem,
}

impl ReplicationConfig {
    /// Checks the configuration for a kmsd serving `own_region`: every
    /// peer a valid Region other than this one with an `https://` URL, and
    /// the peer certificate naming `own_region` (a kmsd presenting another
    /// Region's identity would be refused by every peer).
    pub fn validate(&self, own_region: &str) -> Result<(), String> {
        if self.peers.is_empty() {
            return Err("no --peer Region is configured".into());
        }
        for (region, url) in &self.peers {
            check_peer(own_region, region, url)?;
        }
        let leaf = CertificateDer::pem_slice_iter(self.tls.cert.as_bytes())
            .next()
            .ok_or("--peer-cert: no certificate in the file")?
            .map_err(|e| format!("--peer-cert: {e}"))?;
        match tls::region_from_cert(leaf.as_ref()) {
            Ok(r) if r == own_region => Ok(()),
            Ok(r) => Err(format!(
                "--peer-cert names the Region {r}, but this kmsd serves {own_region} \
                 (issue one with `kmsd certs issue-peer --region {own_region}`)"
            )),
            Err(e) => Err(format!("--peer-cert is not a Region certificate: {e}")),
        }
    }
}

/// One `--peer REGION=URL` value, split and checked against `own_region`.
pub fn parse_peer_flag(own_region: &str, value: &str) -> Result<(String, String), String> {
    let (region, url) = value
        .split_once('=')
        .ok_or_else(|| format!("--peer {value:?}: expected REGION=URL"))?;
    check_peer(own_region, region, url)?;
    Ok((region.to_owned(), url.to_owned()))
}

fn check_peer(own_region: &str, region: &str, url: &str) -> Result<(), String> {
    if !is_valid_region(region) {
        return Err(format!("--peer {region}: not a valid Region name"));
    }
    if region == own_region {
        return Err(format!(
            "--peer {region}: that is this kmsd's own Region (--region)"
        ));
    }
    tls::parse_peer_url(url).map_err(|e| format!("--peer {region}: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_flags() {
        let ok = parse_peer_flag("us-east-1", "us-west-2=https://127.0.0.1:7201").expect("ok");
        assert_eq!(ok, ("us-west-2".into(), "https://127.0.0.1:7201".into()));
        assert!(parse_peer_flag("us-east-1", "eu-west-1=https://localhost").is_ok());
        for bad in [
            "us-west-2",
            "us-east-1=https://127.0.0.1:7101",
            "US-WEST-2=https://127.0.0.1:7201",
            "us-west-2=http://127.0.0.1:7201",
            "us-west-2=https://127.0.0.1:7201/path",
            "us-west-2=https://user@127.0.0.1:7201",
            "us-west-2=127.0.0.1:7201",
            "=https://127.0.0.1:7201",
        ] {
            assert!(parse_peer_flag("us-east-1", bad).is_err(), "{bad}");
        }
    }
}
