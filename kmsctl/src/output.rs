//! kmsctl's output: responses shaped as the AWS CLI prints them, rendered
//! as JSON or text.
//!
//! Holds: [`Value`], an ordered JSON-like tree (members keep the AWS model's
//! order, which `serde_json::Map` would sort away); [`Shape`], turning each
//! gRPC response into the AWS CLI's structure (PascalCase members, AWS enum
//! spellings, blobs in base64, ISO-8601 timestamps, unset members omitted);
//! and the renderers: pretty JSON with 4-space indentation like Python's
//! `json.dumps(indent=4)`, and the AWS CLI's `--output text` layout.
//!
//! It does not parse parameters, make calls or evaluate `--query` (see
//! `query.rs`); it only prints what it is given.

use base64::Engine as _;
use prost_types::Timestamp;

use std::collections::HashMap;

use super::query::Query;
use kms_proto::aws_enum::AwsEnum;
use kms_proto::kms::v1 as pb;

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// Pretty-printed JSON (the default).
    #[default]
    Json,
    /// The AWS CLI's tab-separated text.
    Text,
}

/// An ordered JSON-like value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null` (`None` in text output).
    Null,
    /// `true` / `false` (`True` / `False` in text output).
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A non-integral number (only from `--query` literals).
    Float(f64),
    /// A string.
    Str(String),
    /// A list.
    List(Vec<Value>),
    /// An object whose members keep their insertion order.
    Obj(Vec<(String, Value)>),
}

