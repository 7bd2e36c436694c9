//! The multi-Region key operations: ReplicateKey, UpdatePrimaryRegion, and
//! the access checks a peer Region asks of this one (docs/multi-region.md,
//! "Operations").
//!
//! Both operations are called in the primary's Region and change another
//! Region too. They ask that Region first (`PeerTransport::check_access`:
//! may this caller create the replica / promote it there?) and only then
//! commit, in one synced batch here, the change and the outbox entry that
//! carries it; the other Region applies it when it arrives. So a refusal,
//! or an unreachable Region, changes nothing anywhere.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::keys::{check_request_tags, merge_tags};
use super::policies::compile_key_policy;
use super::replication::{AccessCheck, Outgoing, PeerError, PeerTransport, ReplicaCreate};
use super::request::{ReplicateKeyRequest, UpdatePrimaryRegionRequest};
use super::{
    default_key_policy, not_found_key, validate, AuthzInput, Caller, Kms, LockName, Resource,
};
use crate::error::{KmsError, KmsResult};
use crate::model::ids::{key_arn, printable};
use crate::model::multi_region::is_valid_region;
use crate::model::{
    Handoff, HandoffRole, KeyRecord, KeyState, MultiRegionState, Operation, Origin, Principal,
};

#[cfg(test)]
mod tests;

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

/// AWS's length limit of a Region name field.
const MAX_REGION_LEN: usize = 32;

/// Checks a Region field of a request (ReplicaRegion, PrimaryRegion)
/// before any lookup: a well-formed Region name, not this Region.
fn check_region_field(field: &str, value: &str, own: &str) -> KmsResult<()> {
    validate::length(field, value.chars().count(), 1, MAX_REGION_LEN)?;
    if !is_valid_region(value) {
        // A near miss such as `US-WEST-2` is refused, never folded: Region
        // names are compared byte for byte everywhere else.
        return Err(KmsError::Validation(format!(
            "1 validation error detected: Value '{}' at '{field}' failed to satisfy constraint: Member must be a Region name such as us-west-2",
            printable(value)
        )));
    }
    if value == own {
        return Err(KmsError::Validation(format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must name another Region than this one ({own})"
        )));
    }
    Ok(())
}

/// ReplicateKey's rules on the key (checked after authorization, and again
/// under the key's lock): a multi-Region primary in this Region with no
/// replica in `region` yet.
fn check_replicable(key: &KeyRecord, region: &str, own: &str) -> KmsResult<()> {
    let arn = key.arn(own);
    let Some(mr) = &key.mr else {
        return Err(KmsError::UnsupportedOperation(format!(
            "{arn} is not a multi-Region key: only multi-Region primary keys can be replicated"
        )));
    };
    if !mr.is_primary_in(own) {
        return Err(KmsError::UnsupportedOperation(format!(
            "{arn} is a replica key: only the primary key can be replicated (its primary key is in {})",
            mr.primary_region
        )));
    }
    if mr.replica_regions.iter().any(|r| r == region) {
        return Err(KmsError::AlreadyExists(format!(
            "{arn} already has a replica key in {region}"
        )));
    }
    Ok(())
}

/// UpdatePrimaryRegion's rules on the key (after authorization, and again
/// under the key's lock): a multi-Region primary in this Region with a
/// replica in `target`.
fn check_promotable(key: &KeyRecord, target: &str, own: &str) -> KmsResult<()> {
    let arn = key.arn(own);
    let Some(mr) = &key.mr else {
        return Err(KmsError::UnsupportedOperation(format!(
            "{arn} is not a multi-Region key"
        )));
    };
    if !mr.is_primary_in(own) {
        return Err(KmsError::UnsupportedOperation(format!(
            "{arn} is not the primary key: call UpdatePrimaryRegion in its primary Region ({})",
            mr.primary_region
        )));
    }
    if !mr.replica_regions.iter().any(|r| r == target) {
        return Err(KmsError::Validation(format!(
            "1 validation error detected: Value '{target}' at 'primaryRegion' failed to satisfy constraint: Member must be a Region holding a replica of {arn}"
        )));
    }
    Ok(())
}

impl Kms {
    /// The transport to `region`, which must be a configured peer
    /// (ValidationException naming it otherwise, also on a kmsd without
    /// peers).
    fn peer_for(&self, region: &str) -> KmsResult<Arc<dyn PeerTransport>> {
        let unknown = || KmsError::from(PeerError::UnknownRegion(region.to_owned()));
        let peers = self.inner.peers().map_err(|_| unknown())?;
        if !peers.regions().iter().any(|r| r == region) {
            return Err(unknown());
        }
        Ok(peers)
    }

