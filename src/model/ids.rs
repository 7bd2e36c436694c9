//! Identifiers: key ids, ARNs, alias names, caller principals, and the four
//! forms in which a request may name a key.

use std::fmt;
use std::str::FromStr;

use crate::error::{KmsError, KmsResult};

/// Maximum length of a KeyId request field.
pub const MAX_KEY_ID_LEN: usize = 2048;
/// Maximum length of an alias name.
pub const MAX_ALIAS_LEN: usize = 256;

/// A key id: a UUID, or for multi-Region keys `mrk-` and 32 hex digits. Both
/// are 16 bytes, which is what the ciphertext format stores.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId {
    multi_region: bool,
    raw: [u8; 16],
}

impl KeyId {
    /// A fresh random single-Region key id.
    pub fn new_random() -> Self {
        Self {
            multi_region: false,
            raw: *uuid::Uuid::new_v4().as_bytes(),
        }
    }

    /// A fresh random multi-Region key id.
    pub fn new_random_multi_region() -> Self {
        Self {
            multi_region: true,
            raw: *uuid::Uuid::new_v4().as_bytes(),
        }
    }

    /// Builds an id from its stored form.
    pub const fn from_parts(multi_region: bool, raw: [u8; 16]) -> Self {
        Self { multi_region, raw }
    }

    /// Whether this is a multi-Region (`mrk-`) id.
    pub fn is_multi_region(&self) -> bool {
        self.multi_region
    }

    /// The 16 id bytes.
    pub fn raw(&self) -> &[u8; 16] {
        &self.raw
    }

    /// A 17-byte storage key: kind byte then id bytes. Sorts the same way as
    /// the ids themselves.
    pub fn storage_key(&self) -> [u8; 17] {
        let mut k = [0u8; 17];
        k[0] = u8::from(self.multi_region);
        k[1..].copy_from_slice(&self.raw);
        k
    }

    /// Inverse of [`KeyId::storage_key`].
    pub fn from_storage_key(k: &[u8]) -> Option<Self> {
        if k.len() != 17 || k[0] > 1 {
            return None;
        }
        let mut raw = [0u8; 16];
        raw.copy_from_slice(&k[1..]);
        Some(Self::from_parts(k[0] == 1, raw))
    }
}

impl KeyId {
    /// Calls `f` with the id's text (`1234abcd-…` or `mrk-…`), rendered on
    /// the stack (no `format!`: every data-plane call renders key ARNs).
    fn with_text<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        if self.multi_region {
            let mut buf = [0u8; 4 + 32];
            buf[..4].copy_from_slice(b"mrk-");
            // 16 bytes always fit 32 hex digits; on the impossible error
            // the text is left as zeros rather than panicking.
            let _ = hex::encode_to_slice(self.raw, &mut buf[4..]);
            f(std::str::from_utf8(&buf).unwrap_or("mrk-"))
        } else {
            let mut buf = uuid::Uuid::encode_buffer();
            f(uuid::Uuid::from_bytes(self.raw)
                .hyphenated()
                .encode_lower(&mut buf))
        }
    }

    /// Appends the id's text to `out`.
    fn write_to(&self, out: &mut String) {
        self.with_text(|t| out.push_str(t));
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_text(|t| f.write_str(t))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl FromStr for KeyId {
    type Err = ();

    /// Accepts the canonical forms only: a lowercase hyphenated UUID, or
    /// `mrk-` and 32 lowercase hex digits.
    fn from_str(s: &str) -> Result<Self, ()> {
        if let Some(hexpart) = s.strip_prefix("mrk-") {
            if hexpart.len() != 32 || hexpart.bytes().any(|b| b.is_ascii_uppercase()) {
                return Err(());
            }
            let mut raw = [0u8; 16];
            hex::decode_to_slice(hexpart, &mut raw).map_err(|_| ())?;
            return Ok(Self::from_parts(true, raw));
        }
        if s.len() != 36 || s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(());
        }
        let u = uuid::Uuid::try_parse(s).map_err(|_| ())?;
        if u.hyphenated().to_string() != s {
            return Err(());
        }
        Ok(Self::from_parts(false, *u.as_bytes()))
    }
}

/// An alias name, `alias/...`, validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AliasName(String);

