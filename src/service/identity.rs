//! Who is calling: the principal ARN in the URI SAN of the client
//! certificate that the TLS layer already verified against the CA.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tonic::transport::CertificateDer;
use tonic::Request;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::error::{KmsError, KmsResult};
use crate::kms::Caller;
use crate::model::Principal;

/// Parsed identities by connection, so the hot path neither parses X.509
/// nor hashes a certificate on every call.
///
/// tonic hands every request of one TLS connection the same
/// `Arc<Vec<CertificateDer>>`, so the cache is keyed by that allocation's
/// address. Each entry holds a clone of the `Arc`: while the entry exists
/// the allocation cannot be freed, so its address cannot be reused by
/// another connection's chain. Bounded: cleared when full (which drops
/// those clones).
#[derive(Default)]
pub struct IdentityCache {
    map: RwLock<HashMap<usize, (Chain, Arc<Principal>), foldhash::fast::RandomState>>,
}

type Chain = Arc<Vec<CertificateDer<'static>>>;

const MAX_CACHED: usize = 4096;

impl IdentityCache {
    /// The caller of `req`, from its TLS session.
    pub fn caller<T>(&self, req: &Request<T>) -> KmsResult<Caller> {
        let missing =
            || KmsError::Unauthenticated("A client certificate is required (mutual TLS)".into());
        let chain = req.peer_certs().ok_or_else(missing)?;
        let principal = self.principal_of(&chain).ok_or_else(missing)??;
        Ok(Caller {
            principal,
            source_ip: req.remote_addr().map(|a| a.ip()),
        })
    }

    /// `None` if the chain is empty.
    fn principal_of(&self, chain: &Chain) -> Option<KmsResult<Arc<Principal>>> {
        let addr = Arc::as_ptr(chain) as usize;
        {
            let map = self.map.read().unwrap_or_else(|p| p.into_inner());
            if let Some((held, p)) = map.get(&addr) {
                // Always true while the entry holds `held`; checked anyway.
                if Arc::ptr_eq(held, chain) {
                    return Some(Ok(Arc::clone(p)));
                }
            }
        }
        let leaf = chain.first()?;
        let p = match principal_from_cert(leaf.as_ref()) {
            Ok(p) => Arc::new(p),
            Err(e) => return Some(Err(e)),
        };
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_CACHED {
            map.clear();
        }
        map.insert(addr, (Arc::clone(chain), Arc::clone(&p)));
        Some(Ok(p))
    }
}

/// The principal named by the one URI SAN of a DER certificate.
pub fn principal_from_cert(der: &[u8]) -> KmsResult<Principal> {
    let bad = |why: &str| KmsError::Unauthenticated(format!("Client certificate rejected: {why}"));
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|_| bad("not a valid X.509 certificate"))?;
    let san = cert
        .subject_alternative_name()
        .map_err(|_| bad("malformed subjectAltName"))?
        .ok_or_else(|| bad("no subjectAltName with a principal ARN"))?;
    let mut uris = san.value.general_names.iter().filter_map(|n| match n {
        GeneralName::URI(u) => Some(*u),
        _ => None,
    });
    let uri = uris
        .next()
        .ok_or_else(|| bad("no URI subjectAltName with a principal ARN"))?;
    // One certificate, one principal: with two URI SANs, which one is the
    // caller would be a matter of order.
    if uris.next().is_some() {
        return Err(bad("more than one URI subjectAltName"));
    }
    Principal::parse(uri).ok_or_else(|| bad("the URI subjectAltName is not an IAM principal ARN"))
}
