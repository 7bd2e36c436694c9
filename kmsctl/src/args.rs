//! kmsctl's command line, as clap definitions: the global options and one
//! subcommand per AWS KMS operation, with the AWS CLI's kebab-case names and
//! flags, so `aws kms ...` scripts run with `kmsctl` in its place; plus the
//! `iam` group for kmsd's IdentityService (principal policies).
//!
//! Values stay as the user typed them (strings) except enums, which are
//! checked here against the AWS spellings; `params.rs` reads blobs, files,
//! maps and tags, and `lib.rs` turns the result into requests.

use std::ffi::OsStr;
use std::marker::PhantomData;
use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};

use super::output::OutputFormat;
use super::params::BinaryFormat;
use kms_proto::aws_enum::AwsEnum;
use kms_proto::client::profile::{ENV_PROFILE, ENV_REGION};
use kms_proto::client::{ENV_CA_CERT, ENV_CLIENT_CERT, ENV_CLIENT_KEY, ENV_DATA_DIR, ENV_ENDPOINT};
use kms_proto::kms::v1 as pb;

/// A command-line client for kmsd, shaped like `aws kms`.
#[derive(Debug, Parser)]
#[command(
    name = "kmsctl",
    version,
    about = "A command-line client for kmsd, shaped like `aws kms`",
    long_about = "A command-line client for kmsd, shaped like `aws kms`: the same \
                  subcommands, flags and JSON output, so AWS CLI scripts run with \
                  `kmsctl` in place of `aws kms`.\n\nConnection: --endpoint-url, \
                  --ca-cert, --client-cert and --client-key (or KMS_ENDPOINT, \
                  KMS_CA_CERT, KMS_CLIENT_CERT, KMS_CLIENT_KEY), else found in \
                  --data-dir / KMS_DATA_DIR (certs/ca.pem, certs/client.pem, \
                  certs/client.key, endpoint), else in the config file's profile \
                  for --region (KMSCTL_CONFIG or ~/.kmsd/config: [default] or \
                  [profile NAME] sections with region, endpoint_url, data_dir, \
                  ca_bundle, client_cert, client_key, each also as KEY.REGION, \
                  e.g. endpoint_url.us-west-2 = https://127.0.0.1:7200)."
)]
pub struct Cli {
    /// Options accepted before or after the subcommand.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The operation.
    #[command(subcommand)]
    pub command: Command,
}

/// Options for every subcommand (the AWS CLI's global options).
#[derive(Debug, Args)]
#[command(next_help_heading = "Global Options")]
pub struct GlobalArgs {
    /// kmsd's URL, e.g. https://127.0.0.1:7878.
    #[arg(long, global = true, env = ENV_ENDPOINT, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// CA certificate (PEM) that signed kmsd's server certificate.
    #[arg(long, global = true, env = ENV_CA_CERT, value_name = "PATH")]
    pub ca_cert: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    #[arg(long, global = true, env = ENV_CLIENT_CERT, value_name = "PATH")]
    pub client_cert: Option<PathBuf>,
    /// Client private key (PEM) for mutual TLS.
    #[arg(long, global = true, env = ENV_CLIENT_KEY, value_name = "PATH")]
    pub client_key: Option<PathBuf>,
    /// A kmsd data directory to take the endpoint and certificates from.
    #[arg(long, global = true, env = ENV_DATA_DIR, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Json)]
    pub output: OutputFormat,
    /// A JMESPath expression (subset) applied to the output.
    #[arg(long, global = true, value_name = "EXPR", allow_hyphen_values = true)]
    pub query: Option<String>,
    /// How inline blob parameters are read: base64 (default) or raw text.
    #[arg(long, global = true, value_enum, default_value_t = BinaryFormat::Base64)]
    pub cli_binary_format: BinaryFormat,
    /// Make only one call for list operations instead of fetching every page.
    #[arg(long, global = true)]
    pub no_paginate: bool,
    /// The Region to call: its endpoint and TLS files come from the profile
    /// in the config file (KMSCTL_CONFIG or ~/.kmsd/config); default: the
    /// profile's `region`. --endpoint-url and --data-dir win over it.
    #[arg(long, global = true, env = ENV_REGION, value_name = "REGION")]
    pub region: Option<String>,
    /// The config file profile to use (`[profile NAME]`; default: `[default]`).
    #[arg(long, global = true, env = ENV_PROFILE, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Accepted for AWS CLI compatibility and ignored.
    #[arg(long, global = true, hide_short_help = true)]
    pub no_cli_pager: bool,
}

/// Parses an AWS enum spelling (`AES_256`) into the proto value, offering
/// the valid spellings in help and errors.
#[derive(Debug)]
pub struct EnumParser<E>(PhantomData<E>);

impl<E> EnumParser<E> {
    /// A parser for enum `E`.
    pub fn new() -> Self {
        Self(PhantomData)
    }
}

impl<E> Default for EnumParser<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> Clone for EnumParser<E> {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl<E: AwsEnum> TypedValueParser for EnumParser<E> {
    type Value = i32;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<i32, clap::Error> {
        let name = PossibleValuesParser::new(E::aws_names()).parse_ref(cmd, arg, value)?;
        E::from_aws(&name)
            .map(Into::into)
            .ok_or_else(|| clap::Error::new(clap::error::ErrorKind::InvalidValue).with_cmd(cmd))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(E::aws_names().into_iter().map(PossibleValue::new)))
    }
}