impl AliasName {
    /// Validates an alias name as CreateAlias does: `alias/` followed by
    /// 1+ letters, digits, `/`, `_` or `-`; at most 256 characters; not in
    /// the reserved `alias/aws/` namespace.
    pub fn parse_for_create(s: &str) -> KmsResult<Self> {
        let a = Self::parse(s)?;
        if a.is_reserved() {
            return Err(KmsError::InvalidAliasName(format!(
                "Alias {s} is reserved: aliases beginning with alias/aws/ are reserved for AWS managed keys"
            )));
        }
        Ok(a)
    }

    /// Validates the syntax only (reserved names allowed, for lookups).
    pub fn parse(s: &str) -> KmsResult<Self> {
        if s.is_empty() || s.len() > MAX_ALIAS_LEN {
            return Err(KmsError::Validation(format!(
                "1 validation error detected: Value at 'aliasName' failed to satisfy constraint: Member must have length between 1 and {MAX_ALIAS_LEN}"
            )));
        }
        let Some(rest) = s.strip_prefix("alias/") else {
            return Err(KmsError::InvalidAliasName(format!(
                "Alias must begin with 'alias/': {}",
                printable(s)
            )));
        };
        if rest.is_empty()
            || !rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'_' || b == b'-')
        {
            return Err(KmsError::InvalidAliasName(format!(
                "Alias name {} is not valid: use alias/ followed by letters, digits, '/', '_' or '-'",
                printable(s)
            )));
        }
        Ok(Self(s.to_owned()))
    }

    /// Whether the alias is in the reserved `alias/aws/` namespace.
    pub fn is_reserved(&self) -> bool {
        self.0.starts_with("alias/aws/")
    }

    /// The full name, `alias/...`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AliasName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a request named a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// A bare key id: the caller's own account.
    Id(KeyId),
    /// A key ARN.
    KeyArn {
        /// Region in the ARN.
        region: String,
        /// Account in the ARN.
        account: String,
        /// Key id in the ARN.
        id: KeyId,
    },
    /// `alias/name`: the caller's own account.
    Alias(AliasName),
    /// An alias ARN.
    AliasArn {
        /// Region in the ARN.
        region: String,
        /// Account in the ARN.
        account: String,
        /// Alias in the ARN.
        alias: AliasName,
    },
}

impl KeyRef {
    /// Parses a KeyId request field in any of the four AWS forms.
    pub fn parse(s: &str) -> KmsResult<Self> {
        if s.is_empty() || s.len() > MAX_KEY_ID_LEN {
            return Err(KmsError::Validation(format!(
                "1 validation error detected: Value at 'keyId' failed to satisfy constraint: Member must have length between 1 and {MAX_KEY_ID_LEN}"
            )));
        }
        if s.starts_with("arn:") {
            return Self::parse_arn(s);
        }
        if s.starts_with("alias/") {
            return Ok(KeyRef::Alias(AliasName::parse(s)?));
        }
        match s.parse::<KeyId>() {
            Ok(id) => Ok(KeyRef::Id(id)),
            // AWS answers an unknown-looking key id with NotFound, not a
            // validation error: the id could exist in some other form.
            Err(()) => Err(KmsError::NotFound(format!(
                "Invalid keyId {}",
                printable(s)
            ))),
        }
    }

    fn parse_arn(s: &str) -> KmsResult<Self> {
        // arn:PARTITION:kms:REGION:ACCOUNT:key/ID  or  ...:alias/NAME
        let bad = || KmsError::InvalidArn(format!("Invalid ARN: {}", printable(s)));
        let arn = ArnParts::split(s).ok_or_else(bad)?;
        let (region, account, resource) = (arn.region, arn.account, arn.resource);
        if !arn.partition.starts_with("aws") || arn.service != "kms" {
            return Err(bad());
        }
        if region.is_empty() || !is_account_id(account) {
            return Err(bad());
        }
        if let Some(id) = resource.strip_prefix("key/") {
            let id = id.parse::<KeyId>().map_err(|()| bad())?;
            return Ok(KeyRef::KeyArn {
                region: region.to_owned(),
                account: account.to_owned(),
                id,
            });
        }
        if resource.starts_with("alias/") {
            let alias = AliasName::parse(resource)?;
            return Ok(KeyRef::AliasArn {
                region: region.to_owned(),
                account: account.to_owned(),
                alias,
            });
        }
        Err(bad())
    }

    /// Whether the reference is an alias (name or ARN).
    pub fn is_alias(&self) -> bool {
        matches!(self, KeyRef::Alias(_) | KeyRef::AliasArn { .. })
    }
}

