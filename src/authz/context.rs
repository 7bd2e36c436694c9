//! [`RequestContext`]: what one request looks like to a policy — the caller,
//! the action, the resource and the condition keys — filled cheaply per
//! request and read without allocating during evaluation.
//!
//! This module does not decide which keys a request carries (kmsd's core
//! fills `kms:CallerAccount`, `kms:EncryptionContext:*`, `aws:SourceIp`, …)
//! and knows nothing of gRPC, the key store or grants. Values are strings;
//! numeric, date, boolean and IP operators parse the request side when they
//! compare (cheap, allocation-free), which keeps this type simple and lets
//! one key be tested by several operator families.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::model::ids::{ArnParts, Principal, PrincipalKind, PARTITION};

/// One condition key's value(s) in a request. An empty multi-valued key is
/// treated as absent (IAM: "resolves to an empty data set").
#[derive(Debug, Clone)]
enum ContextValue<'a> {
    Single(Cow<'a, str>),
    Multi(Vec<Cow<'a, str>>),
}

impl<'a> ContextValue<'a> {
    fn as_slice(&self) -> &[Cow<'a, str>] {
        match self {
            ContextValue::Single(v) => std::slice::from_ref(v),
            ContextValue::Multi(v) => v,
        }
    }
}

/// The caller's principal ARN, pre-split once per request so that principal
/// matching is plain string comparison.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caller<'a> {
    /// The full principal ARN, e.g. `arn:aws:iam::111122223333:user/alice`.
    pub(crate) arn: &'a str,
    /// The ARN's partition (`aws`), empty if the ARN is malformed.
    pub(crate) partition: &'a str,
    /// The 12-digit account, empty if the ARN has none (then no account
    /// principal ever matches).
    pub(crate) account: &'a str,
    /// Whether the caller is the account's root (`arn:…:iam::ACCOUNT:root`).
    pub(crate) is_root: bool,
    /// For an STS assumed-role session
    /// (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`), the role name, so
    /// that a policy naming the role ARN matches its sessions.
    pub(crate) role_session_of: Option<&'a str>,
}

impl<'a> Caller<'a> {
    fn parse(arn: &'a str) -> Self {
        let mut caller = Caller {
            arn,
            partition: "",
            account: "",
            is_root: false,
            role_session_of: None,
        };
        let Some(p) = ArnParts::split_principal(arn) else {
            return caller;
        };
        let resource = p.resource;
        caller.partition = p.partition;
        caller.account = p.account;
        match p.service {
            "iam" => caller.is_root = resource == "root",
            "sts" => {
                caller.role_session_of = resource
                    .strip_prefix("assumed-role/")
                    .and_then(|rest| rest.split_once('/'))
                    .map(|(role, _session)| role)
                    .filter(|role| !role.is_empty());
            }
            _ => {}
        }
        caller
    }

    /// The same fields as [`Caller::parse`] of `p`'s ARN, read from the
    /// principal kmsd already parsed (once per client certificate), so a
    /// decision does not split the ARN again.
    fn of_principal(p: &'a Principal) -> Self {
        Caller {
            arn: p.arn(),
            // `Principal::parse` admits no other partition.
            partition: PARTITION,
            account: p.account(),
            is_root: p.is_root(),
            // A session's identity ARN is its role's, `…:role/ROLE`.
            role_session_of: match p.kind() {
                PrincipalKind::AssumedRole => {
                    p.identity_arn().rsplit_once('/').map(|(_, role)| role)
                }
                _ => None,
            },
        }
    }
}

/// Lowercases a condition key unless it already is lowercase (so callers
/// that pass lowercase literals pay no allocation). Condition key names are
/// case-insensitive in IAM, including the `context-key` part of
/// `kms:EncryptionContext:context-key`.
pub(crate) fn normalize_key<'a>(key: impl Into<Cow<'a, str>>) -> Cow<'a, str> {
    let key = key.into();
    // Condition keys are nearly always ASCII: a byte scan is enough there.
    let upper = if key.is_ascii() {
        key.bytes().any(|b| b.is_ascii_uppercase())
    } else {
        key.chars().any(char::is_uppercase)
    };
    if upper {
        Cow::Owned(key.to_lowercase())
    } else {
        key
    }
}

/// Initial room in a request context's map.
const CONTEXT_CAPACITY: usize = 28;

