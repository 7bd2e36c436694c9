//! Node certificates: issued by the cluster CA at each start, with the
//! listen IP (and `localhost`) as SANs for clients to verify, and the node's
//! identity as a URI SAN `hsm-sim://CLUSTER_ID/node/NODE_ID` for peers.

use std::net::IpAddr;

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use zeroize::Zeroizing;

/// A node's certificate and key, PEM.
pub struct NodeIdentity {
    /// The certificate (issued by the cluster CA).
    pub cert_pem: String,
    /// Its private key.
    pub key_pem: Zeroizing<String>,
}

/// The URI SAN naming a node.
pub fn node_uri(cluster_id: &str, node_id: &str) -> String {
    format!("hsm-sim://{cluster_id}/node/{node_id}")
}

/// Whether `id` is a usable node id (1–32 of `[A-Za-z0-9_-]`; it goes into
/// a URI).
pub fn valid_node_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Issues this node's certificate (fresh key pair each start).
pub fn issue_node_cert(
    ca_pem: &str,
    ca_key_pem: &str,
    cluster_id: &str,
    node_id: &str,
    ip: IpAddr,
) -> Result<NodeIdentity, rcgen::Error> {
    let ca_key = KeyPair::from_pem(ca_key_pem)?;
    let issuer = Issuer::from_ca_cert_pem(ca_pem, &ca_key)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, format!("hsm-sim node {node_id}"));
    params.distinguished_name = dn;
    params.subject_alt_names = vec![
        SanType::IpAddress(ip),
        SanType::DnsName("localhost".try_into()?),
        SanType::URI(node_uri(cluster_id, node_id).try_into()?),
    ];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    // Server auth for clients and peers; client auth for its own calls to
    // peers.
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = params.signed_by(&key, &issuer)?;
    Ok(NodeIdentity {
        cert_pem: cert.pem(),
        key_pem: Zeroizing::new(key.serialize_pem()),
    })
}

/// The node id a (chain-verified) peer certificate names for `cluster_id`,
/// if any.
pub fn peer_node_id(cert_der: &[u8], cluster_id: &str) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
    let prefix = format!("hsm-sim://{cluster_id}/node/");
    let san = cert.subject_alternative_name().ok()??;
    san.value.general_names.iter().find_map(|n| match n {
        x509_parser::extensions::GeneralName::URI(u) => u
            .strip_prefix(&prefix)
            .filter(|id| valid_node_id(id))
            .map(str::to_owned),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_cert_carries_its_identity() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("c");
        crate::cluster::init(
            &dir,
            "cluster-1234567abcd",
            &crate::secret::Password::new("password1".into()),
        )
        .unwrap();
        let c = crate::cluster::ClusterDir::load(&dir).unwrap();
        let id = issue_node_cert(
            &c.ca_pem,
            &c.ca_key_pem,
            &c.cluster_id,
            "7",
            "127.0.0.1".parse().unwrap(),
        )
        .unwrap();
        let der = x509_parser::pem::parse_x509_pem(id.cert_pem.as_bytes())
            .unwrap()
            .1
            .contents;
        assert_eq!(
            peer_node_id(&der, "cluster-1234567abcd").as_deref(),
            Some("7")
        );
        assert_eq!(peer_node_id(&der, "cluster-other000000000"), None);
    }
}
