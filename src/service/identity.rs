//! Who is calling: the principal ARN in the URI SAN of the client
//! certificate that the TLS layer already verified against the CA.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tonic::Request;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::error::{KmsError, KmsResult};
use crate::kms::Caller;
use crate::model::Principal;

/// Parsed identities by certificate, so the hot path does not parse X.509
/// on every call. Bounded: cleared when full.
#[derive(Default)]
pub struct IdentityCache {
    map: Mutex<HashMap<Vec<u8>, Arc<Principal>>>,
}

const MAX_CACHED: usize = 4096;

impl IdentityCache {
    /// The caller of `req`, from its TLS session.
    pub fn caller<T>(&self, req: &Request<T>) -> KmsResult<Caller> {
        let certs = req.peer_certs().ok_or_else(|| {
            KmsError::Unauthenticated("A client certificate is required (mutual TLS)".into())
        })?;
        let leaf = certs.first().ok_or_else(|| {
            KmsError::Unauthenticated("A client certificate is required (mutual TLS)".into())
        })?;
        let principal = self.principal_of(leaf.as_ref())?;
        Ok(Caller {
            principal: (*principal).clone(),
            source_ip: req.remote_addr().map(|a| a.ip()),
        })
    }

    fn principal_of(&self, der: &[u8]) -> KmsResult<Arc<Principal>> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = map.get(der) {
            return Ok(Arc::clone(p));
        }
        let p = Arc::new(principal_from_cert(der)?);
        if map.len() >= MAX_CACHED {
            map.clear();
        }
        map.insert(der.to_vec(), Arc::clone(&p));
        Ok(p)
    }
}

/// The principal named by the first URI SAN of a DER certificate.
pub fn principal_from_cert(der: &[u8]) -> KmsResult<Principal> {
    let bad = |why: &str| KmsError::Unauthenticated(format!("Client certificate rejected: {why}"));
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|_| bad("not a valid X.509 certificate"))?;
    let san = cert
        .subject_alternative_name()
        .map_err(|_| bad("malformed subjectAltName"))?
        .ok_or_else(|| bad("no subjectAltName with a principal ARN"))?;
    let uri = san
        .value
        .general_names
        .iter()
        .find_map(|n| match n {
            GeneralName::URI(u) => Some(*u),
            _ => None,
        })
        .ok_or_else(|| bad("no URI subjectAltName with a principal ARN"))?;
    Principal::parse(uri).ok_or_else(|| bad("the URI subjectAltName is not an IAM principal ARN"))
}