    /// ReplicateKey: validate the request, authorize `kms:ReplicateKey`
    /// here (condition key `kms:ReplicaRegion`), have the replica Region
    /// authorize the caller's `kms:CreateKey` there, then in one synced
    /// batch add the Region to the key's replicas and enqueue the `Sync`
    /// that creates the replica (docs/multi-region.md steps 1–5).
    pub async fn replicate_key(
        &self,
        caller: &Caller,
        req: ReplicateKeyRequest,
    ) -> KmsResult<ReplicaOutput> {
        let own = self.inner.region.clone();
        // 1. Every field on its own, before any lookup.
        let region = req.replica_region;
        check_region_field("replicaRegion", &region, &own)?;
        if let Some(d) = &req.description {
            validate::description(d)?;
        }
        check_request_tags(&req.tags)?;
        let mut tags = BTreeMap::new();
        merge_tags(&mut tags, &req.tags)?;
        // The replica Region parses it again for its lockout check; a
        // malformed one is refused here without a call to it.
        if let Some(text) = &req.policy {
            compile_key_policy(text)?;
        }
        let peers = self.peer_for(&region)?;
        // 2. Authorize here (which also checks the state: Enabled or
        // Disabled, not Updating), then the key's own rules: they describe
        // the key, so only an authorized caller learns them.
        let input = AuthzInput::default().value("kms:replicaregion", region.as_str());
        let key = self
            .inner
            .resolve(caller, &req.key_id, Operation::ReplicateKey, &input)
            .await?;
        if key.account != caller.principal.account() {
            // AWS: ReplicateKey has no cross-account use (the replica is
            // created in the caller's account).
            return Err(self
                .inner
                .denied(caller, Operation::ReplicateKey, Some(key.as_ref())));
        }
        check_replicable(&key, &region, &own)?;
        // 3. The replica Region's consent.
        let bypass = req.bypass_policy_lockout_safety_check;
        let check = AccessCheck {
            principal: caller.principal.arn().to_owned(),
            action: Operation::CreateKey,
            key_id: key.id,
            tags: req.tags.clone(),
            policy: req.policy.clone(),
            bypass_policy_lockout_safety_check: bypass,
        };
        peers.check_access(&region, &check).await?;
        // 4. One synced batch: the new Region list and version, a `Sync`
        // creating the replica in `region`, a `Sync` to the others.
        let policy = req
            .policy
            .clone()
            .unwrap_or_else(|| default_key_policy(&key.account));
        let (req_tags, principal, given_description) = (req.tags, check.principal, req.description);
        let to = region.clone();
        let (committed, description) = self
            .inner
            .blocking(move |inner| {
                let _w = inner.lock(&[LockName::Key(&key.id)]);
                let current = inner.recheck(&key, Operation::ReplicateKey)?;
                check_replicable(&current, &to, &inner.region)?;
                let mut rec = (*current).clone();
                let description = given_description.unwrap_or_else(|| rec.description.clone());
                let mut b = inner.store.batch();
                // The existing replicas learn the new list; then the new
                // Region joins it and gets the entry that creates it.
                inner.shared_changed(&mut rec, &mut b)?;
                let mr = rec.mr.as_mut().ok_or_else(|| {
                    KmsError::internal("a checked multi-Region key has no Region state")
                })?;
                mr.replica_regions.push(to.clone());
                mr.replica_regions.sort();
                inner.enqueue(
                    &mut b,
                    &to,
                    Outgoing::Sync {
                        key_id: rec.id,
                        // The outbox stores its own form of the
                        // replica's properties (engine's store/outbox.rs).
                        create: Some(
                            (&ReplicaCreate {
                                policy: req.policy,
                                description: description.clone(),
                                tags: req_tags,
                                bypass_policy_lockout_safety_check: bypass,
                                principal,
                            })
                                .into(),
                        ),
                    },
                )?;
                b.put_key(&rec).map_err(KmsError::internal)?;
                b.commit().map_err(KmsError::internal)?;
                Ok((inner.cache_put_key(rec), description))
            })
            .await?;
        // 5. The replica as `region` will hold it once the entry arrives.
        let mut replica = (*committed).clone();
        replica.state = KeyState::Creating;
        replica.description = description;
        replica.tags = tags;
        replica.deletion_date_ms = None;
        replica.pending_window_days = None;
        replica.grant_count = 0;
        replica.rotation.missed = false;
        if replica.origin == Origin::External {
            // Imported material is not replicated: the replica waits for
            // its own import.
            replica.imported = None;
        }
        Ok(ReplicaOutput {
            replica,
            region,
            policy,
        })
    }

