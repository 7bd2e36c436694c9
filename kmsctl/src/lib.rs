//! kmsctl: a command-line client for kmsd shaped like `aws kms`, so AWS CLI
//! scripts run with `kmsctl` in place of `aws kms`; `kmsctl iam ...` calls
//! kmsd's IdentityService (principal policies) over the same connection.
//!
//! This crate root is the entry point and the dispatcher: it parses the
//! command line ([`args`]), reads every parameter before touching the
//! network ([`params`]), connects ([`kms_proto::client`], shared with
//! kms-bench and kmsd's tests), makes the call (fetching every page of list
//! calls unless `--limit`, `--marker` or `--no-paginate` is given, as the
//! AWS CLI does, and then printing neither `Truncated` nor `NextMarker`),
//! and prints the response ([`output`], [`query`]).
//! Errors print to stderr as the AWS CLI prints them and exit with its codes:
//! 252 for usage and parameter errors, 254 for service errors, 255 for
//! connection failures.
//!
//! It depends on `kms-proto` only (not on kmsd), so it builds without
//! RocksDB.

#![forbid(unsafe_code)]

pub mod args;
pub mod output;
pub mod params;
pub mod query;

use std::collections::{HashMap, HashSet};
use std::io::{self, Write as _};
use std::process::ExitCode;

use clap::Parser as _;
use tonic::transport::Channel;
use tonic::{Code, Status};

use args::{Cli, Command, IamCommand};
use kms_proto::client::profile::{self, Config, ProfileError, Selection};
use kms_proto::client::{self, ConnectError, ConnectOptions, IdentityClient, KmsClient};
use kms_proto::kms::v1 as pb;
use output::{Shape, Value};
use params::{BinaryFormat, ParamError};
use query::{Query, QueryError};

/// Exit code for usage and parameter errors (the AWS CLI's).
pub const EXIT_USAGE: u8 = 252;
/// Exit code for an error returned by the service (the AWS CLI's).
pub const EXIT_SERVICE: u8 = 254;
/// Exit code for connection failures and other client errors (the AWS CLI's).
pub const EXIT_CLIENT: u8 = 255;

/// Why a kmsctl command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CtlError {
    /// A parameter value could not be read or parsed.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// The `--query` expression is not supported or malformed.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// No connection could be made.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The profile or Region cannot be used.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// kmsd answered with an error.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] io::Error),
    /// Writing the output failed.
    #[error("cannot write the output: {0}")]
    Output(#[source] io::Error),
}

impl CtlError {
    /// The process exit code, as the AWS CLI's.
    pub fn exit_code(&self) -> u8 {
        match self {
            CtlError::Param(_) | CtlError::Query(_) => EXIT_USAGE,
            CtlError::Service(_) => EXIT_SERVICE,
            CtlError::Connect(_)
            | CtlError::Profile(_)
            | CtlError::Runtime(_)
            | CtlError::Output(_) => EXIT_CLIENT,
        }
    }

    /// What goes to stderr: like the AWS CLI, a blank line, then the
    /// message. Nothing for a closed stdout (e.g. `| head`).
    pub fn stderr_text(&self) -> String {
        match self {
            CtlError::Output(e) if e.kind() == io::ErrorKind::BrokenPipe => String::new(),
            other => format!("\n{other}\n"),
        }
    }
}

/// An error answer from kmsd, in the AWS CLI's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("An error occurred ({code}) when calling the {operation} operation: {message}")]
pub struct ServiceError {
    /// The AWS operation, e.g. `DescribeKey`.
    pub operation: &'static str,
    /// The AWS exception name, e.g. `NotFoundException`.
    pub code: String,
    /// The rest of the message.
    pub message: String,
}

/// Splits `NotFoundException: Key '...' does not exist` into the AWS
/// exception name and the rest; `None` when the message does not start with
/// an exception name.
pub fn split_exception(message: &str) -> Option<(&str, &str)> {
    let (name, rest) = match message.split_once(':') {
        Some((name, rest)) => (name, rest.trim_start()),
        None => (message.trim_end(), ""),
    };
    let is_name = name.len() > "Exception".len()
        && name.ends_with("Exception")
        && name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric());
    is_name.then_some((name, rest))
}

/// The AWS exception for a gRPC status without one in its message.
fn exception_for_code(code: Code) -> &'static str {
    match code {
        Code::NotFound => "NotFoundException",
        Code::PermissionDenied => "AccessDeniedException",
        Code::InvalidArgument | Code::OutOfRange => "ValidationException",
        Code::AlreadyExists => "AlreadyExistsException",
        Code::ResourceExhausted => "LimitExceededException",
        Code::Unimplemented => "UnsupportedOperationException",
        Code::Unauthenticated => "UnrecognizedClientException",
        Code::FailedPrecondition => "KMSInvalidStateException",
        _ => "KMSInternalException",
    }
}

/// Turns a failed call's status into the error kmsctl reports: a service
/// error when kmsd answered (its message names the AWS exception), a
/// connection error when the call never got an answer.
pub fn status_error(operation: &'static str, status: &Status, endpoint: &str) -> CtlError {
    if let Some((code, message)) = split_exception(status.message()) {
        return ServiceError {
            operation,
            code: code.to_owned(),
            message: message.to_owned(),
        }
        .into();
    }
    match status.code() {
        // tonic reports transport failures and timeouts this way; kmsd's own
        // UNAVAILABLE answers carry an exception name.
        Code::Unavailable | Code::Unknown | Code::DeadlineExceeded | Code::Cancelled => {
            let mut detail = status.message().to_owned();
            if let Some(source) = std::error::Error::source(status) {
                detail = format!("{detail}: {}", client::error_chain(source));
            }
            ConnectError::Connect {
                endpoint: endpoint.to_owned(),
                detail,
            }
            .into()
        }
        // tonic answers an unknown service or method with a bare
        // UNIMPLEMENTED: say what that means.
        Code::Unimplemented if status.message().is_empty() => ServiceError {
            operation,
            code: exception_for_code(Code::Unimplemented).to_owned(),
            message: format!("the kmsd at {endpoint} does not serve the {operation} operation"),
        }
        .into(),
        code => ServiceError {
            operation,
            code: exception_for_code(code).to_owned(),
            message: status.message().to_owned(),
        }
        .into(),
    }
}