/// Whether `s` is a 12-digit AWS account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The components of an ARN, `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`,
/// borrowed from its text. The one ARN splitter of kmsd: key references,
/// caller principals and policy principals all start here, then apply
/// their own rules to the components.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArnParts<'a> {
    /// `aws`, `aws-cn`, ...
    pub partition: &'a str,
    /// `kms`, `iam`, `sts`, ...
    pub service: &'a str,
    /// Empty for global services (IAM, STS principals).
    pub region: &'a str,
    /// Not checked here: see [`is_account_id`].
    pub account: &'a str,
    /// Everything after the fifth colon, colons included.
    pub resource: &'a str,
}

impl<'a> ArnParts<'a> {
    /// Splits `arn` at its first five colons; `None` unless it begins with
    /// `arn:` and has all six components (any of which may be empty).
    /// Borrows only, no allocation: callers parse principals per request.
    pub fn split(arn: &'a str) -> Option<Self> {
        let mut parts = arn.splitn(6, ':');
        let (
            Some("arn"),
            Some(partition),
            Some(service),
            Some(region),
            Some(account),
            Some(resource),
        ) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        )
        else {
            return None;
        };
        Some(Self {
            partition,
            service,
            region,
            account,
            resource,
        })
    }

    /// [`ArnParts::split`] for an IAM/STS principal ARN: no Region and a
    /// 12-digit account (`arn:aws:iam::111122223333:...`). The service and
    /// resource are left to the caller's rules.
    pub fn split_principal(arn: &'a str) -> Option<Self> {
        Self::split(arn).filter(|p| p.region.is_empty() && is_account_id(p.account))
    }
}

/// The authenticated caller: an IAM principal ARN taken from the client
/// certificate, e.g. `arn:aws:iam::111122223333:user/alice`.
///
/// Parsed once, strictly, by IAM's rules (see [`Principal::parse`]), so
/// every later decision about the caller — is it the account root, whose
/// identity policies apply — reads the parsed form, never the text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    arn: String,
    account: String,
    kind: PrincipalKind,
    /// Whose identity policies apply (see [`Principal::identity_arn`]).
    identity_arn: String,
}

/// What kind of IAM principal a [`Principal`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// `arn:aws:iam::ACCOUNT:root`, the account itself.
    Root,
    /// `arn:aws:iam::ACCOUNT:user/[PATH/]NAME`.
    User,
    /// `arn:aws:iam::ACCOUNT:role/[PATH/]NAME`.
    Role,
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    AssumedRole,
}

/// The one partition kmsd serves. `aws-cn` and `aws-us-gov` principals
/// are refused (a deliberate limit, docs/api.md): accepting any string
/// that starts with `aws` would let `aws-anything` pass as a partition.
pub const PARTITION: &str = "aws";

/// IAM's characters for user, role and session names: `[\w+=,.@-]`.
fn iam_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

/// A user or role name (1–64 IAM name characters).
fn iam_name(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.chars().all(iam_name_char)
}

/// `[PATH/]NAME` of a user or role: the name by IAM's rules, each path
/// segment non-empty and of IAM name characters (stricter than IAM's path
/// alphabet, which also admits `:` and other punctuation: a path must not
/// be able to spell ARN separators), at most 512 characters of path.
/// Returns the name.
fn path_and_name(s: &str) -> Option<&str> {
    let (path, name) = match s.rsplit_once('/') {
        Some((path, name)) => (Some(path), name),
        None => (None, s),
    };
    if !iam_name(name) {
        return None;
    }
    if let Some(path) = path {
        if path.len() > 512
            || !path
                .split('/')
                .all(|seg| !seg.is_empty() && seg.chars().all(iam_name_char))
        {
            return None;
        }
    }
    Some(name)
}