/// The operations, named as `aws kms` names them.
#[derive(Debug, Subcommand)]
#[command(rename_all = "kebab-case")]
pub enum Command {
    /// Create a KMS key.
    CreateKey(CreateKeyArgs),
    /// Show a key's metadata.
    DescribeKey(DescribeKeyArgs),
    /// List the keys in the account.
    ListKeys(ListKeysArgs),
    /// Change a key's description.
    UpdateKeyDescription(UpdateKeyDescriptionArgs),
    /// Enable a key.
    EnableKey(KeyIdArgs),
    /// Disable a key.
    DisableKey(KeyIdArgs),
    /// Schedule a key's deletion after a waiting period (7-30 days).
    ScheduleKeyDeletion(ScheduleKeyDeletionArgs),
    /// Cancel a scheduled key deletion (the key becomes Disabled).
    CancelKeyDeletion(KeyIdArgs),
    /// Create an alias for a key.
    CreateAlias(AliasTargetArgs),
    /// Point an alias at another key.
    UpdateAlias(AliasTargetArgs),
    /// Delete an alias.
    DeleteAlias(DeleteAliasArgs),
    /// List aliases, of the account or of one key.
    ListAliases(ListAliasesArgs),
    /// Add or overwrite tags on a key.
    TagResource(TagResourceArgs),
    /// Remove tags from a key.
    UntagResource(UntagResourceArgs),
    /// List a key's tags.
    ListResourceTags(ListResourceTagsArgs),
    /// Encrypt up to 4096 bytes under a key.
    Encrypt(EncryptArgs),
    /// Decrypt a ciphertext blob.
    Decrypt(DecryptArgs),
    /// Decrypt and re-encrypt under another key, without exposing plaintext.
    ReEncrypt(ReEncryptArgs),
    /// Generate a data key: plaintext and encrypted copy.
    GenerateDataKey(GenerateDataKeyArgs),
    /// Generate a data key, returning only the encrypted copy.
    GenerateDataKeyWithoutPlaintext(GenerateDataKeyArgs),
    /// Generate random bytes.
    GenerateRandom(GenerateRandomArgs),
    /// Download the public key of an asymmetric key (DER SubjectPublicKeyInfo).
    GetPublicKey(GetPublicKeyArgs),
    /// Sign a message or digest with an asymmetric key.
    Sign(SignArgs),
    /// Verify a signature made with an asymmetric key.
    Verify(VerifyArgs),
    /// Generate a data key pair: public key, private key and its encrypted copy.
    GenerateDataKeyPair(GenerateDataKeyPairArgs),
    /// Generate a data key pair, returning the public key and the encrypted private key.
    GenerateDataKeyPairWithoutPlaintext(GenerateDataKeyPairArgs),
    /// Compute an HMAC of a message with an HMAC key.
    GenerateMac(GenerateMacArgs),
    /// Verify an HMAC with an HMAC key.
    VerifyMac(VerifyMacArgs),
    /// Derive a shared secret (ECDH) from a key agreement key and a public key.
    DeriveSharedSecret(DeriveSharedSecretArgs),
    /// Generate a shared secret and its ML-KEM ciphertext under an ML-KEM key.
    Encapsulate(EncapsulateArgs),
    /// Recover a shared secret from its ML-KEM ciphertext.
    Decapsulate(DecapsulateArgs),
    /// Replace a key's policy.
    PutKeyPolicy(PutKeyPolicyArgs),
    /// Show a key's policy (a JSON document in a string).
    GetKeyPolicy(GetKeyPolicyArgs),
    /// List the names of a key's policies (always "default").
    ListKeyPolicies(ListKeyPoliciesArgs),
    /// Give a principal permission to use a key.
    CreateGrant(CreateGrantArgs),
    /// List the grants on a key.
    ListGrants(ListGrantsArgs),
    /// List the grants a principal may retire.
    ListRetirableGrants(ListRetirableGrantsArgs),
    /// Retire a grant (as its retiring or grantee principal).
    RetireGrant(RetireGrantArgs),
    /// Revoke a grant (as a key administrator).
    RevokeGrant(RevokeGrantArgs),
    /// Turn on automatic rotation of a key's material.
    EnableKeyRotation(EnableKeyRotationArgs),
    /// Turn off automatic rotation of a key's material.
    DisableKeyRotation(KeyIdArgs),
    /// Show whether a key's material rotates automatically, and when next.
    GetKeyRotationStatus(KeyIdArgs),
    /// Rotate a key's material now.
    RotateKeyOnDemand(KeyIdArgs),
    /// List a key's completed rotations (and, optionally, all its material).
    ListKeyRotations(ListKeyRotationsArgs),
    /// Get the public key and import token to wrap key material for an
    /// EXTERNAL key.
    GetParametersForImport(GetParametersForImportArgs),
    /// Import wrapped key material into an EXTERNAL key.
    ImportKeyMaterial(ImportKeyMaterialArgs),
    /// Delete an EXTERNAL key's imported material (the key becomes PendingImport).
    DeleteImportedKeyMaterial(DeleteImportedKeyMaterialArgs),
    /// Create a custom key store backed by an HSM cluster (an hsm-sim
    /// cluster kmsd knows through `kmsd serve --hsm-cluster`).
    CreateCustomKeyStore(CreateCustomKeyStoreArgs),
    /// Show custom key stores and their connection state.
    DescribeCustomKeyStores(DescribeCustomKeyStoresArgs),
    /// Rename a custom key store, or change its kmsuser password or cluster
    /// (the store must be disconnected for the last two).
    UpdateCustomKeyStore(UpdateCustomKeyStoreArgs),
    /// Connect a custom key store to its cluster (asynchronous: CONNECTING,
    /// then CONNECTED or FAILED; see describe-custom-key-stores).
    ConnectCustomKeyStore(CustomKeyStoreIdArgs),
    /// Disconnect a custom key store (its keys become unusable until it
    /// connects again).
    DisconnectCustomKeyStore(CustomKeyStoreIdArgs),
    /// Delete a disconnected custom key store that has no keys.
    DeleteCustomKeyStore(CustomKeyStoreIdArgs),
    /// Replicate a multi-Region primary key into another Region (the
    /// replica is Creating until that Region has received it).
    ReplicateKey(ReplicateKeyArgs),
    /// Make the replica in another Region the primary key (run in the
    /// current primary's Region).
    UpdatePrimaryRegion(UpdatePrimaryRegionArgs),
    /// IAM-lite: inline policies attached to principals (IdentityService).
    #[command(subcommand)]
    Iam(IamCommand),
}