/// kmsctl's `main`: parses `std::env::args_os()`, runs, and returns the exit
/// code.
pub fn main() -> ExitCode {
    match Cli::try_parse() {
        Ok(cli) => run(cli),
        Err(err) => {
            // Help and --version go to stdout with 0; usage errors exit 252
            // like the AWS CLI's rather than clap's 2.
            let _ = err.print();
            if err.use_stderr() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}

/// Runs a parsed command line, printing output and errors.
pub fn run(cli: Cli) -> ExitCode {
    match execute(cli) {
        Ok(text) => match write_stdout(&text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => report(&e),
        },
        Err(e) => report(&e),
    }
}

fn report(err: &CtlError) -> ExitCode {
    let _ = io::stderr().write_all(err.stderr_text().as_bytes());
    ExitCode::from(err.exit_code())
}

fn write_stdout(text: &str) -> Result<(), CtlError> {
    if text.is_empty() {
        return Ok(());
    }
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(CtlError::Output)
}

/// Runs a parsed command line and returns what to print.
pub fn execute(cli: Cli) -> Result<String, CtlError> {
    let g = &cli.global;
    let query = g.query.as_deref().map(Query::parse).transpose()?;
    let call = prepare(&cli.command, g.cli_binary_format, !g.no_paginate)?;
    let opts = connect_options(g)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CtlError::Runtime)?;
    let value = runtime.block_on(async {
        let endpoint = opts.resolve()?.endpoint;
        let channel = client::connect_channel(&opts).await?;
        let operation = cli.command.operation();
        call.send(channel)
            .await
            .map_err(|status| status_error(operation, &status, &endpoint))
    })?;
    Ok(output::render(value.as_ref(), query.as_ref(), g.output))
}

/// The connection settings: the flags (and their environment variables),
/// then the config file's profile for the Region.
fn connect_options(g: &args::GlobalArgs) -> Result<ConnectOptions, CtlError> {
    let config = match Config::default_path() {
        Some((path, named)) => Config::load(&path, named)?,
        None => None,
    };
    connect_options_with(g, config.as_ref())
}

/// As [`connect_options`], with the config file already loaded.
fn connect_options_with(
    g: &args::GlobalArgs,
    config: Option<&Config>,
) -> Result<ConnectOptions, CtlError> {
    let opts = ConnectOptions {
        endpoint_url: g.endpoint_url.clone(),
        ca_cert: g.ca_cert.clone(),
        client_cert: g.client_cert.clone(),
        client_key: g.client_key.clone(),
        data_dir: g.data_dir.clone(),
    };
    let selection = Selection {
        profile: g.profile.clone().filter(|p| !p.is_empty()),
        region: g.region.clone().filter(|r| !r.is_empty()),
    };
    Ok(profile::apply(opts, &selection, config)?.opts)
}

/// One request, with every parameter read and parsed.
#[derive(Debug)]
pub enum Call {
    /// `create-key`.
    CreateKey(pb::CreateKeyRequest),
    /// `describe-key`.
    DescribeKey(pb::DescribeKeyRequest),
    /// `list-keys`; `all_pages` fetches every page.
    ListKeys {
        /// The first request.
        request: pb::ListKeysRequest,
        /// Follow `NextMarker` to the end.
        all_pages: bool,
    },
    /// `update-key-description`.
    UpdateKeyDescription(pb::UpdateKeyDescriptionRequest),
    /// `enable-key`.
    EnableKey(pb::EnableKeyRequest),
    /// `disable-key`.
    DisableKey(pb::DisableKeyRequest),
    /// `schedule-key-deletion`.
    ScheduleKeyDeletion(pb::ScheduleKeyDeletionRequest),
    /// `cancel-key-deletion`.
    CancelKeyDeletion(pb::CancelKeyDeletionRequest),
    /// `create-alias`.
    CreateAlias(pb::CreateAliasRequest),
    /// `update-alias`.
    UpdateAlias(pb::UpdateAliasRequest),
    /// `delete-alias`.
    DeleteAlias(pb::DeleteAliasRequest),
    /// `list-aliases`.
    ListAliases {
        /// The first request.
        request: pb::ListAliasesRequest,
        /// Follow `NextMarker` to the end.
        all_pages: bool,
    },
    /// `tag-resource`.
    TagResource(pb::TagResourceRequest),
    /// `untag-resource`.
    UntagResource(pb::UntagResourceRequest),
    /// `list-resource-tags`.
    ListResourceTags {
        /// The first request.
        request: pb::ListResourceTagsRequest,
        /// Follow `NextMarker` to the end.
        all_pages: bool,
    },
    /// `encrypt`.
    Encrypt(pb::EncryptRequest),
    /// `decrypt`.
    Decrypt(pb::DecryptRequest),
    /// `re-encrypt`.
    ReEncrypt(pb::ReEncryptRequest),
    /// `generate-data-key`.
    GenerateDataKey(pb::GenerateDataKeyRequest),
    /// `generate-data-key-without-plaintext`.
    GenerateDataKeyWithoutPlaintext(pb::GenerateDataKeyWithoutPlaintextRequest),
    /// `generate-random`.
    GenerateRandom(pb::GenerateRandomRequest),
    /// `get-public-key`.
    GetPublicKey(pb::GetPublicKeyRequest),
    /// `sign`.
    Sign(pb::SignRequest),
    /// `verify`.
    Verify(pb::VerifyRequest),
    /// `generate-data-key-pair`.
    GenerateDataKeyPair(pb::GenerateDataKeyPairRequest),
    /// `generate-data-key-pair-without-plaintext`.
    GenerateDataKeyPairWithoutPlaintext(pb::GenerateDataKeyPairWithoutPlaintextRequest),
    /// `generate-mac`.
    GenerateMac(pb::GenerateMacRequest),
    /// `verify-mac`.
    VerifyMac(pb::VerifyMacRequest),
    /// `derive-shared-secret`.
    DeriveSharedSecret(pb::DeriveSharedSecretRequest),
    /// `encapsulate`.
    Encapsulate(pb::EncapsulateRequest),
    /// `decapsulate`.
    Decapsulate(pb::DecapsulateRequest),
    /// `put-key-policy`.
    PutKeyPolicy(pb::PutKeyPolicyRequest),
    /// `get-key-policy`.
    GetKeyPolicy(pb::GetKeyPolicyRequest),
    /// `list-key-policies`.
    ListKeyPolicies {
        /// The first request.
        request: pb::ListKeyPoliciesRequest,
        /// Follow `NextMarker` to the end.
        all_pages: bool,
    },
    /// `create-grant`.
    CreateGrant(pb::CreateGrantRequest),
    /// `list-grants`.
    ListGrants {
        /// The first request.
        request: pb::ListGrantsRequest,
        /// Follow `NextMarker` to the end.
        all_pages: bool,
    },
    /// `list-retirable-grants`.
    ListRetirableGrants {
        /// The first request.
        request: pb::ListRetirableGrantsRequest,
        /// Follow `NextMarker` to the end.
        all_pages: bool,
    },
    /// `retire-grant`.
    RetireGrant(pb::RetireGrantRequest),
    /// `revoke-grant`.
    RevokeGrant(pb::RevokeGrantRequest),
    /// `enable-key-rotation`.
    EnableKeyRotation(pb::EnableKeyRotationRequest),
    /// `disable-key-rotation`.
    DisableKeyRotation(pb::DisableKeyRotationRequest),
    /// `get-key-rotation-status`.
    GetKeyRotationStatus(pb::GetKeyRotationStatusRequest),
    /// `rotate-key-on-demand`.
    RotateKeyOnDemand(pb::RotateKeyOnDemandRequest),
    /// `list-key-rotations`.
    ListKeyRotations {
        /// The first request.
        request: pb::ListKeyRotationsRequest,
        /// Follow `NextMarker` to the end.
        all_pages: bool,
    },
    /// `get-parameters-for-import`.
    GetParametersForImport(pb::GetParametersForImportRequest),
    /// `import-key-material`.
    ImportKeyMaterial(pb::ImportKeyMaterialRequest),
    /// `delete-imported-key-material`.
    DeleteImportedKeyMaterial(pb::DeleteImportedKeyMaterialRequest),
    /// `create-custom-key-store`.
    CreateCustomKeyStore(pb::CreateCustomKeyStoreRequest),
    /// `describe-custom-key-stores`.
    DescribeCustomKeyStores {
        /// The first request.
        request: pb::DescribeCustomKeyStoresRequest,
        /// Follow `NextMarker` to the end.
        all_pages: bool,
    },
    /// `update-custom-key-store`.
    UpdateCustomKeyStore(pb::UpdateCustomKeyStoreRequest),
    /// `connect-custom-key-store`.
    ConnectCustomKeyStore(pb::ConnectCustomKeyStoreRequest),
    /// `disconnect-custom-key-store`.
    DisconnectCustomKeyStore(pb::DisconnectCustomKeyStoreRequest),
    /// `delete-custom-key-store`.
    DeleteCustomKeyStore(pb::DeleteCustomKeyStoreRequest),
    /// `replicate-key`.
    ReplicateKey(pb::ReplicateKeyRequest),
    /// `update-primary-region`.
    UpdatePrimaryRegion(pb::UpdatePrimaryRegionRequest),
    /// `iam put-principal-policy` (IdentityService).
    PutPrincipalPolicy(pb::PutPrincipalPolicyRequest),
    /// `iam get-principal-policy` (IdentityService).
    GetPrincipalPolicy(pb::GetPrincipalPolicyRequest),
    /// `iam list-principal-policies` (IdentityService).
    ListPrincipalPolicies {
        /// The first request.
        request: pb::ListPrincipalPoliciesRequest,
        /// Follow `NextMarker` to the end.
        all_pages: bool,
    },
    /// `iam delete-principal-policy` (IdentityService).
    DeletePrincipalPolicy(pb::DeletePrincipalPolicyRequest),
}

fn optional_map(
    param: &str,
    value: &Option<String>,
) -> Result<HashMap<String, String>, ParamError> {
    match value {
        Some(v) => params::parse_map(param, v),
        None => Ok(HashMap::new()),
    }
}

/// An optional text parameter (`file://PATH` or the value itself).
fn optional_text(param: &str, value: &Option<String>) -> Result<Option<String>, ParamError> {
    value
        .as_deref()
        .map(|v| params::read_text(param, v).map(|t| t.into_owned()))
        .transpose()
}

fn grant_tokens(values: &[String]) -> Result<Vec<String>, ParamError> {
    if values.is_empty() {
        Ok(Vec::new())
    } else {
        params::parse_string_list("--grant-tokens", values)
    }
}

/// Reads and parses every parameter of `command` into its request.
/// `paginate`: whether list calls may fetch every page (they do unless
/// `--limit` or `--marker` is given).
pub fn prepare(
    command: &Command,
    format: BinaryFormat,
    paginate: bool,
) -> Result<Call, ParamError> {
    Ok(match command {
        Command::CreateKey(a) => Call::CreateKey(pb::CreateKeyRequest {
            policy: a
                .policy
                .as_deref()
                .map(|p| params::read_text("--policy", p).map(|t| t.into_owned()))
                .transpose()?,
            description: match &a.description {
                Some(d) => params::read_text("--description", d)?.into_owned(),
                None => String::new(),
            },
            key_usage: a.key_usage.unwrap_or_default(),
            customer_master_key_spec: a.customer_master_key_spec.unwrap_or_default(),
            key_spec: a.key_spec.unwrap_or_default(),
            origin: a.origin.unwrap_or_default(),
            custom_key_store_id: a.custom_key_store_id.clone(),
            bypass_policy_lockout_safety_check: a.bypass_policy_lockout_safety_check,
            tags: params::parse_tags("--tags", &a.tags)?,
            multi_region: a.multi_region,
            xks_key_id: a.xks_key_id.clone(),
        }),
        Command::DescribeKey(a) => Call::DescribeKey(pb::DescribeKeyRequest {
            key_id: a.key_id.clone(),
            grant_tokens: grant_tokens(&a.grant_tokens)?,
        }),
        Command::ListKeys(a) => Call::ListKeys {
            request: pb::ListKeysRequest {
                limit: a.limit,
                marker: a.marker.clone(),
            },
            all_pages: paginate && a.limit.is_none() && a.marker.is_none(),
        },
        Command::UpdateKeyDescription(a) => {
            Call::UpdateKeyDescription(pb::UpdateKeyDescriptionRequest {
                key_id: a.key_id.clone(),
                description: params::read_text("--description", &a.description)?.into_owned(),
            })
        }
        Command::EnableKey(a) => Call::EnableKey(pb::EnableKeyRequest {
            key_id: a.key_id.clone(),
        }),
        Command::DisableKey(a) => Call::DisableKey(pb::DisableKeyRequest {
            key_id: a.key_id.clone(),
        }),
        Command::ScheduleKeyDeletion(a) => {
            Call::ScheduleKeyDeletion(pb::ScheduleKeyDeletionRequest {
                key_id: a.key_id.clone(),
                pending_window_in_days: a.pending_window_in_days,
            })
        }
        Command::CancelKeyDeletion(a) => Call::CancelKeyDeletion(pb::CancelKeyDeletionRequest {
            key_id: a.key_id.clone(),
        }),
        Command::CreateAlias(a) => Call::CreateAlias(pb::CreateAliasRequest {
            alias_name: a.alias_name.clone(),
            target_key_id: a.target_key_id.clone(),
        }),
        Command::UpdateAlias(a) => Call::UpdateAlias(pb::UpdateAliasRequest {
            alias_name: a.alias_name.clone(),
            target_key_id: a.target_key_id.clone(),
        }),
        Command::DeleteAlias(a) => Call::DeleteAlias(pb::DeleteAliasRequest {
            alias_name: a.alias_name.clone(),
        }),
        Command::ListAliases(a) => Call::ListAliases {
            request: pb::ListAliasesRequest {
                key_id: a.key_id.clone(),
                limit: a.limit,
                marker: a.marker.clone(),
            },
            all_pages: paginate && a.limit.is_none() && a.marker.is_none(),
        },
        Command::TagResource(a) => Call::TagResource(pb::TagResourceRequest {
            key_id: a.key_id.clone(),
            tags: params::parse_tags("--tags", &a.tags)?,
        }),
        Command::UntagResource(a) => Call::UntagResource(pb::UntagResourceRequest {
            key_id: a.key_id.clone(),
            tag_keys: params::parse_string_list("--tag-keys", &a.tag_keys)?,
        }),
        Command::ListResourceTags(a) => Call::ListResourceTags {
            request: pb::ListResourceTagsRequest {
                key_id: a.key_id.clone(),
                limit: a.limit,
                marker: a.marker.clone(),
            },
            all_pages: paginate && a.limit.is_none() && a.marker.is_none(),
        },
        Command::Encrypt(a) => Call::Encrypt(pb::EncryptRequest {
            key_id: a.key_id.clone(),
            plaintext: params::read_blob("--plaintext", &a.plaintext, format)?,
            encryption_context: optional_map("--encryption-context", &a.encryption_context)?,
            grant_tokens: grant_tokens(&a.grant_tokens)?,
            encryption_algorithm: a.encryption_algorithm.unwrap_or_default(),
        }),
        Command::Decrypt(a) => Call::Decrypt(pb::DecryptRequest {
            ciphertext_blob: params::read_blob("--ciphertext-blob", &a.ciphertext_blob, format)?,
            encryption_context: optional_map("--encryption-context", &a.encryption_context)?,
            grant_tokens: grant_tokens(&a.grant_tokens)?,
            key_id: a.key_id.clone(),
            encryption_algorithm: a.encryption_algorithm.unwrap_or_default(),
        }),
        Command::ReEncrypt(a) => Call::ReEncrypt(pb::ReEncryptRequest {
            ciphertext_blob: params::read_blob("--ciphertext-blob", &a.ciphertext_blob, format)?,
            source_encryption_context: optional_map(
                "--source-encryption-context",
                &a.source_encryption_context,
            )?,
            source_key_id: a.source_key_id.clone(),
            destination_key_id: a.destination_key_id.clone(),
            destination_encryption_context: optional_map(
                "--destination-encryption-context",
                &a.destination_encryption_context,
            )?,
            source_encryption_algorithm: a.source_encryption_algorithm.unwrap_or_default(),
            destination_encryption_algorithm: a
                .destination_encryption_algorithm
                .unwrap_or_default(),
            grant_tokens: grant_tokens(&a.grant_tokens)?,
        }),
        Command::GenerateDataKey(a) => Call::GenerateDataKey(pb::GenerateDataKeyRequest {
            key_id: a.key_id.clone(),
            encryption_context: optional_map("--encryption-context", &a.encryption_context)?,
            number_of_bytes: a.number_of_bytes,
            key_spec: a.key_spec.unwrap_or_default(),
            grant_tokens: grant_tokens(&a.grant_tokens)?,
        }),
        Command::GenerateDataKeyWithoutPlaintext(a) => {
            Call::GenerateDataKeyWithoutPlaintext(pb::GenerateDataKeyWithoutPlaintextRequest {
                key_id: a.key_id.clone(),
                encryption_context: optional_map("--encryption-context", &a.encryption_context)?,
                key_spec: a.key_spec.unwrap_or_default(),
                number_of_bytes: a.number_of_bytes,
                grant_tokens: grant_tokens(&a.grant_tokens)?,
            })
        }
        Command::GenerateRandom(a) => Call::GenerateRandom(pb::GenerateRandomRequest {
            number_of_bytes: a.number_of_bytes,
            custom_key_store_id: a.custom_key_store_id.clone(),
        }),
        Command::GetPublicKey(a) => Call::GetPublicKey(pb::GetPublicKeyRequest {
            key_id: a.key_id.clone(),
            grant_tokens: grant_tokens(&a.grant_tokens)?,
        }),
        Command::Sign(a) => Call::Sign(pb::SignRequest {
            key_id: a.key_id.clone(),
            message: params::read_blob("--message", &a.message, format)?,
            message_type: a.message_type.unwrap_or_default(),
            grant_tokens: grant_tokens(&a.grant_tokens)?,
            signing_algorithm: a.signing_algorithm,
        }),
        Command::Verify(a) => Call::Verify(pb::VerifyRequest {
            key_id: a.key_id.clone(),
            message: params::read_blob("--message", &a.message, format)?,
            message_type: a.message_type.unwrap_or_default(),
            signature: params::read_blob("--signature", &a.signature, format)?,
            signing_algorithm: a.signing_algorithm,
            grant_tokens: grant_tokens(&a.grant_tokens)?,
        }),
        Command::GenerateDataKeyPair(a) => {
            Call::GenerateDataKeyPair(pb::GenerateDataKeyPairRequest {
                encryption_context: optional_map("--encryption-context", &a.encryption_context)?,
                key_id: a.key_id.clone(),
                key_pair_spec: a.key_pair_spec,
                grant_tokens: grant_tokens(&a.grant_tokens)?,
            })
        }
        Command::GenerateDataKeyPairWithoutPlaintext(a) => {
            Call::GenerateDataKeyPairWithoutPlaintext(
                pb::GenerateDataKeyPairWithoutPlaintextRequest {
                    encryption_context: optional_map(
                        "--encryption-context",
                        &a.encryption_context,
                    )?,
                    key_id: a.key_id.clone(),
                    key_pair_spec: a.key_pair_spec,
                    grant_tokens: grant_tokens(&a.grant_tokens)?,
                },
            )
        }
        Command::GenerateMac(a) => Call::GenerateMac(pb::GenerateMacRequest {
            message: params::read_blob("--message", &a.message, format)?,
            key_id: a.key_id.clone(),
            mac_algorithm: a.mac_algorithm,
            grant_tokens: grant_tokens(&a.grant_tokens)?,
        }),
        Command::VerifyMac(a) => Call::VerifyMac(pb::VerifyMacRequest {
            message: params::read_blob("--message", &a.message, format)?,
            key_id: a.key_id.clone(),
            mac_algorithm: a.mac_algorithm,
            mac: params::read_blob("--mac", &a.mac, format)?,
            grant_tokens: grant_tokens(&a.grant_tokens)?,
        }),
        Command::DeriveSharedSecret(a) => Call::DeriveSharedSecret(pb::DeriveSharedSecretRequest {
            key_id: a.key_id.clone(),
            key_agreement_algorithm: a.key_agreement_algorithm,
            public_key: params::read_blob("--public-key", &a.public_key, format)?,
            grant_tokens: grant_tokens(&a.grant_tokens)?,
            recipient_attestation_document: None,
        }),
        Command::Encapsulate(a) => Call::Encapsulate(pb::EncapsulateRequest {
            key_id: a.key_id.clone(),
            encapsulation_algorithm: a.encapsulation_algorithm,
            grant_tokens: grant_tokens(&a.grant_tokens)?,
        }),
        Command::Decapsulate(a) => Call::Decapsulate(pb::DecapsulateRequest {
            key_id: a.key_id.clone(),
            shared_secret_ciphertext_blob: params::read_blob(
                "--shared-secret-ciphertext-blob",
                &a.shared_secret_ciphertext_blob,
                format,
            )?,
            encapsulation_algorithm: a.encapsulation_algorithm,
            grant_tokens: grant_tokens(&a.grant_tokens)?,
        }),
        Command::PutKeyPolicy(a) => Call::PutKeyPolicy(pb::PutKeyPolicyRequest {
            key_id: a.key_id.clone(),
            policy_name: Some(a.policy_name.clone()),
            policy: params::read_text("--policy", &a.policy)?.into_owned(),
            bypass_policy_lockout_safety_check: a.bypass_policy_lockout_safety_check,
        }),
        Command::GetKeyPolicy(a) => Call::GetKeyPolicy(pb::GetKeyPolicyRequest {
            key_id: a.key_id.clone(),
            policy_name: Some(a.policy_name.clone()),
        }),
        Command::ListKeyPolicies(a) => Call::ListKeyPolicies {
            request: pb::ListKeyPoliciesRequest {
                key_id: a.key_id.clone(),
                limit: a.limit,
                marker: a.marker.clone(),
            },
            all_pages: paginate && a.limit.is_none() && a.marker.is_none(),
        },
        Command::CreateGrant(a) => Call::CreateGrant(pb::CreateGrantRequest {
            key_id: a.key_id.clone(),
            grantee_principal: a.grantee_principal.clone(),
            retiring_principal: a.retiring_principal.clone(),
            operations: params::parse_grant_operations("--operations", &a.operations)?,
            constraints: a
                .constraints
                .as_deref()
                .map(|c| params::parse_grant_constraints("--constraints", c))
                .transpose()?,
            grant_tokens: grant_tokens(&a.grant_tokens)?,
            name: a.name.clone(),
        }),
        Command::ListGrants(a) => Call::ListGrants {
            request: pb::ListGrantsRequest {
                limit: a.limit,
                marker: a.marker.clone(),
                key_id: a.key_id.clone(),
                grant_id: a.grant_id.clone(),
                grantee_principal: a.grantee_principal.clone(),
            },
            all_pages: paginate && a.limit.is_none() && a.marker.is_none(),
        },
        Command::ListRetirableGrants(a) => Call::ListRetirableGrants {
            request: pb::ListRetirableGrantsRequest {
                limit: a.limit,
                marker: a.marker.clone(),
                retiring_principal: a.retiring_principal.clone(),
            },
            all_pages: paginate && a.limit.is_none() && a.marker.is_none(),
        },
        Command::RetireGrant(a) => Call::RetireGrant(pb::RetireGrantRequest {
            grant_token: a.grant_token.clone(),
            key_id: a.key_id.clone(),
            grant_id: a.grant_id.clone(),
        }),
        Command::RevokeGrant(a) => Call::RevokeGrant(pb::RevokeGrantRequest {
            key_id: a.key_id.clone(),
            grant_id: a.grant_id.clone(),
        }),
        Command::EnableKeyRotation(a) => Call::EnableKeyRotation(pb::EnableKeyRotationRequest {
            key_id: a.key_id.clone(),
            rotation_period_in_days: a.rotation_period_in_days,
        }),
        Command::DisableKeyRotation(a) => Call::DisableKeyRotation(pb::DisableKeyRotationRequest {
            key_id: a.key_id.clone(),
        }),
        Command::GetKeyRotationStatus(a) => {
            Call::GetKeyRotationStatus(pb::GetKeyRotationStatusRequest {
                key_id: a.key_id.clone(),
            })
        }
        Command::RotateKeyOnDemand(a) => Call::RotateKeyOnDemand(pb::RotateKeyOnDemandRequest {
            key_id: a.key_id.clone(),
        }),
        Command::ListKeyRotations(a) => Call::ListKeyRotations {
            request: pb::ListKeyRotationsRequest {
                key_id: a.key_id.clone(),
                include_key_material: a.include_key_material.unwrap_or_default(),
                limit: a.limit,
                marker: a.marker.clone(),
            },
            all_pages: paginate && a.limit.is_none() && a.marker.is_none(),
        },
        Command::GetParametersForImport(a) => {
            Call::GetParametersForImport(pb::GetParametersForImportRequest {
                key_id: a.key_id.clone(),
                wrapping_algorithm: a.wrapping_algorithm,
                wrapping_key_spec: a.wrapping_key_spec,
            })
        }
        Command::ImportKeyMaterial(a) => Call::ImportKeyMaterial(pb::ImportKeyMaterialRequest {
            key_id: a.key_id.clone(),
            import_token: params::read_blob("--import-token", &a.import_token, format)?,
            encrypted_key_material: params::read_blob(
                "--encrypted-key-material",
                &a.encrypted_key_material,
                format,
            )?,
            valid_to: a
                .valid_to
                .as_deref()
                .map(|v| params::parse_timestamp("--valid-to", v))
                .transpose()?,
            expiration_model: a.expiration_model.unwrap_or_default(),
            import_type: a.import_type.unwrap_or_default(),
            key_material_description: a
                .key_material_description
                .as_deref()
                .map(|d| params::read_text("--key-material-description", d).map(|t| t.into_owned()))
                .transpose()?,
            key_material_id: a.key_material_id.clone(),
        }),
        Command::DeleteImportedKeyMaterial(a) => {
            Call::DeleteImportedKeyMaterial(pb::DeleteImportedKeyMaterialRequest {
                key_id: a.key_id.clone(),
                key_material_id: a.key_material_id.clone(),
            })
        }
        Command::CreateCustomKeyStore(a) => {
            Call::CreateCustomKeyStore(pb::CreateCustomKeyStoreRequest {
                custom_key_store_name: a.custom_key_store_name.clone(),
                cloud_hsm_cluster_id: a.cloud_hsm_cluster_id.clone(),
                // The AWS CLI takes the PEM text or file://customerCA.crt.
                trust_anchor_certificate: optional_text(
                    "--trust-anchor-certificate",
                    &a.trust_anchor_certificate,
                )?,
                key_store_password: optional_text("--key-store-password", &a.key_store_password)?,
                custom_key_store_type: a.custom_key_store_type.unwrap_or_default(),
            })
        }
        Command::DescribeCustomKeyStores(a) => Call::DescribeCustomKeyStores {
            request: pb::DescribeCustomKeyStoresRequest {
                custom_key_store_id: a.custom_key_store_id.clone(),
                custom_key_store_name: a.custom_key_store_name.clone(),
                limit: a.limit,
                marker: a.marker.clone(),
            },
            all_pages: paginate && a.limit.is_none() && a.marker.is_none(),
        },
        Command::UpdateCustomKeyStore(a) => {
            Call::UpdateCustomKeyStore(pb::UpdateCustomKeyStoreRequest {
                custom_key_store_id: a.custom_key_store_id.clone(),
                new_custom_key_store_name: a.new_custom_key_store_name.clone(),
                key_store_password: optional_text("--key-store-password", &a.key_store_password)?,
                cloud_hsm_cluster_id: a.cloud_hsm_cluster_id.clone(),
            })
        }
        Command::ConnectCustomKeyStore(a) => {
            Call::ConnectCustomKeyStore(pb::ConnectCustomKeyStoreRequest {
                custom_key_store_id: a.custom_key_store_id.clone(),
            })
        }
        Command::DisconnectCustomKeyStore(a) => {
            Call::DisconnectCustomKeyStore(pb::DisconnectCustomKeyStoreRequest {
                custom_key_store_id: a.custom_key_store_id.clone(),
            })
        }
        Command::DeleteCustomKeyStore(a) => {
            Call::DeleteCustomKeyStore(pb::DeleteCustomKeyStoreRequest {
                custom_key_store_id: a.custom_key_store_id.clone(),
            })
        }
        Command::ReplicateKey(a) => Call::ReplicateKey(pb::ReplicateKeyRequest {
            key_id: a.key_id.clone(),
            replica_region: a.replica_region.clone(),
            policy: optional_text("--policy", &a.policy)?,
            bypass_policy_lockout_safety_check: a.bypass_policy_lockout_safety_check,
            description: optional_text("--description", &a.description)?,
            tags: params::parse_tags("--tags", &a.tags)?,
        }),
        Command::UpdatePrimaryRegion(a) => {
            Call::UpdatePrimaryRegion(pb::UpdatePrimaryRegionRequest {
                key_id: a.key_id.clone(),
                primary_region: a.primary_region.clone(),
            })
        }
        Command::Iam(IamCommand::PutPrincipalPolicy(a)) => {
            Call::PutPrincipalPolicy(pb::PutPrincipalPolicyRequest {
                principal_arn: a.principal_arn.clone(),
                policy_name: a.policy_name.clone(),
                policy_document: params::read_text("--policy-document", &a.policy_document)?
                    .into_owned(),
            })
        }
        Command::Iam(IamCommand::GetPrincipalPolicy(a)) => {
            Call::GetPrincipalPolicy(pb::GetPrincipalPolicyRequest {
                principal_arn: a.principal_arn.clone(),
                policy_name: a.policy_name.clone(),
            })
        }
        Command::Iam(IamCommand::ListPrincipalPolicies(a)) => Call::ListPrincipalPolicies {
            request: pb::ListPrincipalPoliciesRequest {
                principal_arn: a.principal_arn.clone(),
                limit: a.limit,
                marker: a.marker.clone(),
            },
            all_pages: paginate && a.limit.is_none() && a.marker.is_none(),
        },
        Command::Iam(IamCommand::DeletePrincipalPolicy(a)) => {
            Call::DeletePrincipalPolicy(pb::DeletePrincipalPolicyRequest {
                principal_arn: a.principal_arn.clone(),
                policy_name: a.policy_name.clone(),
            })
        }
    })
}

/// Calls a list operation page after page, concatenating `$items`, until a
/// page is not truncated (or a marker repeats); the result says
/// `Truncated: false` and has no `NextMarker` (and `list!` prints neither).
macro_rules! all_pages {
    ($client:expr, $method:ident, $request:expr, $items:ident) => {{
        let mut request = $request;
        let mut all = $client.$method(request.clone()).await?.into_inner();
        let mut seen = HashSet::new();
        while all.truncated && !all.next_marker.is_empty() && seen.insert(all.next_marker.clone()) {
            request.marker = Some(std::mem::take(&mut all.next_marker));
            let page = $client.$method(request.clone()).await?.into_inner();
            all.$items.extend(page.$items);
            all.next_marker = page.next_marker;
            all.truncated = page.truncated;
        }
        all.truncated = false;
        all.next_marker.clear();
        all
    }};
}

/// Makes a list call: one page, printed with its `NextMarker` and
/// `Truncated`; or, with `$all_pages`, every page, printed as the AWS CLI's
/// paginator prints them, without either.
macro_rules! list {
    ($client:expr, $method:ident, $request:expr, $all_pages:expr, $items:ident) => {{
        if $all_pages {
            let all = all_pages!($client, $method, $request, $items);
            Some(output::without_page_tail(all.shape()))
        } else {
            Some($client.$method($request).await?.into_inner().shape())
        }
    }};
}

impl Call {
    /// Sends the request over `channel` to the service it belongs to
    /// (KeyManagementService, or IdentityService for the `iam` calls);
    /// `Ok(None)` for operations without output.
    pub async fn send(self, channel: Channel) -> Result<Option<Value>, Status> {
        let mut client = KmsClient::new(channel.clone());
        let mut iam = IdentityClient::new(channel);
        let shaped = |r: &dyn Shape| Some(r.shape());
        Ok(match self {
            Call::CreateKey(r) => shaped(&client.create_key(r).await?.into_inner()),
            Call::DescribeKey(r) => shaped(&client.describe_key(r).await?.into_inner()),
            Call::ListKeys { request, all_pages } => {
                list!(client, list_keys, request, all_pages, keys)
            }
            Call::UpdateKeyDescription(r) => {
                client.update_key_description(r).await?;
                None
            }
            Call::EnableKey(r) => {
                client.enable_key(r).await?;
                None
            }
            Call::DisableKey(r) => {
                client.disable_key(r).await?;
                None
            }
            Call::ScheduleKeyDeletion(r) => {
                shaped(&client.schedule_key_deletion(r).await?.into_inner())
            }
            Call::CancelKeyDeletion(r) => {
                shaped(&client.cancel_key_deletion(r).await?.into_inner())
            }
            Call::CreateAlias(r) => {
                client.create_alias(r).await?;
                None
            }
            Call::UpdateAlias(r) => {
                client.update_alias(r).await?;
                None
            }
            Call::DeleteAlias(r) => {
                client.delete_alias(r).await?;
                None
            }
            Call::ListAliases { request, all_pages } => {
                list!(client, list_aliases, request, all_pages, aliases)
            }
            Call::TagResource(r) => {
                client.tag_resource(r).await?;
                None
            }
            Call::UntagResource(r) => {
                client.untag_resource(r).await?;
                None
            }
            Call::ListResourceTags { request, all_pages } => {
                list!(client, list_resource_tags, request, all_pages, tags)
            }
            Call::Encrypt(r) => shaped(&client.encrypt(r).await?.into_inner()),
            Call::Decrypt(r) => shaped(&client.decrypt(r).await?.into_inner()),
            Call::ReEncrypt(r) => shaped(&client.re_encrypt(r).await?.into_inner()),
            Call::GenerateDataKey(r) => shaped(&client.generate_data_key(r).await?.into_inner()),
            Call::GenerateDataKeyWithoutPlaintext(r) => shaped(
                &client
                    .generate_data_key_without_plaintext(r)
                    .await?
                    .into_inner(),
            ),
            Call::GenerateRandom(r) => shaped(&client.generate_random(r).await?.into_inner()),
            Call::GetPublicKey(r) => shaped(&client.get_public_key(r).await?.into_inner()),
            Call::Sign(r) => shaped(&client.sign(r).await?.into_inner()),
            Call::Verify(r) => shaped(&client.verify(r).await?.into_inner()),
            Call::GenerateDataKeyPair(r) => {
                shaped(&client.generate_data_key_pair(r).await?.into_inner())
            }
            Call::GenerateDataKeyPairWithoutPlaintext(r) => shaped(
                &client
                    .generate_data_key_pair_without_plaintext(r)
                    .await?
                    .into_inner(),
            ),
            Call::GenerateMac(r) => shaped(&client.generate_mac(r).await?.into_inner()),
            Call::VerifyMac(r) => shaped(&client.verify_mac(r).await?.into_inner()),
            Call::DeriveSharedSecret(r) => {
                shaped(&client.derive_shared_secret(r).await?.into_inner())
            }
            Call::Encapsulate(r) => shaped(&client.encapsulate(r).await?.into_inner()),
            Call::Decapsulate(r) => shaped(&client.decapsulate(r).await?.into_inner()),
            Call::PutKeyPolicy(r) => {
                client.put_key_policy(r).await?;
                None
            }
            Call::GetKeyPolicy(r) => shaped(&client.get_key_policy(r).await?.into_inner()),
            Call::ListKeyPolicies { request, all_pages } => {
                list!(client, list_key_policies, request, all_pages, policy_names)
            }
            Call::CreateGrant(r) => shaped(&client.create_grant(r).await?.into_inner()),
            Call::ListGrants { request, all_pages } => {
                list!(client, list_grants, request, all_pages, grants)
            }
            Call::ListRetirableGrants { request, all_pages } => {
                list!(client, list_retirable_grants, request, all_pages, grants)
            }
            Call::RetireGrant(r) => {
                client.retire_grant(r).await?;
                None
            }
            Call::RevokeGrant(r) => {
                client.revoke_grant(r).await?;
                None
            }
            Call::EnableKeyRotation(r) => {
                client.enable_key_rotation(r).await?;
                None
            }
            Call::DisableKeyRotation(r) => {
                client.disable_key_rotation(r).await?;
                None
            }
            Call::GetKeyRotationStatus(r) => {
                shaped(&client.get_key_rotation_status(r).await?.into_inner())
            }
            Call::RotateKeyOnDemand(r) => {
                shaped(&client.rotate_key_on_demand(r).await?.into_inner())
            }
            Call::ListKeyRotations { request, all_pages } => {
                list!(client, list_key_rotations, request, all_pages, rotations)
            }
            Call::GetParametersForImport(r) => {
                shaped(&client.get_parameters_for_import(r).await?.into_inner())
            }
            Call::ImportKeyMaterial(r) => {
                shaped(&client.import_key_material(r).await?.into_inner())
            }
            Call::DeleteImportedKeyMaterial(r) => {
                shaped(&client.delete_imported_key_material(r).await?.into_inner())
            }
            Call::CreateCustomKeyStore(r) => {
                shaped(&client.create_custom_key_store(r).await?.into_inner())
            }
            Call::DescribeCustomKeyStores { request, all_pages } => {
                list!(
                    client,
                    describe_custom_key_stores,
                    request,
                    all_pages,
                    custom_key_stores
                )
            }
            // These four answer an empty structure, which the AWS CLI does
            // not print.
            Call::UpdateCustomKeyStore(r) => {
                client.update_custom_key_store(r).await?;
                None
            }
            Call::ConnectCustomKeyStore(r) => {
                client.connect_custom_key_store(r).await?;
                None
            }
            Call::DisconnectCustomKeyStore(r) => {
                client.disconnect_custom_key_store(r).await?;
                None
            }
            Call::DeleteCustomKeyStore(r) => {
                client.delete_custom_key_store(r).await?;
                None
            }
            Call::ReplicateKey(r) => shaped(&client.replicate_key(r).await?.into_inner()),
            // An empty structure, which the AWS CLI does not print.
            Call::UpdatePrimaryRegion(r) => {
                client.update_primary_region(r).await?;
                None
            }
            Call::PutPrincipalPolicy(r) => {
                iam.put_principal_policy(r).await?;
                None
            }
            Call::GetPrincipalPolicy(r) => shaped(&iam.get_principal_policy(r).await?.into_inner()),
            Call::ListPrincipalPolicies { request, all_pages } => {
                list!(
                    iam,
                    list_principal_policies,
                    request,
                    all_pages,
                    policy_names
                )
            }
            Call::DeletePrincipalPolicy(r) => {
                iam.delete_principal_policy(r).await?;
                None
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        let mut full = vec!["kmsctl"];
        full.extend_from_slice(args);
        Cli::try_parse_from(full).expect("parses")
    }

    fn prep(args: &[&str]) -> Result<Call, ParamError> {
        let cli = parse(args);
        prepare(
            &cli.command,
            cli.global.cli_binary_format,
            !cli.global.no_paginate,
        )
    }

    #[test]
    fn service_errors_read_like_the_aws_cli() {
        let status = Status::not_found(
            "NotFoundException: Key 'arn:aws:kms:us-east-1:111122223333:key/x' does not exist",
        );
        let err = status_error("DescribeKey", &status, "https://127.0.0.1:7878");
        assert_eq!(err.exit_code(), 254);
        assert_eq!(
            err.stderr_text(),
            "\nAn error occurred (NotFoundException) when calling the DescribeKey operation: \
             Key 'arn:aws:kms:us-east-1:111122223333:key/x' does not exist\n"
        );
    }

    #[test]
    fn statuses_without_an_exception_name() {
        let err = status_error("Encrypt", &Status::permission_denied("nope"), "https://h");
        assert!(
            matches!(&err, CtlError::Service(s) if s.code == "AccessDeniedException" && s.message == "nope")
        );
        let err = status_error(
            "Encrypt",
            &Status::unavailable("tcp connect error"),
            "https://h:1",
        );
        assert_eq!(err.exit_code(), 255);
        assert!(err
            .to_string()
            .starts_with("Could not connect to the endpoint URL: \"https://h:1\""));
        // kmsd's own UNAVAILABLE answers name their exception.
        let err = status_error(
            "Encrypt",
            &Status::unavailable("DependencyTimeoutException: slow"),
            "https://h",
        );
        assert!(matches!(&err, CtlError::Service(s) if s.code == "DependencyTimeoutException"));
        // A server without the service or method.
        let err = status_error(
            "PutPrincipalPolicy",
            &Status::unimplemented(""),
            "https://h:1",
        );
        assert_eq!(err.exit_code(), 254);
        assert_eq!(
            err.to_string(),
            "An error occurred (UnsupportedOperationException) when calling the \
             PutPrincipalPolicy operation: the kmsd at https://h:1 does not serve the \
             PutPrincipalPolicy operation"
        );
    }

    #[test]
    fn exception_names() {
        assert_eq!(
            split_exception("KMSInvalidStateException: key is pending deletion"),
            Some(("KMSInvalidStateException", "key is pending deletion"))
        );
        assert_eq!(
            split_exception("NotFoundException"),
            Some(("NotFoundException", ""))
        );
        assert_eq!(
            split_exception("ValidationException:x:y"),
            Some(("ValidationException", "x:y"))
        );
        for none in [
            "",
            "transport error",
            "Exception: x",
            "bad Exception: x",
            "lowerException: x",
            ": x",
        ] {
            assert_eq!(split_exception(none), None, "{none:?}");
        }
    }

    #[test]
    fn usage_errors_exit_252() {
        let err: CtlError = Query::parse("Keys[").expect_err("bad").into();
        assert_eq!(err.exit_code(), 252);
        let err =
            prep(&["encrypt", "--key-id", "k", "--plaintext", "%%%"]).expect_err("bad base64");
        assert_eq!(CtlError::from(err).exit_code(), 252);
        let err = prep(&["decrypt", "--ciphertext-blob", "fileb:///nonexistent/blob"])
            .expect_err("no file");
        assert!(err
            .to_string()
            .starts_with("Error parsing parameter '--ciphertext-blob'"));
        let err = prep(&[
            "generate-data-key",
            "--key-id",
            "k",
            "--encryption-context",
            "purpose",
        ])
        .expect_err("bad shorthand");
        assert_eq!(err.param, "--encryption-context");
    }

    #[test]
    fn broken_pipe_is_silent() {
        let err = CtlError::Output(io::Error::from(io::ErrorKind::BrokenPipe));
        assert_eq!(err.stderr_text(), "");
        assert_eq!(err.exit_code(), 255);
    }

    #[test]
    fn requests_are_built_from_aws_style_flags() {
        let Ok(Call::GenerateDataKey(r)) = prep(&[
            "generate-data-key",
            "--key-id",
            "alias/app",
            "--key-spec",
            "AES_256",
            "--encryption-context",
            "purpose=backup,team=db",
        ]) else {
            panic!("wrong call")
        };
        assert_eq!(r.key_id, "alias/app");
        assert_eq!(r.key_spec, pb::DataKeySpec::Aes256 as i32);
        assert_eq!(
            r.encryption_context.get("team").map(String::as_str),
            Some("db")
        );
        assert_eq!(r.number_of_bytes, None);

        let Ok(Call::Encrypt(r)) = prep(&[
            "--cli-binary-format",
            "raw-in-base64-out",
            "encrypt",
            "--key-id",
            "k",
            "--plaintext",
            "hello",
        ]) else {
            panic!("wrong call")
        };
        assert_eq!(r.plaintext, b"hello");

        let Ok(Call::CreateKey(r)) = prep(&[
            "create-key",
            "--description",
            "x",
            "--key-usage",
            "ENCRYPT_DECRYPT",
            "--tags",
            "TagKey=a,TagValue=1",
            "TagKey=b,TagValue=2",
            "--multi-region",
        ]) else {
            panic!("wrong call")
        };
        assert_eq!(r.description, "x");
        assert_eq!(r.key_usage, pb::KeyUsageType::EncryptDecrypt as i32);
        assert_eq!(r.tags.len(), 2);
        assert!(r.multi_region);
        assert_eq!(r.policy, None);

        let Ok(Call::UntagResource(r)) =
            prep(&["untag-resource", "--key-id", "k", "--tag-keys", "a", "b"])
        else {
            panic!("wrong call")
        };
        assert_eq!(r.tag_keys, ["a", "b"]);
    }

    #[test]
    fn list_calls_paginate_unless_limited() {
        assert!(matches!(
            prep(&["list-keys"]),
            Ok(Call::ListKeys {
                all_pages: true,
                ..
            })
        ));
        assert!(matches!(
            prep(&["list-keys", "--limit", "5"]),
            Ok(Call::ListKeys {
                all_pages: false,
                ..
            })
        ));
        assert!(matches!(
            prep(&["list-aliases", "--marker", "m"]),
            Ok(Call::ListAliases {
                all_pages: false,
                ..
            })
        ));
        assert!(matches!(
            prep(&["--no-paginate", "list-resource-tags", "--key-id", "k"]),
            Ok(Call::ListResourceTags {
                all_pages: false,
                ..
            })
        ));
    }

    #[test]
    fn create_grant_request() {
        let Ok(Call::CreateGrant(r)) = prep(&[
            "create-grant",
            "--key-id",
            "k",
            "--grantee-principal",
            "arn:aws:iam::111122223333:user/alice",
            "--retiring-principal",
            "arn:aws:iam::111122223333:role/ops",
            "--operations",
            "Decrypt",
            "GenerateDataKeyWithoutPlaintext",
            "--constraints",
            "EncryptionContextSubset={team=db,app=x}",
            "--grant-tokens",
            "t1",
            "--name",
            "n",
        ]) else {
            panic!("wrong call")
        };
        assert_eq!(r.key_id, "k");
        assert_eq!(r.grantee_principal, "arn:aws:iam::111122223333:user/alice");
        assert_eq!(
            r.retiring_principal.as_deref(),
            Some("arn:aws:iam::111122223333:role/ops")
        );
        assert_eq!(
            r.operations,
            [
                pb::GrantOperation::Decrypt as i32,
                pb::GrantOperation::GenerateDataKeyWithoutPlaintext as i32
            ]
        );
        let c = r.constraints.expect("constraints");
        assert_eq!(
            c.encryption_context_subset.get("team").map(String::as_str),
            Some("db")
        );
        assert!(c.encryption_context_equals.is_empty());
        assert_eq!(r.grant_tokens, ["t1"]);
        assert_eq!(r.name.as_deref(), Some("n"));

        let Ok(Call::CreateGrant(r)) = prep(&[
            "create-grant",
            "--key-id",
            "k",
            "--grantee-principal",
            "p",
            "--operations",
            r#"["Encrypt","ReEncryptFrom"]"#,
            "--constraints",
            r#"{"EncryptionContextEquals":{"a":"b"}}"#,
        ]) else {
            panic!("wrong call")
        };
        assert_eq!(
            r.operations,
            [
                pb::GrantOperation::Encrypt as i32,
                pb::GrantOperation::ReEncryptFrom as i32
            ]
        );
        assert_eq!(r.constraints.expect("c").encryption_context_equals.len(), 1);
        assert_eq!(r.retiring_principal, None);
        assert_eq!(r.name, None);
    }

    #[test]
    fn bad_grant_parameters_exit_252() {
        let base = ["create-grant", "--key-id", "k", "--grantee-principal", "p"];
        for extra in [
            &["--operations", "decrypt"][..],
            &["--operations", "Decrypt", "Bogus"][..],
            &["--operations", "[1]"][..],
            &["--operations", "Decrypt", "--constraints", "Subset={a=b}"][..],
            &[
                "--operations",
                "Decrypt",
                "--constraints",
                "EncryptionContextSubset=a",
            ][..],
            &[
                "--operations",
                "Decrypt",
                "--constraints",
                r#"{"EncryptionContextSubset":1}"#,
            ][..],
        ] {
            let mut args = base.to_vec();
            args.extend_from_slice(extra);
            let err = prep(&args).expect_err("bad value");
            let err = CtlError::from(err);
            assert_eq!(err.exit_code(), 252, "{args:?}");
            assert!(
                err.stderr_text()
                    .starts_with("\nError parsing parameter '--"),
                "{}",
                err.stderr_text()
            );
        }
        // --operations is required.
        let mut args = vec!["kmsctl"];
        args.extend_from_slice(&base);
        let err = Cli::try_parse_from(args).expect_err("missing --operations");
        assert!(err.use_stderr());
    }

    #[test]
    fn key_policy_requests() {
        let mut f = tempfile::NamedTempFile::new().expect("temp");
        f.write_all(br#"{"Version":"2012-10-17","Statement":[]}"#)
            .expect("write");
        let policy = format!("file://{}", f.path().display());
        let Ok(Call::PutKeyPolicy(r)) = prep(&[
            "put-key-policy",
            "--key-id",
            "k",
            "--policy",
            &policy,
            "--bypass-policy-lockout-safety-check",
        ]) else {
            panic!("wrong call")
        };
        assert_eq!(r.policy, r#"{"Version":"2012-10-17","Statement":[]}"#);
        assert_eq!(r.policy_name.as_deref(), Some("default"));
        assert!(r.bypass_policy_lockout_safety_check);

        let Ok(Call::PutKeyPolicy(r)) = prep(&[
            "put-key-policy",
            "--key-id",
            "k",
            "--policy-name",
            "default",
            "--policy",
            "{}",
        ]) else {
            panic!("wrong call")
        };
        assert_eq!(r.policy, "{}");
        assert!(!r.bypass_policy_lockout_safety_check);

        let err = prep(&[
            "put-key-policy",
            "--key-id",
            "k",
            "--policy",
            "file:///nonexistent/p.json",
        ])
        .expect_err("no file");
        assert_eq!(CtlError::from(err).exit_code(), 252);

        let Ok(Call::GetKeyPolicy(r)) = prep(&["get-key-policy", "--key-id", "k"]) else {
            panic!("wrong call")
        };
        assert_eq!(r.policy_name.as_deref(), Some("default"));

        let Ok(Call::CreateKey(r)) = prep(&[
            "create-key",
            "--policy",
            &policy,
            "--bypass-policy-lockout-safety-check",
        ]) else {
            panic!("wrong call")
        };
        assert_eq!(
            r.policy.as_deref(),
            Some(r#"{"Version":"2012-10-17","Statement":[]}"#)
        );
        assert!(r.bypass_policy_lockout_safety_check);
    }

    #[test]
    fn retire_and_revoke_requests() {
        let Ok(Call::RetireGrant(r)) = prep(&["retire-grant", "--grant-token", "tok"]) else {
            panic!("wrong call")
        };
        assert_eq!(r.grant_token.as_deref(), Some("tok"));
        assert_eq!((r.key_id, r.grant_id), (None, None));
        let Ok(Call::RetireGrant(r)) = prep(&["retire-grant", "--key-id", "k", "--grant-id", "g"])
        else {
            panic!("wrong call")
        };
        assert_eq!(r.grant_token, None);
        assert_eq!(r.key_id.as_deref(), Some("k"));
        assert_eq!(r.grant_id.as_deref(), Some("g"));
        for bad in [
            &["kmsctl", "retire-grant"][..],
            &["kmsctl", "retire-grant", "--grant-id", "g"][..],
            &["kmsctl", "revoke-grant", "--key-id", "k"][..],
        ] {
            let err = Cli::try_parse_from(bad).expect_err("usage error");
            assert!(err.use_stderr(), "{bad:?}");
        }
        let Ok(Call::RevokeGrant(r)) = prep(&["revoke-grant", "--key-id", "k", "--grant-id", "g"])
        else {
            panic!("wrong call")
        };
        assert_eq!((r.key_id.as_str(), r.grant_id.as_str()), ("k", "g"));
    }

    #[test]
    fn iam_requests_and_operation_names() {
        let cli = parse(&[
            "iam",
            "put-principal-policy",
            "--principal-arn",
            "arn:aws:iam::111122223333:user/alice",
            "--policy-name",
            "kms-use",
            "--policy-document",
            r#"{"Version":"2012-10-17"}"#,
        ]);
        assert_eq!(cli.command.operation(), "PutPrincipalPolicy");
        let Ok(Call::PutPrincipalPolicy(r)) = prepare(&cli.command, BinaryFormat::Base64, true)
        else {
            panic!("wrong call")
        };
        assert_eq!(r.principal_arn, "arn:aws:iam::111122223333:user/alice");
        assert_eq!(r.policy_name, "kms-use");
        assert_eq!(r.policy_document, r#"{"Version":"2012-10-17"}"#);

        let err = prep(&[
            "iam",
            "put-principal-policy",
            "--principal-arn",
            "a",
            "--policy-name",
            "n",
            "--policy-document",
            "file:///nonexistent/doc.json",
        ])
        .expect_err("no file");
        assert!(err
            .to_string()
            .starts_with("Error parsing parameter '--policy-document'"));

        for (args, op) in [
            (
                &[
                    "iam",
                    "get-principal-policy",
                    "--principal-arn",
                    "a",
                    "--policy-name",
                    "n",
                ][..],
                "GetPrincipalPolicy",
            ),
            (
                &[
                    "iam",
                    "delete-principal-policy",
                    "--principal-arn",
                    "a",
                    "--policy-name",
                    "n",
                ][..],
                "DeletePrincipalPolicy",
            ),
            (
                &["iam", "list-principal-policies", "--principal-arn", "a"][..],
                "ListPrincipalPolicies",
            ),
        ] {
            assert_eq!(parse(args).command.operation(), op);
        }
        let err = status_error(
            "PutPrincipalPolicy",
            &Status::permission_denied("AccessDeniedException: only the account root"),
            "https://h",
        );
        assert_eq!(
            err.to_string(),
            "An error occurred (AccessDeniedException) when calling the PutPrincipalPolicy \
             operation: only the account root"
        );
        assert!(matches!(
            prep(&[
                "iam",
                "get-principal-policy",
                "--principal-arn",
                "a",
                "--policy-name",
                "n"
            ]),
            Ok(Call::GetPrincipalPolicy(_))
        ));
        assert!(matches!(
            prep(&[
                "iam",
                "delete-principal-policy",
                "--principal-arn",
                "a",
                "--policy-name",
                "n"
            ]),
            Ok(Call::DeletePrincipalPolicy(_))
        ));
    }

    #[test]
    fn new_list_calls_paginate_unless_limited() {
        assert!(matches!(
            prep(&["list-grants", "--key-id", "k"]),
            Ok(Call::ListGrants {
                all_pages: true,
                ..
            })
        ));
        assert!(matches!(
            prep(&["list-grants", "--key-id", "k", "--limit", "1", "--grant-id", "g"]),
            Ok(Call::ListGrants { all_pages: false, ref request })
                if request.grant_id.as_deref() == Some("g") && request.limit == Some(1)
        ));
        assert!(matches!(
            prep(&["list-retirable-grants", "--retiring-principal", "p"]),
            Ok(Call::ListRetirableGrants {
                all_pages: true,
                ..
            })
        ));
        assert!(matches!(
            prep(&[
                "list-retirable-grants",
                "--retiring-principal",
                "p",
                "--marker",
                "m"
            ]),
            Ok(Call::ListRetirableGrants {
                all_pages: false,
                ..
            })
        ));
        assert!(matches!(
            prep(&["list-key-policies", "--key-id", "k"]),
            Ok(Call::ListKeyPolicies {
                all_pages: true,
                ..
            })
        ));
        assert!(matches!(
            prep(&["--no-paginate", "list-key-policies", "--key-id", "k"]),
            Ok(Call::ListKeyPolicies {
                all_pages: false,
                ..
            })
        ));
        assert!(matches!(
            prep(&["iam", "list-principal-policies", "--principal-arn", "a"]),
            Ok(Call::ListPrincipalPolicies {
                all_pages: true,
                ..
            })
        ));
        assert!(matches!(
            prep(&[
                "iam",
                "list-principal-policies",
                "--principal-arn",
                "a",
                "--limit",
                "2"
            ]),
            Ok(Call::ListPrincipalPolicies {
                all_pages: false,
                ..
            })
        ));
    }

    #[test]
    fn region_and_profile_pick_the_endpoint() {
        let config = Config::parse(
            "[default]\n\
             region = us-east-1\n\
             data_dir.us-east-1 = /regions/use1\n\
             endpoint_url.us-west-2 = https://127.0.0.1:7200\n\
             ca_bundle.us-west-2 = /regions/usw2/ca.pem\n\
             [profile eu]\n\
             region = eu-west-1\n\
             endpoint_url = https://127.0.0.1:7300\n",
            std::path::Path::new("/cfg/config"),
        )
        .expect("config");
        let opts = |args: &[&str]| {
            let cli = parse(args);
            connect_options_with(&cli.global, Some(&config))
        };
        let key = ["describe-key", "--key-id", "k"];
        let o = opts(&key).expect("default profile, its Region");
        assert_eq!(o.data_dir, Some("/regions/use1".into()));
        let o = opts(&[&key[..], &["--region", "us-west-2"]].concat()).expect("us-west-2");
        assert_eq!(o.endpoint_url.as_deref(), Some("https://127.0.0.1:7200"));
        assert_eq!(o.ca_cert, Some("/regions/usw2/ca.pem".into()));
        let o = opts(&[&["--profile", "eu"], &key[..]].concat()).expect("eu");
        assert_eq!(o.endpoint_url.as_deref(), Some("https://127.0.0.1:7300"));
        // --endpoint-url always wins.
        let o = opts(
            &[
                &key[..],
                &["--region", "ap-south-1", "--endpoint-url", "https://h:1"],
            ]
            .concat(),
        )
        .expect("explicit endpoint");
        assert_eq!(o.endpoint_url.as_deref(), Some("https://h:1"));
        // A Region nothing names an endpoint for, a profile that does not
        // exist: client errors (exit 255) before any connection.
        for bad in [
            &[&key[..], &["--region", "ap-south-1"]].concat(),
            &[&key[..], &["--profile", "nope"]].concat(),
            &[&key[..], &["--region", "Mars"]].concat(),
        ] {
            let err = opts(bad).expect_err("refused");
            assert!(matches!(err, CtlError::Profile(_)), "{err}");
            assert_eq!(err.exit_code(), EXIT_CLIENT);
        }
        let err = opts(&[&key[..], &["--region", "ap-south-1"]].concat()).expect_err("refused");
        assert!(err.to_string().contains("endpoint_url.ap-south-1"), "{err}");
    }

    #[test]
    fn multi_region_requests() {
        let dir = tempfile::tempdir().expect("tempdir");
        let policy = dir.path().join("policy.json");
        std::fs::write(&policy, r#"{"Version":"2012-10-17","Statement":[]}"#).expect("write");
        let cli = parse(&[
            "replicate-key",
            "--key-id",
            "mrk-1234abcd12ab34cd56ef1234567890ab",
            "--replica-region",
            "us-west-2",
            "--policy",
            &format!("file://{}", policy.display()),
            "--bypass-policy-lockout-safety-check",
            "--description",
            "replica in Oregon",
            "--tags",
            "TagKey=team,TagValue=blue",
            "TagKey=env,TagValue=",
        ]);
        assert_eq!(cli.command.operation(), "ReplicateKey");
        let Ok(Call::ReplicateKey(r)) = prepare(&cli.command, BinaryFormat::Base64, true) else {
            panic!("wrong call")
        };
        assert_eq!(r.key_id, "mrk-1234abcd12ab34cd56ef1234567890ab");
        assert_eq!(r.replica_region, "us-west-2");
        assert_eq!(
            r.policy.as_deref(),
            Some(r#"{"Version":"2012-10-17","Statement":[]}"#)
        );
        assert!(r.bypass_policy_lockout_safety_check);
        assert_eq!(r.description.as_deref(), Some("replica in Oregon"));
        let tags: Vec<(&str, &str)> = r
            .tags
            .iter()
            .map(|t| (t.tag_key.as_str(), t.tag_value.as_str()))
            .collect();
        assert_eq!(tags, [("team", "blue"), ("env", "")]);

        // Only key and Region: no policy, no description (the service uses
        // its defaults), lockout check on.
        let Ok(Call::ReplicateKey(r)) = prep(&[
            "replicate-key",
            "--key-id",
            "k",
            "--replica-region",
            "eu-west-1",
            "--bypass-policy-lockout-safety-check",
            "--no-bypass-policy-lockout-safety-check",
        ]) else {
            panic!("wrong call")
        };
        assert_eq!((r.policy, r.description), (None, None));
        assert!(!r.bypass_policy_lockout_safety_check && r.tags.is_empty());

        let cli = parse(&[
            "update-primary-region",
            "--key-id",
            "k",
            "--primary-region",
            "us-west-2",
        ]);
        assert_eq!(cli.command.operation(), "UpdatePrimaryRegion");
        assert!(matches!(
            prepare(&cli.command, BinaryFormat::Base64, true),
            Ok(Call::UpdatePrimaryRegion(ref r))
                if r.key_id == "k" && r.primary_region == "us-west-2"
        ));

        // Both Region flags are required; bad tags and unreadable policy
        // files are usage errors before any call.
        for bad in [
            &["kmsctl", "replicate-key", "--key-id", "k"][..],
            &["kmsctl", "replicate-key", "--replica-region", "us-west-2"][..],
            &["kmsctl", "update-primary-region", "--key-id", "k"][..],
        ] {
            let err = Cli::try_parse_from(bad).expect_err("missing flag");
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::MissingRequiredArgument,
                "{bad:?}"
            );
        }
        let err = prep(&[
            "replicate-key",
            "--key-id",
            "k",
            "--replica-region",
            "us-west-2",
            "--tags",
            "TagValue=only-a-value",
        ])
        .expect_err("tag without key");
        assert_eq!(CtlError::from(err).exit_code(), EXIT_USAGE);
        let missing = dir.path().join("absent.json");
        let err = prep(&[
            "replicate-key",
            "--key-id",
            "k",
            "--replica-region",
            "us-west-2",
            "--policy",
            &format!("file://{}", missing.display()),
        ])
        .expect_err("no such file");
        assert!(err.to_string().contains("--policy"), "{err}");
    }

    #[test]
    fn key_rotation_requests() {
        let cli = parse(&[
            "enable-key-rotation",
            "--key-id",
            "k",
            "--rotation-period-in-days",
            "180",
        ]);
        assert_eq!(cli.command.operation(), "EnableKeyRotation");
        let Ok(Call::EnableKeyRotation(r)) = prepare(&cli.command, BinaryFormat::Base64, true)
        else {
            panic!("wrong call")
        };
        assert_eq!(
            (r.key_id.as_str(), r.rotation_period_in_days),
            ("k", Some(180))
        );
        let Ok(Call::EnableKeyRotation(r)) = prep(&["enable-key-rotation", "--key-id", "k"]) else {
            panic!("wrong call")
        };
        assert_eq!(r.rotation_period_in_days, None);
        for (args, op) in [
            (
                &["disable-key-rotation", "--key-id", "k"][..],
                "DisableKeyRotation",
            ),
            (
                &["get-key-rotation-status", "--key-id", "k"][..],
                "GetKeyRotationStatus",
            ),
            (
                &["rotate-key-on-demand", "--key-id", "k"][..],
                "RotateKeyOnDemand",
            ),
            (
                &["list-key-rotations", "--key-id", "k"][..],
                "ListKeyRotations",
            ),
        ] {
            assert_eq!(parse(args).command.operation(), op);
        }
        assert!(matches!(
            prep(&["disable-key-rotation", "--key-id", "k"]),
            Ok(Call::DisableKeyRotation(ref r)) if r.key_id == "k"
        ));
        assert!(matches!(
            prep(&["get-key-rotation-status", "--key-id", "k"]),
            Ok(Call::GetKeyRotationStatus(ref r)) if r.key_id == "k"
        ));
        assert!(matches!(
            prep(&["rotate-key-on-demand", "--key-id", "k"]),
            Ok(Call::RotateKeyOnDemand(ref r)) if r.key_id == "k"
        ));
        // --key-id is required; the period is a number.
        for bad in [
            &["kmsctl", "enable-key-rotation"][..],
            &["kmsctl", "rotate-key-on-demand"][..],
            &["kmsctl", "list-key-rotations"][..],
            &[
                "kmsctl",
                "enable-key-rotation",
                "--key-id",
                "k",
                "--rotation-period-in-days",
                "soon",
            ][..],
        ] {
            let err = Cli::try_parse_from(bad).expect_err("usage error");
            assert!(err.use_stderr(), "{bad:?}");
        }
    }

    #[test]
    fn list_key_rotations_include_key_material_and_pages() {
        let Ok(Call::ListKeyRotations { request, all_pages }) =
            prep(&["list-key-rotations", "--key-id", "k"])
        else {
            panic!("wrong call")
        };
        assert!(all_pages);
        assert_eq!(request.key_id, "k");
        assert_eq!(
            request.include_key_material,
            pb::IncludeKeyMaterial::Unspecified as i32
        );
        for (spelling, value) in [
            ("ALL_KEY_MATERIAL", pb::IncludeKeyMaterial::AllKeyMaterial),
            ("ROTATIONS_ONLY", pb::IncludeKeyMaterial::RotationsOnly),
        ] {
            let Ok(Call::ListKeyRotations { request, .. }) = prep(&[
                "list-key-rotations",
                "--key-id",
                "k",
                "--include-key-material",
                spelling,
            ]) else {
                panic!("wrong call")
            };
            assert_eq!(request.include_key_material, value as i32, "{spelling}");
        }
        assert!(matches!(
            prep(&["list-key-rotations", "--key-id", "k", "--limit", "1"]),
            Ok(Call::ListKeyRotations { all_pages: false, ref request })
                if request.limit == Some(1)
        ));
        assert!(matches!(
            prep(&["list-key-rotations", "--key-id", "k", "--marker", "m"]),
            Ok(Call::ListKeyRotations { all_pages: false, ref request })
                if request.marker.as_deref() == Some("m")
        ));
        assert!(matches!(
            prep(&["--no-paginate", "list-key-rotations", "--key-id", "k"]),
            Ok(Call::ListKeyRotations {
                all_pages: false,
                ..
            })
        ));
        // Bad spellings (wrong case, the proto name, UNSPECIFIED, nothing)
        // are usage errors: exit 252, naming the valid values.
        for bad in [
            "all_key_material",
            "INCLUDE_KEY_MATERIAL_ALL_KEY_MATERIAL",
            "UNSPECIFIED",
            "ALL",
            "",
        ] {
            let err = Cli::try_parse_from([
                "kmsctl",
                "list-key-rotations",
                "--key-id",
                "k",
                "--include-key-material",
                bad,
            ])
            .expect_err("bad enum");
            assert_eq!(err.kind(), clap::error::ErrorKind::InvalidValue, "{bad:?}");
            assert!(err.use_stderr());
            assert!(err.to_string().contains("ROTATIONS_ONLY"), "{err}");
        }
        // The same spellings through params (252 via ParamError).
        assert_eq!(
            params::parse_enum::<pb::IncludeKeyMaterial>(
                "--include-key-material",
                "ROTATIONS_ONLY"
            )
            .ok(),
            Some(pb::IncludeKeyMaterial::RotationsOnly as i32)
        );
        let err = params::parse_enum::<pb::IncludeKeyMaterial>("--include-key-material", "NOPE")
            .expect_err("bad enum");
        assert_eq!(CtlError::from(err).exit_code(), EXIT_USAGE);
    }

    #[test]
    fn asymmetric_and_mac_requests_read_blobs_and_enums() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).expect("write");
            format!("fileb://{}", path.display())
        };
        let msg = file("msg", b"\x00\xffhello");
        let sig = file("sig", &[0x30, 0x44, 0x02]);
        let Ok(Call::Sign(r)) = prep(&[
            "sign",
            "--key-id",
            "alias/signer",
            "--message",
            &msg,
            "--message-type",
            "RAW",
            "--signing-algorithm",
            "ECDSA_SHA_256",
        ]) else {
            panic!("wrong call")
        };
        assert_eq!(r.key_id, "alias/signer");
        assert_eq!(r.message, b"\x00\xffhello");
        assert_eq!(r.message_type, pb::MessageType::Raw as i32);
        assert_eq!(
            r.signing_algorithm,
            pb::SigningAlgorithmSpec::EcdsaSha256 as i32
        );
        // --message-type defaults to unset (the service takes RAW); base64
        // inline messages are decoded.
        let Ok(Call::Verify(r)) = prep(&[
            "verify",
            "--key-id",
            "k",
            "--message",
            "aGk=",
            "--signature",
            &sig,
            "--signing-algorithm",
            "RSASSA_PSS_SHA_512",
            "--grant-tokens",
            "t1",
        ]) else {
            panic!("wrong call")
        };
        assert_eq!(r.message, b"hi");
        assert_eq!(r.message_type, 0);
        assert_eq!(r.signature, [0x30, 0x44, 0x02]);
        assert_eq!(r.grant_tokens, ["t1"]);
        let Ok(Call::Sign(r)) = prep(&[
            "sign",
            "--key-id",
            "k",
            "--message",
            &msg,
            "--message-type",
            "DIGEST",
            "--signing-algorithm",
            "ML_DSA_SHAKE_256",
        ]) else {
            panic!("wrong call")
        };
        assert_eq!(r.message_type, pb::MessageType::Digest as i32);

        let Ok(Call::GetPublicKey(r)) = prep(&["get-public-key", "--key-id", "k"]) else {
            panic!("wrong call")
        };
        assert_eq!(r.key_id, "k");

        for (cmd, without) in [
            ("generate-data-key-pair", false),
            ("generate-data-key-pair-without-plaintext", true),
        ] {
            let call = prep(&[
                cmd,
                "--key-id",
                "k",
                "--key-pair-spec",
                "ECC_NIST_P256",
                "--encryption-context",
                "purpose=test",
            ]);
            let (spec, context) = match call {
                Ok(Call::GenerateDataKeyPair(r)) if !without => {
                    (r.key_pair_spec, r.encryption_context)
                }
                Ok(Call::GenerateDataKeyPairWithoutPlaintext(r)) if without => {
                    (r.key_pair_spec, r.encryption_context)
                }
                other => panic!("wrong call for {cmd}: {other:?}"),
            };
            assert_eq!(spec, pb::DataKeyPairSpec::EccNistP256 as i32);
            assert_eq!(context.get("purpose").map(String::as_str), Some("test"));
        }

        let mac = file("mac", &[1, 2, 3]);
        let Ok(Call::GenerateMac(r)) = prep(&[
            "generate-mac",
            "--key-id",
            "k",
            "--message",
            &msg,
            "--mac-algorithm",
            "HMAC_SHA_256",
        ]) else {
            panic!("wrong call")
        };
        assert_eq!(r.mac_algorithm, pb::MacAlgorithmSpec::HmacSha256 as i32);
        let Ok(Call::VerifyMac(r)) = prep(&[
            "verify-mac",
            "--key-id",
            "k",
            "--message",
            &msg,
            "--mac-algorithm",
            "HMAC_SHA_384",
            "--mac",
            &mac,
        ]) else {
            panic!("wrong call")
        };
        assert_eq!((r.mac.as_slice(), r.message.len()), (&[1u8, 2, 3][..], 7));

        let peer = file("peer.der", &[0x30, 0x59]);
        let Ok(Call::DeriveSharedSecret(r)) = prep(&[
            "derive-shared-secret",
            "--key-id",
            "k",
            "--key-agreement-algorithm",
            "ECDH",
            "--public-key",
            &peer,
        ]) else {
            panic!("wrong call")
        };
        assert_eq!(r.public_key, [0x30, 0x59]);
        assert_eq!(
            r.key_agreement_algorithm,
            pb::KeyAgreementAlgorithmSpec::Ecdh as i32
        );
        assert_eq!(r.recipient_attestation_document, None);

        let Ok(Call::Encapsulate(r)) = prep(&[
            "encapsulate",
            "--key-id",
            "k",
            "--encapsulation-algorithm",
            "ML_KEM",
        ]) else {
            panic!("wrong call")
        };
        assert_eq!(
            r.encapsulation_algorithm,
            pb::EncapsulationAlgorithmSpec::MlKem as i32
        );
        let ct = file("ct", &[9; 768]);
        let Ok(Call::Decapsulate(r)) = prep(&[
            "decapsulate",
            "--key-id",
            "k",
            "--shared-secret-ciphertext-blob",
            &ct,
            "--encapsulation-algorithm",
            "ML_KEM",
        ]) else {
            panic!("wrong call")
        };
        assert_eq!(r.shared_secret_ciphertext_blob.len(), 768);
    }

    #[test]
    fn asymmetric_commands_name_their_operations_and_require_algorithms() {
        for (args, op) in [
            (&["get-public-key", "--key-id", "k"][..], "GetPublicKey"),
            (
                &[
                    "sign",
                    "--key-id",
                    "k",
                    "--message",
                    "aGk=",
                    "--signing-algorithm",
                    "ED25519_SHA_512",
                ][..],
                "Sign",
            ),
            (
                &[
                    "encapsulate",
                    "--key-id",
                    "k",
                    "--encapsulation-algorithm",
                    "ML_KEM",
                ][..],
                "Encapsulate",
            ),
            (
                &[
                    "generate-data-key-pair-without-plaintext",
                    "--key-id",
                    "k",
                    "--key-pair-spec",
                    "RSA_4096",
                ][..],
                "GenerateDataKeyPairWithoutPlaintext",
            ),
        ] {
            assert_eq!(parse(args).command.operation(), op);
        }
        // Required flags, and only AWS spellings.
        for bad in [
            &["kmsctl", "sign", "--key-id", "k", "--message", "aGk="][..],
            &[
                "kmsctl",
                "sign",
                "--key-id",
                "k",
                "--message",
                "aGk=",
                "--signing-algorithm",
                "ecdsa_sha_256",
            ][..],
            &[
                "kmsctl",
                "verify",
                "--key-id",
                "k",
                "--message",
                "aGk=",
                "--signing-algorithm",
                "ECDSA_SHA_256",
            ][..],
            &["kmsctl", "generate-data-key-pair", "--key-id", "k"][..],
            &[
                "kmsctl",
                "generate-data-key-pair",
                "--key-id",
                "k",
                "--key-pair-spec",
                "AES_256",
            ][..],
            &[
                "kmsctl",
                "generate-mac",
                "--key-id",
                "k",
                "--message",
                "aGk=",
            ][..],
            &[
                "kmsctl",
                "derive-shared-secret",
                "--key-id",
                "k",
                "--public-key",
                "aGk=",
            ][..],
            &[
                "kmsctl",
                "decapsulate",
                "--key-id",
                "k",
                "--encapsulation-algorithm",
                "ML_KEM",
            ][..],
            &[
                "kmsctl",
                "sign",
                "--key-id",
                "k",
                "--message",
                "aGk=",
                "--signing-algorithm",
                "ECDSA_SHA_256",
                "--message-type",
                "HASH",
            ][..],
        ] {
            let err = Cli::try_parse_from(bad).expect_err("usage error");
            assert!(err.use_stderr(), "{bad:?}");
        }
        // A blob that is neither base64 nor a readable file: exit 252.
        let err = prep(&[
            "sign",
            "--key-id",
            "k",
            "--message",
            "fileb:///nonexistent/msg",
            "--signing-algorithm",
            "ECDSA_SHA_256",
        ])
        .expect_err("no file");
        assert!(err
            .to_string()
            .starts_with("Error parsing parameter '--message'"));
        assert_eq!(CtlError::from(err).exit_code(), EXIT_USAGE);
        // A service error names the operation and AWS exception.
        let err = status_error(
            "Verify",
            &Status::invalid_argument("KMSInvalidSignatureException: the signature is not valid"),
            "https://h",
        );
        assert_eq!(
            err.to_string(),
            "An error occurred (KMSInvalidSignatureException) when calling the Verify \
             operation: the signature is not valid"
        );
        assert_eq!(err.exit_code(), EXIT_SERVICE);
    }

    #[test]
    fn import_commands_build_requests() {
        let Ok(Call::GetParametersForImport(r)) = prep(&[
            "get-parameters-for-import",
            "--key-id",
            "k",
            "--wrapping-algorithm",
            "RSA_AES_KEY_WRAP_SHA_256",
            "--wrapping-key-spec",
            "RSA_4096",
        ]) else {
            panic!("wrong call")
        };
        assert_eq!(r.key_id, "k");
        assert_eq!(
            r.wrapping_algorithm,
            pb::AlgorithmSpec::RsaAesKeyWrapSha256 as i32
        );
        assert_eq!(r.wrapping_key_spec, pb::WrappingKeySpec::Rsa4096 as i32);

        let dir = tempfile::tempdir().expect("tempdir");
        let token = dir.path().join("ImportToken.bin");
        let material = dir.path().join("EncryptedKeyMaterial.bin");
        std::fs::write(&token, [0_u8, 1, 2, 0xff]).expect("write");
        std::fs::write(&material, [9_u8; 256]).expect("write");
        let token_uri = format!("fileb://{}", token.display());
        let material_uri = format!("fileb://{}", material.display());
        let Ok(Call::ImportKeyMaterial(r)) = prep(&[
            "import-key-material",
            "--key-id",
            "k",
            "--encrypted-key-material",
            &material_uri,
            "--import-token",
            &token_uri,
            "--expiration-model",
            "KEY_MATERIAL_EXPIRES",
            "--valid-to",
            "2027-01-01T00:00:00Z",
            "--import-type",
            "NEW_KEY_MATERIAL",
            "--key-material-description",
            "from HSM batch 7",
        ]) else {
            panic!("wrong call")
        };
        assert_eq!(r.import_token, [0, 1, 2, 0xff]);
        assert_eq!(r.encrypted_key_material, [9; 256]);
        assert_eq!(
            r.expiration_model,
            pb::ExpirationModelType::KeyMaterialExpires as i32
        );
        assert_eq!(
            r.valid_to,
            Some(prost_types::Timestamp {
                seconds: 1_798_761_600,
                nanos: 0
            })
        );
        assert_eq!(r.import_type, pb::ImportType::NewKeyMaterial as i32);
        assert_eq!(
            r.key_material_description.as_deref(),
            Some("from HSM batch 7")
        );
        assert_eq!(r.key_material_id, None);

        // Defaults left to the service: no expiry given, no import type.
        let Ok(Call::ImportKeyMaterial(r)) = prep(&[
            "import-key-material",
            "--key-id",
            "k",
            "--encrypted-key-material",
            "AAEC",
            "--import-token",
            "AwQF",
            "--expiration-model",
            "KEY_MATERIAL_DOES_NOT_EXPIRE",
            "--key-material-id",
            "abc",
        ]) else {
            panic!("wrong call")
        };
        assert_eq!(r.encrypted_key_material, [0, 1, 2]);
        assert_eq!(r.import_token, [3, 4, 5]);
        assert_eq!(r.valid_to, None);
        assert_eq!(r.import_type, 0);
        assert_eq!(r.key_material_id.as_deref(), Some("abc"));

        let Ok(Call::DeleteImportedKeyMaterial(r)) =
            prep(&["delete-imported-key-material", "--key-id", "k"])
        else {
            panic!("wrong call")
        };
        assert_eq!((r.key_id.as_str(), r.key_material_id), ("k", None));
        let Ok(Call::DeleteImportedKeyMaterial(r)) = prep(&[
            "delete-imported-key-material",
            "--key-id",
            "k",
            "--key-material-id",
            "m1",
        ]) else {
            panic!("wrong call")
        };
        assert_eq!(r.key_material_id.as_deref(), Some("m1"));

        let Ok(Call::CreateKey(r)) = prep(&["create-key", "--origin", "EXTERNAL"]) else {
            panic!("wrong call")
        };
        assert_eq!(r.origin, pb::OriginType::External as i32);
    }

    #[test]
    fn import_commands_refuse_bad_values_before_any_call() {
        // Bad enums and missing flags: clap usage errors.
        for bad in [
            &[
                "kmsctl",
                "get-parameters-for-import",
                "--key-id",
                "k",
                "--wrapping-algorithm",
                "RSAES_OAEP_SHA_512",
                "--wrapping-key-spec",
                "RSA_2048",
            ][..],
            &[
                "kmsctl",
                "get-parameters-for-import",
                "--key-id",
                "k",
                "--wrapping-algorithm",
                "RSAES_OAEP_SHA_256",
                "--wrapping-key-spec",
                "RSA_1024",
            ][..],
            &[
                "kmsctl",
                "get-parameters-for-import",
                "--key-id",
                "k",
                "--wrapping-algorithm",
                "RSAES_OAEP_SHA_256",
            ][..],
            &[
                "kmsctl",
                "import-key-material",
                "--key-id",
                "k",
                "--encrypted-key-material",
                "AA==",
                "--import-token",
                "AA==",
                "--expiration-model",
                "NEVER",
            ][..],
            &[
                "kmsctl",
                "import-key-material",
                "--key-id",
                "k",
                "--encrypted-key-material",
                "AA==",
                "--import-token",
                "AA==",
                "--import-type",
                "NEW",
            ][..],
            &["kmsctl", "import-key-material", "--key-id", "k"][..],
            &["kmsctl", "create-key", "--origin", "EXTERNALL"][..],
        ] {
            let err = Cli::try_parse_from(bad).expect_err("usage error");
            assert!(err.use_stderr(), "{bad:?}");
        }
        let err = Cli::try_parse_from([
            "kmsctl",
            "get-parameters-for-import",
            "--key-id",
            "k",
            "--wrapping-algorithm",
            "RSAES_OAEP_SHA_512",
            "--wrapping-key-spec",
            "RSA_2048",
        ])
        .expect_err("bad enum");
        assert!(
            err.to_string().contains("RSA_AES_KEY_WRAP_SHA_256"),
            "{err}"
        );

        // Bad values read by params: exit 252, naming the flag.
        let err = prep(&[
            "import-key-material",
            "--key-id",
            "k",
            "--encrypted-key-material",
            "AA==",
            "--import-token",
            "AA==",
            "--valid-to",
            "next tuesday",
        ])
        .expect_err("bad timestamp");
        assert_eq!(err.param, "--valid-to");
        assert_eq!(CtlError::from(err).exit_code(), EXIT_USAGE);
        let err = prep(&[
            "import-key-material",
            "--key-id",
            "k",
            "--encrypted-key-material",
            "fileb:///nonexistent/EncryptedKeyMaterial.bin",
            "--import-token",
            "AA==",
        ])
        .expect_err("no file");
        assert_eq!(err.param, "--encrypted-key-material");
        let err = prep(&[
            "import-key-material",
            "--key-id",
            "k",
            "--encrypted-key-material",
            "AA==",
            "--import-token",
            "not base64!",
        ])
        .expect_err("bad base64");
        assert_eq!(err.param, "--import-token");
    }

    const PEM: &str =
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n";

    #[test]
    fn custom_key_store_requests() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = dir.path().join("customerCA.crt");
        std::fs::write(&ca, PEM).expect("write");
        let ca_uri = format!("file://{}", ca.display());
        let Ok(Call::CreateCustomKeyStore(r)) = prep(&[
            "create-custom-key-store",
            "--custom-key-store-name",
            "ExampleKeyStore",
            "--cloud-hsm-cluster-id",
            "cluster-1a23b4cdefg",
            "--trust-anchor-certificate",
            &ca_uri,
            "--key-store-password",
            "kmsuser-Pa55word",
        ]) else {
            panic!("wrong call")
        };
        assert_eq!(r.custom_key_store_name, "ExampleKeyStore");
        assert_eq!(
            r.cloud_hsm_cluster_id.as_deref(),
            Some("cluster-1a23b4cdefg")
        );
        // file:// is replaced by the certificate itself.
        assert_eq!(r.trust_anchor_certificate.as_deref(), Some(PEM));
        assert_eq!(r.key_store_password.as_deref(), Some("kmsuser-Pa55word"));
        // AWS_CLOUDHSM is the service's default: left unspecified.
        assert_eq!(r.custom_key_store_type, 0);

        // The PEM text itself (it starts with hyphens), a password from a
        // file, and the type spelled out.
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "from-a-file").expect("write");
        let pw_uri = format!("file://{}", pw.display());
        let Ok(Call::CreateCustomKeyStore(r)) = prep(&[
            "create-custom-key-store",
            "--custom-key-store-name",
            "s",
            "--trust-anchor-certificate",
            PEM,
            "--key-store-password",
            &pw_uri,
            "--custom-key-store-type",
            "AWS_CLOUDHSM",
        ]) else {
            panic!("wrong call")
        };
        assert_eq!(r.trust_anchor_certificate.as_deref(), Some(PEM));
        assert_eq!(r.key_store_password.as_deref(), Some("from-a-file"));
        assert_eq!(
            r.custom_key_store_type,
            pb::CustomKeyStoreType::AwsCloudhsm as i32
        );
        assert_eq!(r.cloud_hsm_cluster_id, None);

        // Only the name is required, as in the AWS CLI: kmsd says what else
        // an AWS_CLOUDHSM store needs.
        let Ok(Call::CreateCustomKeyStore(r)) =
            prep(&["create-custom-key-store", "--custom-key-store-name", "s"])
        else {
            panic!("wrong call")
        };
        assert_eq!(
            (r.trust_anchor_certificate, r.key_store_password),
            (None, None)
        );

        let Ok(Call::DescribeCustomKeyStores { request, all_pages }) =
            prep(&["describe-custom-key-stores"])
        else {
            panic!("wrong call")
        };
        assert!(all_pages);
        assert_eq!(request, pb::DescribeCustomKeyStoresRequest::default());
        let Ok(Call::DescribeCustomKeyStores { request, all_pages }) = prep(&[
            "describe-custom-key-stores",
            "--custom-key-store-name",
            "ExampleKeyStore",
            "--limit",
            "1",
            "--marker",
            "m",
        ]) else {
            panic!("wrong call")
        };
        assert!(!all_pages);
        assert_eq!(
            request.custom_key_store_name.as_deref(),
            Some("ExampleKeyStore")
        );
        assert_eq!(
            (request.limit, request.marker.as_deref()),
            (Some(1), Some("m"))
        );
        assert_eq!(request.custom_key_store_id, None);
        assert!(matches!(
            prep(&[
                "--no-paginate",
                "describe-custom-key-stores",
                "--custom-key-store-id",
                "cks-1"
            ]),
            Ok(Call::DescribeCustomKeyStores {
                all_pages: false,
                request: pb::DescribeCustomKeyStoresRequest {
                    custom_key_store_id: Some(_),
                    ..
                }
            })
        ));

        let Ok(Call::UpdateCustomKeyStore(r)) = prep(&[
            "update-custom-key-store",
            "--custom-key-store-id",
            "cks-1",
            "--new-custom-key-store-name",
            "renamed",
            "--key-store-password",
            "new-Pa55word",
            "--cloud-hsm-cluster-id",
            "cluster-2",
        ]) else {
            panic!("wrong call")
        };
        assert_eq!(r.custom_key_store_id, "cks-1");
        assert_eq!(r.new_custom_key_store_name.as_deref(), Some("renamed"));
        assert_eq!(r.key_store_password.as_deref(), Some("new-Pa55word"));
        assert_eq!(r.cloud_hsm_cluster_id.as_deref(), Some("cluster-2"));
        let Ok(Call::UpdateCustomKeyStore(r)) = prep(&[
            "update-custom-key-store",
            "--custom-key-store-id",
            "cks-1",
            "--new-custom-key-store-name",
            "renamed",
        ]) else {
            panic!("wrong call")
        };
        assert_eq!((r.key_store_password, r.cloud_hsm_cluster_id), (None, None));

        for (cmd, op) in [
            ("connect-custom-key-store", "ConnectCustomKeyStore"),
            ("disconnect-custom-key-store", "DisconnectCustomKeyStore"),
            ("delete-custom-key-store", "DeleteCustomKeyStore"),
        ] {
            let args = [cmd, "--custom-key-store-id", "cks-1"];
            assert_eq!(parse(&args).command.operation(), op);
            let id = match prep(&args) {
                Ok(Call::ConnectCustomKeyStore(r)) if op == "ConnectCustomKeyStore" => {
                    r.custom_key_store_id
                }
                Ok(Call::DisconnectCustomKeyStore(r)) if op == "DisconnectCustomKeyStore" => {
                    r.custom_key_store_id
                }
                Ok(Call::DeleteCustomKeyStore(r)) if op == "DeleteCustomKeyStore" => {
                    r.custom_key_store_id
                }
                _ => panic!("wrong call for {cmd}"),
            };
            assert_eq!(id, "cks-1");
        }

        // A key in the store.
        let Ok(Call::CreateKey(r)) = prep(&[
            "create-key",
            "--origin",
            "AWS_CLOUDHSM",
            "--custom-key-store-id",
            "cks-1234567890abcdef0",
            "--description",
            "hsm key",
        ]) else {
            panic!("wrong call")
        };
        assert_eq!(r.origin, pb::OriginType::AwsCloudhsm as i32);
        assert_eq!(
            r.custom_key_store_id.as_deref(),
            Some("cks-1234567890abcdef0")
        );
    }

    #[test]
    fn custom_key_store_bad_values_exit_252() {
        for bad in [
            // Required flags.
            &["kmsctl", "create-custom-key-store"][..],
            &["kmsctl", "connect-custom-key-store"][..],
            &["kmsctl", "disconnect-custom-key-store"][..],
            &["kmsctl", "delete-custom-key-store"][..],
            &[
                "kmsctl",
                "update-custom-key-store",
                "--new-custom-key-store-name",
                "x",
            ][..],
            // AWS spellings only.
            &[
                "kmsctl",
                "create-custom-key-store",
                "--custom-key-store-name",
                "s",
                "--custom-key-store-type",
                "CLOUDHSM",
            ][..],
            &["kmsctl", "create-key", "--origin", "aws_cloudhsm"][..],
            // --limit is a number.
            &["kmsctl", "describe-custom-key-stores", "--limit", "ten"][..],
        ] {
            let err = Cli::try_parse_from(bad).expect_err("usage error");
            assert!(err.use_stderr(), "{bad:?}");
        }
        let err = Cli::try_parse_from([
            "kmsctl",
            "create-custom-key-store",
            "--custom-key-store-name",
            "s",
            "--custom-key-store-type",
            "CLOUDHSM",
        ])
        .expect_err("bad enum");
        let text = err.to_string();
        assert!(
            text.contains("AWS_CLOUDHSM") && text.contains("EXTERNAL_KEY_STORE"),
            "{text}"
        );

        // Unreadable files: exit 252, naming the flag and not the password.
        let err = prep(&[
            "create-custom-key-store",
            "--custom-key-store-name",
            "s",
            "--trust-anchor-certificate",
            "file:///nonexistent/customerCA.crt",
        ])
        .expect_err("no file");
        assert_eq!(err.param, "--trust-anchor-certificate");
        let err = CtlError::from(err);
        assert_eq!(err.exit_code(), EXIT_USAGE);
        assert!(
            err.stderr_text().starts_with(
                "\nError parsing parameter '--trust-anchor-certificate': Unable to load \
                 paramfile file:///nonexistent/customerCA.crt"
            ),
            "{}",
            err.stderr_text()
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let der = dir.path().join("ca.der");
        std::fs::write(&der, [0x30, 0x82, 0xff, 0xfe]).expect("write");
        let err = prep(&[
            "create-custom-key-store",
            "--custom-key-store-name",
            "s",
            "--trust-anchor-certificate",
            &format!("file://{}", der.display()),
        ])
        .expect_err("DER is not PEM text");
        assert!(err.to_string().contains("not UTF-8 text"), "{err}");
        let err = prep(&[
            "update-custom-key-store",
            "--custom-key-store-id",
            "cks-1",
            "--key-store-password",
            "file:///nonexistent/pw",
        ])
        .expect_err("no file");
        assert_eq!(err.param, "--key-store-password");
        assert!(!err.to_string().contains("Pa55"));
    }

    #[test]
    fn custom_key_store_service_errors_read_like_the_aws_cli() {
        let err = status_error(
            "DeleteCustomKeyStore",
            &Status::failed_precondition(
                "CustomKeyStoreHasCMKsException: custom key store cks-1 has KMS keys",
            ),
            "https://h",
        );
        assert_eq!(err.exit_code(), EXIT_SERVICE);
        assert_eq!(
            err.to_string(),
            "An error occurred (CustomKeyStoreHasCMKsException) when calling the \
             DeleteCustomKeyStore operation: custom key store cks-1 has KMS keys"
        );
        let err = status_error(
            "CreateCustomKeyStore",
            &Status::not_found("CloudHsmClusterNotFoundException: no cluster cluster-x"),
            "https://h",
        );
        assert!(
            matches!(&err, CtlError::Service(s) if s.code == "CloudHsmClusterNotFoundException")
        );
    }
}
