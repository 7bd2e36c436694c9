//! Doors: the protocols a client reaches kmsd through. A scenario written
//! against [`Door`] runs unchanged through every door, so the gRPC door
//! today and the AWS JSON door (HTTPS + JSON, a later issue) are held to the
//! same behaviour.
//!
//! A scenario is an `async fn(DoorKind)`: it starts a server, opens a
//! [`Door`] of that kind as a principal ([`TestServer::door`]) and makes its
//! calls through it. Requests and results are door-neutral: AWS parameter
//! names in snake_case, enums in their AWS spellings (`"Enabled"`,
//! `"SYMMETRIC_DEFAULT"`, `"AES_256"`), dates as Unix milliseconds, and an
//! error is an [`AwsError`]: the AWS exception name and the message, split
//! as the JSON protocol's `__type` and `message` are. Each door checks its
//! own wire details while converting (the gRPC door: that the status code is
//! the one docs/api.md gives for the exception), so scenarios need not.
//! [`per_door!`] turns a list of scenarios into one test per (scenario,
//! door), named `<scenario>::<door>`, e.g. `envelope::round_trip::grpc`.
//!
//! Scenarios through the doors today: tests/it/envelope.rs (all of it); in
//! tests/it/keys_aliases_tags.rs the four ways to name a key, the
//! description/enable/disable scenario and aliases (create, repoint, delete,
//! list); in tests/it/bad_input.rs the data-plane and key-naming refusals
//! (`refusals_are_the_same_through_every_door`). Tests of the gRPC wire
//! itself (enum numbers, field presence, the rest of bad_input's table)
//! stay on the gRPC client.
//!
//! # Adding a door (e.g. the AWS JSON door)
//!
//! 1. Add a variant to [`DoorKind`] and list it in [`DoorKind::ALL`].
//! 2. Add a variant to [`Door`] holding that door's connection, and open it
//!    in [`TestServer::door`] (as the given principal).
//! 3. Give every `Door` method an arm for it: build the door's request from
//!    the neutral input, send it, and convert the answer to the neutral
//!    output, or the error to [`AwsError`] (JSON: `__type`, without any
//!    `namespace#` prefix, and `message`). Check the door's own wire rules
//!    there (e.g. the HTTP status for the exception).
//! 4. Add one line to [`per_door!`] (`json => DoorKind::Json`): every
//!    scenario listed with it then also runs through the new door.

#![allow(dead_code)] // Results carry every field a door returns; scenarios read some.

use std::collections::HashMap;

use kmsd::proto::kms::v1 as pb;
use tonic::Code;

use crate::harness::{Client, TestServer};

/// Which door a scenario goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoorKind {
    /// `kms.v1.KeyManagementService` over gRPC with mutual TLS.
    Grpc,
}

impl DoorKind {
    /// Every door; [`per_door!`] must list the same.
    pub const ALL: &'static [DoorKind] = &[DoorKind::Grpc];
}

/// Generates one `#[tokio::test]` per door for each listed scenario
/// (`async fn name(door: DoorKind)` in the calling module), as
/// `mod name { fn grpc() }`.
macro_rules! per_door {
    ($($scenario:ident),+ $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test]
                async fn grpc() {
                    super::$scenario($crate::door::DoorKind::Grpc).await
                }
            }
        )+
    };
}
pub(crate) use per_door;

/// An AWS error as every door reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// The exception name (`__type`), e.g. `NotFoundException`.
    pub exception: String,
    /// The message.
    pub message: String,
}

/// A result through a door.
pub type DoorResult<T> = Result<T, AwsError>;

/// Asserts an error is the AWS exception `exception`.
#[track_caller]
pub fn assert_exception<T: std::fmt::Debug>(r: DoorResult<T>, exception: &str) -> AwsError {
    match r {
        Ok(v) => panic!("expected {exception}, got success: {v:?}"),
        Err(e) => {
            assert_eq!(e.exception, exception, "{e:?}");
            e
        }
    }
}

// ---------------------------------------------------------------------------
// Door-neutral requests and results.

/// CreateKey's parameters (all optional, as in AWS).
#[derive(Debug, Clone, Default)]
pub struct CreateKey {
    pub description: String,
    /// `"SYMMETRIC_DEFAULT"`, ...
    pub key_spec: Option<String>,
    /// `"ENCRYPT_DECRYPT"`, ...
    pub key_usage: Option<String>,
    pub policy: Option<String>,
    pub tags: Vec<(String, String)>,
}