impl Command {
    /// The AWS operation name, for error messages (`DescribeKey`).
    pub fn operation(&self) -> &'static str {
        match self {
            Command::CreateKey(_) => "CreateKey",
            Command::DescribeKey(_) => "DescribeKey",
            Command::ListKeys(_) => "ListKeys",
            Command::UpdateKeyDescription(_) => "UpdateKeyDescription",
            Command::EnableKey(_) => "EnableKey",
            Command::DisableKey(_) => "DisableKey",
            Command::ScheduleKeyDeletion(_) => "ScheduleKeyDeletion",
            Command::CancelKeyDeletion(_) => "CancelKeyDeletion",
            Command::CreateAlias(_) => "CreateAlias",
            Command::UpdateAlias(_) => "UpdateAlias",
            Command::DeleteAlias(_) => "DeleteAlias",
            Command::ListAliases(_) => "ListAliases",
            Command::TagResource(_) => "TagResource",
            Command::UntagResource(_) => "UntagResource",
            Command::ListResourceTags(_) => "ListResourceTags",
            Command::Encrypt(_) => "Encrypt",
            Command::Decrypt(_) => "Decrypt",
            Command::ReEncrypt(_) => "ReEncrypt",
            Command::GenerateDataKey(_) => "GenerateDataKey",
            Command::GenerateDataKeyWithoutPlaintext(_) => "GenerateDataKeyWithoutPlaintext",
            Command::GenerateRandom(_) => "GenerateRandom",
            Command::GetPublicKey(_) => "GetPublicKey",
            Command::Sign(_) => "Sign",
            Command::Verify(_) => "Verify",
            Command::GenerateDataKeyPair(_) => "GenerateDataKeyPair",
            Command::GenerateDataKeyPairWithoutPlaintext(_) => {
                "GenerateDataKeyPairWithoutPlaintext"
            }
            Command::GenerateMac(_) => "GenerateMac",
            Command::VerifyMac(_) => "VerifyMac",
            Command::DeriveSharedSecret(_) => "DeriveSharedSecret",
            Command::Encapsulate(_) => "Encapsulate",
            Command::Decapsulate(_) => "Decapsulate",
            Command::PutKeyPolicy(_) => "PutKeyPolicy",
            Command::GetKeyPolicy(_) => "GetKeyPolicy",
            Command::ListKeyPolicies(_) => "ListKeyPolicies",
            Command::CreateGrant(_) => "CreateGrant",
            Command::ListGrants(_) => "ListGrants",
            Command::ListRetirableGrants(_) => "ListRetirableGrants",
            Command::RetireGrant(_) => "RetireGrant",
            Command::RevokeGrant(_) => "RevokeGrant",
            Command::EnableKeyRotation(_) => "EnableKeyRotation",
            Command::DisableKeyRotation(_) => "DisableKeyRotation",
            Command::GetKeyRotationStatus(_) => "GetKeyRotationStatus",
            Command::RotateKeyOnDemand(_) => "RotateKeyOnDemand",
            Command::ListKeyRotations(_) => "ListKeyRotations",
            Command::GetParametersForImport(_) => "GetParametersForImport",
            Command::ImportKeyMaterial(_) => "ImportKeyMaterial",
            Command::DeleteImportedKeyMaterial(_) => "DeleteImportedKeyMaterial",
            Command::CreateCustomKeyStore(_) => "CreateCustomKeyStore",
            Command::DescribeCustomKeyStores(_) => "DescribeCustomKeyStores",
            Command::UpdateCustomKeyStore(_) => "UpdateCustomKeyStore",
            Command::ConnectCustomKeyStore(_) => "ConnectCustomKeyStore",
            Command::DisconnectCustomKeyStore(_) => "DisconnectCustomKeyStore",
            Command::DeleteCustomKeyStore(_) => "DeleteCustomKeyStore",
            Command::ReplicateKey(_) => "ReplicateKey",
            Command::UpdatePrimaryRegion(_) => "UpdatePrimaryRegion",
            Command::Iam(c) => c.operation(),
        }
    }
}

/// `kmsctl iam ...`: the IdentityService operations.
#[derive(Debug, Subcommand)]
#[command(rename_all = "kebab-case")]
pub enum IamCommand {
    /// Attach (or replace) a named inline policy on a principal.
    PutPrincipalPolicy(PutPrincipalPolicyArgs),
    /// Show a principal's inline policy.
    GetPrincipalPolicy(PrincipalPolicyArgs),
    /// List the names of a principal's inline policies.
    ListPrincipalPolicies(ListPrincipalPoliciesArgs),
    /// Remove a principal's inline policy.
    DeletePrincipalPolicy(PrincipalPolicyArgs),
}

impl IamCommand {
    /// The operation name, for error messages (`PutPrincipalPolicy`).
    pub fn operation(&self) -> &'static str {
        match self {
            IamCommand::PutPrincipalPolicy(_) => "PutPrincipalPolicy",
            IamCommand::GetPrincipalPolicy(_) => "GetPrincipalPolicy",
            IamCommand::ListPrincipalPolicies(_) => "ListPrincipalPolicies",
            IamCommand::DeletePrincipalPolicy(_) => "DeletePrincipalPolicy",
        }
    }
}

/// `create-key`.
#[derive(Debug, Args)]
pub struct CreateKeyArgs {
    /// Key policy (JSON text or file://PATH).
    #[arg(long, allow_hyphen_values = true)]
    pub policy: Option<String>,
    /// Description (text or file://PATH).
    #[arg(long, allow_hyphen_values = true)]
    pub description: Option<String>,
    /// Key usage.
    #[arg(long, value_parser = EnumParser::<pb::KeyUsageType>::new())]
    pub key_usage: Option<i32>,
    /// Deprecated alias of --key-spec.
    #[arg(long, value_parser = EnumParser::<pb::CustomerMasterKeySpec>::new())]
    pub customer_master_key_spec: Option<i32>,
    /// Key spec (default SYMMETRIC_DEFAULT).
    #[arg(long, value_parser = EnumParser::<pb::KeySpec>::new())]
    pub key_spec: Option<i32>,
    /// Origin of the key material (default AWS_KMS).
    #[arg(long, value_parser = EnumParser::<pb::OriginType>::new())]
    pub origin: Option<i32>,
    /// Custom key store to create the key in.
    #[arg(long)]
    pub custom_key_store_id: Option<String>,
    /// Skip the policy lockout safety check.
    #[arg(long, overrides_with = "no_bypass_policy_lockout_safety_check")]
    pub bypass_policy_lockout_safety_check: bool,
    /// Do the policy lockout safety check (default).
    #[arg(long, overrides_with = "bypass_policy_lockout_safety_check")]
    pub no_bypass_policy_lockout_safety_check: bool,
    /// Tags: `TagKey=k,TagValue=v` items, or JSON `[{"TagKey":..,"TagValue":..}]`.
    #[arg(long, num_args = 1.., value_name = "TAG")]
    pub tags: Vec<String>,
    /// Create a multi-Region primary key.
    #[arg(long, overrides_with = "no_multi_region")]
    pub multi_region: bool,
    /// Create a single-Region key (default).
    #[arg(long, overrides_with = "multi_region")]
    pub no_multi_region: bool,
    /// Key id in the external key store (XKS).
    #[arg(long)]
    pub xks_key_id: Option<String>,
}

