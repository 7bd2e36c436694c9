//! Multi-Region keys: which Region is a key's primary, which hold
//! replicas, the shared-state version replication orders by, and the
//! hand-over of UpdatePrimaryRegion. Pure data and rules.
//!
//! The rule that keeps at most one primary: a Region acts as a key's
//! primary exactly when its own record says `primary_region` is itself.
//! UpdatePrimaryRegion first rewrites the old primary's record (primary
//! now the new Region, state Updating) and only then tells the new Region,
//! which rewrites its own; so at every instant at most one record names
//! its own Region, and a crash in between leaves none until the outbox
//! delivers (docs/multi-region.md).

use serde::{Deserialize, Serialize};

use super::key::KeyState;

/// A multi-Region key's view of its family, kept in its `KeyRecord`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultiRegionState {
    /// The Region of the primary key, as this Region last learned it.
    pub primary_region: String,
    /// The Regions holding replicas (sorted, without the primary's).
    pub replica_regions: Vec<String>,
    /// Version of the shared state (key spec, usage, origin, material
    /// versions, rotation settings, the Region lists). Only the primary
    /// increases it, once per change; a replica applies a `SyncKey` only
    /// when it is newer than its own. Survives primary changes (the new
    /// primary continues from the version it received).
    pub version: u64,
    /// Set while UpdatePrimaryRegion is in progress on this key (its
    /// KeyState is then Updating).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff: Option<Handoff>,
    /// EXTERNAL keys: the per-key secret that names imported material
    /// (its KeyMaterialId is HMAC-SHA256 under this secret, so every Region
    /// computes the same id for the same material), sealed by this Region's
    /// backend (`seal_secret`, label
    /// `kms::import_token::MR_MATERIAL_ID_KEY_LABEL`, the key's id). Made
    /// by the primary at CreateKey; shared state: sent HPKE-sealed in every
    /// `Sync` (`material_id_key`) and stored here sealed again by the
    /// receiver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub material_id_key: Option<super::SealedBlob>,
}

/// One side of an UpdatePrimaryRegion in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handoff {
    /// Whether this Region is giving up (old primary) or taking over.
    pub role: HandoffRole,
    /// The other Region.
    pub peer: String,
    /// The shared-state version the hand-over happens at.
    pub version: u64,
    /// The KeyState to return to when the hand-over completes.
    pub prior_state: KeyState,
}

/// See [`Handoff`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HandoffRole {
    /// The old primary: already a replica, waiting for `HandoffDone`.
    #[serde(rename = "DEMOTING")]
    Demoting,
    /// The new primary: already primary, waiting for `HandoffAck`.
    #[serde(rename = "PROMOTING")]
    Promoting,
}

impl MultiRegionState {
    /// The state of a new primary key in `region`: no replicas, version 1.
    pub fn new_primary(region: &str) -> Self {
        Self {
            primary_region: region.to_owned(),
            replica_regions: Vec::new(),
            version: 1,
            handoff: None,
            material_id_key: None,
        }
    }

    /// Whether `region` (this kmsd's) acts as the primary.
    pub fn is_primary_in(&self, region: &str) -> bool {
        self.primary_region == region
    }

    /// Every Region of the family but `region`: where a change made in
    /// `region` must be replicated to.
    pub fn other_regions<'a>(&'a self, region: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        std::iter::once(self.primary_region.as_str())
            .chain(self.replica_regions.iter().map(String::as_str))
            .filter(move |r| *r != region)
    }
}

/// Whether `s` is a well-formed Region name as AWS spells them
/// (`us-east-1`, `eu-central-2`, `us-gov-west-1`): lowercase letters and
/// digits in two to five dash-separated parts, the last a number, at most
/// 32 characters.
pub fn is_valid_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    s.len() <= 32
        && (2..=5).contains(&parts.len())
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names_follow_aws_spelling() {
        for ok in ["us-east-1", "eu-west-2", "us-gov-west-1", "ap-southeast-4"] {
            assert!(is_valid_region(ok), "{ok}");
        }
        for bad in [
            "",
            "us",
            "US-EAST-1",
            "us-east",
            "us_east_1",
            "us-east-1/",
            "us--east-1",
            "-us-east-1",
            "us-east-1 ",
            "1-east-1",
            "a-b-c-d-e-f-1",
        ] {
            assert!(!is_valid_region(bad), "{bad:?}");
        }
    }

    #[test]
    fn other_regions_exclude_self() {
        let mut s = MultiRegionState::new_primary("us-east-1");
        s.replica_regions = vec!["eu-west-1".into(), "us-west-2".into()];
        let others: Vec<&str> = s.other_regions("eu-west-1").collect();
        assert_eq!(others, ["us-east-1", "us-west-2"]);
        assert!(s.is_primary_in("us-east-1") && !s.is_primary_in("us-west-2"));
    }
}