/// A key's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMeta {
    pub aws_account_id: String,
    pub key_id: String,
    pub arn: String,
    pub creation_date_ms: Option<i64>,
    pub enabled: bool,
    pub description: String,
    /// `"Enabled"`, `"Disabled"`, `"PendingDeletion"`, ...
    pub key_state: String,
    /// `"ENCRYPT_DECRYPT"`, ...
    pub key_usage: String,
    /// `"SYMMETRIC_DEFAULT"`, ...
    pub key_spec: String,
    pub deletion_date_ms: Option<i64>,
    pub pending_deletion_window_in_days: Option<i32>,
    pub encryption_algorithms: Vec<String>,
    pub current_key_material_id: String,
}

/// Encrypt's parameters.
#[derive(Debug, Clone, Default)]
pub struct Encrypt {
    pub key_id: String,
    pub plaintext: Vec<u8>,
    pub encryption_context: HashMap<String, String>,
}

/// Encrypt's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encrypted {
    pub ciphertext_blob: Vec<u8>,
    pub key_id: String,
    pub key_material_id: String,
}

/// Decrypt's parameters.
#[derive(Debug, Clone, Default)]
pub struct Decrypt {
    pub ciphertext_blob: Vec<u8>,
    pub encryption_context: HashMap<String, String>,
    pub key_id: Option<String>,
}

/// Decrypt's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    pub key_id: String,
    pub plaintext: Vec<u8>,
    pub key_material_id: String,
    /// `"SYMMETRIC_DEFAULT"`.
    pub encryption_algorithm: String,
}

/// GenerateDataKey's parameters.
#[derive(Debug, Clone, Default)]
pub struct GenerateDataKey {
    pub key_id: String,
    pub encryption_context: HashMap<String, String>,
    /// `"AES_256"` or `"AES_128"`.
    pub key_spec: Option<String>,
    pub number_of_bytes: Option<i32>,
}

/// GenerateDataKey's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKey {
    pub ciphertext_blob: Vec<u8>,
    pub plaintext: Vec<u8>,
    pub key_id: String,
    pub key_material_id: String,
}

/// ScheduleKeyDeletion's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledDeletion {
    pub key_id: String,
    pub deletion_date_ms: Option<i64>,
    pub key_state: String,
    pub pending_window_in_days: i32,
}

/// One ListAliases entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasEntry {
    pub alias_name: String,
    pub alias_arn: String,
    pub target_key_id: String,
    pub creation_date_ms: Option<i64>,
    pub last_updated_date_ms: Option<i64>,
}

// ---------------------------------------------------------------------------
// The door.

/// A connection through one door, as one principal.
pub enum Door {
    Grpc(Client),
}

impl TestServer {
    /// Opens a door of `kind` to this server as `principal`.
    pub async fn door(&self, kind: DoorKind, principal: &str) -> Door {
        match kind {
            DoorKind::Grpc => Door::Grpc(self.client_as(principal).await),
        }
    }
}

impl Door {
    pub fn kind(&self) -> DoorKind {
        match self {
            Door::Grpc(_) => DoorKind::Grpc,
        }
    }

    pub async fn create_key(&mut self, r: CreateKey) -> DoorResult<KeyMeta> {
        match self {
            Door::Grpc(c) => {
                let req = pb::CreateKeyRequest {
                    policy: r.policy,
                    description: r.description,
                    key_spec: r
                        .key_spec
                        .map_or(0, |s| enum_in(&s, "KEY_SPEC_", pb::KeySpec::from_str_name)),
                    key_usage: r.key_usage.map_or(0, |s| {
                        enum_in(&s, "KEY_USAGE_TYPE_", pb::KeyUsageType::from_str_name)
                    }),
                    tags: r
                        .tags
                        .into_iter()
                        .map(|(tag_key, tag_value)| pb::Tag { tag_key, tag_value })
                        .collect(),
                    ..Default::default()
                };
                let m = c.create_key(req).await.map_err(grpc_error)?;
                Ok(grpc_meta(m.into_inner().key_metadata))
            }
        }
    }