/// `describe-key`.
#[derive(Debug, Args)]
pub struct DescribeKeyArgs {
    /// Key id, key ARN, alias name or alias ARN.
    #[arg(long)]
    pub key_id: String,
    /// Grant tokens.
    #[arg(long, num_args = 1.., value_name = "TOKEN")]
    pub grant_tokens: Vec<String>,
}

/// Operations taking only `--key-id`.
#[derive(Debug, Args)]
pub struct KeyIdArgs {
    /// Key id or key ARN.
    #[arg(long)]
    pub key_id: String,
}

/// `list-keys`.
#[derive(Debug, Args)]
pub struct ListKeysArgs {
    /// Page size (1-1000); with --limit or --marker only one page is fetched.
    #[arg(long)]
    pub limit: Option<i32>,
    /// NextMarker from a previous page.
    #[arg(long)]
    pub marker: Option<String>,
}

/// `update-key-description`.
#[derive(Debug, Args)]
pub struct UpdateKeyDescriptionArgs {
    /// Key id or key ARN.
    #[arg(long)]
    pub key_id: String,
    /// New description (text or file://PATH).
    #[arg(long, allow_hyphen_values = true)]
    pub description: String,
}

/// `schedule-key-deletion`.
#[derive(Debug, Args)]
pub struct ScheduleKeyDeletionArgs {
    /// Key id or key ARN.
    #[arg(long)]
    pub key_id: String,
    /// Waiting period in days (7-30, default 30).
    #[arg(long)]
    pub pending_window_in_days: Option<i32>,
}

/// `create-alias` and `update-alias`.
#[derive(Debug, Args)]
pub struct AliasTargetArgs {
    /// Alias name, `alias/...`.
    #[arg(long)]
    pub alias_name: String,
    /// Key id or key ARN the alias points to.
    #[arg(long)]
    pub target_key_id: String,
}

/// `delete-alias`.
#[derive(Debug, Args)]
pub struct DeleteAliasArgs {
    /// Alias name, `alias/...`.
    #[arg(long)]
    pub alias_name: String,
}

/// `list-aliases`.
#[derive(Debug, Args)]
pub struct ListAliasesArgs {
    /// Only the aliases of this key.
    #[arg(long)]
    pub key_id: Option<String>,
    /// Page size (1-100); with --limit or --marker only one page is fetched.
    #[arg(long)]
    pub limit: Option<i32>,
    /// NextMarker from a previous page.
    #[arg(long)]
    pub marker: Option<String>,
}

/// `tag-resource`.
#[derive(Debug, Args)]
pub struct TagResourceArgs {
    /// Key id or key ARN.
    #[arg(long)]
    pub key_id: String,
    /// Tags: `TagKey=k,TagValue=v` items, or JSON `[{"TagKey":..,"TagValue":..}]`.
    #[arg(long, num_args = 1.., required = true, value_name = "TAG")]
    pub tags: Vec<String>,
}

/// `untag-resource`.
#[derive(Debug, Args)]
pub struct UntagResourceArgs {
    /// Key id or key ARN.
    #[arg(long)]
    pub key_id: String,
    /// Tag keys to remove.
    #[arg(long, num_args = 1.., required = true, value_name = "KEY")]
    pub tag_keys: Vec<String>,
}

/// `list-resource-tags`.
#[derive(Debug, Args)]
pub struct ListResourceTagsArgs {
    /// Key id or key ARN.
    #[arg(long)]
    pub key_id: String,
    /// Page size (1-50); with --limit or --marker only one page is fetched.
    #[arg(long)]
    pub limit: Option<i32>,
    /// NextMarker from a previous page.
    #[arg(long)]
    pub marker: Option<String>,
}

/// `encrypt`.
#[derive(Debug, Args)]
pub struct EncryptArgs {
    /// Key id, key ARN, alias name or alias ARN.
    #[arg(long)]
    pub key_id: String,
    /// Data: base64, fileb://PATH for raw bytes (see --cli-binary-format).
    #[arg(long, allow_hyphen_values = true)]
    pub plaintext: String,
    /// Encryption context: `k1=v1,k2=v2`, JSON or file://PATH.
    #[arg(long, allow_hyphen_values = true)]
    pub encryption_context: Option<String>,
    /// Grant tokens.
    #[arg(long, num_args = 1.., value_name = "TOKEN")]
    pub grant_tokens: Vec<String>,
    /// Encryption algorithm (default SYMMETRIC_DEFAULT).
    #[arg(long, value_parser = EnumParser::<pb::EncryptionAlgorithmSpec>::new())]
    pub encryption_algorithm: Option<i32>,
}

/// `decrypt`.
#[derive(Debug, Args)]
pub struct DecryptArgs {
    /// Ciphertext: fileb://PATH for raw bytes, or base64.
    #[arg(long, allow_hyphen_values = true)]
    pub ciphertext_blob: String,
    /// Encryption context: `k1=v1,k2=v2`, JSON or file://PATH.
    #[arg(long, allow_hyphen_values = true)]
    pub encryption_context: Option<String>,
    /// Grant tokens.
    #[arg(long, num_args = 1.., value_name = "TOKEN")]
    pub grant_tokens: Vec<String>,
    /// The key that must have encrypted the blob.
    #[arg(long)]
    pub key_id: Option<String>,
    /// Encryption algorithm (default SYMMETRIC_DEFAULT).
    #[arg(long, value_parser = EnumParser::<pb::EncryptionAlgorithmSpec>::new())]
    pub encryption_algorithm: Option<i32>,
}

/// `re-encrypt`.
#[derive(Debug, Args)]
pub struct ReEncryptArgs {
    /// Ciphertext: fileb://PATH for raw bytes, or base64.
    #[arg(long, allow_hyphen_values = true)]
    pub ciphertext_blob: String,
    /// Encryption context the blob was encrypted with.
    #[arg(long, allow_hyphen_values = true)]
    pub source_encryption_context: Option<String>,
    /// The key that must have encrypted the blob.
    #[arg(long)]
    pub source_key_id: Option<String>,
    /// Key to re-encrypt under.
    #[arg(long)]
    pub destination_key_id: String,
    /// Encryption context for the new ciphertext.
    #[arg(long, allow_hyphen_values = true)]
    pub destination_encryption_context: Option<String>,
    /// Algorithm the blob was encrypted with.
    #[arg(long, value_parser = EnumParser::<pb::EncryptionAlgorithmSpec>::new())]
    pub source_encryption_algorithm: Option<i32>,
    /// Algorithm for the new ciphertext.
    #[arg(long, value_parser = EnumParser::<pb::EncryptionAlgorithmSpec>::new())]
    pub destination_encryption_algorithm: Option<i32>,
    /// Grant tokens.
    #[arg(long, num_args = 1.., value_name = "TOKEN")]
    pub grant_tokens: Vec<String>,
}

