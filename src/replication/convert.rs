//! `proto/replication/v1` ⇄ the core's message types
//! (`kms::replication::message`). Enums travel as their AWS spellings; a
//! value this kmsd does not know, a malformed key id or a missing required
//! field is a `ValidationException` (INVALID_ARGUMENT on the wire), never a
//! panic.

use std::str::FromStr;

use crate::error::{KmsError, KmsResult};
use crate::kms::replication::message::Tag;
use crate::kms::replication::{
    AccessCheck, Envelope, HpkeSealed, Message, ReplicaCreate, RotationShared, SyncKey,
    WrappedMaterial,
};
use crate::model::{
    KeyId, KeySpec, KeyUsage, MaterialOrigin, MaterialState, Operation, Origin, RotationType,
};
use crate::proto::replication::v1 as pb;

fn invalid(field: &str, value: &str) -> KmsError {
    KmsError::Validation(format!(
        "1 validation error detected: Value {value:?} at '{field}' is not valid"
    ))
}

fn missing(field: &str) -> KmsError {
    KmsError::Validation(format!(
        "1 validation error detected: Value at '{field}' must not be null"
    ))
}

/// A multi-Region key id (`mrk-` and 32 lowercase hex digits).
fn key_id(field: &str, s: &str) -> KmsResult<KeyId> {
    KeyId::from_str(s)
        .ok()
        .filter(KeyId::is_multi_region)
        .ok_or_else(|| invalid(field, s))
}

/// The AWS spelling of an enum value, through its `from_aws_str`.
fn aws<T>(field: &str, s: &str, parse: impl Fn(&str) -> Option<T>) -> KmsResult<T> {
    parse(s).ok_or_else(|| invalid(field, s))
}

fn tags_to_pb(tags: &[Tag]) -> Vec<pb::Tag> {
    tags.iter()
        .map(|(k, v)| pb::Tag {
            tag_key: k.clone(),
            tag_value: v.clone(),
        })
        .collect()
}

fn tags_from_pb(tags: Vec<pb::Tag>) -> Vec<Tag> {
    tags.into_iter().map(|t| (t.tag_key, t.tag_value)).collect()
}

fn sealed_to_pb(s: &HpkeSealed) -> pb::WrappedSecret {
    pb::WrappedSecret {
        enc: s.enc.clone(),
        ciphertext: s.ciphertext.clone(),
    }
}

fn sealed_from_pb(s: pb::WrappedSecret) -> HpkeSealed {
    HpkeSealed {
        enc: s.enc,
        ciphertext: s.ciphertext,
    }
}

/// The IAM action of an access check: only the two the design asks.
fn action_from_pb(s: &str) -> KmsResult<Operation> {
    match s {
        "kms:CreateKey" => Ok(Operation::CreateKey),
        "kms:UpdatePrimaryRegion" => Ok(Operation::UpdatePrimaryRegion),
        other => Err(invalid("action", other)),
    }
}

/// Core → wire: an access check.
pub fn access_check_to_pb(from_region: &str, c: &AccessCheck) -> pb::CheckAccessRequest {
    pb::CheckAccessRequest {
        from_region: from_region.to_owned(),
        principal: c.principal.clone(),
        action: c.action.action().to_owned(),
        key_id: c.key_id.to_string(),
        tags: tags_to_pb(&c.tags),
        policy: c.policy.clone(),
        bypass_policy_lockout_safety_check: c.bypass_policy_lockout_safety_check,
    }
}

/// Wire → core: an access check.
pub fn access_check_from_pb(r: pb::CheckAccessRequest) -> KmsResult<AccessCheck> {
    Ok(AccessCheck {
        principal: r.principal,
        action: action_from_pb(&r.action)?,
        key_id: key_id("keyId", &r.key_id)?,
        tags: tags_from_pb(r.tags),
        policy: r.policy,
        bypass_policy_lockout_safety_check: r.bypass_policy_lockout_safety_check,
    })
}

/// Core → wire: one outbox entry.
pub fn envelope_to_pb(e: &Envelope) -> pb::Envelope {
    use pb::envelope::Message as M;
    let message = match &e.message {
        Message::Sync(s) => M::Sync(sync_to_pb(s)),
        Message::HandoffDone { key_id, version } => M::HandoffDone(pb::HandoffDone {
            key_id: key_id.to_string(),
            version: *version,
        }),
        Message::HandoffAck { key_id, version } => M::HandoffAck(pb::HandoffAck {
            key_id: key_id.to_string(),
            version: *version,
        }),
        Message::ReplicaDeleted { key_id, region } => M::ReplicaDeleted(pb::ReplicaDeleted {
            key_id: key_id.to_string(),
            region: region.clone(),
        }),
    };
    pb::Envelope {
        seq: e.seq,
        message: Some(message),
    }
}

