//! The gRPC services: `Hsm` for crypto users (authenticated by login) and
//! `Cluster` for peer nodes (authenticated by a client certificate from
//! the cluster CA). They convert messages and map [`HsmError`] to gRPC
//! statuses; [`crate::node`] decides.

use std::sync::Arc;

use kms_proto::hsm::v1::cluster_server::Cluster;
use kms_proto::hsm::v1::hsm_server::Hsm;
use kms_proto::hsm::v1::{
    batch_op, BatchRequest, BatchResponse, BatchResult, ClusterStatusRequest,
    ClusterStatusResponse, DecryptRequest, DecryptResponse, DestroyKeyRequest, DestroyKeyResponse,
    EncryptRequest, EncryptResponse, FindKeysRequest, FindKeysResponse, GenerateKeyRequest,
    GenerateKeyResponse, LoginRequest, LoginResponse, LogoutRequest, LogoutResponse,
    ReplicateRequest, ReplicateResponse, SnapshotRequest, SnapshotResponse,
};
use tonic::{Request, Response, Status};
use zeroize::Zeroize;

use crate::node::{HsmError, Node};
use crate::secret::Password;
use crate::tls::peer_node_id;

impl From<HsmError> for Status {
    fn from(e: HsmError) -> Self {
        let msg = e.to_string();
        match e {
            HsmError::Unauthenticated(_) => Status::unauthenticated(msg),
            HsmError::Locked { .. } | HsmError::NotAPeer(_) => Status::permission_denied(msg),
            HsmError::NotFound => Status::not_found(msg),
            HsmError::InvalidArgument(_) | HsmError::DecryptFailed => Status::invalid_argument(msg),
            HsmError::Insufficient(_) => Status::unavailable(msg),
            HsmError::Internal(_) => {
                tracing::error!("{msg}");
                Status::internal("internal error")
            }
        }
    }
}

/// Most operations one `Batch` call may carry.
pub const MAX_BATCH_OPS: usize = 1024;

/// The result of one operation of a batch: its output, or its own failure
/// as a status code. A bad session is the whole call's failure.
fn batch_result<T: AsRef<[u8]>>(res: Result<T, HsmError>) -> Result<BatchResult, Status> {
    let code = match res {
        Ok(out) => {
            return Ok(BatchResult {
                code: tonic::Code::Ok as i32,
                output: out.as_ref().to_vec(),
            })
        }
        Err(e @ HsmError::Unauthenticated(_)) => return Err(e.into()),
        Err(HsmError::NotFound) => tonic::Code::NotFound,
        Err(HsmError::InvalidArgument(_) | HsmError::DecryptFailed) => tonic::Code::InvalidArgument,
        Err(e) => {
            tracing::error!("batch operation failed: {e}");
            tonic::Code::Internal
        }
    };
    Ok(BatchResult {
        code: code as i32,
        output: Vec::new(),
    })
}

/// The `Hsm` service.
pub struct HsmService(pub Arc<Node>);

#[tonic::async_trait]
impl Hsm for HsmService {
    async fn login(&self, req: Request<LoginRequest>) -> Result<Response<LoginResponse>, Status> {
        let mut r = req.into_inner();
        let password = Password::new(std::mem::take(&mut r.password));
        let session = self.0.login(&r.username, password).await?;
        Ok(Response::new(LoginResponse { session }))
    }

    async fn logout(
        &self,
        req: Request<LogoutRequest>,
    ) -> Result<Response<LogoutResponse>, Status> {
        let mut r = req.into_inner();
        let res = self.0.logout(&r.session);
        r.session.zeroize();
        res?;
        Ok(Response::new(LogoutResponse {}))
    }

    async fn generate_key(
        &self,
        req: Request<GenerateKeyRequest>,
    ) -> Result<Response<GenerateKeyResponse>, Status> {
        let r = req.into_inner();
        let key = self.0.generate_key(&r.session, r.label).await?;
        Ok(Response::new(GenerateKeyResponse { key: Some(key) }))
    }

    async fn encrypt(
        &self,
        req: Request<EncryptRequest>,
    ) -> Result<Response<EncryptResponse>, Status> {
        let mut r = req.into_inner();
        let res = self.0.encrypt(&r.session, &r.handle, &r.plaintext, &r.aad);
        r.plaintext.zeroize();
        Ok(Response::new(EncryptResponse { ciphertext: res? }))
    }