impl Value {
    /// The member `name` of an object.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Obj(members) => members.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Converts parsed JSON (member order as serde_json keeps it).
    pub fn from_json(json: serde_json::Value) -> Self {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::Str(s),
            serde_json::Value::Array(items) => {
                Value::List(items.into_iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(members) => Value::Obj(
                members
                    .into_iter()
                    .map(|(k, v)| (k, Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    fn is_scalar(&self) -> bool {
        !matches!(self, Value::List(_) | Value::Obj(_))
    }
}

// ---------------------------------------------------------------- rendering

/// Renders a command's output as the AWS CLI would print it: `--query`
/// applied first; nothing at all for an operation without output (`None`)
/// or, in JSON, for an empty object. Includes the trailing newline.
pub fn render(value: Option<&Value>, query: Option<&Query>, format: OutputFormat) -> String {
    let Some(value) = value else {
        return String::new();
    };
    let value = match query {
        Some(q) => q.search(value),
        None => value.clone(),
    };
    match format {
        OutputFormat::Json => {
            if matches!(&value, Value::Obj(m) if m.is_empty()) {
                return String::new();
            }
            let mut out = to_json(&value);
            out.push('\n');
            out
        }
        OutputFormat::Text => to_text(&value),
    }
}

fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn float_text(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        f.to_string()
    }
}

fn write_json(out: &mut String, value: &Value, indent: usize) {
    const STEP: usize = 4;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(n) => out.push_str(&n.to_string()),
        Value::Float(f) if f.is_finite() => out.push_str(&float_text(*f)),
        Value::Float(_) => out.push_str("null"),
        Value::Str(s) => push_json_string(out, s),
        Value::List(items) if items.is_empty() => out.push_str("[]"),
        Value::Obj(members) if members.is_empty() => out.push_str("{}"),
        Value::List(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                out.push_str(&" ".repeat(indent + STEP));
                write_json(out, item, indent + STEP);
            }
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            out.push(']');
        }
        Value::Obj(members) => {
            out.push_str("{\n");
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                out.push_str(&" ".repeat(indent + STEP));
                push_json_string(out, k);
                out.push_str(": ");
                write_json(out, v, indent + STEP);
            }
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            out.push('}');
        }
    }
}

/// Pretty JSON, 4-space indentation, non-ASCII kept (Python's
/// `json.dumps(v, indent=4, ensure_ascii=False)`), without trailing newline.
pub fn to_json(value: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, value, 0);
    out
}

/// A scalar as Python's `str()` prints it (the AWS CLI's text output).
fn scalar_text(value: &Value) -> String {
    match value {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Int(n) => n.to_string(),
        Value::Float(f) => float_text(*f),
        Value::Str(s) => s.clone(),
        // Only reached for a member that is a scalar elsewhere in a list of
        // objects; the AWS CLI prints Python's repr, compact JSON is close.
        other => to_compact_json(other),
    }
}

fn to_compact_json(value: &Value) -> String {
    match value {
        Value::List(items) => format!(
            "[{}]",
            items
                .iter()
                .map(to_compact_json)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Obj(members) => {
            let parts: Vec<String> = members
                .iter()
                .map(|(k, v)| {
                    let mut key = String::new();
                    push_json_string(&mut key, k);
                    format!("{key}: {}", to_compact_json(v))
                })
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        scalar => to_json(scalar),
    }
}

/// The AWS CLI's `--output text` (awscli/text.py): a scalar prints as is; a
/// list of scalars prints tab-separated; an object prints its scalar members
/// (sorted by name) tab-separated on one line, prefixed by the upper-cased
/// member name it was found under, then its non-scalar members the same way.
pub fn to_text(value: &Value) -> String {
    let mut out = String::new();
    text_item(&mut out, value, None, None);
    out
}

fn text_item(out: &mut String, value: &Value, ident: Option<&str>, scalar_keys: Option<&[String]>) {
    match value {
        Value::Obj(members) => text_obj(out, members, ident, scalar_keys),
        Value::List(items) => text_list(out, items, ident),
        scalar => {
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
}

fn text_list(out: &mut String, items: &[Value], ident: Option<&str>) {
    if items.is_empty() {
        return;
    }
    if items.iter().any(|v| matches!(v, Value::Obj(_))) {
        let mut keys: Vec<String> = Vec::new();
        for item in items {
            if let Value::Obj(members) = item {
                for (k, v) in members {
                    if v.is_scalar() && !keys.contains(k) {
                        keys.push(k.clone());
                    }
                }
            }
        }
        keys.sort();
        for item in items {
            text_item(out, item, ident, Some(&keys));
        }
    } else if items.iter().any(|v| matches!(v, Value::List(_))) {
        let (scalars, nested): (Vec<&Value>, Vec<&Value>) =
            items.iter().partition(|v| v.is_scalar());
        if !scalars.is_empty() {
            text_scalar_list(out, &scalars, ident);
        }
        for item in nested {
            text_item(out, item, ident, None);
        }
    } else {
        let all: Vec<&Value> = items.iter().collect();
        text_scalar_list(out, &all, ident);
    }
}

fn text_scalar_list(out: &mut String, items: &[&Value], ident: Option<&str>) {
    match ident {
        Some(ident) => {
            for item in items {
                out.push_str(&ident.to_uppercase());
                out.push('\t');
                out.push_str(&scalar_text(item));
                out.push('\n');
            }
        }
        None => {
            let line: Vec<String> = items.iter().map(|v| scalar_text(v)).collect();
            out.push_str(&line.join("\t"));
            out.push('\n');
        }
    }
}

fn text_obj(
    out: &mut String,
    members: &[(String, Value)],
    ident: Option<&str>,
    scalar_keys: Option<&[String]>,
) {
    let mut sorted: Vec<&(String, Value)> = members.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut scalars: Vec<String> = Vec::new();
    let mut nested: Vec<(&str, &Value)> = Vec::new();
    match scalar_keys {
        None => {
            for (k, v) in sorted {
                if v.is_scalar() {
                    scalars.push(scalar_text(v));
                } else {
                    nested.push((k, v));
                }
            }
        }
        Some(keys) => {
            for key in keys {
                let member = members.iter().find(|(k, _)| k == key);
                scalars.push(member.map(|(_, v)| scalar_text(v)).unwrap_or_default());
            }
            for (k, v) in sorted {
                if !keys.contains(k) {
                    nested.push((k, v));
                }
            }
        }
    }
    if !scalars.is_empty() {
        if let Some(ident) = ident {
            scalars.insert(0, ident.to_uppercase());
        }
        out.push_str(&scalars.join("\t"));
        out.push('\n');
    }
    for (k, v) in nested {
        text_item(out, v, Some(k), None);
    }
}

// ---------------------------------------------------------------- timestamps

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A protobuf timestamp as the AWS CLI v2 prints it (Python's
/// `datetime.isoformat()` in UTC): `2026-11-24T08:01:02.123000+00:00`, the
/// fraction (microseconds) left out when it is zero.
pub fn format_timestamp(ts: &Timestamp) -> String {
    let nanos = i64::from(ts.nanos);
    let secs = ts.seconds.saturating_add(nanos.div_euclid(1_000_000_000));
    let micros = nanos.rem_euclid(1_000_000_000) / 1_000;
    // Keep the day arithmetic far from overflow for absurd inputs.
    let secs = secs.clamp(-(1 << 50), 1 << 50);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let (h, m, s) = (sod / 3600, sod % 3600 / 60, sod % 60);
    if micros == 0 {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}+00:00")
    } else {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{micros:06}+00:00")
    }
}

// ---------------------------------------------------------------- shaping

/// Builds an object member by member, leaving out unset values.
struct Obj(Vec<(String, Value)>);

impl Obj {
    fn new() -> Self {
        Obj(Vec::new())
    }

    fn put(mut self, key: &str, value: Value) -> Self {
        self.0.push((key.to_owned(), value));
        self
    }

    /// A string, left out when empty.
    fn str(self, key: &str, s: &str) -> Self {
        if s.is_empty() {
            self
        } else {
            self.put(key, Value::Str(s.to_owned()))
        }
    }

    /// A blob in base64, left out when empty.
    fn blob(self, key: &str, bytes: &[u8]) -> Self {
        if bytes.is_empty() {
            self
        } else {
            self.put(
                key,
                Value::Str(base64::engine::general_purpose::STANDARD.encode(bytes)),
            )
        }
    }

    fn timestamp(self, key: &str, ts: Option<&Timestamp>) -> Self {
        match ts {
            Some(ts) => self.put(key, Value::Str(format_timestamp(ts))),
            None => self,
        }
    }

    /// An enum in its AWS spelling, left out when unspecified or unknown.
    fn enumeration<E: AwsEnum>(self, key: &str, value: i32) -> Self {
        match E::aws_name_of(value) {
            Some(name) => self.put(key, Value::Str(name.to_owned())),
            None => self,
        }
    }

    /// A list of enums, left out when empty.
    fn enum_list<E: AwsEnum>(self, key: &str, values: &[i32]) -> Self {
        let names: Vec<Value> = values
            .iter()
            .filter_map(|v| E::aws_name_of(*v))
            .map(|n| Value::Str(n.to_owned()))
            .collect();
        if names.is_empty() {
            self
        } else {
            self.put(key, Value::List(names))
        }
    }

    /// A string map as an object sorted by key (the proto map has no
    /// order), left out when empty.
    fn map(self, key: &str, map: &HashMap<String, String>) -> Self {
        if map.is_empty() {
            return self;
        }
        let mut entries: Vec<(&String, &String)> = map.iter().collect();
        entries.sort();
        let members = entries
            .into_iter()
            .map(|(k, v)| (k.clone(), Value::Str(v.clone())))
            .collect();
        self.put(key, Value::Obj(members))
    }

    /// A list of strings, printed even when empty.
    fn str_list(self, key: &str, items: &[String]) -> Self {
        self.put(
            key,
            Value::List(items.iter().map(|s| Value::Str(s.clone())).collect()),
        )
    }

    fn key_state(self, key: &str, value: i32) -> Self {
        // The table spells KeyState values as AWS does (PascalCase).
        self.enumeration::<pb::KeyState>(key, value)
    }

    fn build(self) -> Value {
        Value::Obj(self.0)
    }
}

/// A gRPC response (or part of one) in the AWS CLI's output structure.
pub trait Shape {
    /// The value the AWS CLI would print.
    fn shape(&self) -> Value;
}

fn multi_region_key(k: &pb::MultiRegionKey) -> Value {
    Obj::new()
        .str("Arn", &k.arn)
        .str("Region", &k.region)
        .build()
}

impl Shape for pb::KeyMetadata {
    fn shape(&self) -> Value {
        let mut o = Obj::new()
            .str("AWSAccountId", &self.aws_account_id)
            .str("KeyId", &self.key_id)
            .str("Arn", &self.arn)
            .timestamp("CreationDate", self.creation_date.as_ref())
            .put("Enabled", Value::Bool(self.enabled))
            // AWS prints an empty description as "".
            .put("Description", Value::Str(self.description.clone()))
            .enumeration::<pb::KeyUsageType>("KeyUsage", self.key_usage)
            .key_state("KeyState", self.key_state)
            .timestamp("DeletionDate", self.deletion_date.as_ref())
            .timestamp("ValidTo", self.valid_to.as_ref())
            .enumeration::<pb::OriginType>("Origin", self.origin)
            .str("CustomKeyStoreId", &self.custom_key_store_id)
            .str("CloudHsmClusterId", &self.cloud_hsm_cluster_id)
            .enumeration::<pb::ExpirationModelType>("ExpirationModel", self.expiration_model)
            .enumeration::<pb::KeyManagerType>("KeyManager", self.key_manager)
            .enumeration::<pb::CustomerMasterKeySpec>(
                "CustomerMasterKeySpec",
                self.customer_master_key_spec,
            )
            .enumeration::<pb::KeySpec>("KeySpec", self.key_spec)
            .enum_list::<pb::EncryptionAlgorithmSpec>(
                "EncryptionAlgorithms",
                &self.encryption_algorithms,
            )
            .enum_list::<pb::SigningAlgorithmSpec>("SigningAlgorithms", &self.signing_algorithms)
            .enum_list::<pb::KeyAgreementAlgorithmSpec>(
                "KeyAgreementAlgorithms",
                &self.key_agreement_algorithms,
            )
            .put("MultiRegion", Value::Bool(self.multi_region));
        if let Some(cfg) = &self.multi_region_configuration {
            let mut c = Obj::new().enumeration::<pb::MultiRegionKeyType>(
                "MultiRegionKeyType",
                cfg.multi_region_key_type,
            );
            if let Some(primary) = &cfg.primary_key {
                c = c.put("PrimaryKey", multi_region_key(primary));
            }
            c = c.put(
                "ReplicaKeys",
                Value::List(cfg.replica_keys.iter().map(multi_region_key).collect()),
            );
            o = o.put("MultiRegionConfiguration", c.build());
        }
        if let Some(days) = self.pending_deletion_window_in_days {
            o = o.put("PendingDeletionWindowInDays", Value::Int(i64::from(days)));
        }
        o.enum_list::<pb::MacAlgorithmSpec>("MacAlgorithms", &self.mac_algorithms)
            .enum_list::<pb::EncapsulationAlgorithmSpec>(
                "KeyEncapsulationAlgorithms",
                &self.key_encapsulation_algorithms,
            )
            .str("CurrentKeyMaterialId", &self.current_key_material_id)
            .build()
    }
}

fn key_metadata_response(m: Option<&pb::KeyMetadata>) -> Value {
    match m {
        Some(m) => Obj::new().put("KeyMetadata", m.shape()).build(),
        None => Obj::new().build(),
    }
}

impl Shape for pb::CreateKeyResponse {
    fn shape(&self) -> Value {
        key_metadata_response(self.key_metadata.as_ref())
    }
}

impl Shape for pb::DescribeKeyResponse {
    fn shape(&self) -> Value {
        key_metadata_response(self.key_metadata.as_ref())
    }
}

/// The tail every list call prints for one page: `NextMarker` when there is
/// one, and `Truncated` always.
fn page_tail(o: Obj, next_marker: &str, truncated: bool) -> Value {
    o.str("NextMarker", next_marker)
        .put("Truncated", Value::Bool(truncated))
        .build()
}

/// A list response after fetching every page: the AWS CLI's paginator
/// prints neither `Truncated` nor `NextMarker` then.
pub fn without_page_tail(value: Value) -> Value {
    match value {
        Value::Obj(members) => Value::Obj(
            members
                .into_iter()
                .filter(|(k, _)| k != "Truncated" && k != "NextMarker")
                .collect(),
        ),
        other => other,
    }
}

impl Shape for pb::ListKeysResponse {
    fn shape(&self) -> Value {
        let keys = self
            .keys
            .iter()
            .map(|k| {
                Obj::new()
                    .str("KeyId", &k.key_id)
                    .str("KeyArn", &k.key_arn)
                    .build()
            })
            .collect();
        page_tail(
            Obj::new().put("Keys", Value::List(keys)),
            &self.next_marker,
            self.truncated,
        )
    }
}

impl Shape for pb::AliasListEntry {
    fn shape(&self) -> Value {
        Obj::new()
            .str("AliasName", &self.alias_name)
            .str("AliasArn", &self.alias_arn)
            .str("TargetKeyId", &self.target_key_id)
            .timestamp("CreationDate", self.creation_date.as_ref())
            .timestamp("LastUpdatedDate", self.last_updated_date.as_ref())
            .build()
    }
}

impl Shape for pb::ListAliasesResponse {
    fn shape(&self) -> Value {
        let aliases = self.aliases.iter().map(Shape::shape).collect();
        page_tail(
            Obj::new().put("Aliases", Value::List(aliases)),
            &self.next_marker,
            self.truncated,
        )
    }
}

impl Shape for pb::Tag {
    fn shape(&self) -> Value {
        // TagValue may legitimately be "": always print both.
        Obj::new()
            .put("TagKey", Value::Str(self.tag_key.clone()))
            .put("TagValue", Value::Str(self.tag_value.clone()))
            .build()
    }
}

impl Shape for pb::ListResourceTagsResponse {
    fn shape(&self) -> Value {
        let tags = self.tags.iter().map(Shape::shape).collect();
        page_tail(
            Obj::new().put("Tags", Value::List(tags)),
            &self.next_marker,
            self.truncated,
        )
    }
}

impl Shape for pb::ScheduleKeyDeletionResponse {
    fn shape(&self) -> Value {
        let o = Obj::new()
            .str("KeyId", &self.key_id)
            .timestamp("DeletionDate", self.deletion_date.as_ref())
            .key_state("KeyState", self.key_state);
        if self.pending_window_in_days != 0 {
            o.put(
                "PendingWindowInDays",
                Value::Int(i64::from(self.pending_window_in_days)),
            )
            .build()
        } else {
            o.build()
        }
    }
}

impl Shape for pb::CancelKeyDeletionResponse {
    fn shape(&self) -> Value {
        Obj::new().str("KeyId", &self.key_id).build()
    }
}

impl Shape for pb::EncryptResponse {
    fn shape(&self) -> Value {
        Obj::new()
            .blob("CiphertextBlob", &self.ciphertext_blob)
            .str("KeyId", &self.key_id)
            .enumeration::<pb::EncryptionAlgorithmSpec>(
                "EncryptionAlgorithm",
                self.encryption_algorithm,
            )
            .str("KeyMaterialId", &self.key_material_id)
            .build()
    }
}

impl Shape for pb::DecryptResponse {
    fn shape(&self) -> Value {
        Obj::new()
            .str("KeyId", &self.key_id)
            .blob("Plaintext", &self.plaintext)
            .enumeration::<pb::EncryptionAlgorithmSpec>(
                "EncryptionAlgorithm",
                self.encryption_algorithm,
            )
            .str("KeyMaterialId", &self.key_material_id)
            .build()
    }
}

impl Shape for pb::ReEncryptResponse {
    fn shape(&self) -> Value {
        Obj::new()
            .blob("CiphertextBlob", &self.ciphertext_blob)
            .str("SourceKeyId", &self.source_key_id)
            .str("KeyId", &self.key_id)
            .enumeration::<pb::EncryptionAlgorithmSpec>(
                "SourceEncryptionAlgorithm",
                self.source_encryption_algorithm,
            )
            .enumeration::<pb::EncryptionAlgorithmSpec>(
                "DestinationEncryptionAlgorithm",
                self.destination_encryption_algorithm,
            )
            .str("SourceKeyMaterialId", &self.source_key_material_id)
            .str(
                "DestinationKeyMaterialId",
                &self.destination_key_material_id,
            )
            .build()
    }
}

impl Shape for pb::GenerateDataKeyResponse {
    fn shape(&self) -> Value {
        Obj::new()
            .blob("CiphertextBlob", &self.ciphertext_blob)
            .blob("Plaintext", &self.plaintext)
            .str("KeyId", &self.key_id)
            .str("KeyMaterialId", &self.key_material_id)
            .build()
    }
}

impl Shape for pb::GenerateDataKeyWithoutPlaintextResponse {
    fn shape(&self) -> Value {
        Obj::new()
            .blob("CiphertextBlob", &self.ciphertext_blob)
            .str("KeyId", &self.key_id)
            .str("KeyMaterialId", &self.key_material_id)
            .build()
    }
}

impl Shape for pb::GenerateRandomResponse {
    fn shape(&self) -> Value {
        Obj::new().blob("Plaintext", &self.plaintext).build()
    }
}

impl Shape for pb::GetPublicKeyResponse {
    fn shape(&self) -> Value {
        Obj::new()
            .str("KeyId", &self.key_id)
            .blob("PublicKey", &self.public_key)
            .enumeration::<pb::CustomerMasterKeySpec>(
                "CustomerMasterKeySpec",
                self.customer_master_key_spec,
            )
            .enumeration::<pb::KeySpec>("KeySpec", self.key_spec)
            .enumeration::<pb::KeyUsageType>("KeyUsage", self.key_usage)
            .enum_list::<pb::EncryptionAlgorithmSpec>(
                "EncryptionAlgorithms",
                &self.encryption_algorithms,
            )
            .enum_list::<pb::SigningAlgorithmSpec>("SigningAlgorithms", &self.signing_algorithms)
            .enum_list::<pb::KeyAgreementAlgorithmSpec>(
                "KeyAgreementAlgorithms",
                &self.key_agreement_algorithms,
            )
            .enum_list::<pb::EncapsulationAlgorithmSpec>(
                "KeyEncapsulationAlgorithms",
                &self.key_encapsulation_algorithms,
            )
            .build()
    }
}

impl Shape for pb::SignResponse {
    fn shape(&self) -> Value {
        Obj::new()
            .str("KeyId", &self.key_id)
            .blob("Signature", &self.signature)
            .enumeration::<pb::SigningAlgorithmSpec>("SigningAlgorithm", self.signing_algorithm)
            .build()
    }
}

impl Shape for pb::VerifyResponse {
    fn shape(&self) -> Value {
        Obj::new()
            .str("KeyId", &self.key_id)
            .put("SignatureValid", Value::Bool(self.signature_valid))
            .enumeration::<pb::SigningAlgorithmSpec>("SigningAlgorithm", self.signing_algorithm)
            .build()
    }
}

impl Shape for pb::GenerateDataKeyPairResponse {
    fn shape(&self) -> Value {
        Obj::new()
            .blob(
                "PrivateKeyCiphertextBlob",
                &self.private_key_ciphertext_blob,
            )
            .blob("PrivateKeyPlaintext", &self.private_key_plaintext)
            .blob("PublicKey", &self.public_key)
            .str("KeyId", &self.key_id)
            .enumeration::<pb::DataKeyPairSpec>("KeyPairSpec", self.key_pair_spec)
            .str("KeyMaterialId", &self.key_material_id)
            .build()
    }
}

impl Shape for pb::GenerateDataKeyPairWithoutPlaintextResponse {
    fn shape(&self) -> Value {
        Obj::new()
            .blob(
                "PrivateKeyCiphertextBlob",
                &self.private_key_ciphertext_blob,
            )
            .blob("PublicKey", &self.public_key)
            .str("KeyId", &self.key_id)
            .enumeration::<pb::DataKeyPairSpec>("KeyPairSpec", self.key_pair_spec)
            .str("KeyMaterialId", &self.key_material_id)
            .build()
    }
}

impl Shape for pb::GenerateMacResponse {
    fn shape(&self) -> Value {
        Obj::new()
            .blob("Mac", &self.mac)
            .enumeration::<pb::MacAlgorithmSpec>("MacAlgorithm", self.mac_algorithm)
            .str("KeyId", &self.key_id)
            .build()
    }
}

impl Shape for pb::VerifyMacResponse {
    fn shape(&self) -> Value {
        Obj::new()
            .str("KeyId", &self.key_id)
            .put("MacValid", Value::Bool(self.mac_valid))
            .enumeration::<pb::MacAlgorithmSpec>("MacAlgorithm", self.mac_algorithm)
            .build()
    }
}

impl Shape for pb::DeriveSharedSecretResponse {
    fn shape(&self) -> Value {
        Obj::new()
            .str("KeyId", &self.key_id)
            .blob("SharedSecret", &self.shared_secret)
            .enumeration::<pb::KeyAgreementAlgorithmSpec>(
                "KeyAgreementAlgorithm",
                self.key_agreement_algorithm,
            )
            .enumeration::<pb::OriginType>("KeyOrigin", self.key_origin)
            .build()
    }
}

impl Shape for pb::EncapsulateResponse {
    fn shape(&self) -> Value {
        Obj::new()
            .str("KeyId", &self.key_id)
            .blob("SharedSecret", &self.shared_secret)
            .blob(
                "SharedSecretCiphertextBlob",
                &self.shared_secret_ciphertext_blob,
            )
            .enumeration::<pb::EncapsulationAlgorithmSpec>(
                "EncapsulationAlgorithm",
                self.encapsulation_algorithm,
            )
            .build()
    }
}

impl Shape for pb::DecapsulateResponse {
    fn shape(&self) -> Value {
        Obj::new()
            .str("KeyId", &self.key_id)
            .blob("SharedSecret", &self.shared_secret)
            .enumeration::<pb::EncapsulationAlgorithmSpec>(
                "EncapsulationAlgorithm",
                self.encapsulation_algorithm,
            )
            .build()
    }
}

impl Shape for pb::GetKeyPolicyResponse {
    fn shape(&self) -> Value {
        // Like AWS, the policy is a JSON document inside a string.
        Obj::new()
            .str("Policy", &self.policy)
            .str("PolicyName", &self.policy_name)
            .build()
    }
}

impl Shape for pb::ListKeyPoliciesResponse {
    fn shape(&self) -> Value {
        page_tail(
            Obj::new().str_list("PolicyNames", &self.policy_names),
            &self.next_marker,
            self.truncated,
        )
    }
}

impl Shape for pb::CreateGrantResponse {
    fn shape(&self) -> Value {
        Obj::new()
            .str("GrantToken", &self.grant_token)
            .str("GrantId", &self.grant_id)
            .build()
    }
}

impl Shape for pb::GrantConstraints {
    fn shape(&self) -> Value {
        Obj::new()
            .map("EncryptionContextSubset", &self.encryption_context_subset)
            .map("EncryptionContextEquals", &self.encryption_context_equals)
            .build()
    }
}

impl Shape for pb::GrantListEntry {
    fn shape(&self) -> Value {
        let mut o = Obj::new()
            .str("KeyId", &self.key_id)
            .str("GrantId", &self.grant_id)
            .str("Name", &self.name)
            .timestamp("CreationDate", self.creation_date.as_ref())
            .str("GranteePrincipal", &self.grantee_principal)
            .str("RetiringPrincipal", &self.retiring_principal)
            .str("IssuingAccount", &self.issuing_account);
        let operations: Vec<Value> = self
            .operations
            .iter()
            .filter_map(|op| pb::GrantOperation::aws_name_of(*op))
            .map(|name| Value::Str(name.to_owned()))
            .collect();
        if !operations.is_empty() {
            o = o.put("Operations", Value::List(operations));
        }
        if let Some(c) = &self.constraints {
            let shaped = c.shape();
            if !matches!(&shaped, Value::Obj(m) if m.is_empty()) {
                o = o.put("Constraints", shaped);
            }
        }
        o.build()
    }
}

impl Shape for pb::ListGrantsResponse {
    fn shape(&self) -> Value {
        let grants = self.grants.iter().map(Shape::shape).collect();
        page_tail(
            Obj::new().put("Grants", Value::List(grants)),
            &self.next_marker,
            self.truncated,
        )
    }
}

impl Shape for pb::ListRetirableGrantsResponse {
    fn shape(&self) -> Value {
        let grants = self.grants.iter().map(Shape::shape).collect();
        page_tail(
            Obj::new().put("Grants", Value::List(grants)),
            &self.next_marker,
            self.truncated,
        )
    }
}

impl Shape for pb::GetKeyRotationStatusResponse {
    fn shape(&self) -> Value {
        let mut o = Obj::new()
            .put("KeyRotationEnabled", Value::Bool(self.key_rotation_enabled))
            .str("KeyId", &self.key_id);
        if let Some(days) = self.rotation_period_in_days {
            o = o.put("RotationPeriodInDays", Value::Int(i64::from(days)));
        }
        o.timestamp("NextRotationDate", self.next_rotation_date.as_ref())
            .timestamp(
                "OnDemandRotationStartDate",
                self.on_demand_rotation_start_date.as_ref(),
            )
            .build()
    }
}

impl Shape for pb::ReplicateKeyResponse {
    fn shape(&self) -> Value {
        let mut o = Obj::new();
        if let Some(m) = &self.replica_key_metadata {
            o = o.put("ReplicaKeyMetadata", m.shape());
        }
        // The policy is always present (given or default); print tags as
        // the AWS CLI does, an empty list included.
        o.put("ReplicaPolicy", Value::Str(self.replica_policy.clone()))
            .put(
                "ReplicaTags",
                Value::List(self.replica_tags.iter().map(Shape::shape).collect()),
            )
            .build()
    }
}

impl Shape for pb::RotateKeyOnDemandResponse {
    fn shape(&self) -> Value {
        Obj::new().str("KeyId", &self.key_id).build()
    }
}

impl Shape for pb::RotationsListEntry {
    fn shape(&self) -> Value {
        Obj::new()
            .str("KeyId", &self.key_id)
            .str("KeyMaterialId", &self.key_material_id)
            .str("KeyMaterialDescription", &self.key_material_description)
            .enumeration::<pb::ImportState>("ImportState", self.import_state)
            .enumeration::<pb::KeyMaterialState>("KeyMaterialState", self.key_material_state)
            .enumeration::<pb::ExpirationModelType>("ExpirationModel", self.expiration_model)
            .timestamp("ValidTo", self.valid_to.as_ref())
            .timestamp("RotationDate", self.rotation_date.as_ref())
            .enumeration::<pb::RotationType>("RotationType", self.rotation_type)
            .build()
    }
}

impl Shape for pb::ListKeyRotationsResponse {
    fn shape(&self) -> Value {
        let rotations = self.rotations.iter().map(Shape::shape).collect();
        page_tail(
            Obj::new().put("Rotations", Value::List(rotations)),
            &self.next_marker,
            self.truncated,
        )
    }
}

impl Shape for pb::GetParametersForImportResponse {
    fn shape(&self) -> Value {
        Obj::new()
            .str("KeyId", &self.key_id)
            .blob("ImportToken", &self.import_token)
            .blob("PublicKey", &self.public_key)
            .timestamp("ParametersValidTo", self.parameters_valid_to.as_ref())
            .build()
    }
}

impl Shape for pb::ImportKeyMaterialResponse {
    fn shape(&self) -> Value {
        Obj::new()
            .str("KeyId", &self.key_id)
            .str("KeyMaterialId", &self.key_material_id)
            .build()
    }
}

impl Shape for pb::DeleteImportedKeyMaterialResponse {
    fn shape(&self) -> Value {
        Obj::new()
            .str("KeyId", &self.key_id)
            .str("KeyMaterialId", &self.key_material_id)
            .build()
    }
}

impl Shape for pb::CreateCustomKeyStoreResponse {
    fn shape(&self) -> Value {
        Obj::new()
            .str("CustomKeyStoreId", &self.custom_key_store_id)
            .build()
    }
}

impl Shape for pb::CustomKeyStoresListEntry {
    fn shape(&self) -> Value {
        // AWS's member order; ConnectionErrorCode only when there is one.
        Obj::new()
            .str("CustomKeyStoreId", &self.custom_key_store_id)
            .str("CustomKeyStoreName", &self.custom_key_store_name)
            .str("CloudHsmClusterId", &self.cloud_hsm_cluster_id)
            .str("TrustAnchorCertificate", &self.trust_anchor_certificate)
            .enumeration::<pb::ConnectionStateType>("ConnectionState", self.connection_state)
            .enumeration::<pb::ConnectionErrorCodeType>(
                "ConnectionErrorCode",
                self.connection_error_code,
            )
            .timestamp("CreationDate", self.creation_date.as_ref())
            .enumeration::<pb::CustomKeyStoreType>("CustomKeyStoreType", self.custom_key_store_type)
            .build()
    }
}

impl Shape for pb::DescribeCustomKeyStoresResponse {
    fn shape(&self) -> Value {
        let stores = self.custom_key_stores.iter().map(Shape::shape).collect();
        page_tail(
            Obj::new().put("CustomKeyStores", Value::List(stores)),
            &self.next_marker,
            self.truncated,
        )
    }
}

impl Shape for pb::GetPrincipalPolicyResponse {
    fn shape(&self) -> Value {
        // The document stays a string, as get-key-policy's Policy does.
        Obj::new()
            .str("PrincipalArn", &self.principal_arn)
            .str("PolicyName", &self.policy_name)
            .str("PolicyDocument", &self.policy_document)
            .build()
    }
}

impl Shape for pb::ListPrincipalPoliciesResponse {
    fn shape(&self) -> Value {
        page_tail(
            Obj::new().str_list("PolicyNames", &self.policy_names),
            &self.next_marker,
            self.truncated,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(seconds: i64, nanos: i32) -> Timestamp {
        Timestamp { seconds, nanos }
    }

    fn sample_metadata() -> pb::KeyMetadata {
        pb::KeyMetadata {
            aws_account_id: "111122223333".into(),
            key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
            arn: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                .into(),
            creation_date: Some(ts(1_795_507_262, 123_000_000)),
            enabled: false,
            description: String::new(),
            key_usage: pb::KeyUsageType::EncryptDecrypt as i32,
            key_state: pb::KeyState::PendingDeletion as i32,
            deletion_date: Some(ts(1_798_099_262, 0)),
            origin: pb::OriginType::AwsKms as i32,
            key_manager: pb::KeyManagerType::Customer as i32,
            customer_master_key_spec: pb::CustomerMasterKeySpec::SymmetricDefault as i32,
            key_spec: pb::KeySpec::SymmetricDefault as i32,
            encryption_algorithms: vec![pb::EncryptionAlgorithmSpec::SymmetricDefault as i32],
            multi_region: false,
            pending_deletion_window_in_days: Some(30),
            current_key_material_id: "ab".repeat(32),
            ..Default::default()
        }
    }

    #[test]
    fn timestamps_like_aws_cli_v2() {
        assert_eq!(format_timestamp(&ts(0, 0)), "1970-01-01T00:00:00+00:00");
        assert_eq!(
            format_timestamp(&ts(1_795_507_262, 123_000_000)),
            "2026-11-24T08:01:02.123000+00:00"
        );
        assert_eq!(
            format_timestamp(&ts(951_782_400, 999_999_999)),
            "2000-02-29T00:00:00.999999+00:00"
        );
        assert_eq!(format_timestamp(&ts(-1, 0)), "1969-12-31T23:59:59+00:00");
        // Out-of-range nanos normalise; absurd values do not panic.
        assert_eq!(
            format_timestamp(&ts(0, -500_000_000)),
            "1969-12-31T23:59:59.500000+00:00"
        );
        let _ = format_timestamp(&ts(i64::MAX, i32::MAX));
        let _ = format_timestamp(&ts(i64::MIN, i32::MIN));
    }

    #[test]
    fn key_metadata_shape_and_enum_spellings() {
        let v = sample_metadata().shape();
        let Value::Obj(members) = &v else {
            panic!("not an object")
        };
        let names: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "AWSAccountId",
                "KeyId",
                "Arn",
                "CreationDate",
                "Enabled",
                "Description",
                "KeyUsage",
                "KeyState",
                "DeletionDate",
                "Origin",
                "KeyManager",
                "CustomerMasterKeySpec",
                "KeySpec",
                "EncryptionAlgorithms",
                "MultiRegion",
                "PendingDeletionWindowInDays",
                "CurrentKeyMaterialId",
            ]
        );
        let s = |v: &str| Value::Str(v.to_owned());
        assert_eq!(v.get("KeyState"), Some(&s("PendingDeletion")));
        assert_eq!(v.get("KeyUsage"), Some(&s("ENCRYPT_DECRYPT")));
        assert_eq!(v.get("Origin"), Some(&s("AWS_KMS")));
        assert_eq!(v.get("KeyManager"), Some(&s("CUSTOMER")));
        assert_eq!(v.get("KeySpec"), Some(&s("SYMMETRIC_DEFAULT")));
        assert_eq!(v.get("Description"), Some(&s("")));
        assert_eq!(v.get("Enabled"), Some(&Value::Bool(false)));
        assert_eq!(
            v.get("CreationDate"),
            Some(&s("2026-11-24T08:01:02.123000+00:00"))
        );
        assert_eq!(
            v.get("EncryptionAlgorithms"),
            Some(&Value::List(vec![s("SYMMETRIC_DEFAULT")]))
        );
        assert_eq!(v.get("PendingDeletionWindowInDays"), Some(&Value::Int(30)));
        // Unset members are left out.
        for absent in [
            "ValidTo",
            "CustomKeyStoreId",
            "ExpirationModel",
            "SigningAlgorithms",
            "MacAlgorithms",
            "MultiRegionConfiguration",
        ] {
            assert_eq!(v.get(absent), None, "{absent}");
        }
    }

    #[test]
    fn multi_region_configuration_like_the_aws_cli() {
        let arn = |region: &str| {
            format!("arn:aws:kms:{region}:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab")
        };
        let mrk = |region: &str| pb::MultiRegionKey {
            arn: arn(region),
            region: region.into(),
        };
        let mut m = sample_metadata();
        m.key_id = "mrk-1234abcd12ab34cd56ef1234567890ab".into();
        m.arn = arn("us-west-2");
        m.key_state = pb::KeyState::Creating as i32;
        m.deletion_date = None;
        m.pending_deletion_window_in_days = None;
        m.multi_region = true;
        m.multi_region_configuration = Some(pb::MultiRegionConfiguration {
            multi_region_key_type: pb::MultiRegionKeyType::Replica as i32,
            primary_key: Some(mrk("us-east-1")),
            replica_keys: vec![mrk("eu-west-1"), mrk("us-west-2")],
        });
        let response = pb::ReplicateKeyResponse {
            replica_key_metadata: Some(m),
            replica_policy: "{\"Version\":\"2012-10-17\"}".into(),
            replica_tags: vec![pb::Tag {
                tag_key: "team".into(),
                tag_value: "blue".into(),
            }],
        };
        let json = to_json(&response.shape());
        let expected = r#"{
    "ReplicaKeyMetadata": {
        "AWSAccountId": "111122223333",
        "KeyId": "mrk-1234abcd12ab34cd56ef1234567890ab",
        "Arn": "arn:aws:kms:us-west-2:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab",
        "CreationDate": "2026-11-24T08:01:02.123000+00:00",
        "Enabled": false,
        "Description": "",
        "KeyUsage": "ENCRYPT_DECRYPT",
        "KeyState": "Creating",
        "Origin": "AWS_KMS",
        "KeyManager": "CUSTOMER",
        "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "KeySpec": "SYMMETRIC_DEFAULT",
        "EncryptionAlgorithms": [
            "SYMMETRIC_DEFAULT"
        ],
        "MultiRegion": true,
        "MultiRegionConfiguration": {
            "MultiRegionKeyType": "REPLICA",
            "PrimaryKey": {
                "Arn": "arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab",
                "Region": "us-east-1"
            },
            "ReplicaKeys": [
                {
                    "Arn": "arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab",
                    "Region": "eu-west-1"
                },
                {
                    "Arn": "arn:aws:kms:us-west-2:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab",
                    "Region": "us-west-2"
                }
            ]
        },
        "CurrentKeyMaterialId": "abababababababababababababababababababababababababababababababab"
    },
    "ReplicaPolicy": "{\"Version\":\"2012-10-17\"}",
    "ReplicaTags": [
        {
            "TagKey": "team",
            "TagValue": "blue"
        }
    ]
}"#;
        assert_eq!(json, expected);

        // A primary without replicas: an empty ReplicaKeys list, as AWS
        // prints it; --query reaches into it.
        let mut m = sample_metadata();
        m.multi_region = true;
        m.multi_region_configuration = Some(pb::MultiRegionConfiguration {
            multi_region_key_type: pb::MultiRegionKeyType::Primary as i32,
            primary_key: Some(mrk("us-east-1")),
            replica_keys: vec![],
        });
        let v = pb::DescribeKeyResponse {
            key_metadata: Some(m),
        }
        .shape();
        let q = Query::parse("KeyMetadata.MultiRegionConfiguration.[MultiRegionKeyType,PrimaryKey.Region,ReplicaKeys]")
            .expect("query");
        assert_eq!(
            render(Some(&v), Some(&q), OutputFormat::Json),
            "[\n    \"PRIMARY\",\n    \"us-east-1\",\n    []\n]\n"
        );
    }

    #[test]
    fn pascal_case_key_states() {
        use kms_proto::aws_enum::pascal_case;
        assert_eq!(pascal_case("PENDING_DELETION"), "PendingDeletion");
        assert_eq!(
            pascal_case("PENDING_REPLICA_DELETION"),
            "PendingReplicaDeletion"
        );
        assert_eq!(pascal_case("ENABLED"), "Enabled");
        let v = Obj::new()
            .key_state("KeyState", 999)
            .key_state("S", 0)
            .build();
        assert_eq!(v, Value::Obj(vec![]));
    }

    #[test]
    fn list_shapes_omit_empty_marker_and_print_truncated() {
        let resp = pb::ListKeysResponse {
            keys: vec![pb::KeyListEntry {
                key_id: "k".into(),
                key_arn: "arn:k".into(),
            }],
            next_marker: String::new(),
            truncated: false,
        };
        assert_eq!(
            to_json(&resp.shape()),
            "{\n    \"Keys\": [\n        {\n            \"KeyId\": \"k\",\n            \"KeyArn\": \"arn:k\"\n        }\n    ],\n    \"Truncated\": false\n}"
        );
        let resp = pb::ListResourceTagsResponse {
            tags: vec![pb::Tag {
                tag_key: "a".into(),
                tag_value: String::new(),
            }],
            next_marker: "m2".into(),
            truncated: true,
        };
        let v = resp.shape();
        assert_eq!(v.get("NextMarker"), Some(&Value::Str("m2".into())));
        assert_eq!(v.get("Truncated"), Some(&Value::Bool(true)));
        assert_eq!(
            to_json(&v),
            "{\n    \"Tags\": [\n        {\n            \"TagKey\": \"a\",\n            \"TagValue\": \"\"\n        }\n    ],\n    \"NextMarker\": \"m2\",\n    \"Truncated\": true\n}"
        );
    }

    #[test]
    fn blobs_are_base64_and_empty_members_left_out() {
        let resp = pb::GenerateDataKeyResponse {
            ciphertext_blob: vec![1, 2, 3],
            plaintext: b"hello".to_vec(),
            key_id: "arn:k".into(),
            key_material_id: String::new(),
        };
        let v = resp.shape();
        assert_eq!(v.get("CiphertextBlob"), Some(&Value::Str("AQID".into())));
        assert_eq!(v.get("Plaintext"), Some(&Value::Str("aGVsbG8=".into())));
        assert_eq!(v.get("KeyMaterialId"), None);
        let dec = pb::DecryptResponse {
            key_id: "arn:k".into(),
            plaintext: vec![0xff],
            encryption_algorithm: pb::EncryptionAlgorithmSpec::SymmetricDefault as i32,
            key_material_id: "m".into(),
        };
        assert_eq!(
            to_json(&dec.shape()),
            "{\n    \"KeyId\": \"arn:k\",\n    \"Plaintext\": \"/w==\",\n    \"EncryptionAlgorithm\": \"SYMMETRIC_DEFAULT\",\n    \"KeyMaterialId\": \"m\"\n}"
        );
    }

    #[test]
    fn asymmetric_and_mac_shapes_like_aws() {
        let sign = pb::SignResponse {
            key_id: "arn:k".into(),
            signature: vec![0x30, 0x45],
            signing_algorithm: pb::SigningAlgorithmSpec::EcdsaSha256 as i32,
        };
        assert_eq!(
            to_json(&sign.shape()),
            "{\n    \"KeyId\": \"arn:k\",\n    \"Signature\": \"MEU=\",\n    \"SigningAlgorithm\": \"ECDSA_SHA_256\"\n}"
        );
        let verify = pb::VerifyResponse {
            key_id: "arn:k".into(),
            signature_valid: true,
            signing_algorithm: pb::SigningAlgorithmSpec::RsassaPssSha384 as i32,
        };
        let v = verify.shape();
        assert_eq!(v.get("SignatureValid"), Some(&Value::Bool(true)));
        assert_eq!(
            v.get("SigningAlgorithm"),
            Some(&Value::Str("RSASSA_PSS_SHA_384".into()))
        );
        let pk = pb::GetPublicKeyResponse {
            key_id: "arn:k".into(),
            public_key: vec![1, 2, 3],
            customer_master_key_spec: pb::CustomerMasterKeySpec::EccNistP256 as i32,
            key_spec: pb::KeySpec::EccNistP256 as i32,
            key_usage: pb::KeyUsageType::SignVerify as i32,
            signing_algorithms: vec![pb::SigningAlgorithmSpec::EcdsaSha256 as i32],
            ..Default::default()
        };
        let v = pk.shape();
        let Value::Obj(members) = &v else {
            panic!("object")
        };
        let names: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
        // Empty algorithm lists are left out, as AWS leaves them out.
        assert_eq!(
            names,
            [
                "KeyId",
                "PublicKey",
                "CustomerMasterKeySpec",
                "KeySpec",
                "KeyUsage",
                "SigningAlgorithms"
            ]
        );
        assert_eq!(v.get("PublicKey"), Some(&Value::Str("AQID".into())));
        assert_eq!(v.get("KeySpec"), Some(&Value::Str("ECC_NIST_P256".into())));
        assert_eq!(v.get("KeyUsage"), Some(&Value::Str("SIGN_VERIFY".into())));
        let pair = pb::GenerateDataKeyPairResponse {
            private_key_ciphertext_blob: vec![1],
            private_key_plaintext: vec![2],
            public_key: vec![3],
            key_id: "arn:k".into(),
            key_pair_spec: pb::DataKeyPairSpec::Rsa2048 as i32,
            key_material_id: "m".into(),
        };
        let v = pair.shape();
        assert_eq!(
            v.get("PrivateKeyCiphertextBlob"),
            Some(&Value::Str("AQ==".into()))
        );
        assert_eq!(
            v.get("PrivateKeyPlaintext"),
            Some(&Value::Str("Ag==".into()))
        );
        assert_eq!(v.get("PublicKey"), Some(&Value::Str("Aw==".into())));
        assert_eq!(v.get("KeyPairSpec"), Some(&Value::Str("RSA_2048".into())));
        let without = pb::GenerateDataKeyPairWithoutPlaintextResponse {
            private_key_ciphertext_blob: vec![1],
            public_key: vec![3],
            key_id: "arn:k".into(),
            key_pair_spec: pb::DataKeyPairSpec::EccNistP256 as i32,
            key_material_id: String::new(),
        };
        assert_eq!(without.shape().get("PrivateKeyPlaintext"), None);
        let mac = pb::GenerateMacResponse {
            mac: vec![0xff; 2],
            mac_algorithm: pb::MacAlgorithmSpec::HmacSha256 as i32,
            key_id: "arn:k".into(),
        };
        let v = mac.shape();
        assert_eq!(v.get("Mac"), Some(&Value::Str("//8=".into())));
        assert_eq!(
            v.get("MacAlgorithm"),
            Some(&Value::Str("HMAC_SHA_256".into()))
        );
        let vm = pb::VerifyMacResponse {
            key_id: "arn:k".into(),
            mac_valid: true,
            mac_algorithm: pb::MacAlgorithmSpec::HmacSha512 as i32,
        };
        assert_eq!(vm.shape().get("MacValid"), Some(&Value::Bool(true)));
        let ss = pb::DeriveSharedSecretResponse {
            key_id: "arn:k".into(),
            shared_secret: vec![4],
            key_agreement_algorithm: pb::KeyAgreementAlgorithmSpec::Ecdh as i32,
            key_origin: pb::OriginType::AwsKms as i32,
        };
        let v = ss.shape();
        assert_eq!(v.get("SharedSecret"), Some(&Value::Str("BA==".into())));
        assert_eq!(
            v.get("KeyAgreementAlgorithm"),
            Some(&Value::Str("ECDH".into()))
        );
        assert_eq!(v.get("KeyOrigin"), Some(&Value::Str("AWS_KMS".into())));
        let enc = pb::EncapsulateResponse {
            key_id: "arn:k".into(),
            shared_secret: vec![5],
            shared_secret_ciphertext_blob: vec![6],
            encapsulation_algorithm: pb::EncapsulationAlgorithmSpec::MlKem as i32,
        };
        let v = enc.shape();
        assert_eq!(
            v.get("SharedSecretCiphertextBlob"),
            Some(&Value::Str("Bg==".into()))
        );
        assert_eq!(
            v.get("EncapsulationAlgorithm"),
            Some(&Value::Str("ML_KEM".into()))
        );
        let dec = pb::DecapsulateResponse {
            key_id: "arn:k".into(),
            shared_secret: vec![5],
            encapsulation_algorithm: pb::EncapsulationAlgorithmSpec::MlKem as i32,
        };
        assert_eq!(
            dec.shape().get("SharedSecret"),
            Some(&Value::Str("BQ==".into()))
        );
    }

    #[test]
    fn schedule_deletion_shape() {
        let resp = pb::ScheduleKeyDeletionResponse {
            key_id: "arn:k".into(),
            deletion_date: Some(ts(1_798_099_262, 0)),
            key_state: pb::KeyState::PendingDeletion as i32,
            pending_window_in_days: 7,
        };
        assert_eq!(
            to_json(&resp.shape()),
            "{\n    \"KeyId\": \"arn:k\",\n    \"DeletionDate\": \"2026-12-24T08:01:02+00:00\",\n    \"KeyState\": \"PendingDeletion\",\n    \"PendingWindowInDays\": 7\n}"
        );
    }

    #[test]
    fn json_escaping_and_empty_containers() {
        let v = Value::Obj(vec![
            ("s".into(), Value::Str("a\"b\\c\nd\u{1}é".into())),
            ("l".into(), Value::List(vec![])),
            ("o".into(), Value::Obj(vec![])),
            ("n".into(), Value::Null),
            ("f".into(), Value::Float(1.0)),
        ]);
        assert_eq!(
            to_json(&v),
            "{\n    \"s\": \"a\\\"b\\\\c\\nd\\u0001é\",\n    \"l\": [],\n    \"o\": {},\n    \"n\": null,\n    \"f\": 1.0\n}"
        );
    }

    #[test]
    fn render_json_and_text_with_query() {
        let v = pb::DecryptResponse {
            key_id: "arn:k".into(),
            plaintext: b"hello".to_vec(),
            encryption_algorithm: 1,
            key_material_id: String::new(),
        }
        .shape();
        let q = Query::parse("Plaintext").expect("query");
        assert_eq!(render(Some(&v), Some(&q), OutputFormat::Text), "aGVsbG8=\n");
        assert_eq!(
            render(Some(&v), Some(&q), OutputFormat::Json),
            "\"aGVsbG8=\"\n"
        );
        let missing = Query::parse("Nope").expect("query");
        assert_eq!(
            render(Some(&v), Some(&missing), OutputFormat::Text),
            "None\n"
        );
        assert_eq!(
            render(Some(&v), Some(&missing), OutputFormat::Json),
            "null\n"
        );
        assert_eq!(render(None, None, OutputFormat::Json), "");
        assert_eq!(render(None, Some(&q), OutputFormat::Text), "");
        assert_eq!(
            render(Some(&Value::Obj(vec![])), None, OutputFormat::Json),
            ""
        );
    }

    #[test]
    fn text_output_like_aws_cli() {
        let s = |v: &str| Value::Str(v.to_owned());
        assert_eq!(to_text(&s("abc")), "abc\n");
        assert_eq!(to_text(&Value::Bool(true)), "True\n");
        assert_eq!(to_text(&Value::Int(7)), "7\n");
        assert_eq!(to_text(&Value::List(vec![s("a"), s("b")])), "a\tb\n");
        assert_eq!(to_text(&Value::List(vec![])), "");
        let keys = pb::ListKeysResponse {
            keys: vec![
                pb::KeyListEntry {
                    key_id: "k1".into(),
                    key_arn: "arn:k1".into(),
                },
                pb::KeyListEntry {
                    key_id: "k2".into(),
                    key_arn: "arn:k2".into(),
                },
            ],
            next_marker: String::new(),
            truncated: false,
        }
        .shape();
        assert_eq!(
            to_text(&keys),
            "False\nKEYS\tarn:k1\tk1\nKEYS\tarn:k2\tk2\n"
        );
        let meta = Value::Obj(vec![(
            "KeyMetadata".into(),
            Value::Obj(vec![
                ("KeyId".into(), s("k")),
                ("Enabled".into(), Value::Bool(true)),
                (
                    "EncryptionAlgorithms".into(),
                    Value::List(vec![s("SYMMETRIC_DEFAULT")]),
                ),
            ]),
        )]);
        assert_eq!(
            to_text(&meta),
            "KEYMETADATA\tTrue\tk\nENCRYPTIONALGORITHMS\tSYMMETRIC_DEFAULT\n"
        );
    }

    fn sample_grant() -> pb::GrantListEntry {
        pb::GrantListEntry {
            key_id: "arn:aws:kms:us-east-1:111122223333:key/k".into(),
            grant_id: "g1".into(),
            name: "backup".into(),
            creation_date: Some(ts(1_795_507_262, 0)),
            grantee_principal: "arn:aws:iam::111122223333:user/alice".into(),
            retiring_principal: "arn:aws:iam::111122223333:role/ops".into(),
            issuing_account: "arn:aws:iam::111122223333:root".into(),
            operations: vec![
                pb::GrantOperation::Decrypt as i32,
                pb::GrantOperation::GenerateDataKeyWithoutPlaintext as i32,
                pb::GrantOperation::ReEncryptFrom as i32,
                999, // unknown to this build: left out
            ],
            constraints: Some(pb::GrantConstraints {
                encryption_context_subset: [("team", "db"), ("app", "x")]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
                encryption_context_equals: HashMap::new(),
            }),
        }
    }

    #[test]
    fn grant_entries_like_aws() {
        assert_eq!(
            to_json(&sample_grant().shape()),
            r#"{
    "KeyId": "arn:aws:kms:us-east-1:111122223333:key/k",
    "GrantId": "g1",
    "Name": "backup",
    "CreationDate": "2026-11-24T08:01:02+00:00",
    "GranteePrincipal": "arn:aws:iam::111122223333:user/alice",
    "RetiringPrincipal": "arn:aws:iam::111122223333:role/ops",
    "IssuingAccount": "arn:aws:iam::111122223333:root",
    "Operations": [
        "Decrypt",
        "GenerateDataKeyWithoutPlaintext",
        "ReEncryptFrom"
    ],
    "Constraints": {
        "EncryptionContextSubset": {
            "app": "x",
            "team": "db"
        }
    }
}"#
        );
        // Empty members, empty constraints and unknown operations are left out.
        let bare = pb::GrantListEntry {
            key_id: "k".into(),
            grant_id: "g".into(),
            operations: vec![0, 999],
            constraints: Some(pb::GrantConstraints::default()),
            ..Default::default()
        };
        assert_eq!(
            bare.shape(),
            Value::Obj(vec![
                ("KeyId".into(), Value::Str("k".into())),
                ("GrantId".into(), Value::Str("g".into())),
            ])
        );
        let equals = pb::GrantConstraints {
            encryption_context_equals: [("a".to_owned(), "b".to_owned())].into_iter().collect(),
            ..Default::default()
        };
        assert_eq!(
            to_json(&equals.shape()),
            "{\n    \"EncryptionContextEquals\": {\n        \"a\": \"b\"\n    }\n}"
        );
    }

    #[test]
    fn grant_lists_and_create_grant() {
        let resp = pb::ListGrantsResponse {
            grants: vec![sample_grant()],
            next_marker: "m".into(),
            truncated: true,
        };
        let v = resp.shape();
        let Some(Value::List(grants)) = v.get("Grants") else {
            panic!("no Grants list")
        };
        assert_eq!(grants.len(), 1);
        assert_eq!(grants[0], sample_grant().shape());
        assert_eq!(v.get("NextMarker"), Some(&Value::Str("m".into())));
        assert_eq!(v.get("Truncated"), Some(&Value::Bool(true)));
        let empty = pb::ListRetirableGrantsResponse::default().shape();
        assert_eq!(
            to_json(&empty),
            "{\n    \"Grants\": [],\n    \"Truncated\": false\n}"
        );
        let created = pb::CreateGrantResponse {
            grant_token: "tok".into(),
            grant_id: "gid".into(),
        };
        assert_eq!(
            to_json(&created.shape()),
            "{\n    \"GrantToken\": \"tok\",\n    \"GrantId\": \"gid\"\n}"
        );
    }

    #[test]
    fn key_policy_is_a_json_string() {
        let resp = pb::GetKeyPolicyResponse {
            policy: "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": []\n}".into(),
            policy_name: "default".into(),
        };
        assert_eq!(
            render(Some(&resp.shape()), None, OutputFormat::Json),
            "{\n    \"Policy\": \"{\\n  \\\"Version\\\": \\\"2012-10-17\\\",\\n  \\\"Statement\\\": []\\n}\",\n    \"PolicyName\": \"default\"\n}\n"
        );
        // --query Policy --output text prints the document itself.
        let q = Query::parse("Policy").expect("query");
        assert_eq!(
            render(Some(&resp.shape()), Some(&q), OutputFormat::Text),
            "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": []\n}\n"
        );
        let names = pb::ListKeyPoliciesResponse {
            policy_names: vec!["default".into()],
            next_marker: String::new(),
            truncated: false,
        };
        assert_eq!(
            to_json(&names.shape()),
            "{\n    \"PolicyNames\": [\n        \"default\"\n    ],\n    \"Truncated\": false\n}"
        );
    }

    #[test]
    fn principal_policy_shapes() {
        let got = pb::GetPrincipalPolicyResponse {
            principal_arn: "arn:aws:iam::111122223333:user/alice".into(),
            policy_name: "kms-use".into(),
            policy_document: "{}".into(),
        };
        assert_eq!(
            to_json(&got.shape()),
            "{\n    \"PrincipalArn\": \"arn:aws:iam::111122223333:user/alice\",\n    \"PolicyName\": \"kms-use\",\n    \"PolicyDocument\": \"{}\"\n}"
        );
        let list = pb::ListPrincipalPoliciesResponse {
            policy_names: vec![],
            next_marker: "n".into(),
            truncated: true,
        };
        assert_eq!(
            to_json(&list.shape()),
            "{\n    \"PolicyNames\": [],\n    \"NextMarker\": \"n\",\n    \"Truncated\": true\n}"
        );
    }

    #[test]
    fn all_pages_output_has_no_page_tail() {
        let resp = pb::ListKeysResponse {
            keys: vec![pb::KeyListEntry {
                key_id: "k".into(),
                key_arn: "arn:k".into(),
            }],
            next_marker: "stale".into(),
            truncated: false,
        };
        let v = without_page_tail(resp.shape());
        assert_eq!(
            to_json(&v),
            "{\n    \"Keys\": [\n        {\n            \"KeyId\": \"k\",\n            \"KeyArn\": \"arn:k\"\n        }\n    ]\n}"
        );
        assert_eq!(to_text(&v), "KEYS\tarn:k\tk\n");
        let v = without_page_tail(pb::ListGrantsResponse::default().shape());
        assert_eq!(to_json(&v), "{\n    \"Grants\": []\n}");
        assert_eq!(without_page_tail(Value::Int(1)), Value::Int(1));
    }

    #[test]
    fn key_rotation_status_shape() {
        let resp = pb::GetKeyRotationStatusResponse {
            key_rotation_enabled: true,
            key_id: "arn:aws:kms:us-east-1:111122223333:key/k".into(),
            rotation_period_in_days: Some(180),
            next_rotation_date: Some(ts(1_795_507_262, 0)),
            on_demand_rotation_start_date: None,
        };
        assert_eq!(
            to_json(&resp.shape()),
            r#"{
    "KeyRotationEnabled": true,
    "KeyId": "arn:aws:kms:us-east-1:111122223333:key/k",
    "RotationPeriodInDays": 180,
    "NextRotationDate": "2026-11-24T08:01:02+00:00"
}"#
        );
        // Disabled: only the flag and the key; an on-demand rotation in
        // progress shows its start date.
        let resp = pb::GetKeyRotationStatusResponse {
            key_rotation_enabled: false,
            key_id: "arn:k".into(),
            on_demand_rotation_start_date: Some(ts(1_795_507_262, 500_000_000)),
            ..Default::default()
        };
        assert_eq!(
            resp.shape(),
            Value::Obj(vec![
                ("KeyRotationEnabled".into(), Value::Bool(false)),
                ("KeyId".into(), Value::Str("arn:k".into())),
                (
                    "OnDemandRotationStartDate".into(),
                    Value::Str("2026-11-24T08:01:02.500000+00:00".into())
                ),
            ])
        );
        let rotated = pb::RotateKeyOnDemandResponse { key_id: "k".into() };
        assert_eq!(to_json(&rotated.shape()), "{\n    \"KeyId\": \"k\"\n}");
    }