/// `generate-data-key` and `generate-data-key-without-plaintext`.
#[derive(Debug, Args)]
pub struct GenerateDataKeyArgs {
    /// Key id, key ARN, alias name or alias ARN.
    #[arg(long)]
    pub key_id: String,
    /// Encryption context: `k1=v1,k2=v2`, JSON or file://PATH.
    #[arg(long, allow_hyphen_values = true)]
    pub encryption_context: Option<String>,
    /// Data key length in bytes (1-1024); or use --key-spec.
    #[arg(long)]
    pub number_of_bytes: Option<i32>,
    /// Data key spec; or use --number-of-bytes.
    #[arg(long, value_parser = EnumParser::<pb::DataKeySpec>::new())]
    pub key_spec: Option<i32>,
    /// Grant tokens.
    #[arg(long, num_args = 1.., value_name = "TOKEN")]
    pub grant_tokens: Vec<String>,
}

/// `generate-random`.
#[derive(Debug, Args)]
pub struct GenerateRandomArgs {
    /// How many bytes (1-1024).
    #[arg(long)]
    pub number_of_bytes: Option<i32>,
    /// Custom key store to generate the bytes in.
    #[arg(long)]
    pub custom_key_store_id: Option<String>,
}

/// `get-public-key`.
#[derive(Debug, Args)]
pub struct GetPublicKeyArgs {
    /// Key id, key ARN, alias name or alias ARN.
    #[arg(long)]
    pub key_id: String,
    /// Grant tokens.
    #[arg(long, num_args = 1.., value_name = "TOKEN")]
    pub grant_tokens: Vec<String>,
}

/// `sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// Key id, key ARN, alias name or alias ARN of a SIGN_VERIFY key.
    #[arg(long)]
    pub key_id: String,
    /// The message or digest: fileb://PATH for raw bytes, or base64.
    #[arg(long, allow_hyphen_values = true)]
    pub message: String,
    /// RAW (default), DIGEST or EXTERNAL_MU.
    #[arg(long, value_parser = EnumParser::<pb::MessageType>::new())]
    pub message_type: Option<i32>,
    /// Grant tokens.
    #[arg(long, num_args = 1.., value_name = "TOKEN")]
    pub grant_tokens: Vec<String>,
    /// Signing algorithm.
    #[arg(long, value_parser = EnumParser::<pb::SigningAlgorithmSpec>::new())]
    pub signing_algorithm: i32,
}

/// `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Key id, key ARN, alias name or alias ARN of a SIGN_VERIFY key.
    #[arg(long)]
    pub key_id: String,
    /// The message or digest: fileb://PATH for raw bytes, or base64.
    #[arg(long, allow_hyphen_values = true)]
    pub message: String,
    /// RAW (default), DIGEST or EXTERNAL_MU.
    #[arg(long, value_parser = EnumParser::<pb::MessageType>::new())]
    pub message_type: Option<i32>,
    /// The signature: fileb://PATH for raw bytes, or base64.
    #[arg(long, allow_hyphen_values = true)]
    pub signature: String,
    /// Signing algorithm the signature was made with.
    #[arg(long, value_parser = EnumParser::<pb::SigningAlgorithmSpec>::new())]
    pub signing_algorithm: i32,
    /// Grant tokens.
    #[arg(long, num_args = 1.., value_name = "TOKEN")]
    pub grant_tokens: Vec<String>,
}

/// `generate-data-key-pair` and `generate-data-key-pair-without-plaintext`.
#[derive(Debug, Args)]
pub struct GenerateDataKeyPairArgs {
    /// Encryption context: `k1=v1,k2=v2`, JSON or file://PATH.
    #[arg(long, allow_hyphen_values = true)]
    pub encryption_context: Option<String>,
    /// The symmetric key that encrypts the private key.
    #[arg(long)]
    pub key_id: String,
    /// The kind of key pair.
    #[arg(long, value_parser = EnumParser::<pb::DataKeyPairSpec>::new())]
    pub key_pair_spec: i32,
    /// Grant tokens.
    #[arg(long, num_args = 1.., value_name = "TOKEN")]
    pub grant_tokens: Vec<String>,
}

/// `generate-mac`.
#[derive(Debug, Args)]
pub struct GenerateMacArgs {
    /// The message (1-4096 bytes): fileb://PATH for raw bytes, or base64.
    #[arg(long, allow_hyphen_values = true)]
    pub message: String,
    /// Key id, key ARN, alias name or alias ARN of an HMAC key.
    #[arg(long)]
    pub key_id: String,
    /// MAC algorithm.
    #[arg(long, value_parser = EnumParser::<pb::MacAlgorithmSpec>::new())]
    pub mac_algorithm: i32,
    /// Grant tokens.
    #[arg(long, num_args = 1.., value_name = "TOKEN")]
    pub grant_tokens: Vec<String>,
}

/// `verify-mac`.
#[derive(Debug, Args)]
pub struct VerifyMacArgs {
    /// The message: fileb://PATH for raw bytes, or base64.
    #[arg(long, allow_hyphen_values = true)]
    pub message: String,
    /// Key id, key ARN, alias name or alias ARN of an HMAC key.
    #[arg(long)]
    pub key_id: String,
    /// MAC algorithm the MAC was computed with.
    #[arg(long, value_parser = EnumParser::<pb::MacAlgorithmSpec>::new())]
    pub mac_algorithm: i32,
    /// The MAC: fileb://PATH for raw bytes, or base64.
    #[arg(long, allow_hyphen_values = true)]
    pub mac: String,
    /// Grant tokens.
    #[arg(long, num_args = 1.., value_name = "TOKEN")]
    pub grant_tokens: Vec<String>,
}

/// `derive-shared-secret`.
#[derive(Debug, Args)]
pub struct DeriveSharedSecretArgs {
    /// Key id, key ARN, alias name or alias ARN of a KEY_AGREEMENT key.
    #[arg(long)]
    pub key_id: String,
    /// Key agreement algorithm (ECDH).
    #[arg(long, value_parser = EnumParser::<pb::KeyAgreementAlgorithmSpec>::new())]
    pub key_agreement_algorithm: i32,
    /// The other party's public key (DER SubjectPublicKeyInfo): fileb://PATH
    /// for raw bytes, or base64.
    #[arg(long, allow_hyphen_values = true)]
    pub public_key: String,
    /// Grant tokens.
    #[arg(long, num_args = 1.., value_name = "TOKEN")]
    pub grant_tokens: Vec<String>,
}