/// The request as a policy sees it.
///
/// ```ignore
/// // (Not a doctest: the crate path differs between the scratch crate and kmsd;
/// // the same code runs in this module's unit tests.)
/// use crate::authz::RequestContext;
/// let mut ctx = RequestContext::new(
///     "arn:aws:iam::111122223333:user/alice",
///     "kms:Decrypt",
///     "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
/// );
/// ctx.set("kms:CallerAccount", "111122223333")
///     .set_bool("aws:SecureTransport", true)
///     .set_encryption_context([("AppName", "ExampleApp")]);
/// ```
#[derive(Debug, Clone)]
pub struct RequestContext<'a> {
    caller: Caller<'a>,
    action: &'a str,
    resource: &'a str,
    // foldhash: keyed per process, several times cheaper than SipHash for
    // these short keys; the map is bounded by the request's size.
    keys: HashMap<Cow<'a, str>, ContextValue<'a>, foldhash::fast::RandomState>,
}

impl<'a> RequestContext<'a> {
    /// A request by `principal_arn` (an IAM/STS principal ARN) for `action`
    /// (e.g. `kms:Decrypt`) on `resource` (the key ARN; pass `"*"` for
    /// operations on no particular key, such as `kms:CreateKey`, so that
    /// only `"Resource": "*"` matches). No condition keys are set.
    /// Allocates nothing for condition keys: a decision whose policies read
    /// none (default key policies) never fills the map. See
    /// [`RequestContext::with_condition_keys`] for one that will.
    pub fn new(principal_arn: &'a str, action: &'a str, resource: &'a str) -> Self {
        Self {
            caller: Caller::parse(principal_arn),
            action,
            resource,
            keys: HashMap::with_hasher(Default::default()),
        }
    }

    /// As [`RequestContext::new`] for a principal kmsd has already parsed
    /// (the core's callers): its ARN is not split again.
    pub fn of_principal(principal: &'a Principal, action: &'a str, resource: &'a str) -> Self {
        Self {
            caller: Caller::of_principal(principal),
            action,
            resource,
            keys: HashMap::with_hasher(Default::default()),
        }
    }

    /// As [`RequestContext::new`], with room for what kmsd's core sets on a
    /// data-plane call (about 20 keys), so filling the map never rehashes.
    pub fn with_condition_keys(principal_arn: &'a str, action: &'a str, resource: &'a str) -> Self {
        Self::new(principal_arn, action, resource).with_room()
    }

    /// This context with room for a data-plane call's condition keys.
    pub fn with_room(mut self) -> Self {
        self.keys.reserve(CONTEXT_CAPACITY);
        self
    }

    /// Sets a single-valued condition key, replacing any earlier value. The
    /// key is case-insensitive; pass it lowercase to avoid an allocation.
    pub fn set(
        &mut self,
        key: impl Into<Cow<'a, str>>,
        value: impl Into<Cow<'a, str>>,
    ) -> &mut Self {
        self.keys
            .insert(normalize_key(key), ContextValue::Single(value.into()));
        self
    }