/// Wire → core: one outbox entry.
pub fn envelope_from_pb(e: pb::Envelope) -> KmsResult<Envelope> {
    use pb::envelope::Message as M;
    let message = match e.message.ok_or_else(|| missing("message"))? {
        M::Sync(s) => Message::Sync(Box::new(sync_from_pb(s)?)),
        M::HandoffDone(h) => Message::HandoffDone {
            key_id: key_id("keyId", &h.key_id)?,
            version: h.version,
        },
        M::HandoffAck(h) => Message::HandoffAck {
            key_id: key_id("keyId", &h.key_id)?,
            version: h.version,
        },
        M::ReplicaDeleted(d) => Message::ReplicaDeleted {
            key_id: key_id("keyId", &d.key_id)?,
            region: d.region,
        },
    };
    Ok(Envelope {
        seq: e.seq,
        message,
    })
}

fn sync_to_pb(s: &SyncKey) -> pb::SyncKey {
    pb::SyncKey {
        key_id: s.key_id.to_string(),
        account: s.account.clone(),
        version: s.version,
        primary_region: s.primary_region.clone(),
        replica_regions: s.replica_regions.clone(),
        key_spec: s.spec.as_aws_str().to_owned(),
        key_usage: s.usage.as_aws_str().to_owned(),
        origin: s.origin.as_aws_str().to_owned(),
        creation_date_ms: s.created_ms,
        current_version: s.current_version,
        rotation: Some(pb::RotationSettings {
            enabled: s.rotation.enabled,
            period_days: s.rotation.period_days,
            next_rotation_ms: s.rotation.next_ms,
            on_demand_count: s.rotation.on_demand_count,
        }),
        materials: s.materials.iter().map(material_to_pb).collect(),
        create: s.create.as_ref().map(|c| pb::ReplicaCreate {
            policy: c.policy.clone(),
            description: c.description.clone(),
            tags: tags_to_pb(&c.tags),
            bypass_policy_lockout_safety_check: c.bypass_policy_lockout_safety_check,
            principal: c.principal.clone(),
        }),
        primary_enabled: s.primary_enabled,
        material_id_key: s.material_id_key.as_ref().map(sealed_to_pb),
    }
}

fn sync_from_pb(s: pb::SyncKey) -> KmsResult<SyncKey> {
    let rotation = s
        .rotation
        .map_or_else(RotationShared::default, |r| RotationShared {
            enabled: r.enabled,
            period_days: r.period_days,
            next_ms: r.next_rotation_ms,
            on_demand_count: r.on_demand_count,
        });
    Ok(SyncKey {
        key_id: key_id("keyId", &s.key_id)?,
        account: s.account,
        version: s.version,
        primary_region: s.primary_region,
        replica_regions: s.replica_regions,
        spec: aws("keySpec", &s.key_spec, KeySpec::from_aws_str)?,
        usage: aws("keyUsage", &s.key_usage, KeyUsage::from_aws_str)?,
        origin: aws("origin", &s.origin, Origin::from_aws_str)?,
        created_ms: s.creation_date_ms,
        current_version: s.current_version,
        rotation,
        materials: s
            .materials
            .into_iter()
            .map(material_from_pb)
            .collect::<KmsResult<_>>()?,
        create: s.create.map(|c| ReplicaCreate {
            policy: c.policy,
            description: c.description,
            tags: tags_from_pb(c.tags),
            bypass_policy_lockout_safety_check: c.bypass_policy_lockout_safety_check,
            principal: c.principal,
        }),
        primary_enabled: s.primary_enabled,
        material_id_key: s.material_id_key.map(sealed_from_pb),
    })
}

fn material_to_pb(m: &WrappedMaterial) -> pb::WrappedMaterial {
    pb::WrappedMaterial {
        version: m.version,
        key_material_id: m.material_id.clone(),
        state: m.state.as_aws_str().to_owned(),
        origin: m.origin.as_aws_str().to_owned(),
        created_ms: m.created_ms,
        expires_ms: m.expires_ms,
        description: m.description.clone(),
        rotation_type: m
            .rotation_type
            .map(|t| t.as_aws_str().to_owned())
            .unwrap_or_default(),
        sealed: m.sealed.as_ref().map(sealed_to_pb),
    }
}