/// `encapsulate`.
#[derive(Debug, Args)]
pub struct EncapsulateArgs {
    /// Key id, key ARN, alias name or alias ARN of an ML-KEM key.
    #[arg(long)]
    pub key_id: String,
    /// Encapsulation algorithm (ML_KEM).
    #[arg(long, value_parser = EnumParser::<pb::EncapsulationAlgorithmSpec>::new())]
    pub encapsulation_algorithm: i32,
    /// Grant tokens.
    #[arg(long, num_args = 1.., value_name = "TOKEN")]
    pub grant_tokens: Vec<String>,
}

/// `decapsulate`.
#[derive(Debug, Args)]
pub struct DecapsulateArgs {
    /// Key id, key ARN, alias name or alias ARN of an ML-KEM key.
    #[arg(long)]
    pub key_id: String,
    /// The encapsulated shared secret: fileb://PATH for raw bytes, or base64.
    #[arg(long, allow_hyphen_values = true)]
    pub shared_secret_ciphertext_blob: String,
    /// Encapsulation algorithm (ML_KEM).
    #[arg(long, value_parser = EnumParser::<pb::EncapsulationAlgorithmSpec>::new())]
    pub encapsulation_algorithm: i32,
    /// Grant tokens.
    #[arg(long, num_args = 1.., value_name = "TOKEN")]
    pub grant_tokens: Vec<String>,
}

/// `put-key-policy`.
#[derive(Debug, Args)]
pub struct PutKeyPolicyArgs {
    /// Key id or key ARN.
    #[arg(long)]
    pub key_id: String,
    /// Policy name; only "default" exists.
    #[arg(long, default_value = "default")]
    pub policy_name: String,
    /// Key policy (JSON text or file://PATH).
    #[arg(long, allow_hyphen_values = true)]
    pub policy: String,
    /// Skip the policy lockout safety check.
    #[arg(long, overrides_with = "no_bypass_policy_lockout_safety_check")]
    pub bypass_policy_lockout_safety_check: bool,
    /// Do the policy lockout safety check (default).
    #[arg(long, overrides_with = "bypass_policy_lockout_safety_check")]
    pub no_bypass_policy_lockout_safety_check: bool,
}

/// `get-key-policy`.
#[derive(Debug, Args)]
pub struct GetKeyPolicyArgs {
    /// Key id or key ARN.
    #[arg(long)]
    pub key_id: String,
    /// Policy name; only "default" exists.
    #[arg(long, default_value = "default")]
    pub policy_name: String,
}

/// `list-key-policies`.
#[derive(Debug, Args)]
pub struct ListKeyPoliciesArgs {
    /// Key id or key ARN.
    #[arg(long)]
    pub key_id: String,
    /// Page size (1-1000); with --limit or --marker only one page is fetched.
    #[arg(long)]
    pub limit: Option<i32>,
    /// NextMarker from a previous page.
    #[arg(long)]
    pub marker: Option<String>,
}

/// `create-grant`.
#[derive(Debug, Args)]
pub struct CreateGrantArgs {
    /// Key id or key ARN.
    #[arg(long)]
    pub key_id: String,
    /// Principal (ARN) the grant gives permissions to.
    #[arg(long)]
    pub grantee_principal: String,
    /// Principal (ARN) that may retire the grant.
    #[arg(long)]
    pub retiring_principal: Option<String>,
    /// Operations: Decrypt, Encrypt, GenerateDataKey,
    /// GenerateDataKeyWithoutPlaintext, ReEncryptFrom, ReEncryptTo, Sign,
    /// Verify, GetPublicKey, CreateGrant, RetireGrant, DescribeKey,
    /// GenerateDataKeyPair, GenerateDataKeyPairWithoutPlaintext, GenerateMac,
    /// VerifyMac, DeriveSharedSecret, Encapsulate, Decapsulate (or a JSON
    /// list).
    #[arg(long, num_args = 1.., required = true, value_name = "OPERATION")]
    pub operations: Vec<String>,
    /// `EncryptionContextSubset={k=v,...}` or `EncryptionContextEquals={k=v,...}`,
    /// JSON or file://PATH.
    #[arg(long, allow_hyphen_values = true)]
    pub constraints: Option<String>,
    /// Grant tokens.
    #[arg(long, num_args = 1.., value_name = "TOKEN")]
    pub grant_tokens: Vec<String>,
    /// A name for the grant (retrying with the same name and parameters
    /// returns the same grant).
    #[arg(long)]
    pub name: Option<String>,
}

/// `list-grants`.
#[derive(Debug, Args)]
pub struct ListGrantsArgs {
    /// Key id or key ARN.
    #[arg(long)]
    pub key_id: String,
    /// Only this grant.
    #[arg(long)]
    pub grant_id: Option<String>,
    /// Only the grants to this principal.
    #[arg(long)]
    pub grantee_principal: Option<String>,
    /// Page size (1-100); with --limit or --marker only one page is fetched.
    #[arg(long)]
    pub limit: Option<i32>,
    /// NextMarker from a previous page.
    #[arg(long)]
    pub marker: Option<String>,
}

/// `list-retirable-grants`.
#[derive(Debug, Args)]
pub struct ListRetirableGrantsArgs {
    /// The retiring principal (ARN).
    #[arg(long)]
    pub retiring_principal: String,
    /// Page size (1-100); with --limit or --marker only one page is fetched.
    #[arg(long)]
    pub limit: Option<i32>,
    /// NextMarker from a previous page.
    #[arg(long)]
    pub marker: Option<String>,
}

/// `retire-grant`: by token, or by key and grant id.
#[derive(Debug, Args)]
pub struct RetireGrantArgs {
    /// The grant token.
    #[arg(long, required_unless_present_all = ["key_id", "grant_id"])]
    pub grant_token: Option<String>,
    /// Key id or key ARN (with --grant-id).
    #[arg(long)]
    pub key_id: Option<String>,
    /// Grant id (with --key-id).
    #[arg(long)]
    pub grant_id: Option<String>,
}

/// `revoke-grant`.
#[derive(Debug, Args)]
pub struct RevokeGrantArgs {
    /// Key id or key ARN.
    #[arg(long)]
    pub key_id: String,
    /// Grant id.
    #[arg(long)]
    pub grant_id: String,
}

