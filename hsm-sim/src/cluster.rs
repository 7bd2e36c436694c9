//! The cluster directory that `hsm-sim init` makes and every node starts
//! from: the cluster CA (`ca.pem`, `ca.key`), the cluster key
//! (`cluster.key`) and `cluster.json` (the cluster id and the `kmsuser`
//! password's argon2id hash). See the crate docs for the formats.

use std::fs;
use std::path::{Path, PathBuf};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::fsutil::{create_new_private, create_private_dir_all};
use crate::secret::{Password, Secret32};

/// The CA certificate (PEM): the trust anchor clients verify nodes with.
pub const CA_CERT: &str = "ca.pem";
/// The CA's private key (PEM, 0600): nodes issue their certificates with it.
pub const CA_KEY: &str = "ca.key";
/// The cluster key (32 raw bytes, 0600): wraps key copies between nodes.
pub const CLUSTER_KEY: &str = "cluster.key";
/// Cluster id and password hash (JSON).
pub const CLUSTER_JSON: &str = "cluster.json";

/// The only crypto user.
pub const KMSUSER: &str = "kmsuser";

/// Why a cluster directory could not be made or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The cluster id is not 19–24 characters of `[a-z0-9-]`.
    #[error("invalid cluster id: must be 19 to 24 characters of a-z, 0-9 and '-' (like cluster-1234567abcd)")]
    InvalidClusterId,
    /// The password is not 7–32 characters.
    #[error("invalid kmsuser password: must be 7 to 32 characters")]
    InvalidPassword,
    /// The directory exists and is not empty.
    #[error("{0} already exists and is not empty: refusing to overwrite a cluster directory")]
    Exists(PathBuf),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is malformed.
    #[error("{path}: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Certificate generation failed.
    #[error("certificate: {0}")]
    Cert(#[from] rcgen::Error),
    /// Password hashing failed.
    #[error("password hash: {0}")]
    Hash(String),
    /// The system RNG failed.
    #[error("no randomness available")]
    Rng,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ClusterError + '_ {
    move |source| ClusterError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Whether `id` is a valid cluster id (AWS CloudHSM's length: 19–24
/// characters; lower-case letters, digits and '-').
pub fn valid_cluster_id(id: &str) -> bool {
    (19..=24).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Whether `pw` is a valid `kmsuser` password (AWS KeyStorePassword: 7–32
/// characters).
pub fn valid_password(pw: &str) -> bool {
    (7..=32).contains(&pw.chars().count())
}

/// `cluster.json`.
#[derive(Serialize, Deserialize)]
struct ClusterFile {
    cluster_id: String,
    /// PHC string of the argon2id hash of the `kmsuser` password.
    kmsuser_password_hash: String,
}

/// argon2id with OWASP's minimum parameters (m = 19 MiB, t = 2, p = 1):
/// slow enough to make guessing from a stolen cluster.json costly, fast
/// enough for a test suite.
fn argon2() -> Result<Argon2<'static>, ClusterError> {
    let params =
        Params::new(19 * 1024, 2, 1, None).map_err(|e| ClusterError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password (argon2id, random 16-byte salt) as a PHC string.
pub fn hash_password(pw: &Password) -> Result<String, ClusterError> {
    let mut salt = [0u8; 16];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| ClusterError::Rng)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| ClusterError::Hash(e.to_string()))?;
    argon2()?
        .hash_password(pw.expose_secret().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ClusterError::Hash(e.to_string()))
}

/// Whether `pw` matches the PHC hash (the comparison is argon2's own,
/// constant-time). Slow: call it off the async runtime.
pub fn verify_password(pw: &Password, phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(pw.expose_secret().as_bytes(), &hash)
        .is_ok()
}

/// `hsm-sim init`: creates the cluster directory (mode 0700).
pub fn init(dir: &Path, cluster_id: &str, password: &Password) -> Result<(), ClusterError> {
    if !valid_cluster_id(cluster_id) {
        return Err(ClusterError::InvalidClusterId);
    }
    if !valid_password(password.expose_secret()) {
        return Err(ClusterError::InvalidPassword);
    }
    if dir.exists() {
        let mut entries = fs::read_dir(dir).map_err(io(dir))?;
        if entries.next().is_some() {
            return Err(ClusterError::Exists(dir.to_owned()));
        }
    }
    create_private_dir_all(dir).map_err(io(dir))?;
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
    }

    let ca_key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        format!("hsm-sim cluster {cluster_id} CA"),
    );
    params.distinguished_name = dn;
    // Only node certificates below it.
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = params.self_signed(&ca_key)?;
    let cluster_key = Secret32::random().map_err(|_| ClusterError::Rng)?;
    let json = serde_json::to_vec_pretty(&ClusterFile {
        cluster_id: cluster_id.to_owned(),
        kmsuser_password_hash: hash_password(password)?,
    })
    .map_err(|e| ClusterError::Hash(e.to_string()))?;

    let key_pem = Zeroizing::new(ca_key.serialize_pem());
    let p = dir.join(CA_KEY);
    create_new_private(&p, key_pem.as_bytes()).map_err(io(&p))?;
    let p = dir.join(CLUSTER_KEY);
    create_new_private(&p, cluster_key.expose_secret()).map_err(io(&p))?;
    let p = dir.join(CLUSTER_JSON);
    create_new_private(&p, &json).map_err(io(&p))?;
    // The CA certificate last: its presence marks the directory complete.
    let p = dir.join(CA_CERT);
    create_new_private(&p, ca_cert.pem().as_bytes()).map_err(io(&p))?;
    Ok(())
}

/// A loaded cluster directory.
pub struct ClusterDir {
    /// The cluster id.
    pub cluster_id: String,
    /// The `kmsuser` password hash (PHC).
    pub password_hash: String,
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// The CA private key, PEM.
    pub ca_key_pem: Zeroizing<String>,
    /// The cluster key.
    pub cluster_key: Secret32,
}

impl ClusterDir {
    /// Reads a directory `init` made.
    pub fn load(dir: &Path) -> Result<Self, ClusterError> {
        let read = |name: &str| {
            let p = dir.join(name);
            fs::read(&p).map_err(|source| ClusterError::Io { path: p, source })
        };
        let ca_pem = String::from_utf8(read(CA_CERT)?).map_err(|_| ClusterError::Malformed {
            path: dir.join(CA_CERT),
            reason: "not UTF-8".into(),
        })?;
        let ca_key_pem = Zeroizing::new(read(CA_KEY)?);
        let ca_key_pem = Zeroizing::new(
            std::str::from_utf8(&ca_key_pem)
                .map_err(|_| ClusterError::Malformed {
                    path: dir.join(CA_KEY),
                    reason: "not UTF-8".into(),
                })?
                .to_owned(),
        );
        let raw = Zeroizing::new(read(CLUSTER_KEY)?);
        let cluster_key = Secret32::from_slice(&raw).ok_or_else(|| ClusterError::Malformed {
            path: dir.join(CLUSTER_KEY),
            reason: "not 32 bytes".into(),
        })?;
        let f: ClusterFile =
            serde_json::from_slice(&read(CLUSTER_JSON)?).map_err(|e| ClusterError::Malformed {
                path: dir.join(CLUSTER_JSON),
                reason: e.to_string(),
            })?;
        if !valid_cluster_id(&f.cluster_id) {
            return Err(ClusterError::InvalidClusterId);
        }
        Ok(Self {
            cluster_id: f.cluster_id,
            password_hash: f.kmsuser_password_hash,
            ca_pem,
            ca_key_pem,
            cluster_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_id_and_password_rules() {
        assert!(valid_cluster_id("cluster-1234567abcd"));
        assert!(valid_cluster_id("cluster-1234567abcdefgh"));
        assert!(!valid_cluster_id("cluster-123456"));
        assert!(!valid_cluster_id("cluster-1234567ABCD"));
        assert!(!valid_cluster_id("cluster-1234567abcdefghij"));
        assert!(!valid_cluster_id("cluster_1234567abcd"));
        assert!(valid_password("1234567"));
        assert!(!valid_password("123456"));
        assert!(valid_password(&"x".repeat(32)));
        assert!(!valid_password(&"x".repeat(33)));
    }

    #[test]
    fn hash_verifies_only_the_right_password() {
        let h = hash_password(&Password::new("right-pass".into())).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(!h.contains("right-pass"));
        assert!(verify_password(&Password::new("right-pass".into()), &h));
        assert!(!verify_password(&Password::new("wrong-pass".into()), &h));
        assert!(!verify_password(
            &Password::new("right-pass".into()),
            "garbage"
        ));
    }
}
