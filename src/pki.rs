//! The dev PKI: a CA, a server certificate for localhost / 127.0.0.1, and
//! client certificates whose URI SAN is the caller's principal ARN.
//!
//! `kmsd serve --dev` creates these under `DATA/certs/` on first start;
//! `kmsd certs issue-client` signs more client certificates with the same CA.
//! Private keys are written 0600, directories 0700.
//!
//! The dev CA is constrained, so that its key (a file in the data dir) can
//! sign nothing but what dev mode needs: it is a CA with path length 0 (no
//! intermediate CAs under it), its key usages are keyCertSign and cRLSign
//! only, and its name constraints permit only the names `localhost`,
//! `127.0.0.1` and `::1` for servers. (Client certificates name their
//! principal in a URI SAN; X.509 URI constraints are not enforced by the
//! rustls verifier, which rejects every certificate under a CA carrying
//! one, so URIs are left unconstrained.)

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    NameConstraints, SanType,
};

use tokio_rustls::rustls::pki_types::pem::PemObject;

use crate::files::{create_private_dir_all, write_private};

/// The principal of the dev client certificate.
pub const DEV_PRINCIPAL: &str = "arn:aws:iam::111122223333:root";

/// A PKI failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Certificate generation failed.
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// The principal is not an IAM principal ARN.
    #[error("not an IAM principal ARN: {0}")]
    BadPrincipal(String),
    /// A certificate file to revoke could not be read.
    #[error("not a PEM certificate: {0}")]
    BadCertificate(String),
    /// Not a Region name as AWS spells them (`us-east-1`).
    #[error("not a valid Region name: {0:?}")]
    BadRegion(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PkiError + '_ {
    move |source| PkiError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Paths of the dev PKI files under a data dir.
#[derive(Debug, Clone)]
pub struct DevPkiPaths {
    /// `certs/`.
    pub dir: PathBuf,
    /// CA certificate.
    pub ca_cert: PathBuf,
    /// CA private key.
    pub ca_key: PathBuf,
    /// Server certificate.
    pub server_cert: PathBuf,
    /// Server private key.
    pub server_key: PathBuf,
    /// Dev client certificate.
    pub client_cert: PathBuf,
    /// Dev client private key.
    pub client_key: PathBuf,
}

impl DevPkiPaths {
    /// The paths under `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        let dir = data_dir.join("certs");
        Self {
            ca_cert: dir.join("ca.pem"),
            ca_key: dir.join("ca.key"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client.key"),
            dir,
        }
    }
}

/// Creates the dev CA, server and client certificates if the CA is missing.
pub fn ensure_dev_pki(data_dir: &Path) -> Result<DevPkiPaths, PkiError> {
    let p = DevPkiPaths::new(data_dir);
    if p.ca_cert.exists() {
        return Ok(p);
    }
    create_private_dir_all(&p.dir).map_err(io(&p.dir))?;

    let ca_key = KeyPair::generate()?;
    let ca_params = dev_ca_params();
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, &ca_key);

    let server_key = KeyPair::generate()?;
    let mut server_params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    server_params.distinguished_name = dn("kmsd");
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server_params.signed_by(&server_key, &issuer)?;

    let (client_pem, client_key_pem) = client_cert(&issuer, DEV_PRINCIPAL)?;

    write_private(&p.ca_key, ca_key.serialize_pem().as_bytes()).map_err(io(&p.ca_key))?;
    write_private(&p.server_key, server_key.serialize_pem().as_bytes())
        .map_err(io(&p.server_key))?;
    write_private(&p.server_cert, server_cert.pem().as_bytes()).map_err(io(&p.server_cert))?;
    write_private(&p.client_key, client_key_pem.as_bytes()).map_err(io(&p.client_key))?;
    write_private(&p.client_cert, client_pem.as_bytes()).map_err(io(&p.client_cert))?;
    // The CA certificate last: its presence marks the PKI as complete.
    write_private(&p.ca_cert, ca_cert.pem().as_bytes()).map_err(io(&p.ca_cert))?;
    Ok(p)
}