    /// CreateKey with a description and defaults, expecting success;
    /// returns the key id.
    pub async fn new_key(&mut self, description: &str) -> String {
        self.create_key(CreateKey {
            description: description.into(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("create key {description:?}: {e:?}"))
        .key_id
    }

    pub async fn describe_key(&mut self, key_id: &str) -> DoorResult<KeyMeta> {
        match self {
            Door::Grpc(c) => {
                let m = c
                    .describe_key(pb::DescribeKeyRequest {
                        key_id: key_id.into(),
                        ..Default::default()
                    })
                    .await
                    .map_err(grpc_error)?;
                Ok(grpc_meta(m.into_inner().key_metadata))
            }
        }
    }

    pub async fn update_key_description(
        &mut self,
        key_id: &str,
        description: &str,
    ) -> DoorResult<()> {
        match self {
            Door::Grpc(c) => c
                .update_key_description(pb::UpdateKeyDescriptionRequest {
                    key_id: key_id.into(),
                    description: description.into(),
                })
                .await
                .map(drop)
                .map_err(grpc_error),
        }
    }

    pub async fn enable_key(&mut self, key_id: &str) -> DoorResult<()> {
        match self {
            Door::Grpc(c) => c
                .enable_key(pb::EnableKeyRequest {
                    key_id: key_id.into(),
                })
                .await
                .map(drop)
                .map_err(grpc_error),
        }
    }

    pub async fn disable_key(&mut self, key_id: &str) -> DoorResult<()> {
        match self {
            Door::Grpc(c) => c
                .disable_key(pb::DisableKeyRequest {
                    key_id: key_id.into(),
                })
                .await
                .map(drop)
                .map_err(grpc_error),
        }
    }

    pub async fn schedule_key_deletion(
        &mut self,
        key_id: &str,
        pending_window_in_days: Option<i32>,
    ) -> DoorResult<ScheduledDeletion> {
        match self {
            Door::Grpc(c) => {
                let r = c
                    .schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
                        key_id: key_id.into(),
                        pending_window_in_days,
                    })
                    .await
                    .map_err(grpc_error)?
                    .into_inner();
                Ok(ScheduledDeletion {
                    key_id: r.key_id,
                    deletion_date_ms: r.deletion_date.map(ms_of),
                    key_state: key_state_name(r.key_state),
                    pending_window_in_days: r.pending_window_in_days,
                })
            }
        }
    }

    pub async fn encrypt(&mut self, r: Encrypt) -> DoorResult<Encrypted> {
        match self {
            Door::Grpc(c) => {
                let out = c
                    .encrypt(pb::EncryptRequest {
                        key_id: r.key_id,
                        plaintext: r.plaintext,
                        encryption_context: r.encryption_context,
                        ..Default::default()
                    })
                    .await
                    .map_err(grpc_error)?
                    .into_inner();
                Ok(Encrypted {
                    ciphertext_blob: out.ciphertext_blob,
                    key_id: out.key_id,
                    key_material_id: out.key_material_id,
                })
            }
        }
    }

    pub async fn decrypt(&mut self, r: Decrypt) -> DoorResult<Decrypted> {
        match self {
            Door::Grpc(c) => {
                let out = c
                    .decrypt(pb::DecryptRequest {
                        ciphertext_blob: r.ciphertext_blob,
                        encryption_context: r.encryption_context,
                        key_id: r.key_id,
                        ..Default::default()
                    })
                    .await
                    .map_err(grpc_error)?
                    .into_inner();
                Ok(Decrypted {
                    key_id: out.key_id,
                    plaintext: out.plaintext,
                    key_material_id: out.key_material_id,
                    encryption_algorithm: enum_name(
                        pb::EncryptionAlgorithmSpec::try_from(out.encryption_algorithm)
                            .map(|e| e.as_str_name()),
                        "ENCRYPTION_ALGORITHM_SPEC_",
                    ),
                })
            }
        }
    }

    pub async fn generate_data_key(&mut self, r: GenerateDataKey) -> DoorResult<DataKey> {
        match self {
            Door::Grpc(c) => {
                let out = c
                    .generate_data_key(pb::GenerateDataKeyRequest {
                        key_id: r.key_id,
                        encryption_context: r.encryption_context,
                        key_spec: r.key_spec.map_or(0, |s| {
                            enum_in(&s, "DATA_KEY_SPEC_", pb::DataKeySpec::from_str_name)
                        }),
                        number_of_bytes: r.number_of_bytes,
                        ..Default::default()
                    })
                    .await
                    .map_err(grpc_error)?
                    .into_inner();
                Ok(DataKey {
                    ciphertext_blob: out.ciphertext_blob,
                    plaintext: out.plaintext,
                    key_id: out.key_id,
                    key_material_id: out.key_material_id,
                })
            }
        }
    }