    /// UpdatePrimaryRegion, called in the primary's Region: steps 1–3 of
    /// the hand-over (docs/multi-region.md). From the commit on this Region
    /// is a replica (state Updating, `handoff` Demoting); the new primary
    /// takes over when the `Sync` arrives there.
    pub async fn update_primary_region(
        &self,
        caller: &Caller,
        req: UpdatePrimaryRegionRequest,
    ) -> KmsResult<()> {
        let own = self.inner.region.clone();
        let target = req.primary_region;
        check_region_field("primaryRegion", &target, &own)?;
        let input = AuthzInput::default().value("kms:primaryregion", target.as_str());
        // Enabled only: Disabled → DisabledException, Updating and the
        // rest → KMSInvalidStateException.
        let key = self
            .inner
            .resolve(caller, &req.key_id, Operation::UpdatePrimaryRegion, &input)
            .await?;
        check_promotable(&key, &target, &own)?;
        let peers = self.peer_for(&target)?;
        let check = AccessCheck {
            principal: caller.principal.arn().to_owned(),
            action: Operation::UpdatePrimaryRegion,
            key_id: key.id,
            tags: Vec::new(),
            policy: None,
            bypass_policy_lockout_safety_check: false,
        };
        peers.check_access(&target, &check).await?;
        self.inner
            .blocking(move |inner| {
                let _w = inner.lock(&[LockName::Key(&key.id)]);
                let current = inner.recheck(&key, Operation::UpdatePrimaryRegion)?;
                check_promotable(&current, &target, &inner.region)?;
                let mut rec = (*current).clone();
                let prior_state = rec.state;
                let mr = rec.mr.as_mut().ok_or_else(|| {
                    KmsError::internal("a checked multi-Region key has no Region state")
                })?;
                demote(mr, &inner.region, &target, prior_state);
                rec.state = KeyState::Updating;
                let mut b = inner.store.batch();
                // Only the new primary is told; it tells the other
                // replicas once it has taken over (step 4).
                inner.enqueue(
                    &mut b,
                    &target,
                    Outgoing::Sync {
                        key_id: rec.id,
                        create: None,
                    },
                )?;
                b.put_key(&rec).map_err(KmsError::internal)?;
                b.commit().map_err(KmsError::internal)?;
                inner.cache_put_key(rec);
                Ok(())
            })
            .await
    }

    /// Answers a peer Region's CheckAccess: whether `check.principal` may do
    /// `check.action` here. Changes nothing. Only the two questions
    /// ReplicateKey and UpdatePrimaryRegion ask are answered; no other
    /// operation can be reached this way.
    pub async fn check_replication_access(
        &self,
        from_region: &str,
        check: AccessCheck,
    ) -> KmsResult<()> {
        if !is_valid_region(from_region) || from_region == self.inner.region {
            return Err(KmsError::AccessDenied(format!(
                "{} is not a peer Region of {}",
                printable(from_region),
                self.inner.region
            )));
        }
        let principal = Principal::parse(&check.principal).ok_or_else(|| {
            KmsError::AccessDenied(format!(
                "{} is not a valid principal ARN",
                printable(&check.principal)
            ))
        })?;
        if !check.key_id.is_multi_region() {
            return Err(KmsError::Validation(format!(
                "1 validation error detected: Value '{}' at 'keyId' failed to satisfy constraint: Member must be a multi-Region key id",
                check.key_id
            )));
        }
        let caller = Caller::new(principal);
        match check.action {
            Operation::CreateKey => {
                self.check_replica_creation(from_region, &caller, check)
                    .await
            }
            Operation::UpdatePrimaryRegion => {
                self.check_promotion(from_region, &caller, check).await
            }
            other => Err(KmsError::AccessDenied(format!(
                "CheckAccess answers only for ReplicateKey and UpdatePrimaryRegion, not {}",
                other.action()
            ))),
        }
    }

