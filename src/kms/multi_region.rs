//! The multi-Region key operations: ReplicateKey, UpdatePrimaryRegion, and
//! the access checks a peer Region asks of this one (docs/multi-region.md).

use super::replication::AccessCheck;
use super::request::{ReplicateKeyRequest, UpdatePrimaryRegionRequest};
use super::{Caller, Kms};
use crate::error::{KmsError, KmsResult};
use crate::model::KeyRecord;

/// What ReplicateKey answers: the replica as it will be in its Region
/// (KeyState Creating), its policy and tags.
#[derive(Debug, Clone)]
pub struct ReplicaOutput {
    /// The replica's record as the replica Region will hold it.
    pub replica: KeyRecord,
    /// The replica Region.
    pub region: String,
    /// The replica's key policy.
    pub policy: String,
}

impl Kms {
    /// ReplicateKey.
    pub async fn replicate_key(
        &self,
        caller: &Caller,
        req: ReplicateKeyRequest,
    ) -> KmsResult<ReplicaOutput> {
        let _ = (caller, req);
        Err(KmsError::UnsupportedOperation(
            "ReplicateKey is not implemented yet".into(),
        ))
    }

    /// UpdatePrimaryRegion.
    pub async fn update_primary_region(
        &self,
        caller: &Caller,
        req: UpdatePrimaryRegionRequest,
    ) -> KmsResult<()> {
        let _ = (caller, req);
        Err(KmsError::UnsupportedOperation(
            "UpdatePrimaryRegion is not implemented yet".into(),
        ))
    }

    /// Answers a peer Region's CheckAccess: whether `check.principal` may do
    /// `check.action` here. Changes nothing.
    pub async fn check_replication_access(
        &self,
        from_region: &str,
        check: AccessCheck,
    ) -> KmsResult<()> {
        let _ = (from_region, check);
        Err(KmsError::UnsupportedOperation(
            "CheckAccess is not implemented yet".into(),
        ))
    }
}