impl Principal {
    /// Parses an IAM principal ARN, strictly:
    /// - partition exactly `aws`, no Region, a 12-digit account;
    /// - `iam` with resource exactly `root`, `user/[PATH/]NAME` or
    ///   `role/[PATH/]NAME` (names of 1–64 of IAM's characters
    ///   `[A-Za-z0-9_+=,.@-]`, path segments likewise);
    /// - `sts` with `assumed-role/ROLE/SESSION` (session 2–64 characters);
    /// - nothing else: groups are never callers, and no other service's
    ///   principals exist here.
    ///
    /// So no name can contain `:` or `/` beyond its path, and a user named
    /// `x:111122223333:root` is not a principal at all.
    pub fn parse(arn: &str) -> Option<Self> {
        if arn.len() > 2048 {
            return None;
        }
        let p = ArnParts::split_principal(arn)?;
        let (service, account, resource) = (p.service, p.account, p.resource);
        if p.partition != PARTITION {
            return None;
        }
        let (kind, identity_arn) = match service {
            "iam" if resource == "root" => (PrincipalKind::Root, arn.to_owned()),
            "iam" => {
                let (kind, rest) = if let Some(rest) = resource.strip_prefix("user/") {
                    (PrincipalKind::User, rest)
                } else if let Some(rest) = resource.strip_prefix("role/") {
                    (PrincipalKind::Role, rest)
                } else {
                    return None;
                };
                let name = path_and_name(rest)?;
                // User and role names are unique within an account whatever
                // their path (IAM), so policies are kept by name alone.
                let what = if kind == PrincipalKind::User {
                    "user"
                } else {
                    "role"
                };
                (kind, format!("arn:aws:iam::{account}:{what}/{name}"))
            }
            "sts" => {
                let rest = resource.strip_prefix("assumed-role/")?;
                let (role, session) = rest.split_once('/')?;
                if !iam_name(role)
                    || !(2..=64).contains(&session.len())
                    || !session.chars().all(iam_name_char)
                {
                    return None;
                }
                // A session acts with its role's identity policies.
                (
                    PrincipalKind::AssumedRole,
                    format!("arn:aws:iam::{account}:role/{role}"),
                )
            }
            _ => return None,
        };
        Some(Self {
            arn: arn.to_owned(),
            account: account.to_owned(),
            kind,
            identity_arn,
        })
    }

    /// The principal's ARN.
    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// The principal's 12-digit account.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// What kind of principal it is.
    pub fn kind(&self) -> PrincipalKind {
        self.kind
    }

    /// Whether this is the root of its account (decided from the parsed
    /// ARN: service `iam`, resource exactly `root`).
    pub fn is_root(&self) -> bool {
        self.kind == PrincipalKind::Root
    }

    /// The principal whose identity policies apply to this one: itself,
    /// path removed, for users and roles (IAM names are unique within an
    /// account, whatever the path); its role for an STS session; itself
    /// for the root (which has none and needs none).
    pub fn identity_arn(&self) -> &str {
        &self.identity_arn
    }

    /// The root principal ARN of `account`.
    pub fn root_arn(account: &str) -> String {
        format!("arn:aws:iam::{account}:root")
    }
}

/// The ARN of a key.
pub fn key_arn(region: &str, account: &str, id: &KeyId) -> String {
    // Built by hand: every data-plane call renders one or two of these, and
    // `format!` showed in profiles (~1.5% of kmsd's CPU).
    const PREFIX: &str = "arn:aws:kms:";
    let mut arn = String::with_capacity(PREFIX.len() + region.len() + account.len() + 6 + 40);
    arn.push_str(PREFIX);
    arn.push_str(region);
    arn.push(':');
    arn.push_str(account);
    arn.push_str(":key/");
    id.write_to(&mut arn);
    arn
}

/// The ARN of an alias.
pub fn alias_arn(region: &str, account: &str, alias: &AliasName) -> String {
    format!("arn:aws:kms:{region}:{account}:{alias}")
}