/// `enable-key-rotation`.
#[derive(Debug, Args)]
pub struct EnableKeyRotationArgs {
    /// Key id or key ARN.
    #[arg(long)]
    pub key_id: String,
    /// Days between automatic rotations (90-2560, default 365).
    #[arg(long)]
    pub rotation_period_in_days: Option<i32>,
}

/// `list-key-rotations`.
#[derive(Debug, Args)]
pub struct ListKeyRotationsArgs {
    /// Key id or key ARN.
    #[arg(long)]
    pub key_id: String,
    /// Which key material to list (default ROTATIONS_ONLY).
    #[arg(long, value_parser = EnumParser::<pb::IncludeKeyMaterial>::new())]
    pub include_key_material: Option<i32>,
    /// Page size (1-1000); with --limit or --marker only one page is fetched.
    #[arg(long)]
    pub limit: Option<i32>,
    /// NextMarker from a previous page.
    #[arg(long)]
    pub marker: Option<String>,
}

/// `get-parameters-for-import`.
#[derive(Debug, Args)]
pub struct GetParametersForImportArgs {
    /// Key id or key ARN of a key with origin EXTERNAL.
    #[arg(long)]
    pub key_id: String,
    /// How the key material will be wrapped (RSAES_OAEP_SHA_256,
    /// RSA_AES_KEY_WRAP_SHA_256, ...).
    #[arg(long, value_parser = EnumParser::<pb::AlgorithmSpec>::new())]
    pub wrapping_algorithm: i32,
    /// The RSA wrapping key's size.
    #[arg(long, value_parser = EnumParser::<pb::WrappingKeySpec>::new())]
    pub wrapping_key_spec: i32,
}

/// `import-key-material`.
#[derive(Debug, Args)]
pub struct ImportKeyMaterialArgs {
    /// Key id or key ARN of a key with origin EXTERNAL.
    #[arg(long)]
    pub key_id: String,
    /// The import token from get-parameters-for-import: fileb://PATH for raw
    /// bytes, or base64.
    #[arg(long, allow_hyphen_values = true)]
    pub import_token: String,
    /// The wrapped key material: fileb://PATH for raw bytes, or base64.
    #[arg(long, allow_hyphen_values = true)]
    pub encrypted_key_material: String,
    /// When the material expires: ISO 8601 (2027-01-01T00:00:00Z) or epoch
    /// seconds; only with KEY_MATERIAL_EXPIRES.
    #[arg(long, allow_hyphen_values = true)]
    pub valid_to: Option<String>,
    /// KEY_MATERIAL_EXPIRES (needs --valid-to) or KEY_MATERIAL_DOES_NOT_EXPIRE.
    #[arg(long, value_parser = EnumParser::<pb::ExpirationModelType>::new())]
    pub expiration_model: Option<i32>,
    /// NEW_KEY_MATERIAL (a further material, for rotate-key-on-demand) or
    /// EXISTING_KEY_MATERIAL (re-import of one the key had).
    #[arg(long, value_parser = EnumParser::<pb::ImportType>::new())]
    pub import_type: Option<i32>,
    /// A description of this key material.
    #[arg(long, allow_hyphen_values = true)]
    pub key_material_description: Option<String>,
    /// The id of the key material to re-import (EXISTING_KEY_MATERIAL).
    #[arg(long)]
    pub key_material_id: Option<String>,
}

/// `delete-imported-key-material`.
#[derive(Debug, Args)]
pub struct DeleteImportedKeyMaterialArgs {
    /// Key id or key ARN of a key with origin EXTERNAL.
    #[arg(long)]
    pub key_id: String,
    /// The material to delete (default: the current one).
    #[arg(long)]
    pub key_material_id: Option<String>,
}

/// `create-custom-key-store`. As in the AWS CLI only the name is required
/// here; kmsd says which of the others an AWS_CLOUDHSM store needs.
#[derive(Debug, Args)]
pub struct CreateCustomKeyStoreArgs {
    /// A name for the store, unique in the account.
    #[arg(long)]
    pub custom_key_store_name: String,
    /// The cluster's id (as given to `kmsd serve --hsm-cluster ID=...`).
    #[arg(long)]
    pub cloud_hsm_cluster_id: Option<String>,
    /// The cluster's CA certificate (PEM): file://PATH (e.g.
    /// file://CLUSTERDIR/ca.pem, hsm-sim's customerCA.crt) or the PEM text.
    #[arg(long, allow_hyphen_values = true)]
    pub trust_anchor_certificate: Option<String>,
    /// The kmsuser password (7-32 characters), or file://PATH holding it
    /// (the file's exact contents, so no trailing newline).
    #[arg(long, allow_hyphen_values = true)]
    pub key_store_password: Option<String>,
    /// Store type (default AWS_CLOUDHSM; kmsd refuses EXTERNAL_KEY_STORE).
    #[arg(long, value_parser = EnumParser::<pb::CustomKeyStoreType>::new())]
    pub custom_key_store_type: Option<i32>,
}

/// `describe-custom-key-stores`.
#[derive(Debug, Args)]
pub struct DescribeCustomKeyStoresArgs {
    /// Only this store (not with --custom-key-store-name).
    #[arg(long)]
    pub custom_key_store_id: Option<String>,
    /// Only the store of this name (not with --custom-key-store-id).
    #[arg(long)]
    pub custom_key_store_name: Option<String>,
    /// Page size (1-1000); with --limit or --marker only one page is fetched.
    #[arg(long)]
    pub limit: Option<i32>,
    /// NextMarker from a previous page.
    #[arg(long)]
    pub marker: Option<String>,
}

/// `update-custom-key-store`.
#[derive(Debug, Args)]
pub struct UpdateCustomKeyStoreArgs {
    /// The store's id (cks-...).
    #[arg(long)]
    pub custom_key_store_id: String,
    /// A new name for the store.
    #[arg(long)]
    pub new_custom_key_store_name: Option<String>,
    /// The kmsuser password kmsd should use from now on (after it was
    /// changed in the cluster), or file://PATH holding it (store
    /// disconnected).
    #[arg(long, allow_hyphen_values = true)]
    pub key_store_password: Option<String>,
    /// Another cluster id for the store: one whose HSMs present
    /// certificates issued by the store's trust anchor (store
    /// disconnected).
    #[arg(long)]
    pub cloud_hsm_cluster_id: Option<String>,
}

/// Operations taking only `--custom-key-store-id`.
#[derive(Debug, Args)]
pub struct CustomKeyStoreIdArgs {
    /// The store's id (cks-...).
    #[arg(long)]
    pub custom_key_store_id: String,
}