/// Writes to `out` (replacing it) a CRL signed by the dev CA of `data_dir`
/// that revokes the certificates in the PEM files `revoked`, for
/// `kmsd serve --client-crl`. A CRL lists every revoked certificate, so
/// pass all of them each time. Its number is the current Unix time, so a
/// later CRL supersedes an earlier one.
pub fn write_dev_crl(data_dir: &Path, revoked: &[PathBuf], out: &Path) -> Result<(), PkiError> {
    let p = DevPkiPaths::new(data_dir);
    let ca_pem = std::fs::read_to_string(&p.ca_cert).map_err(io(&p.ca_cert))?;
    let ca_key_pem = std::fs::read_to_string(&p.ca_key).map_err(io(&p.ca_key))?;
    let ca_key = KeyPair::from_pem(&ca_key_pem)?;
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, &ca_key)?;
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, m, d) =
        crate::clock::civil_from_days(i64::try_from(now_s / 86_400).unwrap_or(i64::MAX));
    let this_update = rcgen::date_time_ymd(
        i32::try_from(y).map_err(|_| PkiError::BadPrincipal("date".into()))?,
        u8::try_from(m).unwrap_or(1),
        u8::try_from(d).unwrap_or(1),
    );
    let mut revoked_certs = Vec::new();
    for path in revoked {
        let pem_text = std::fs::read_to_string(path).map_err(io(path))?;
        let der =
            tokio_rustls::rustls::pki_types::CertificateDer::from_pem_slice(pem_text.as_bytes())
                .map_err(|e| PkiError::BadCertificate(format!("{}: {e}", path.display())))?;
        let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
            .map_err(|e| PkiError::BadCertificate(format!("{}: {e}", path.display())))?;
        revoked_certs.push(rcgen::RevokedCertParams {
            serial_number: rcgen::SerialNumber::from_slice(cert.raw_serial()),
            revocation_time: this_update,
            reason_code: Some(rcgen::RevocationReason::KeyCompromise),
            invalidity_date: None,
        });
    }
    let params = rcgen::CertificateRevocationListParams {
        this_update,
        // The CRL's own validity is not enforced by kmsd; a century keeps
        // other verifiers from refusing it as stale.
        next_update: rcgen::date_time_ymd(
            i32::try_from(y.saturating_add(100))
                .unwrap_or(9999)
                .min(9999),
            1,
            1,
        ),
        crl_number: rcgen::SerialNumber::from(now_s),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    };
    let crl = params.signed_by(&issuer)?;
    crate::files::write_public(out, crl.pem()?.as_bytes()).map_err(io(out))
}

/// Issues a client certificate for `principal` signed by the dev CA of
/// `data_dir`, written to `out_dir/client.pem` and `out_dir/client.key`.
pub fn issue_client(data_dir: &Path, principal: &str, out_dir: &Path) -> Result<(), PkiError> {
    if crate::model::Principal::parse(principal).is_none() {
        return Err(PkiError::BadPrincipal(principal.to_owned()));
    }
    let p = DevPkiPaths::new(data_dir);
    let ca_pem = std::fs::read_to_string(&p.ca_cert).map_err(io(&p.ca_cert))?;
    let ca_key_pem = std::fs::read_to_string(&p.ca_key).map_err(io(&p.ca_key))?;
    let ca_key = KeyPair::from_pem(&ca_key_pem)?;
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, &ca_key)?;
    let (cert, key) = client_cert(&issuer, principal)?;
    create_private_dir_all(out_dir).map_err(io(out_dir))?;
    let cert_path = out_dir.join("client.pem");
    let key_path = out_dir.join("client.key");
    for path in [&cert_path, &key_path] {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(path)(e)),
            _ => {}
        }
    }
    write_private(&key_path, key.as_bytes()).map_err(io(&key_path))?;
    write_private(&cert_path, cert.as_bytes()).map_err(io(&cert_path))?;
    Ok(())
}

/// The URI SAN that names a Region's kmsd (its replication identity):
/// this prefix and the Region name (docs/multi-region.md).
pub const REGION_URI_PREFIX: &str = "spiffe://kmsd/region/";

/// Issues the replication certificate of `region` signed by the dev CA of
/// `data_dir`, written to `out_dir/peer.pem` and `out_dir/peer.key`
/// (`kmsd certs issue-peer`). One certificate serves both directions: the
/// server certificate of the replication listener and the client
/// certificate kmsd dials peers with, so it carries both EKUs. Its URI SAN
/// `spiffe://kmsd/region/<region>` is the Region identity both sides
/// check; the IP SAN 127.0.0.1 and DNS SAN localhost are the names the dev
/// CA may vouch for (and that a dialer verifies as the host).
pub fn issue_peer(data_dir: &Path, region: &str, out_dir: &Path) -> Result<(), PkiError> {
    if !crate::model::multi_region::is_valid_region(region) {
        return Err(PkiError::BadRegion(region.to_owned()));
    }
    let p = DevPkiPaths::new(data_dir);
    let ca_pem = std::fs::read_to_string(&p.ca_cert).map_err(io(&p.ca_cert))?;
    let ca_key_pem = std::fs::read_to_string(&p.ca_key).map_err(io(&p.ca_key))?;
    let ca_key = KeyPair::from_pem(&ca_key_pem)?;
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, &ca_key)?;

    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(&format!("kmsd region {region}"));
    params.subject_alt_names = vec![
        SanType::URI(format!("{REGION_URI_PREFIX}{region}").try_into()?),
        SanType::IpAddress(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)),
        SanType::DnsName("localhost".try_into()?),
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = params.signed_by(&key, &issuer)?;

    create_private_dir_all(out_dir).map_err(io(out_dir))?;
    let cert_path = out_dir.join("peer.pem");
    let key_path = out_dir.join("peer.key");
    for path in [&cert_path, &key_path] {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(path)(e)),
            _ => {}
        }
    }
    write_private(&key_path, key.serialize_pem().as_bytes()).map_err(io(&key_path))?;
    write_private(&cert_path, cert.pem().as_bytes()).map_err(io(&cert_path))?;
    Ok(())
}