    async fn decrypt(
        &self,
        req: Request<DecryptRequest>,
    ) -> Result<Response<DecryptResponse>, Status> {
        let r = req.into_inner();
        let pt = self
            .0
            .decrypt(&r.session, &r.handle, &r.ciphertext, &r.aad)?;
        // The response needs a plain Vec; the wiping buffer goes at once.
        Ok(Response::new(DecryptResponse {
            plaintext: pt.to_vec(),
        }))
    }

    async fn batch(&self, req: Request<BatchRequest>) -> Result<Response<BatchResponse>, Status> {
        let mut r = req.into_inner();
        if r.ops.len() > MAX_BATCH_OPS {
            return Err(Status::invalid_argument(format!(
                "a batch carries at most {MAX_BATCH_OPS} operations"
            )));
        }
        let mut results = Vec::with_capacity(r.ops.len());
        for op in &mut r.ops {
            let result = match &mut op.op {
                Some(batch_op::Op::Encrypt(e)) => {
                    let res = self.0.encrypt(&r.session, &e.handle, &e.plaintext, &e.aad);
                    e.plaintext.zeroize();
                    batch_result(res)?
                }
                Some(batch_op::Op::Decrypt(d)) => {
                    batch_result(self.0.decrypt(&r.session, &d.handle, &d.ciphertext, &d.aad))?
                }
                None => batch_result::<Vec<u8>>(Err(HsmError::InvalidArgument(
                    "a batch operation names neither encrypt nor decrypt",
                )))?,
            };
            results.push(result);
        }
        Ok(Response::new(BatchResponse { results }))
    }

    async fn find_keys(
        &self,
        req: Request<FindKeysRequest>,
    ) -> Result<Response<FindKeysResponse>, Status> {
        let r = req.into_inner();
        let keys = self.0.find_keys(&r.session, &r.label)?;
        Ok(Response::new(FindKeysResponse { keys }))
    }

    async fn destroy_key(
        &self,
        req: Request<DestroyKeyRequest>,
    ) -> Result<Response<DestroyKeyResponse>, Status> {
        let r = req.into_inner();
        self.0.destroy_key(&r.session, &r.handle).await?;
        Ok(Response::new(DestroyKeyResponse {}))
    }

    async fn cluster_status(
        &self,
        _req: Request<ClusterStatusRequest>,
    ) -> Result<Response<ClusterStatusResponse>, Status> {
        Ok(Response::new(self.0.cluster_status().await))
    }
}

/// The `Cluster` service.
pub struct ClusterService(pub Arc<Node>);

impl ClusterService {
    /// The calling node's id, from its client certificate (which TLS has
    /// already chain-verified against the cluster CA); it must equal what
    /// the request claims.
    fn authenticate<T>(&self, req: &Request<T>, from_node: &str) -> Result<(), HsmError> {
        let certs = req.peer_certs().ok_or(HsmError::NotAPeer(
            "Cluster calls need a node certificate of this cluster",
        ))?;
        let leaf = certs.first().ok_or(HsmError::NotAPeer(
            "Cluster calls need a node certificate of this cluster",
        ))?;
        let id = peer_node_id(leaf, self.0.cluster_id()).ok_or(HsmError::NotAPeer(
            "the client certificate names no node of this cluster",
        ))?;
        if id != from_node {
            return Err(HsmError::NotAPeer(
                "from_node does not match the client certificate",
            ));
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn replicate(
        &self,
        req: Request<ReplicateRequest>,
    ) -> Result<Response<ReplicateResponse>, Status> {
        self.authenticate(&req, &req.get_ref().from_node)?;
        let change = req
            .into_inner()
            .change
            .ok_or(HsmError::InvalidArgument("replicate without a change"))?;
        self.0.apply(change).await?;
        Ok(Response::new(ReplicateResponse {}))
    }

    async fn snapshot(
        &self,
        req: Request<SnapshotRequest>,
    ) -> Result<Response<SnapshotResponse>, Status> {
        self.authenticate(&req, &req.get_ref().from_node)?;
        Ok(Response::new(self.0.snapshot()))
    }
}