    /// ReplicateKey's question to the replica Region: may the caller
    /// create the replica here (`kms:CreateKey` by identity policies, as a
    /// REPLICA of a primary in `from_region`; `kms:TagResource` with tags)?
    /// Its policy must parse and, unless bypassed, not lock the caller out;
    /// the key must not exist here yet.
    async fn check_replica_creation(
        &self,
        from_region: &str,
        caller: &Caller,
        check: AccessCheck,
    ) -> KmsResult<()> {
        let own = self.inner.region.as_str();
        check_request_tags(&check.tags)?;
        let mut tags = BTreeMap::new();
        merge_tags(&mut tags, &check.tags)?;
        let bypass = check.bypass_policy_lockout_safety_check;
        let authz = AuthzInput::default()
            .request_tags(&check.tags)
            .value(
                "kms:bypasspolicylockoutsafetycheck",
                if bypass { "true" } else { "false" },
            )
            .value("kms:multiregion", "true")
            .value("kms:multiregionkeytype", "REPLICA")
            .value("kms:primaryregion", from_region);
        self.inner
            .authorize(caller, Operation::CreateKey, Resource::None, &authz)
            .await?;
        if !check.tags.is_empty() {
            // The replica does not exist yet: identity policies decide,
            // on the request's tags.
            let authz = AuthzInput::default().request_tags(&check.tags);
            self.inner
                .authorize(caller, Operation::TagResource, Resource::None, &authz)
                .await?;
        }
        let account = caller.principal.account().to_owned();
        let text = check
            .policy
            .clone()
            .unwrap_or_else(|| default_key_policy(&account));
        let policy = compile_key_policy(&text)?;
        if !bypass {
            // The replica as it will be here, for the policy's conditions.
            let mut mr = MultiRegionState::new_primary(from_region);
            mr.replica_regions.push(own.to_owned());
            let replica = KeyRecord {
                id: check.key_id,
                account: account.clone(),
                created_ms: self.inner.now_ms(),
                description: String::new(),
                spec: crate::model::KeySpec::SymmetricDefault,
                usage: crate::model::KeyUsage::EncryptDecrypt,
                origin: Origin::AwsKms,
                state: KeyState::Creating,
                deletion_date_ms: None,
                pending_window_days: None,
                tags,
                current_version: 1,
                multi_region: true,
                mr: Some(mr),
                grant_count: 0,
                rotation: Default::default(),
                imported: None,
                custom_key_store_id: None,
                cloud_hsm_cluster_id: None,
            };
            self.inner.lockout_check(caller, &replica, &policy)?;
        }
        if self.inner.key(check.key_id).await?.is_some() {
            return Err(KmsError::AlreadyExists(format!(
                "{} already exists in {own}",
                key_arn(own, &account, &check.key_id)
            )));
        }
        Ok(())
    }

    /// UpdatePrimaryRegion's question to the Region being promoted: may
    /// the caller do it on the replica here, which must be a replica of a
    /// primary in `from_region`, Enabled?
    async fn check_promotion(
        &self,
        from_region: &str,
        caller: &Caller,
        check: AccessCheck,
    ) -> KmsResult<()> {
        let own = self.inner.region.as_str();
        let Some(rec) = self.inner.key(check.key_id).await? else {
            return Err(not_found_key(&key_arn(
                own,
                caller.principal.account(),
                &check.key_id,
            )));
        };
        let input = AuthzInput::default().value("kms:primaryregion", own);
        self.inner
            .authorize(
                caller,
                Operation::UpdatePrimaryRegion,
                Resource::Key(&rec),
                &input,
            )
            .await?;
        let arn = rec.arn(own);
        match &rec.mr {
            None => {
                return Err(KmsError::UnsupportedOperation(format!(
                    "{arn} is not a multi-Region key"
                )))
            }
            Some(mr) if mr.is_primary_in(own) => {
                return Err(KmsError::UnsupportedOperation(format!(
                    "{arn} is already the primary key"
                )))
            }
            // This Region's view disagrees with the caller's (a hand-over
            // or a replica deletion not yet delivered): try again later.
            Some(mr) if mr.primary_region != from_region => {
                return Err(KmsError::InvalidState(format!(
                    "{arn} has its primary key in {}, not in {from_region}",
                    mr.primary_region
                )))
            }
            Some(_) => {}
        }
        rec.check_state(Operation::UpdatePrimaryRegion, own)
    }
}

/// The old primary's side of UpdatePrimaryRegion step 3: `own` is now a
/// replica of `target`, at a new version, waiting for `HandoffDone`.
fn demote(mr: &mut MultiRegionState, own: &str, target: &str, prior_state: KeyState) {
    mr.version = mr.version.saturating_add(1);
    mr.replica_regions.retain(|r| r != target);
    mr.replica_regions.push(own.to_owned());
    mr.replica_regions.sort();
    mr.primary_region = target.to_owned();
    mr.handoff = Some(Handoff {
        role: HandoffRole::Demoting,
        peer: target.to_owned(),
        version: mr.version,
        prior_state,
    });
}