/// `replicate-key`.
#[derive(Debug, Args)]
pub struct ReplicateKeyArgs {
    /// Key id or key ARN of a multi-Region primary key.
    #[arg(long)]
    pub key_id: String,
    /// The Region to create the replica in (e.g. us-west-2).
    #[arg(long)]
    pub replica_region: String,
    /// The replica's key policy (JSON text or file://PATH); the default key
    /// policy when not given.
    #[arg(long, allow_hyphen_values = true)]
    pub policy: Option<String>,
    /// Skip the policy lockout safety check.
    #[arg(long, overrides_with = "no_bypass_policy_lockout_safety_check")]
    pub bypass_policy_lockout_safety_check: bool,
    /// Do the policy lockout safety check (default).
    #[arg(long, overrides_with = "bypass_policy_lockout_safety_check")]
    pub no_bypass_policy_lockout_safety_check: bool,
    /// The replica's description (text or file://PATH).
    #[arg(long, allow_hyphen_values = true)]
    pub description: Option<String>,
    /// The replica's tags: `TagKey=k,TagValue=v` items, or JSON
    /// `[{"TagKey":..,"TagValue":..}]`.
    #[arg(long, num_args = 1.., value_name = "TAG")]
    pub tags: Vec<String>,
}

/// `update-primary-region`.
#[derive(Debug, Args)]
pub struct UpdatePrimaryRegionArgs {
    /// Key id or key ARN of the multi-Region primary key.
    #[arg(long)]
    pub key_id: String,
    /// The Region of the replica that becomes the primary key.
    #[arg(long)]
    pub primary_region: String,
}

/// `iam put-principal-policy`.
#[derive(Debug, Args)]
pub struct PutPrincipalPolicyArgs {
    /// Principal ARN, e.g. arn:aws:iam::111122223333:user/alice.
    #[arg(long)]
    pub principal_arn: String,
    /// Policy name.
    #[arg(long)]
    pub policy_name: String,
    /// Policy document (JSON text or file://PATH).
    #[arg(long, allow_hyphen_values = true)]
    pub policy_document: String,
}

/// `iam get-principal-policy` and `iam delete-principal-policy`.
#[derive(Debug, Args)]
pub struct PrincipalPolicyArgs {
    /// Principal ARN.
    #[arg(long)]
    pub principal_arn: String,
    /// Policy name.
    #[arg(long)]
    pub policy_name: String,
}

/// `iam list-principal-policies`.
#[derive(Debug, Args)]
pub struct ListPrincipalPoliciesArgs {
    /// Principal ARN.
    #[arg(long)]
    pub principal_arn: String,
    /// Page size; with --limit or --marker only one page is fetched.
    #[arg(long)]
    pub limit: Option<i32>,
    /// NextMarker from a previous page.
    #[arg(long)]
    pub marker: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_before_or_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "kmsctl",
            "--output",
            "text",
            "describe-key",
            "--key-id",
            "k",
            "--query",
            "KeyMetadata.KeyId",
            "--region",
            "us-east-1",
            "--no-cli-pager",
        ])
        .expect("parses");
        assert_eq!(cli.global.output, OutputFormat::Text);
        assert_eq!(cli.global.query.as_deref(), Some("KeyMetadata.KeyId"));
        assert!(matches!(cli.command, Command::DescribeKey(ref a) if a.key_id == "k"));
    }

    #[test]
    fn enums_take_aws_spellings() {
        let cli = Cli::try_parse_from([
            "kmsctl",
            "generate-data-key",
            "--key-id",
            "k",
            "--key-spec",
            "AES_256",
        ])
        .expect("parses");
        let Command::GenerateDataKey(a) = cli.command else {
            panic!("wrong command")
        };
        assert_eq!(a.key_spec, Some(pb::DataKeySpec::Aes256 as i32));
        let err = Cli::try_parse_from([
            "kmsctl",
            "generate-data-key",
            "--key-id",
            "k",
            "--key-spec",
            "AES_999",
        ])
        .expect_err("unknown enum");
        assert_eq!(err.kind(), clap::error::ErrorKind::InvalidValue);
        assert!(err.to_string().contains("AES_256"));
    }

    #[test]
    fn lists_and_bool_pairs() {
        let cli = Cli::try_parse_from([
            "kmsctl",
            "create-key",
            "--tags",
            "TagKey=a,TagValue=1",
            "TagKey=b,TagValue=2",
            "--multi-region",
            "--no-multi-region",
            "--bypass-policy-lockout-safety-check",
        ])
        .expect("parses");
        let Command::CreateKey(a) = cli.command else {
            panic!("wrong command")
        };
        assert_eq!(a.tags.len(), 2);
        assert!(!a.multi_region && a.no_multi_region);
        assert!(a.bypass_policy_lockout_safety_check);
    }

    fn check_help(cmd: &mut clap::Command) {
        let help = cmd.render_help().to_string();
        assert!(help.contains("Usage"), "{}", cmd.get_name());
        for sub in cmd.get_subcommands_mut() {
            check_help(sub);
        }
    }

    #[test]
    fn every_subcommand_has_help() {
        let mut cmd = Cli::command();
        check_help(&mut cmd);
        let iam = cmd
            .find_subcommand_mut("iam")
            .expect("iam group")
            .render_help()
            .to_string();
        for sub in [
            "put-principal-policy",
            "get-principal-policy",
            "list-principal-policies",
            "delete-principal-policy",
        ] {
            assert!(iam.contains(sub), "{iam}");
        }
    }

    #[test]
    fn iam_group_and_global_options() {
        let cli = Cli::try_parse_from([
            "kmsctl",
            "iam",
            "list-principal-policies",
            "--principal-arn",
            "arn:aws:iam::111122223333:user/alice",
            "--output",
            "text",
            "--limit",
            "5",
        ])
        .expect("parses");
        assert_eq!(cli.global.output, OutputFormat::Text);
        let Command::Iam(IamCommand::ListPrincipalPolicies(a)) = cli.command else {
            panic!("wrong command")
        };
        assert_eq!(a.limit, Some(5));
        let err = Cli::try_parse_from(["kmsctl", "iam"]).expect_err("no subcommand");
        assert!(err.use_stderr());
        let err = Cli::try_parse_from([
            "kmsctl",
            "iam",
            "put-principal-policy",
            "--principal-arn",
            "a",
        ])
        .expect_err("missing flags");
        assert!(err.use_stderr());
    }
}