    /// Sets a multi-valued condition key (e.g. `kms:EncryptionContextKeys`,
    /// `aws:TagKeys`), replacing any earlier value. An empty list is the same
    /// as an absent key.
    pub fn set_multi<I, V>(&mut self, key: impl Into<Cow<'a, str>>, values: I) -> &mut Self
    where
        I: IntoIterator<Item = V>,
        V: Into<Cow<'a, str>>,
    {
        let values = values.into_iter().map(Into::into).collect();
        self.keys
            .insert(normalize_key(key), ContextValue::Multi(values));
        self
    }

    /// Adds one more value to a key, making it multi-valued if it was set.
    pub fn add(
        &mut self,
        key: impl Into<Cow<'a, str>>,
        value: impl Into<Cow<'a, str>>,
    ) -> &mut Self {
        let value = value.into();
        match self.keys.entry(normalize_key(key)) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(ContextValue::Single(value));
            }
            std::collections::hash_map::Entry::Occupied(mut e) => {
                let slot = e.get_mut();
                let mut values = match std::mem::replace(slot, ContextValue::Multi(Vec::new())) {
                    ContextValue::Single(v) => vec![v],
                    ContextValue::Multi(v) => v,
                };
                values.push(value);
                *slot = ContextValue::Multi(values);
            }
        }
        self
    }

    /// Sets a boolean key as `"true"` / `"false"` (no allocation).
    pub fn set_bool(&mut self, key: impl Into<Cow<'a, str>>, value: bool) -> &mut Self {
        self.set(key, if value { "true" } else { "false" })
    }

    /// Sets a numeric key (e.g. `kms:RotationPeriodInDays`).
    pub fn set_number(&mut self, key: impl Into<Cow<'a, str>>, value: i64) -> &mut Self {
        self.set(key, value.to_string())
    }

    /// Sets a date key from seconds since the Unix epoch, rendered as ISO
    /// 8601 UTC (`2024-05-01T12:00:00Z`), the form of `aws:CurrentTime`.
    pub fn set_time(&mut self, key: impl Into<Cow<'a, str>>, epoch_seconds: i64) -> &mut Self {
        self.set(key, super::condition::format_iso8601(epoch_seconds))
    }

    /// Sets the encryption-context keys of a request: one
    /// `kms:EncryptionContext:<key>` per pair and the multi-valued
    /// `kms:EncryptionContextKeys` (original case, for the case-sensitive
    /// check AWS recommends). Because the `<key>` part of
    /// `kms:EncryptionContext:<key>` is case-insensitive (AWS KMS developer
    /// guide, "Case sensitivity of the encryption context condition"), two
    /// pairs whose keys differ only in case become one multi-valued key;
    /// AWS advises against such contexts.
    ///
    /// Call it once per request: it replaces `kms:EncryptionContextKeys` but
    /// adds to the per-pair keys.
    pub fn set_encryption_context<I, K, V>(&mut self, pairs: I) -> &mut Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<Cow<'a, str>>,
        V: Into<Cow<'a, str>>,
    {
        let mut keys: Vec<Cow<'a, str>> = Vec::new();
        for (k, v) in pairs {
            let k = k.into();
            let mut name = String::with_capacity(PREFIX.len() + k.len());
            name.push_str(PREFIX);
            name.push_str(&k);
            // Lowercases the whole name (only if needed), exactly as policy
            // keys are lowercased, so both sides agree on every character.
            self.add(name, v);
            keys.push(k);
        }
        self.keys.insert(
            Cow::Borrowed("kms:encryptioncontextkeys"),
            ContextValue::Multi(keys),
        );
        self
    }

    /// Removes a key.
    pub fn remove(&mut self, key: &str) -> &mut Self {
        self.keys.remove(&*normalize_key(key));
        self
    }

    /// The values of a key (case-insensitive name), `None` when absent or
    /// empty.
    pub fn get(&self, key: &str) -> Option<&[Cow<'a, str>]> {
        self.lookup(&normalize_key(key))
    }

    /// Lookup by an already-lowercased key (the evaluation path).
    pub(crate) fn lookup(&self, lowercase_key: &str) -> Option<&[Cow<'a, str>]> {
        let values = self.keys.get(lowercase_key)?.as_slice();
        (!values.is_empty()).then_some(values)
    }

    /// The caller's principal ARN.
    pub fn principal_arn(&self) -> &'a str {
        self.caller.arn
    }

    /// The caller's account id, empty if the principal ARN has none.
    pub fn caller_account(&self) -> &'a str {
        self.caller.account
    }

    /// The action, e.g. `kms:Decrypt`.
    pub fn action(&self) -> &'a str {
        self.action
    }

    /// The resource ARN (or `*`).
    pub fn resource(&self) -> &'a str {
        self.resource
    }

    pub(crate) fn caller(&self) -> &Caller<'a> {
        &self.caller
    }
}

/// Lowercase prefix of the per-pair encryption-context condition keys.
const PREFIX: &str = "kms:encryptioncontext:";

#[cfg(test)]
mod tests {
    use super::*;

    /// A context for a decision that reads no condition key allocates no
    /// map; one that will be filled has room for a data-plane call's keys.
    #[test]
    fn the_condition_key_map_is_allocated_only_when_asked_for() {
        let arn = "arn:aws:iam::111122223333:user/a";
        let plain = RequestContext::new(arn, "kms:Decrypt", "*");
        assert_eq!(plain.keys.capacity(), 0);
        let mut filled = RequestContext::with_condition_keys(arn, "kms:Decrypt", "*");
        assert!(filled.keys.capacity() >= CONTEXT_CAPACITY);
        filled.set("kms:calleraccount", "111122223333");
        assert_eq!(filled.caller.account, plain.caller.account);
        assert_eq!(filled.keys.len(), 1);
    }

    /// The core builds its contexts from the parsed principal; every
    /// field must be what parsing the ARN gives, for every kind of
    /// principal (a wrong `role_session_of` would let a policy naming one
    /// role match another's sessions, a wrong `is_root` skip identity
    /// policies).
    #[test]
    fn a_context_of_a_parsed_principal_equals_one_of_its_arn() {
        for arn in [
            "arn:aws:iam::111122223333:root",
            "arn:aws:iam::111122223333:user/alice",
            "arn:aws:iam::111122223333:user/path/to/alice",
            "arn:aws:iam::111122223333:role/Admin",
            "arn:aws:iam::111122223333:role/ops/Admin",
            "arn:aws:sts::111122223333:assumed-role/Admin/session-1",
            "arn:aws:sts::444455556666:assumed-role/a/root",
            "arn:aws:iam::444455556666:user/root",
        ] {
            let p = Principal::parse(arn).expect(arn);
            let (a, b) = (Caller::parse(arn), Caller::of_principal(&p));
            assert_eq!(
                (a.arn, a.partition, a.account, a.is_root, a.role_session_of),
                (b.arn, b.partition, b.account, b.is_root, b.role_session_of),
                "{arn}"
            );
        }
    }

