//! What Regions send each other, as core types (`src/replication/`
//! converts them to and from `proto/replication/v1`). See that proto for
//! the meaning of every field.

use crate::model::{
    KeyId, KeySpec, KeyUsage, MaterialOrigin, MaterialState, Operation, Origin, RotationType,
};

/// A tag (key, value).
pub type Tag = (String, String);

/// One outbox entry on the wire.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// Per (sender, receiver) sequence number, strictly increasing.
    pub seq: u64,
    /// What it says.
    pub message: Message,
}

/// The kinds of outbox entry.
#[derive(Debug, Clone)]
pub enum Message {
    /// A key's shared state (and, for a new replica, its per-Region
    /// properties).
    Sync(Box<SyncKey>),
    /// New primary → old primary: taken over at `version`.
    HandoffDone {
        /// The key.
        key_id: KeyId,
        /// The shared-state version of the hand-over.
        version: u64,
    },
    /// Old primary → new primary: acknowledged.
    HandoffAck {
        /// The key.
        key_id: KeyId,
        /// The shared-state version of the hand-over.
        version: u64,
    },
    /// `region` deleted its replica of `key_id`.
    ReplicaDeleted {
        /// The key.
        key_id: KeyId,
        /// The Region whose replica is gone.
        region: String,
    },
}

/// A multi-Region key's shared state.
#[derive(Debug, Clone)]
pub struct SyncKey {
    /// The key id (`mrk-…`).
    pub key_id: KeyId,
    /// The owning account.
    pub account: String,
    /// Shared-state version.
    pub version: u64,
    /// The primary's Region.
    pub primary_region: String,
    /// The replicas' Regions (sorted).
    pub replica_regions: Vec<String>,
    /// KeySpec.
    pub spec: KeySpec,
    /// KeyUsage.
    pub usage: KeyUsage,
    /// Origin.
    pub origin: Origin,
    /// The primary's creation time, Unix ms.
    pub created_ms: i64,
    /// The current material version (0: none, EXTERNAL before import).
    pub current_version: u32,
    /// Automatic-rotation settings.
    pub rotation: RotationShared,
    /// Every material version.
    pub materials: Vec<WrappedMaterial>,
    /// Present when the receiver is to create its replica.
    pub create: Option<ReplicaCreate>,
    /// Whether the primary is Enabled.
    pub primary_enabled: bool,
    /// EXTERNAL keys: the sealed per-key KeyMaterialId secret.
    pub material_id_key: Option<HpkeSealed>,
}

/// The shared part of a key's rotation settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotationShared {
    /// Whether automatic rotation is on.
    pub enabled: bool,
    /// Its period in days.
    pub period_days: Option<u32>,
    /// When the next automatic rotation is due, Unix ms.
    pub next_ms: Option<i64>,
    /// On-demand rotations so far.
    pub on_demand_count: u32,
}

/// One material version, its secret HPKE-sealed to the receiving Region.
#[derive(Debug, Clone)]
pub struct WrappedMaterial {
    /// Version number.
    pub version: u32,
    /// KeyMaterialId.
    pub material_id: String,
    /// Its state.
    pub state: MaterialState,
    /// Its origin.
    pub origin: MaterialOrigin,
    /// When it was made, Unix ms.
    pub created_ms: i64,
    /// When imported material expires.
    pub expires_ms: Option<i64>,
    /// KeyMaterialDescription.
    pub description: Option<String>,
    /// How it became current (`None` for version 1).
    pub rotation_type: Option<RotationType>,
    /// The sealed material; `None` for material each Region imports itself.
    pub sealed: Option<HpkeSealed>,
}

/// HPKE output: encapsulated key and ciphertext. Not secret (sealed), but
/// its Debug prints lengths only.
#[derive(Clone, PartialEq, Eq)]
pub struct HpkeSealed {
    /// Encapsulated key.
    pub enc: Vec<u8>,
    /// Ciphertext and tag.
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for HpkeSealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "HpkeSealed([SEALED; {} + {} bytes])",
            self.enc.len(),
            self.ciphertext.len()
        )
    }
}

/// The per-Region properties of a replica to create (ReplicateKey).
#[derive(Debug, Clone, Default)]
pub struct ReplicaCreate {
    /// Key policy (`None`: the default key policy).
    pub policy: Option<String>,
    /// Description.
    pub description: String,
    /// Tags.
    pub tags: Vec<Tag>,
    /// BypassPolicyLockoutSafetyCheck.
    pub bypass_policy_lockout_safety_check: bool,
    /// The principal that called ReplicateKey (ARN).
    pub principal: String,
}

/// A question one Region asks another before acting (CheckAccess).
#[derive(Debug, Clone)]
pub struct AccessCheck {
    /// The caller's principal ARN.
    pub principal: String,
    /// `Operation::CreateKey` (ReplicateKey) or
    /// `Operation::UpdatePrimaryRegion`.
    pub action: Operation,
    /// The key.
    pub key_id: KeyId,
    /// ReplicateKey: the replica's tags.
    pub tags: Vec<Tag>,
    /// ReplicateKey: the replica's policy.
    pub policy: Option<String>,
    /// ReplicateKey: BypassPolicyLockoutSafetyCheck.
    pub bypass_policy_lockout_safety_check: bool,
}