    pub async fn create_alias(&mut self, alias_name: &str, target_key_id: &str) -> DoorResult<()> {
        match self {
            Door::Grpc(c) => c
                .create_alias(pb::CreateAliasRequest {
                    alias_name: alias_name.into(),
                    target_key_id: target_key_id.into(),
                })
                .await
                .map(drop)
                .map_err(grpc_error),
        }
    }

    pub async fn update_alias(&mut self, alias_name: &str, target_key_id: &str) -> DoorResult<()> {
        match self {
            Door::Grpc(c) => c
                .update_alias(pb::UpdateAliasRequest {
                    alias_name: alias_name.into(),
                    target_key_id: target_key_id.into(),
                })
                .await
                .map(drop)
                .map_err(grpc_error),
        }
    }

    pub async fn delete_alias(&mut self, alias_name: &str) -> DoorResult<()> {
        match self {
            Door::Grpc(c) => c
                .delete_alias(pb::DeleteAliasRequest {
                    alias_name: alias_name.into(),
                })
                .await
                .map(drop)
                .map_err(grpc_error),
        }
    }

    /// Every key id ListKeys returns, following markers.
    pub async fn list_keys(&mut self) -> DoorResult<Vec<String>> {
        match self {
            Door::Grpc(c) => {
                let mut out = Vec::new();
                let mut marker = None;
                loop {
                    let page = c
                        .list_keys(pb::ListKeysRequest {
                            limit: Some(1000),
                            marker: marker.take(),
                        })
                        .await
                        .map_err(grpc_error)?
                        .into_inner();
                    out.extend(page.keys.into_iter().map(|k| k.key_id));
                    if !page.truncated {
                        return Ok(out);
                    }
                    marker = Some(page.next_marker);
                }
            }
        }
    }