/// The dev CA's certificate parameters: see the module docs for the
/// constraints and why.
fn dev_ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = dn("kmsd dev CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.name_constraints = Some(NameConstraints {
        permitted_subtrees: vec![
            GeneralSubtree::DnsName("localhost".to_owned()),
            GeneralSubtree::IpAddress(CidrSubnet::V4([127, 0, 0, 1], [255, 255, 255, 255])),
            GeneralSubtree::IpAddress(CidrSubnet::V6(
                std::net::Ipv6Addr::LOCALHOST.octets(),
                [0xff; 16],
            )),
        ],
        excluded_subtrees: Vec::new(),
    });
    params
}

fn client_cert(
    issuer: &Issuer<'_, &KeyPair>,
    principal: &str,
) -> Result<(String, String), PkiError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(principal);
    params.subject_alt_names = vec![SanType::URI(principal.try_into()?)];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn dn(cn: &str) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    d.push(DnType::CommonName, cn);
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::identity::principal_from_cert;

    // Minimal PEM decoding for the test: base64 between the armour lines.
    fn der_of(pem_text: &str) -> Vec<u8> {
        use base64::Engine;
        let b64: String = pem_text
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("base64")
    }

    #[test]
    fn dev_pki_client_cert_names_the_dev_principal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = ensure_dev_pki(dir.path()).expect("pki");
        let pem_text = std::fs::read_to_string(&p.client_cert).expect("read");
        let principal = principal_from_cert(&der_of(&pem_text)).expect("principal");
        assert_eq!(principal.arn(), DEV_PRINCIPAL);

        let out = dir.path().join("alice");
        issue_client(dir.path(), "arn:aws:iam::444455556666:user/alice", &out).expect("issue");
        let pem_text = std::fs::read_to_string(out.join("client.pem")).expect("read");
        let principal = principal_from_cert(&der_of(&pem_text)).expect("principal");
        assert_eq!(principal.account(), "444455556666");
        assert!(issue_client(dir.path(), "not-an-arn", &out).is_err());
    }

    #[test]
    fn peer_certificates_name_their_region_and_serve_both_ways() {
        use x509_parser::extensions::GeneralName;
        let dir = tempfile::tempdir().expect("tempdir");
        ensure_dev_pki(dir.path()).expect("pki");
        let out = dir.path().join("peer");
        issue_peer(dir.path(), "us-west-2", &out).expect("issue");
        let pem_text = std::fs::read_to_string(out.join("peer.pem")).expect("read");
        assert!(out.join("peer.key").exists());
        let der = der_of(&pem_text);
        let (_, cert) = x509_parser::parse_x509_certificate(&der).expect("x509");
        let san = cert
            .subject_alternative_name()
            .expect("san")
            .expect("present");
        let names: Vec<String> = san
            .value
            .general_names
            .iter()
            .map(|n| match n {
                GeneralName::URI(u) => format!("uri:{u}"),
                GeneralName::DNSName(d) => format!("dns:{d}"),
                GeneralName::IPAddress(ip) => format!("ip:{ip:?}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            names,
            [
                "uri:spiffe://kmsd/region/us-west-2",
                "ip:[127, 0, 0, 1]",
                "dns:localhost"
            ]
        );
        let eku = cert.extended_key_usage().expect("eku").expect("present");
        assert!(eku.value.server_auth && eku.value.client_auth);
        // Signed by the dev CA: its issuer is the CA's subject (the
        // handshake test in replication::tls verifies the signature chain).
        let ca_text = std::fs::read_to_string(DevPkiPaths::new(dir.path()).ca_cert).expect("ca");
        let ca_der = der_of(&ca_text);
        let (_, ca) = x509_parser::parse_x509_certificate(&ca_der).expect("ca x509");
        assert_eq!(cert.issuer(), ca.subject());
        // Not an IAM principal: the KMS door refuses it.
        assert!(principal_from_cert(&der).is_err());
        for bad in [
            "US-WEST-2",
            "us-west-2/x",
            "",
            "arn:aws:iam::111122223333:root",
        ] {
            assert!(matches!(
                issue_peer(dir.path(), bad, &out),
                Err(PkiError::BadRegion(_))
            ));
        }
    }
}
