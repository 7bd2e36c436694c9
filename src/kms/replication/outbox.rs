//! The hooks control-plane writes use to replicate: enqueue an outbox
//! entry in the change's own batch ([`Inner::enqueue`]), or declare that a
//! multi-Region key's shared state changed ([`Inner::shared_changed`]).
//!
//! **Wake-up rule.** The entry and the change are one synced batch; the
//! delivery task of each Region the batch enqueued to is notified by
//! `Batch::commit` itself, after the write is durable (store/outbox.rs).
//! A notification that comes while the task is busy is kept (one permit)
//! and seen at its next wait, so none is lost, and none comes before the
//! entry is readable. Callers need no post-commit step.

use std::sync::Arc;

use super::{PeerTransport, ReplicaCreate};
use crate::error::{KmsError, KmsResult};
use crate::kms::Inner;
use crate::model::KeyRecord;
use crate::store::{Batch, OutboxEntry, StoredReplicaCreate};

/// What a control-plane write queues for a peer (an outbox entry).
pub(crate) type Outgoing = OutboxEntry;

impl From<&ReplicaCreate> for StoredReplicaCreate {
    fn from(c: &ReplicaCreate) -> Self {
        Self {
            policy: c.policy.clone(),
            description: c.description.clone(),
            tags: c.tags.clone(),
            bypass_policy_lockout_safety_check: c.bypass_policy_lockout_safety_check,
            principal: c.principal.clone(),
        }
    }
}

impl From<StoredReplicaCreate> for ReplicaCreate {
    fn from(c: StoredReplicaCreate) -> Self {
        Self {
            policy: c.policy,
            description: c.description,
            tags: c.tags,
            bypass_policy_lockout_safety_check: c.bypass_policy_lockout_safety_check,
            principal: c.principal,
        }
    }
}

impl Inner {
    /// Queues `entry` for `region` in batch `b` (the change's own batch).
    ///
    /// From this call until `b` commits or drops, `b` holds the outbox's
    /// allocation lock (seqs must commit in order, store/outbox.rs): call
    /// it after taking every lock the change needs, and take no lock
    /// after it.
    pub(crate) fn enqueue(
        &self,
        b: &mut Batch<'_>,
        region: &str,
        entry: Outgoing,
    ) -> KmsResult<u64> {
        if region == self.region {
            return Err(KmsError::internal(
                "a replication entry addressed to this Region itself",
            ));
        }
        b.enqueue_outbox(region, self.now_ms(), entry)
            .map_err(KmsError::internal)
    }

    /// A multi-Region key's shared state changed in `rec` (made by this
    /// Region as its primary, or the Region lists changed): bumps
    /// `rec.mr.version` and queues a `Sync` to every other Region of the
    /// key, in `b`. A single-Region key is left alone. The caller writes
    /// `rec` in the same batch.
    pub(crate) fn shared_changed(&self, rec: &mut KeyRecord, b: &mut Batch<'_>) -> KmsResult<()> {
        let Some(mr) = rec.mr.as_mut() else {
            return Ok(());
        };
        mr.version = mr.version.saturating_add(1);
        self.sync_others(rec, b, &[])
    }

    /// Queues a plain `Sync` of `rec` to every Region of its family but
    /// this one and those in `except`, in `b` (no version change).
    pub(crate) fn sync_others(
        &self,
        rec: &KeyRecord,
        b: &mut Batch<'_>,
        except: &[&str],
    ) -> KmsResult<()> {
        let Some(mr) = rec.mr.as_ref() else {
            return Ok(());
        };
        let targets: Vec<String> = mr
            .other_regions(&self.region)
            .filter(|r| !except.contains(r))
            .map(str::to_owned)
            .collect();
        for region in targets {
            self.enqueue(
                b,
                &region,
                Outgoing::Sync {
                    key_id: rec.id,
                    create: None,
                },
            )?;
        }
        Ok(())
    }

    /// How peers are reached: UnsupportedOperation when this kmsd has no
    /// peer Regions (replication not started).
    pub(crate) fn peers(&self) -> KmsResult<Arc<dyn PeerTransport>> {
        self.repl
            .peers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| KmsError::UnsupportedOperation("this kmsd has no peer Regions".into()))
    }
}