/// The KeyMaterialId of version `version` of key `id`: 64 hex digits,
/// derived (not stored) from the id and version, so it reveals nothing
/// about the material.
pub fn key_material_id(id: &KeyId, version: u32) -> String {
    let digest = crate::crypto::sha256(&[
        b"kmsd/key-material-id/v1",
        &id.storage_key(),
        &version.to_be_bytes(),
    ]);
    // Every crypto response carries one: a table lookup per nibble rather
    // than `hex::encode`'s char iterator.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(digest.len() * 2);
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

/// Caller-supplied text as it may appear inside an error message: control
/// characters escaped and length capped, so messages stay one readable line.
pub fn printable(s: &str) -> String {
    let mut out: String = s.chars().take(256).flat_map(char::escape_debug).collect();
    if s.chars().count() > 256 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_arns_are_built_as_aws_spells_them() {
        let single = KeyId::new_random();
        let multi: KeyId = "mrk-1234abcd12ab34cd56ef1234567890ab".parse().unwrap();
        for id in [single, multi] {
            assert_eq!(
                key_arn("eu-west-1", "111122223333", &id),
                format!("arn:aws:kms:eu-west-1:111122223333:key/{id}")
            );
        }
        assert_eq!(multi.to_string(), "mrk-1234abcd12ab34cd56ef1234567890ab");
        let text = single.to_string();
        assert_eq!(text.len(), 36);
        assert_eq!(text.parse::<KeyId>().unwrap(), single);
    }

    #[test]
    fn key_material_id_is_the_lowercase_hex_of_its_digest() {
        let id = KeyId::new_random();
        for version in [1, 2, u32::MAX] {
            let expected = hex::encode(crate::crypto::sha256(&[
                b"kmsd/key-material-id/v1",
                &id.storage_key(),
                &version.to_be_bytes(),
            ]));
            assert_eq!(key_material_id(&id, version), expected);
        }
        assert_ne!(key_material_id(&id, 1), key_material_id(&id, 2));
    }

    #[test]
    fn key_id_round_trips() {
        let id = KeyId::new_random();
        assert_eq!(id.to_string().parse::<KeyId>(), Ok(id));
        let mrk = KeyId::new_random_multi_region();
        let s = mrk.to_string();
        assert!(s.starts_with("mrk-") && s.len() == 36);
        assert_eq!(s.parse::<KeyId>(), Ok(mrk));
        assert_eq!(KeyId::from_storage_key(&mrk.storage_key()), Some(mrk));
    }

    #[test]
    fn key_id_rejects_noncanonical() {
        for s in [
            "",
            "1234",
            "1234ABCD-12ab-34cd-56ef-1234567890ab",
            "1234abcd12ab34cd56ef1234567890ab",
            "mrk-XYZ",
            "mrk-1234abcd12ab34cd56ef1234567890AB",
        ] {
            assert!(s.parse::<KeyId>().is_err(), "{s}");
        }
        assert!("1234abcd-12ab-34cd-56ef-1234567890ab"
            .parse::<KeyId>()
            .is_ok());
    }

    #[test]
    fn key_ref_forms() {
        let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        assert!(matches!(KeyRef::parse(id), Ok(KeyRef::Id(_))));
        let arn = format!("arn:aws:kms:us-east-1:111122223333:key/{id}");
        assert!(matches!(KeyRef::parse(&arn), Ok(KeyRef::KeyArn { .. })));
        assert!(matches!(KeyRef::parse("alias/app"), Ok(KeyRef::Alias(_))));
        assert!(matches!(
            KeyRef::parse("arn:aws:kms:us-east-1:111122223333:alias/app"),
            Ok(KeyRef::AliasArn { .. })
        ));
        assert!(matches!(KeyRef::parse(""), Err(KmsError::Validation(_))));
        assert!(matches!(
            KeyRef::parse(&"x".repeat(2049)),
            Err(KmsError::Validation(_))
        ));
        assert!(matches!(KeyRef::parse("nope"), Err(KmsError::NotFound(_))));
        assert!(matches!(
            KeyRef::parse("arn:aws:kms:us-east-1:1111:key/x"),
            Err(KmsError::InvalidArn(_))
        ));
        assert!(matches!(
            KeyRef::parse("alias/bad name"),
            Err(KmsError::InvalidAliasName(_))
        ));
    }

    #[test]
    fn alias_rules() {
        assert!(AliasName::parse_for_create("alias/my-app_1/x").is_ok());
        assert!(matches!(
            AliasName::parse_for_create("alias/aws/ebs"),
            Err(KmsError::InvalidAliasName(_))
        ));
        assert!(AliasName::parse("alias/").is_err());
        assert!(AliasName::parse("app").is_err());
        assert!(AliasName::parse("alias/a.b").is_err());
        assert!(AliasName::parse(&format!("alias/{}", "a".repeat(251))).is_err());
        assert!(AliasName::parse(&format!("alias/{}", "a".repeat(250))).is_ok());
    }

    #[test]
    fn principals() {
        let p = Principal::parse("arn:aws:iam::111122223333:user/alice").expect("valid");
        assert_eq!(p.account(), "111122223333");
        assert!(Principal::parse("arn:aws:iam::111122223333:root").is_some());
        assert!(Principal::parse("arn:aws:sts::111122223333:assumed-role/r/s1").is_some());
        assert!(Principal::parse("arn:aws:iam::1111:root").is_none());
        assert!(Principal::parse("arn:aws:iam:us-east-1:111122223333:root").is_none());
        assert!(Principal::parse("arn:aws:s3:::bucket").is_none());
        assert!(Principal::parse("arn:aws:iam::111122223333:user/").is_none());
        assert!(Principal::parse("arn:aws:iam::111122223333:user/a b").is_none());
    }

    #[test]
    fn printable_escapes_and_caps() {
        assert_eq!(printable("a\nb"), "a\\nb");
        assert_eq!(printable(&"x".repeat(300)).chars().count(), 257);
    }

    #[test]
    fn arn_split_takes_six_components_and_keeps_resource_colons() {
        assert_eq!(
            ArnParts::split("arn:aws:logs:us-east-1:111122223333:log-group:x:y"),
            Some(ArnParts {
                partition: "aws",
                service: "logs",
                region: "us-east-1",
                account: "111122223333",
                resource: "log-group:x:y",
            })
        );
        let root = ArnParts::split("arn:aws:iam::111122223333:root").expect("six parts");
        assert_eq!((root.region, root.resource), ("", "root"));
        assert_eq!(
            ArnParts::split("arn:::::"),
            Some(ArnParts {
                partition: "",
                service: "",
                region: "",
                account: "",
                resource: "",
            })
        );
        for bad in [
            "",
            "arn",
            "arn:aws:iam::111122223333",
            "ARN:aws:iam::1:root",
            "x:aws:iam::1:root",
        ] {
            assert_eq!(ArnParts::split(bad), None, "{bad}");
        }
    }

    #[test]
    fn principals_parse_by_iams_rules() {
        let ok = [
            (
                "arn:aws:iam::111122223333:root",
                PrincipalKind::Root,
                "arn:aws:iam::111122223333:root",
            ),
            (
                "arn:aws:iam::111122223333:user/alice",
                PrincipalKind::User,
                "arn:aws:iam::111122223333:user/alice",
            ),
            (
                "arn:aws:iam::111122223333:user/div/team/alice",
                PrincipalKind::User,
                "arn:aws:iam::111122223333:user/alice",
            ),
            (
                "arn:aws:iam::111122223333:role/app+svc=x,y.z@q_r-s",
                PrincipalKind::Role,
                "arn:aws:iam::111122223333:role/app+svc=x,y.z@q_r-s",
            ),
            (
                "arn:aws:iam::111122223333:role/team/app",
                PrincipalKind::Role,
                "arn:aws:iam::111122223333:role/app",
            ),
            (
                "arn:aws:sts::111122223333:assumed-role/app/s1",
                PrincipalKind::AssumedRole,
                "arn:aws:iam::111122223333:role/app",
            ),
        ];
        for (arn, kind, identity) in ok {
            let p = Principal::parse(arn).unwrap_or_else(|| panic!("{arn}"));
            assert_eq!(p.kind(), kind, "{arn}");
            assert_eq!(p.identity_arn(), identity, "{arn}");
            assert_eq!(p.account(), "111122223333");
            assert_eq!(p.is_root(), kind == PrincipalKind::Root, "{arn}");
        }
        let bad = [
            // A name that spells the root: ':' is no IAM name character.
            "arn:aws:iam::111122223333:user/x:111122223333:root",
            "arn:aws:iam::111122223333:role/x:111122223333:root",
            "arn:aws:iam::111122223333:user/p:x/alice",
            "arn:aws:sts::111122223333:assumed-role/app/x:111122223333:root",
            // Root spelled otherwise, or with more after it.
            "arn:aws:iam::111122223333:ROOT",
            "arn:aws:iam::111122223333:root/",
            "arn:aws:iam::111122223333:user/root/",
            "arn:aws:sts::111122223333:root",
            // Other partitions, services, accounts.
            "arn:aws-cn:iam::111122223333:root",
            "arn:aws-us-gov:iam::111122223333:root",
            "arn:awsx:iam::111122223333:root",
            "arn:aws:kms::111122223333:root",
            "arn:aws:iam::11112222333:root",
            "arn:aws:iam:us-east-1:111122223333:root",
            // Groups are never callers.
            "arn:aws:iam::111122223333:group/admins",
            // Empty or oversized names, empty path segments, bad sessions.
            "arn:aws:iam::111122223333:user/",
            "arn:aws:iam::111122223333:user//alice",
            "arn:aws:iam::111122223333:user/a b",
            &format!("arn:aws:iam::111122223333:user/{}", "a".repeat(65)),
            "arn:aws:sts::111122223333:assumed-role/app",
            "arn:aws:sts::111122223333:assumed-role/app/s",
            "arn:aws:sts::111122223333:assumed-role/app/s/t",
            "arn:aws:sts::111122223333:assumed-role//s1",
        ];
        for arn in bad {
            assert!(Principal::parse(arn).is_none(), "{arn} parsed");
        }
    }
}