    #[test]
    fn caller_parsing() {
        let c = Caller::parse("arn:aws:iam::111122223333:user/alice");
        assert_eq!(
            (c.partition, c.account, c.is_root, c.role_session_of),
            ("aws", "111122223333", false, None)
        );
        let c = Caller::parse("arn:aws:iam::111122223333:root");
        assert!(c.is_root);
        let c = Caller::parse("arn:aws:sts::111122223333:assumed-role/Admin/session-1");
        assert_eq!(c.role_session_of, Some("Admin"));
        assert!(!c.is_root);
        let c = Caller::parse("arn:aws:sts::111122223333:assumed-role//x");
        assert_eq!(c.role_session_of, None);
        for bad in [
            "",
            "alice",
            "arn:aws:iam::1234:user/a",
            "arn:aws:iam:us-east-1:111122223333:user/a",
            "arn:aws:iam::111122223333",
        ] {
            let c = Caller::parse(bad);
            assert_eq!(c.account, "", "{bad}");
            assert!(!c.is_root);
        }
    }

    #[test]
    fn keys_are_case_insensitive_and_replace() {
        let mut ctx = RequestContext::new("arn:aws:iam::111122223333:user/a", "kms:Decrypt", "*");
        ctx.set("kms:CallerAccount", "1")
            .set("KMS:CALLERACCOUNT", "2");
        assert_eq!(ctx.get("kms:calleraccount").map(|v| v.len()), Some(1));
        assert_eq!(
            ctx.get("kms:callerAccount")
                .and_then(|v| v.first())
                .map(|v| &**v),
            Some("2")
        );
        ctx.set_multi("aws:TagKeys", Vec::<&str>::new());
        assert!(ctx.get("aws:tagkeys").is_none());
        ctx.add("x", "1").add("X", "2");
        assert_eq!(ctx.get("x").map(|v| v.len()), Some(2));
        ctx.remove("X");
        assert!(ctx.get("x").is_none());
    }

    #[test]
    fn builder_example_and_typed_setters() {
        let mut ctx = RequestContext::new(
            "arn:aws:iam::111122223333:user/alice",
            "kms:Decrypt",
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        );
        ctx.set("kms:CallerAccount", "111122223333")
            .set_bool("aws:SecureTransport", true)
            .set_number("kms:RotationPeriodInDays", 365)
            .set_time("aws:CurrentTime", 1_577_836_800)
            .set_encryption_context([("AppName", "ExampleApp")]);
        let one = |k: &str| ctx.get(k).and_then(|v| v.first()).map(|v| v.to_string());
        assert_eq!(one("aws:securetransport").as_deref(), Some("true"));
        assert_eq!(one("kms:RotationPeriodInDays").as_deref(), Some("365"));
        assert_eq!(
            one("aws:CurrentTime").as_deref(),
            Some("2020-01-01T00:00:00Z")
        );
        assert_eq!(
            one("kms:EncryptionContext:appname").as_deref(),
            Some("ExampleApp")
        );
        assert_eq!(ctx.caller_account(), "111122223333");
        assert_eq!(
            (ctx.action(), ctx.principal_arn()),
            ("kms:Decrypt", "arn:aws:iam::111122223333:user/alice")
        );
        assert!(ctx.resource().ends_with("1234567890ab"));
    }

    #[test]
    fn encryption_context_from_owned_map() {
        let map = std::collections::BTreeMap::from([("Dept".to_string(), "IT".to_string())]);
        let mut ctx = RequestContext::new("arn:aws:iam::111122223333:user/a", "kms:Decrypt", "*");
        ctx.set_encryption_context(map.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert!(ctx.get("kms:encryptioncontext:dept").is_some());
    }

    #[test]
    fn encryption_context_keys() {
        let mut ctx = RequestContext::new("arn:aws:iam::111122223333:user/a", "kms:Decrypt", "*");
        ctx.set_encryption_context([("AppName", "App"), ("appname", "other"), ("Stage", "Prod")]);
        assert_eq!(
            ctx.get("kms:EncryptionContext:APPNAME").map(|v| v.len()),
            Some(2)
        );
        let keys: Vec<&str> = ctx
            .get("kms:EncryptionContextKeys")
            .unwrap()
            .iter()
            .map(|v| &**v)
            .collect();
        assert_eq!(keys, ["AppName", "appname", "Stage"]);
    }
}