    /// Every alias (of the key, when given), following markers.
    pub async fn list_aliases(&mut self, key_id: Option<&str>) -> DoorResult<Vec<AliasEntry>> {
        match self {
            Door::Grpc(c) => {
                let mut out = Vec::new();
                let mut marker = None;
                loop {
                    let page = c
                        .list_aliases(pb::ListAliasesRequest {
                            key_id: key_id.map(str::to_owned),
                            limit: Some(1000),
                            marker: marker.take(),
                        })
                        .await
                        .map_err(grpc_error)?
                        .into_inner();
                    out.extend(page.aliases.into_iter().map(|a| AliasEntry {
                        alias_name: a.alias_name,
                        alias_arn: a.alias_arn,
                        target_key_id: a.target_key_id,
                        creation_date_ms: a.creation_date.map(ms_of),
                        last_updated_date_ms: a.last_updated_date.map(ms_of),
                    }));
                    if !page.truncated {
                        return Ok(out);
                    }
                    marker = Some(page.next_marker);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The gRPC door's conversions.

/// A gRPC status as an [`AwsError`]: the message is `Exception: message`
/// (src/service/status.rs), and the code must be docs/api.md's for that
/// exception.
#[track_caller]
fn grpc_error(s: tonic::Status) -> AwsError {
    let (exception, message) = s
        .message()
        .split_once(": ")
        .unwrap_or_else(|| panic!("gRPC error without `Exception: ` prefix: {s:?}"));
    let expected = grpc_code_of(exception)
        .unwrap_or_else(|| panic!("unknown AWS exception {exception:?} in {s:?}"));
    assert_eq!(
        s.code(),
        expected,
        "the gRPC code of {exception} (docs/api.md): {s:?}"
    );
    AwsError {
        exception: exception.to_owned(),
        message: message.to_owned(),
    }
}

/// docs/api.md's gRPC code for each AWS exception.
fn grpc_code_of(exception: &str) -> Option<Code> {
    Some(match exception {
        "NotFoundException" => Code::NotFound,
        "AccessDeniedException" => Code::PermissionDenied,
        "DisabledException" | "KMSInvalidStateException" => Code::FailedPrecondition,
        "InvalidCiphertextException"
        | "IncorrectKeyException"
        | "InvalidKeyUsageException"
        | "ValidationException"
        | "InvalidArnException"
        | "InvalidAliasNameException"
        | "InvalidMarkerException"
        | "TagException"
        | "MalformedPolicyDocumentException"
        | "InvalidGrantTokenException"
        | "InvalidGrantIdException" => Code::InvalidArgument,
        "AlreadyExistsException" => Code::AlreadyExists,
        "LimitExceededException" => Code::ResourceExhausted,
        "UnsupportedOperationException" => Code::Unimplemented,
        "UnauthenticatedException" => Code::Unauthenticated,
        "DependencyTimeoutException" => Code::Unavailable,
        "KMSInternalException" => Code::Internal,
        _ => return None,
    })
}

/// An AWS enum spelling as the proto's number; a spelling the proto lacks
/// becomes a number no enum has (what a gRPC client can send), so the
/// server's refusal of unknown values is exercised the same way.
fn enum_in<E: Into<i32>>(aws: &str, prefix: &str, from: fn(&str) -> Option<E>) -> i32 {
    from(&format!("{prefix}{aws}")).map_or(i32::MAX, Into::into)
}

/// A proto enum name (`KEY_SPEC_SYMMETRIC_DEFAULT`) as its AWS spelling
/// (`SYMMETRIC_DEFAULT`); an unknown number as `?<n>`.
fn enum_name<E>(name: Result<&str, E>, prefix: &str) -> String {
    match name {
        Ok(n) => n.strip_prefix(prefix).unwrap_or(n).to_owned(),
        Err(_) => "?".to_owned(),
    }
}

/// KeyState's AWS spelling is PascalCase (`PendingDeletion`).
fn key_state_name(n: i32) -> String {
    let upper = enum_name(
        pb::KeyState::try_from(n).map(|s| s.as_str_name()),
        "KEY_STATE_",
    );
    upper
        .split('_')
        .map(|w| {
            let mut cs = w.chars();
            match cs.next() {
                Some(f) => f.to_string() + &cs.as_str().to_ascii_lowercase(),
                None => String::new(),
            }
        })
        .collect()
}

fn ms_of(t: prost_types::Timestamp) -> i64 {
    t.seconds * 1000 + i64::from(t.nanos) / 1_000_000
}

#[track_caller]
fn grpc_meta(m: Option<pb::KeyMetadata>) -> KeyMeta {
    let m = m.expect("a KeyMetadata in the response");
    KeyMeta {
        aws_account_id: m.aws_account_id,
        key_id: m.key_id,
        arn: m.arn,
        creation_date_ms: m.creation_date.map(ms_of),
        enabled: m.enabled,
        description: m.description,
        key_state: key_state_name(m.key_state),
        key_usage: enum_name(
            pb::KeyUsageType::try_from(m.key_usage).map(|e| e.as_str_name()),
            "KEY_USAGE_TYPE_",
        ),
        key_spec: enum_name(
            pb::KeySpec::try_from(m.key_spec).map(|e| e.as_str_name()),
            "KEY_SPEC_",
        ),
        deletion_date_ms: m.deletion_date.map(ms_of),
        pending_deletion_window_in_days: m.pending_deletion_window_in_days,
        encryption_algorithms: m
            .encryption_algorithms
            .into_iter()
            .map(|a| {
                enum_name(
                    pb::EncryptionAlgorithmSpec::try_from(a).map(|e| e.as_str_name()),
                    "ENCRYPTION_ALGORITHM_SPEC_",
                )
            })
            .collect(),
        current_key_material_id: m.current_key_material_id,
    }
}

#[test]
fn grpc_enum_spellings_are_aws_spellings() {
    assert_eq!(
        key_state_name(pb::KeyState::PendingDeletion as i32),
        "PendingDeletion"
    );
    assert_eq!(key_state_name(pb::KeyState::Enabled as i32), "Enabled");
    assert_eq!(
        enum_in("AES_128", "DATA_KEY_SPEC_", pb::DataKeySpec::from_str_name),
        pb::DataKeySpec::Aes128 as i32
    );
    assert_eq!(
        enum_in("NOPE", "DATA_KEY_SPEC_", pb::DataKeySpec::from_str_name),
        i32::MAX
    );
    assert_eq!(DoorKind::ALL.len(), 1, "list a new door in per_door! too");
}