    #[test]
    fn key_rotations_list_shape() {
        let resp = pb::ListKeyRotationsResponse {
            rotations: vec![
                pb::RotationsListEntry {
                    key_id: "k".into(),
                    key_material_id: "m0".into(),
                    key_material_state: pb::KeyMaterialState::NonCurrent as i32,
                    ..Default::default()
                },
                pb::RotationsListEntry {
                    key_id: "k".into(),
                    key_material_id: "m1".into(),
                    key_material_state: pb::KeyMaterialState::Current as i32,
                    rotation_date: Some(ts(1_795_507_262, 0)),
                    rotation_type: pb::RotationType::OnDemand as i32,
                    ..Default::default()
                },
            ],
            next_marker: "n".into(),
            truncated: true,
        };
        assert_eq!(
            to_json(&resp.shape()),
            r#"{
    "Rotations": [
        {
            "KeyId": "k",
            "KeyMaterialId": "m0",
            "KeyMaterialState": "NON_CURRENT"
        },
        {
            "KeyId": "k",
            "KeyMaterialId": "m1",
            "KeyMaterialState": "CURRENT",
            "RotationDate": "2026-11-24T08:01:02+00:00",
            "RotationType": "ON_DEMAND"
        }
    ],
    "NextMarker": "n",
    "Truncated": true
}"#
        );
        // Every member, in the AWS model's order and spellings.
        let full = pb::RotationsListEntry {
            key_id: "k".into(),
            key_material_id: "m".into(),
            key_material_description: "d".into(),
            import_state: pb::ImportState::PendingImport as i32,
            key_material_state: pb::KeyMaterialState::PendingMultiRegionImportAndRotation as i32,
            expiration_model: pb::ExpirationModelType::KeyMaterialExpires as i32,
            valid_to: Some(ts(0, 0)),
            rotation_date: Some(ts(0, 0)),
            rotation_type: pb::RotationType::Automatic as i32,
        }
        .shape();
        let Value::Obj(members) = &full else {
            panic!("not an object")
        };
        let names: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "KeyId",
                "KeyMaterialId",
                "KeyMaterialDescription",
                "ImportState",
                "KeyMaterialState",
                "ExpirationModel",
                "ValidTo",
                "RotationDate",
                "RotationType",
            ]
        );
        let s = |v: &str| Value::Str(v.to_owned());
        assert_eq!(full.get("ImportState"), Some(&s("PENDING_IMPORT")));
        assert_eq!(
            full.get("KeyMaterialState"),
            Some(&s("PENDING_MULTI_REGION_IMPORT_AND_ROTATION"))
        );
        assert_eq!(
            full.get("ExpirationModel"),
            Some(&s("KEY_MATERIAL_EXPIRES"))
        );
        assert_eq!(full.get("RotationType"), Some(&s("AUTOMATIC")));
        // Unknown enum values are left out; an empty page prints [].
        let odd = pb::RotationsListEntry {
            key_id: "k".into(),
            key_material_state: 999,
            rotation_type: 999,
            ..Default::default()
        };
        assert_eq!(
            odd.shape(),
            Value::Obj(vec![("KeyId".into(), Value::Str("k".into()))])
        );
        assert_eq!(
            to_json(&without_page_tail(
                pb::ListKeyRotationsResponse::default().shape()
            )),
            "{\n    \"Rotations\": []\n}"
        );
    }

    #[test]
    fn import_shapes_and_public_key_text() {
        let resp = pb::GetParametersForImportResponse {
            key_id: "arn:aws:kms:us-east-1:111122223333:key/k".into(),
            import_token: vec![1, 2, 3],
            public_key: vec![0x30, 0x82, 0xff],
            parameters_valid_to: Some(ts(1_795_593_662, 0)),
        };
        let v = resp.shape();
        let Value::Obj(members) = &v else {
            panic!("not an object")
        };
        let names: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            ["KeyId", "ImportToken", "PublicKey", "ParametersValidTo"]
        );
        assert_eq!(v.get("ImportToken"), Some(&Value::Str("AQID".into())));
        assert_eq!(
            v.get("ParametersValidTo"),
            Some(&Value::Str("2026-11-25T08:01:02+00:00".into()))
        );
        // `--output text --query PublicKey`: the base64 alone, for `| base64 --decode`.
        let q = Query::parse("PublicKey").expect("query");
        assert_eq!(render(Some(&v), Some(&q), OutputFormat::Text), "MIL/\n");

        for resp in [
            pb::ImportKeyMaterialResponse {
                key_id: "arn:k".into(),
                key_material_id: "ab".repeat(32),
            }
            .shape(),
            pb::DeleteImportedKeyMaterialResponse {
                key_id: "arn:k".into(),
                key_material_id: "ab".repeat(32),
            }
            .shape(),
        ] {
            assert_eq!(
                resp,
                Value::Obj(vec![
                    ("KeyId".into(), Value::Str("arn:k".into())),
                    ("KeyMaterialId".into(), Value::Str("ab".repeat(32))),
                ])
            );
        }
    }

    #[test]
    fn imported_key_metadata_shows_expiry_and_material() {
        let meta = pb::KeyMetadata {
            key_state: pb::KeyState::Enabled as i32,
            origin: pb::OriginType::External as i32,
            valid_to: Some(ts(1_798_761_600, 0)),
            expiration_model: pb::ExpirationModelType::KeyMaterialExpires as i32,
            deletion_date: None,
            pending_deletion_window_in_days: None,
            ..sample_metadata()
        };
        let v = pb::DescribeKeyResponse {
            key_metadata: Some(meta),
        }
        .shape();
        let m = v.get("KeyMetadata").expect("KeyMetadata");
        let s = |v: &str| Value::Str(v.to_owned());
        assert_eq!(m.get("Origin"), Some(&s("EXTERNAL")));
        assert_eq!(m.get("ValidTo"), Some(&s("2027-01-01T00:00:00+00:00")));
        assert_eq!(m.get("ExpirationModel"), Some(&s("KEY_MATERIAL_EXPIRES")));
        assert_eq!(m.get("CurrentKeyMaterialId"), Some(&s(&"ab".repeat(32))));
        // AWS's member order: ValidTo after DeletionDate, ExpirationModel after Origin.
        let Value::Obj(members) = m else {
            panic!("not an object")
        };
        let pos = |n: &str| members.iter().position(|(k, _)| k == n).expect(n);
        assert!(pos("KeyState") < pos("ValidTo") && pos("ValidTo") < pos("Origin"));
        assert!(pos("Origin") < pos("ExpirationModel"));
        let q = Query::parse("KeyMetadata.ExpirationModel").expect("query");
        assert_eq!(
            render(Some(&v), Some(&q), OutputFormat::Text),
            "KEY_MATERIAL_EXPIRES\n"
        );
    }

    fn sample_store(state: pb::ConnectionStateType) -> pb::CustomKeyStoresListEntry {
        pb::CustomKeyStoresListEntry {
            custom_key_store_id: "cks-1234567890abcdef0".into(),
            custom_key_store_name: "ExampleKeyStore".into(),
            cloud_hsm_cluster_id: "cluster-1a23b4cdefg".into(),
            trust_anchor_certificate:
                "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into(),
            connection_state: state as i32,
            connection_error_code: 0,
            creation_date: Some(ts(1_795_507_262, 0)),
            custom_key_store_type: pb::CustomKeyStoreType::AwsCloudhsm as i32,
        }
    }

    #[test]
    fn custom_key_store_shapes_like_aws() {
        let created = pb::CreateCustomKeyStoreResponse {
            custom_key_store_id: "cks-1234567890abcdef0".into(),
        };
        assert_eq!(
            render(Some(&created.shape()), None, OutputFormat::Json),
            "{\n    \"CustomKeyStoreId\": \"cks-1234567890abcdef0\"\n}\n"
        );

        let entry = sample_store(pb::ConnectionStateType::Connected).shape();
        let Value::Obj(members) = &entry else {
            panic!("not an object")
        };
        let names: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
        // AWS's order; no ConnectionErrorCode without an error.
        assert_eq!(
            names,
            [
                "CustomKeyStoreId",
                "CustomKeyStoreName",
                "CloudHsmClusterId",
                "TrustAnchorCertificate",
                "ConnectionState",
                "CreationDate",
                "CustomKeyStoreType",
            ]
        );
        let s = |v: &str| Value::Str(v.to_owned());
        assert_eq!(entry.get("ConnectionState"), Some(&s("CONNECTED")));
        assert_eq!(entry.get("CustomKeyStoreType"), Some(&s("AWS_CLOUDHSM")));
        assert_eq!(
            entry.get("CreationDate"),
            Some(&s("2026-11-24T08:01:02+00:00"))
        );

        // A failed connection says why, after ConnectionState.
        let mut failed = sample_store(pb::ConnectionStateType::Failed);
        failed.connection_error_code = pb::ConnectionErrorCodeType::InsufficientCloudhsmHsms as i32;
        let response = pb::DescribeCustomKeyStoresResponse {
            custom_key_stores: vec![failed],
            next_marker: "m2".into(),
            truncated: true,
        };
        let v = response.shape();
        let json = to_json(&v);
        assert!(
            json.contains(
                "\"ConnectionState\": \"FAILED\",\n            \"ConnectionErrorCode\": \"INSUFFICIENT_CLOUDHSM_HSMS\",\n            \"CreationDate\""
            ),
            "{json}"
        );
        assert!(
            json.contains("\"TrustAnchorCertificate\": \"-----BEGIN CERTIFICATE-----\\nMIIB\\n")
        );
        assert!(
            json.ends_with("    ],\n    \"NextMarker\": \"m2\",\n    \"Truncated\": true\n}"),
            "{json}"
        );
        // Every page fetched: no page tail.
        let all = without_page_tail(v.clone());
        assert_eq!(all.get("NextMarker"), None);
        assert_eq!(all.get("Truncated"), None);

        // What a script waiting for CONNECTED reads.
        let q = Query::parse("CustomKeyStores[0].[ConnectionState,ConnectionErrorCode]")
            .expect("query");
        assert_eq!(
            render(Some(&v), Some(&q), OutputFormat::Text),
            "FAILED\tINSUFFICIENT_CLOUDHSM_HSMS\n"
        );

        // No stores: an empty list and Truncated false.
        let none = pb::DescribeCustomKeyStoresResponse::default();
        assert_eq!(
            to_json(&none.shape()),
            "{\n    \"CustomKeyStores\": [],\n    \"Truncated\": false\n}"
        );
        // Unknown wire values are left out rather than printed as numbers.
        let mut odd = sample_store(pb::ConnectionStateType::Connecting);
        odd.connection_state = 99;
        odd.connection_error_code = 99;
        let odd = odd.shape();
        assert_eq!(odd.get("ConnectionState"), None);
        assert_eq!(odd.get("ConnectionErrorCode"), None);
    }

    #[test]
    fn hsm_key_metadata_names_its_store_and_cluster() {
        let meta = pb::KeyMetadata {
            origin: pb::OriginType::AwsCloudhsm as i32,
            custom_key_store_id: "cks-1234567890abcdef0".into(),
            cloud_hsm_cluster_id: "cluster-1a23b4cdefg".into(),
            key_state: pb::KeyState::Unavailable as i32,
            ..sample_metadata()
        };
        let v = meta.shape();
        let s = |v: &str| Value::Str(v.to_owned());
        assert_eq!(v.get("Origin"), Some(&s("AWS_CLOUDHSM")));
        assert_eq!(v.get("CustomKeyStoreId"), Some(&s("cks-1234567890abcdef0")));
        assert_eq!(v.get("CloudHsmClusterId"), Some(&s("cluster-1a23b4cdefg")));
        assert_eq!(v.get("KeyState"), Some(&s("Unavailable")));
    }
}
