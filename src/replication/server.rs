//! The `replication.v1.Replication` service, served only on the
//! replication listener. Every RPC first establishes which Region is
//! calling, from the client certificate the TLS layer verified against
//! `--peer-ca`: its one URI SAN must be `spiffe://kmsd/region/<R>`, R a
//! configured peer, and the request's `from_region` must be R (a peer
//! speaks only for itself). No certificate: UNAUTHENTICATED; any other
//! identity (an IAM principal's certificate, another Region's):
//! PERMISSION_DENIED `AccessDeniedException`. Then the wire request is
//! converted (`convert.rs`) and the core answers; core errors become
//! statuses exactly as on the KMS door (`service::status`).

use std::collections::BTreeSet;
use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::convert;
use super::tls::region_from_cert;
use crate::error::KmsError;
use crate::kms::Kms;
use crate::proto::replication::v1 as pb;
use crate::proto::replication::v1::replication_server::Replication;
use crate::service::status::to_status;

/// Most entries one Deliver may carry (senders send at most 64): bounds
/// the work one request can ask of the receiver.
pub const MAX_DELIVER_ENTRIES: usize = 1024;

/// The replication service over a core.
#[derive(Clone)]
pub struct ReplicationService {
    kms: Kms,
    peers: Arc<BTreeSet<String>>,
}

impl ReplicationService {
    /// The service of `kms`, answering the Regions `peers` only.
    pub fn new(kms: Kms, peers: impl IntoIterator<Item = String>) -> Self {
        Self {
            kms,
            peers: Arc::new(peers.into_iter().collect()),
        }
    }

    /// The calling Region, checked against the certificate, the peer list
    /// and the request's `from_region`.
    fn peer_region<T>(&self, req: &Request<T>, from_region: &str) -> Result<String, Status> {
        let leaf = req
            .peer_certs()
            .and_then(|chain| chain.first().cloned())
            .ok_or_else(|| {
                to_status(KmsError::Unauthenticated(
                    "A peer Region certificate is required (mutual TLS)".into(),
                ))
            })?;
        let denied = |why: String| to_status(KmsError::AccessDenied(why));
        let region = region_from_cert(leaf.as_ref()).map_err(|e| {
            denied(format!(
                "Only peer Regions may call the replication service: the client certificate is refused: {e}"
            ))
        })?;
        if region != from_region {
            return Err(denied(format!(
                "The {region} Region's certificate cannot speak for the Region {from_region:?}"
            )));
        }
        if !self.peers.contains(&region) {
            return Err(denied(format!(
                "{region} is not a peer Region of this kmsd ({})",
                self.kms.region()
            )));
        }
        Ok(region)
    }
}

type Rpc<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl Replication for ReplicationService {
    async fn get_region_key(
        &self,
        req: Request<pb::GetRegionKeyRequest>,
    ) -> Rpc<pb::GetRegionKeyResponse> {
        self.peer_region(&req, &req.get_ref().from_region)?;
        let key = self.kms.region_public_key().await.map_err(to_status)?;
        Ok(Response::new(pb::GetRegionKeyResponse {
            region: self.kms.region().to_owned(),
            public_key: key.to_vec(),
        }))
    }

    async fn check_access(
        &self,
        req: Request<pb::CheckAccessRequest>,
    ) -> Rpc<pb::CheckAccessResponse> {
        let region = self.peer_region(&req, &req.get_ref().from_region)?;
        let check = convert::access_check_from_pb(req.into_inner()).map_err(to_status)?;
        self.kms
            .check_replication_access(&region, check)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::CheckAccessResponse {}))
    }

    async fn deliver(&self, req: Request<pb::DeliverRequest>) -> Rpc<pb::DeliverResponse> {
        let region = self.peer_region(&req, &req.get_ref().from_region)?;
        let entries = req.into_inner().entries;
        if entries.len() > MAX_DELIVER_ENTRIES {
            return Err(to_status(KmsError::Validation(format!(
                "1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have at most {MAX_DELIVER_ENTRIES} elements"
            ))));
        }
        let entries = entries
            .into_iter()
            .map(convert::envelope_from_pb)
            .collect::<Result<Vec<_>, _>>()
            .map_err(to_status)?;
        let applied_through = self
            .kms
            .apply_replicated(&region, entries)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::DeliverResponse { applied_through }))
    }
}