fn material_from_pb(m: pb::WrappedMaterial) -> KmsResult<WrappedMaterial> {
    Ok(WrappedMaterial {
        version: m.version,
        material_id: m.key_material_id,
        state: aws("materialState", &m.state, MaterialState::from_aws_str)?,
        origin: aws("materialOrigin", &m.origin, MaterialOrigin::from_aws_str)?,
        created_ms: m.created_ms,
        expires_ms: m.expires_ms,
        description: m.description,
        rotation_type: match m.rotation_type.as_str() {
            "" => None,
            t => Some(aws("rotationType", t, RotationType::from_aws_str)?),
        },
        sealed: m.sealed.map(sealed_from_pb),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sync() -> SyncKey {
        SyncKey {
            key_id: KeyId::new_random_multi_region(),
            account: "111122223333".into(),
            version: 7,
            primary_region: "us-east-1".into(),
            replica_regions: vec!["eu-west-1".into(), "us-west-2".into()],
            spec: KeySpec::EccNistP256,
            usage: KeyUsage::SignVerify,
            origin: Origin::External,
            created_ms: 1_700_000_000_000,
            current_version: 2,
            rotation: RotationShared {
                enabled: true,
                period_days: Some(90),
                next_ms: Some(1_800_000_000_000),
                on_demand_count: 3,
            },
            materials: vec![
                WrappedMaterial {
                    version: 1,
                    material_id: "a".repeat(64),
                    state: MaterialState::NonCurrent,
                    origin: MaterialOrigin::Imported,
                    created_ms: 1,
                    expires_ms: Some(5),
                    description: Some("first".into()),
                    rotation_type: None,
                    sealed: None,
                },
                WrappedMaterial {
                    version: 2,
                    material_id: "b".repeat(64),
                    state: MaterialState::Current,
                    origin: MaterialOrigin::Generated,
                    created_ms: 2,
                    expires_ms: None,
                    description: None,
                    rotation_type: Some(RotationType::OnDemand),
                    sealed: Some(HpkeSealed {
                        enc: vec![1; 32],
                        ciphertext: vec![2; 48],
                    }),
                },
            ],
            create: Some(ReplicaCreate {
                policy: Some("{}".into()),
                description: "d".into(),
                tags: vec![("k".into(), "v".into())],
                bypass_policy_lockout_safety_check: true,
                principal: "arn:aws:iam::111122223333:user/alice".into(),
            }),
            primary_enabled: false,
            material_id_key: Some(HpkeSealed {
                enc: vec![3; 32],
                ciphertext: vec![4; 48],
            }),
        }
    }

    #[test]
    fn envelopes_round_trip() {
        let key = KeyId::new_random_multi_region();
        let entries = vec![
            Envelope {
                seq: 1,
                message: Message::Sync(Box::new(sync())),
            },
            Envelope {
                seq: 2,
                message: Message::HandoffDone {
                    key_id: key,
                    version: 9,
                },
            },
            Envelope {
                seq: 3,
                message: Message::HandoffAck {
                    key_id: key,
                    version: 9,
                },
            },
            Envelope {
                seq: 4,
                message: Message::ReplicaDeleted {
                    key_id: key,
                    region: "eu-west-1".into(),
                },
            },
        ];
        for e in entries {
            let wire = envelope_to_pb(&e);
            let back = envelope_from_pb(wire.clone()).expect("decodes");
            // Core types have no PartialEq (secrets-adjacent); compare the
            // wire forms of both.
            assert_eq!(envelope_to_pb(&back), wire);
            assert_eq!(back.seq, e.seq);
        }
        let check = AccessCheck {
            principal: "arn:aws:iam::111122223333:user/alice".into(),
            action: Operation::UpdatePrimaryRegion,
            key_id: KeyId::new_random_multi_region(),
            tags: vec![("a".into(), "b".into())],
            policy: None,
            bypass_policy_lockout_safety_check: false,
        };
        let wire = access_check_to_pb("us-east-1", &check);
        assert_eq!(wire.action, "kms:UpdatePrimaryRegion");
        let back = access_check_from_pb(wire.clone()).expect("decodes");
        assert_eq!(access_check_to_pb("us-east-1", &back), wire);
    }

    #[test]
    fn unknown_values_are_validation_errors() {
        let good = envelope_to_pb(&Envelope {
            seq: 1,
            message: Message::Sync(Box::new(sync())),
        });
        let bad_sync = |f: &dyn Fn(&mut pb::SyncKey)| {
            let mut e = good.clone();
            if let Some(pb::envelope::Message::Sync(s)) = e.message.as_mut() {
                f(s);
            }
            e
        };
        let cases = vec![
            bad_sync(&|s| s.key_spec = "AES_256".into()),
            bad_sync(&|s| s.key_usage = "sign_verify".into()),
            bad_sync(&|s| s.origin = String::new()),
            bad_sync(&|s| s.key_id = "1234abcd-12ab-34cd-56ef-1234567890ab".into()),
            bad_sync(&|s| s.key_id = "mrk-XYZ".into()),
            bad_sync(&|s| s.materials[0].state = "LIVE".into()),
            bad_sync(&|s| s.materials[1].origin = "HSMX".into()),
            bad_sync(&|s| s.materials[1].rotation_type = "MANUAL".into()),
            pb::Envelope {
                seq: 5,
                message: None,
            },
        ];
        for (i, e) in cases.into_iter().enumerate() {
            match envelope_from_pb(e) {
                Err(KmsError::Validation(_)) => {}
                other => panic!("case {i}: expected ValidationException, got {other:?}"),
            }
        }
        let mut check = access_check_to_pb(
            "us-east-1",
            &AccessCheck {
                principal: "p".into(),
                action: Operation::CreateKey,
                key_id: KeyId::new_random_multi_region(),
                tags: vec![],
                policy: None,
                bypass_policy_lockout_safety_check: false,
            },
        );
        check.action = "kms:Decrypt".into();
        assert!(matches!(
            access_check_from_pb(check),
            Err(KmsError::Validation(_))
        ));
    }
}
