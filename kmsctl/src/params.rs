//! Parameter parsing for kmsctl, following the AWS CLI's conventions.
//!
//! Holds: blob parameters (`fileb://PATH`, base64, or raw text under
//! `--cli-binary-format raw-in-base64-out`), `file://PATH` text parameters,
//! string maps and tag lists in shorthand (`k1=v1,k2=v2`,
//! `TagKey=k,TagValue=v`) or JSON, string lists, and the mapping between the
//! AWS enum spellings (`AES_256`) and the generated proto enums
//! (`DATA_KEY_SPEC_AES_256`), through kms-proto's table.
//!
//! It does not know about clap, gRPC calls or output: every function takes
//! the parameter's flag name only to put it into error messages.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

use kms_proto::aws_enum::AwsEnum;
use kms_proto::kms::v1 as pb;

/// How blob parameters given inline (not `fileb://`) are read, as the AWS CLI
/// v2 `--cli-binary-format` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum BinaryFormat {
    /// The value is base64 (the AWS CLI v2 default).
    #[default]
    Base64,
    /// The value is taken as raw UTF-8 bytes (the AWS CLI v1 behaviour).
    RawInBase64Out,
}

/// A parameter value that could not be used; the message names the flag.
#[derive(Debug, thiserror::Error)]
#[error("Error parsing parameter '{param}': {kind}")]
pub struct ParamError {
    /// The flag, e.g. `--encryption-context`.
    pub param: String,
    /// What was wrong with it.
    pub kind: ParamErrorKind,
}

/// What was wrong with a parameter value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParamErrorKind {
    /// A `file://` or `fileb://` path could not be read.
    #[error("Unable to load paramfile {uri}: {source}")]
    Unreadable {
        /// The value as given, e.g. `fileb://key.bin`.
        uri: String,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
    /// A `file://` file is not UTF-8 text (use `fileb://` for bytes).
    #[error("Unable to load paramfile {uri}: the file is not UTF-8 text (use fileb:// for binary files)")]
    NotUtf8 {
        /// The value as given.
        uri: String,
    },
    /// A blob value is not valid base64. The value itself is not repeated:
    /// it may be secret.
    #[error(
        "Invalid base64 ({reason}); pass raw bytes with fileb://PATH or use \
         --cli-binary-format raw-in-base64-out"
    )]
    InvalidBase64 {
        /// The decoder's complaint.
        reason: String,
    },
    /// Shorthand syntax (`k=v,k2=v2`) that does not parse.
    #[error("{message}, for input: {input}")]
    Shorthand {
        /// What the parser expected.
        message: String,
        /// The shorthand text.
        input: String,
    },
    /// JSON that does not parse.
    #[error("Invalid JSON: {0}")]
    Json(String),
    /// Well-formed input of the wrong shape (e.g. a number where a string
    /// belongs, an unknown tag member).
    #[error("{0}")]
    Shape(String),
}

impl ParamError {
    fn new(param: &str, kind: ParamErrorKind) -> Self {
        Self {
            param: param.to_owned(),
            kind,
        }
    }
}

// ---------------------------------------------------------------- files and blobs

/// Expands a leading `~/` as the AWS CLI does for paramfiles.
fn expand_path(path: &str) -> PathBuf {
    if let Some(rest) = path.strip_prefix("~/") {
        if let Some(home) = std::env::var_os("HOME") {
            return PathBuf::from(home).join(rest);
        }
    }
    PathBuf::from(path)
}

fn read_bytes(param: &str, uri: &str, path: &str) -> Result<Vec<u8>, ParamError> {
    std::fs::read(expand_path(path)).map_err(|source| {
        ParamError::new(
            param,
            ParamErrorKind::Unreadable {
                uri: uri.to_owned(),
                source,
            },
        )
    })
}

/// A text parameter: `file://PATH` is replaced by the file's contents (as
/// UTF-8 text), anything else is used as given.
pub fn read_text<'a>(param: &str, value: &'a str) -> Result<Cow<'a, str>, ParamError> {
    match value.strip_prefix("file://") {
        Some(path) => {
            let bytes = read_bytes(param, value, path)?;
            String::from_utf8(bytes).map(Cow::Owned).map_err(|_| {
                ParamError::new(
                    param,
                    ParamErrorKind::NotUtf8 {
                        uri: value.to_owned(),
                    },
                )
            })
        }
        None => Ok(Cow::Borrowed(value)),
    }
}

/// Base64 as the AWS CLI accepts it: standard alphabet, padding optional,
/// whitespace (line breaks from `base64`'s wrapping) ignored.
const BASE64_IN: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn decode_base64(param: &str, text: &str) -> Result<Vec<u8>, ParamError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    BASE64_IN.decode(compact.as_bytes()).map_err(|e| {
        ParamError::new(
            param,
            ParamErrorKind::InvalidBase64 {
                reason: e.to_string(),
            },
        )
    })
}

/// A blob parameter (`--plaintext`, `--ciphertext-blob`): `fileb://PATH`
/// reads the file's bytes; otherwise the value (or the text of a
/// `file://PATH`) is base64, or raw UTF-8 bytes under
/// [`BinaryFormat::RawInBase64Out`].
pub fn read_blob(param: &str, value: &str, format: BinaryFormat) -> Result<Vec<u8>, ParamError> {
    if let Some(path) = value.strip_prefix("fileb://") {
        return read_bytes(param, value, path);
    }
    let text = read_text(param, value)?;
    match format {
        BinaryFormat::Base64 => decode_base64(param, &text),
        BinaryFormat::RawInBase64Out => Ok(text.as_bytes().to_vec()),
    }
}

// ---------------------------------------------------------------- shorthand

fn shorthand_error(message: impl Into<String>, input: &str) -> ParamErrorKind {
    ParamErrorKind::Shorthand {
        message: message.into(),
        input: input.to_owned(),
    }
}

/// Parses AWS CLI shorthand `k1=v1,k2=v2` into pairs, in order.
///
/// Keys run to the first `=`; values run to the next unescaped `,`. A value
/// may be quoted with `"` or `'` to hold commas (inside quotes a backslash
/// escapes the quote or a backslash); unquoted, `\,` is a literal comma.
/// Whitespace around keys and unquoted values is trimmed. Empty input gives
/// no pairs.
pub fn parse_shorthand(input: &str) -> Result<Vec<(String, String)>, ParamErrorKind> {
    let chars: Vec<char> = input.chars().collect();
    let n = chars.len();
    let mut i = 0;
    let mut out = Vec::new();
    let skip_ws = |i: &mut usize| {
        while *i < n && chars[*i].is_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= n {
            break;
        }
        // Key.
        let start = i;
        while i < n && chars[i] != '=' && chars[i] != ',' {
            i += 1;
        }
        let key: String = chars[start..i].iter().collect::<String>().trim().to_owned();
        if i >= n || chars[i] != '=' {
            let got = if i >= n {
                "end of input".to_owned()
            } else {
                "','".to_owned()
            };
            return Err(shorthand_error(
                format!("Expected '=' after key \"{key}\", received {got}"),
                input,
            ));
        }
        if key.is_empty() {
            return Err(shorthand_error(
                format!("Expected a key before '=' at position {i}"),
                input,
            ));
        }
        i += 1; // '='
        while i < n && chars[i].is_whitespace() {
            i += 1;
        }
        // Value.
        let value = if i < n && (chars[i] == '"' || chars[i] == '\'') {
            let quote = chars[i];
            i += 1;
            let mut value = String::new();
            let mut closed = false;
            while i < n {
                let c = chars[i];
                if c == '\\' && i + 1 < n && (chars[i + 1] == quote || chars[i + 1] == '\\') {
                    value.push(chars[i + 1]);
                    i += 2;
                } else if c == quote {
                    i += 1;
                    closed = true;
                    break;
                } else {
                    value.push(c);
                    i += 1;
                }
            }
            if !closed {
                return Err(shorthand_error(
                    format!("Unterminated quoted value for key \"{key}\" (expected {quote})"),
                    input,
                ));
            }
            skip_ws(&mut i);
            if i < n && chars[i] != ',' {
                return Err(shorthand_error(
                    format!(
                        "Expected ',' after the quoted value for key \"{key}\", received '{}'",
                        chars[i]
                    ),
                    input,
                ));
            }
            value
        } else {
            let mut value = String::new();
            while i < n && chars[i] != ',' {
                if chars[i] == '\\' && i + 1 < n && (chars[i + 1] == ',' || chars[i + 1] == '\\') {
                    value.push(chars[i + 1]);
                    i += 2;
                } else {
                    value.push(chars[i]);
                    i += 1;
                }
            }
            value.trim_end().to_owned()
        };
        out.push((key, value));
        if i < n {
            i += 1; // ','
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- maps, tags, lists

fn parse_json(param: &str, text: &str) -> Result<serde_json::Value, ParamError> {
    serde_json::from_str(text)
        .map_err(|e| ParamError::new(param, ParamErrorKind::Json(e.to_string())))
}

/// A string map (`--encryption-context` and friends): shorthand
/// `k1=v1,k2=v2`, a JSON object `{"k1":"v1"}`, or `file://PATH` holding
/// either.
pub fn parse_map(param: &str, value: &str) -> Result<HashMap<String, String>, ParamError> {
    let text = read_text(param, value)?;
    let trimmed = text.trim();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let json = parse_json(param, trimmed)?;
        let serde_json::Value::Object(obj) = json else {
            return Err(ParamError::new(
                param,
                ParamErrorKind::Shape("expected a JSON object of strings".to_owned()),
            ));
        };
        let mut out = HashMap::with_capacity(obj.len());
        for (k, v) in obj {
            match v {
                serde_json::Value::String(s) => {
                    out.insert(k, s);
                }
                other => {
                    return Err(ParamError::new(
                        param,
                        ParamErrorKind::Shape(format!(
                            "the value of \"{k}\" must be a string, not {other}"
                        )),
                    ))
                }
            }
        }
        Ok(out)
    } else {
        parse_shorthand(trimmed)
            .map(|pairs| pairs.into_iter().collect())
            .map_err(|kind| ParamError::new(param, kind))
    }
}

fn tag_from_members(
    param: &str,
    index: usize,
    members: impl IntoIterator<Item = (String, serde_json::Value)>,
) -> Result<pb::Tag, ParamError> {
    let shape = |msg: String| ParamError::new(param, ParamErrorKind::Shape(msg));
    let mut key = None;
    let mut value = None;
    for (name, v) in members {
        let serde_json::Value::String(s) = v else {
            return Err(shape(format!(
                "Invalid type for parameter Tags[{index}].{name}: expected a string"
            )));
        };
        match name.as_str() {
            "TagKey" => key = Some(s),
            "TagValue" => value = Some(s),
            _ => {
                return Err(shape(format!(
                "Unknown parameter in Tags[{index}]: \"{name}\", must be one of: TagKey, TagValue"
            )))
            }
        }
    }
    match (key, value) {
        (Some(tag_key), Some(tag_value)) => Ok(pb::Tag { tag_key, tag_value }),
        (None, _) => Err(shape(format!(
            "Missing required parameter in Tags[{index}]: \"TagKey\""
        ))),
        (_, None) => Err(shape(format!(
            "Missing required parameter in Tags[{index}]: \"TagValue\""
        ))),
    }
}

/// A tag list (`--tags`): each item is shorthand `TagKey=k,TagValue=v`, a
/// JSON list `[{"TagKey":"k","TagValue":"v"}]` (or one JSON object), or
/// `file://PATH` holding either.
pub fn parse_tags(param: &str, values: &[String]) -> Result<Vec<pb::Tag>, ParamError> {
    let mut tags = Vec::new();
    for value in values {
        let text = read_text(param, value)?;
        let trimmed = text.trim();
        if trimmed.starts_with('[') || trimmed.starts_with('{') {
            let items = match parse_json(param, trimmed)? {
                serde_json::Value::Array(items) => items,
                obj @ serde_json::Value::Object(_) => vec![obj],
                _ => {
                    return Err(ParamError::new(
                        param,
                        ParamErrorKind::Shape("expected a JSON list of tags".to_owned()),
                    ))
                }
            };
            for item in items {
                let serde_json::Value::Object(obj) = item else {
                    return Err(ParamError::new(
                        param,
                        ParamErrorKind::Shape(format!(
                            "Tags[{}] must be an object with TagKey and TagValue",
                            tags.len()
                        )),
                    ));
                };
                let index = tags.len();
                tags.push(tag_from_members(param, index, obj)?);
            }
        } else {
            let pairs = parse_shorthand(trimmed).map_err(|kind| ParamError::new(param, kind))?;
            let index = tags.len();
            let members = pairs
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)));
            tags.push(tag_from_members(param, index, members)?);
        }
    }
    Ok(tags)
}

/// A string list (`--tag-keys`, `--grant-tokens`): the values as given, or
/// one JSON list `["a","b"]` (possibly from `file://PATH`).
pub fn parse_string_list(param: &str, values: &[String]) -> Result<Vec<String>, ParamError> {
    if let [single] = values {
        let text = read_text(param, single)?;
        let trimmed = text.trim();
        if trimmed.starts_with('[') {
            let serde_json::Value::Array(items) = parse_json(param, trimmed)? else {
                return Err(ParamError::new(
                    param,
                    ParamErrorKind::Shape("expected a JSON list of strings".to_owned()),
                ));
            };
            return items
                .into_iter()
                .map(|item| match item {
                    serde_json::Value::String(s) => Ok(s),
                    other => Err(ParamError::new(
                        param,
                        ParamErrorKind::Shape(format!("expected a string, not {other}")),
                    )),
                })
                .collect();
        }
        return Ok(vec![text.into_owned()]);
    }
    Ok(values.to_vec())
}

// ---------------------------------------------------------------- timestamps

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`, the inverse of the one output.rs prints with).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Reads exactly `n` ASCII digits from the front of `s`.
fn digits(s: &mut &str, n: usize) -> Option<i64> {
    let head = s.get(..n)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    *s = &s[n..];
    head.parse().ok()
}

/// Seconds since the epoch, as the AWS CLI takes them (`1798761600`, or with
/// a fraction).
fn parse_epoch(value: &str) -> Option<prost_types::Timestamp> {
    let (whole, frac) = value.split_once('.').unwrap_or((value, ""));
    let negative = whole.starts_with('-');
    let unsigned = whole.strip_prefix('-').unwrap_or(whole);
    if unsigned.is_empty()
        || !unsigned.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let seconds: i64 = whole.parse().ok()?;
    let mut nanos: i64 = 0;
    for (i, b) in frac.bytes().take(9).enumerate() {
        nanos += i64::from(b - b'0') * 10_i64.pow(8 - i as u32);
    }
    // -1.5 is 1.5 s before the epoch: seconds -2, nanos 500_000_000.
    let (seconds, nanos) = if negative && nanos > 0 {
        (seconds - 1, 1_000_000_000 - nanos)
    } else {
        (seconds, nanos)
    };
    Some(prost_types::Timestamp {
        seconds,
        nanos: i32::try_from(nanos).ok()?,
    })
}

/// ISO 8601 as the AWS CLI takes it: `2027-01-01`, `2027-01-01T00:00:00Z`,
/// `2027-01-01 00:00`, `2027-01-01T00:00:00.5+02:00` (no zone means UTC,
/// as botocore reads it).
fn parse_iso8601(value: &str) -> Option<prost_types::Timestamp> {
    let mut s = value;
    let year = digits(&mut s, 4)?;
    s = s.strip_prefix('-')?;
    let month = digits(&mut s, 2)?;
    s = s.strip_prefix('-')?;
    let day = digits(&mut s, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let (mut hour, mut minute, mut second, mut nanos) = (0, 0, 0, 0_i64);
    let mut offset_secs = 0_i64;
    if let Some(rest) = s.strip_prefix(['T', 't', ' ']) {
        s = rest;
        hour = digits(&mut s, 2)?;
        s = s.strip_prefix(':')?;
        minute = digits(&mut s, 2)?;
        if let Some(rest) = s.strip_prefix(':') {
            s = rest;
            second = digits(&mut s, 2)?;
            if let Some(rest) = s.strip_prefix(['.', ',']) {
                let len = rest.bytes().take_while(u8::is_ascii_digit).count();
                if len == 0 {
                    return None;
                }
                for (i, b) in rest.bytes().take(len.min(9)).enumerate() {
                    nanos += i64::from(b - b'0') * 10_i64.pow(8 - i as u32);
                }
                s = &rest[len..];
            }
        }
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        if let Some(rest) = s.strip_prefix(['Z', 'z']) {
            s = rest;
        } else if let Some(sign) = s.chars().next().filter(|c| *c == '+' || *c == '-') {
            s = &s[1..];
            let oh = digits(&mut s, 2)?;
            if let Some(rest) = s.strip_prefix(':') {
                s = rest;
            }
            let om = if s.is_empty() { 0 } else { digits(&mut s, 2)? };
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            offset_secs = if sign == '+' { off } else { -off };
        }
    }
    if !s.is_empty() {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_secs;
    Some(prost_types::Timestamp {
        seconds,
        nanos: i32::try_from(nanos).ok()?,
    })
}

/// A timestamp parameter (`--valid-to`): ISO 8601 or seconds since the
/// epoch, as the AWS CLI accepts them.
pub fn parse_timestamp(param: &str, value: &str) -> Result<prost_types::Timestamp, ParamError> {
    let trimmed = value.trim();
    parse_epoch(trimmed)
        .or_else(|| parse_iso8601(trimmed))
        .ok_or_else(|| {
            ParamError::new(
                param,
                ParamErrorKind::Shape(format!(
                    "Invalid timestamp value: '{value}'; use ISO 8601 \
                     (2027-01-01T00:00:00Z) or seconds since the epoch"
                )),
            )
        })
}

// ---------------------------------------------------------------- enums

// The proto-enum <-> AWS spelling table itself is kms-proto's
// (`kms_proto::aws_enum`), shared with kmsd's service layer.

/// Parses an AWS enum spelling into the proto's `i32`, or says which
/// spellings are valid.
pub fn parse_enum<E: AwsEnum>(param: &str, value: &str) -> Result<i32, ParamError> {
    E::from_aws(value).map(Into::into).ok_or_else(|| {
        ParamError::new(
            param,
            ParamErrorKind::Shape(format!(
                "invalid {} '{value}'; valid values: {}",
                E::AWS_NAME,
                E::aws_names().join(", ")
            )),
        )
    })
}

// ---------------------------------------------------------------- grants

/// `--operations`: AWS spellings (`Decrypt GenerateDataKeyWithoutPlaintext`),
/// as separate values, comma-separated, or one JSON list (possibly from
/// `file://PATH`). Names are exact: `decrypt` and `DECRYPT` are refused.
pub fn parse_grant_operations(param: &str, values: &[String]) -> Result<Vec<i32>, ParamError> {
    let mut out = Vec::new();
    for item in parse_string_list(param, values)? {
        for name in item.split(',').map(str::trim) {
            match pb::GrantOperation::wire_of(name) {
                Some(value) => out.push(value),
                None => {
                    return Err(ParamError::new(
                        param,
                        ParamErrorKind::Shape(format!(
                            "invalid GrantOperation '{name}'; valid values: {}",
                            pb::GrantOperation::aws_names().join(", ")
                        )),
                    ));
                }
            }
        }
    }
    Ok(out)
}

/// The members of the AWS `GrantConstraints` structure.
const CONSTRAINT_MEMBERS: [&str; 2] = ["EncryptionContextSubset", "EncryptionContextEquals"];

fn set_constraint(
    param: &str,
    constraints: &mut pb::GrantConstraints,
    member: &str,
    map: HashMap<String, String>,
) -> Result<(), ParamError> {
    match member {
        "EncryptionContextSubset" => constraints.encryption_context_subset = map,
        "EncryptionContextEquals" => constraints.encryption_context_equals = map,
        other => {
            return Err(ParamError::new(
                param,
                ParamErrorKind::Shape(format!(
                    "Unknown parameter in Constraints: \"{other}\", must be one of: {}",
                    CONSTRAINT_MEMBERS.join(", ")
                )),
            ))
        }
    }
    Ok(())
}

/// Splits structure shorthand whose members are maps,
/// `A={k1=v1,k2=v2},B={k=v}`, into (member, text between the braces).
fn split_map_members(input: &str) -> Result<Vec<(String, String)>, ParamErrorKind> {
    let chars: Vec<char> = input.chars().collect();
    let n = chars.len();
    let mut i = 0;
    let mut out = Vec::new();
    let skip_ws = |i: &mut usize| {
        while *i < n && chars[*i].is_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= n {
            break;
        }
        let start = i;
        while i < n && !matches!(chars[i], '=' | ',' | '{' | '}') {
            i += 1;
        }
        let key: String = chars[start..i].iter().collect::<String>().trim().to_owned();
        if i >= n || chars[i] != '=' {
            let got = chars
                .get(i)
                .map_or("end of input".to_owned(), |c| format!("'{c}'"));
            return Err(shorthand_error(
                format!("Expected '=' after key \"{key}\", received {got}"),
                input,
            ));
        }
        if key.is_empty() {
            return Err(shorthand_error(
                format!("Expected a key before '=' at position {i}"),
                input,
            ));
        }
        i += 1; // '='
        skip_ws(&mut i);
        if i >= n || chars[i] != '{' {
            return Err(shorthand_error(
                format!("Expected '{{' to start the map for key \"{key}\""),
                input,
            ));
        }
        i += 1; // '{'
        let inner_start = i;
        let mut depth = 1usize;
        let mut quote: Option<char> = None;
        // A quote only opens at the start of a value (after '='), so
        // apostrophes inside plain values need no escaping.
        let mut last_significant = '{';
        while i < n {
            let c = chars[i];
            if let Some(q) = quote {
                if c == '\\' && i + 1 < n {
                    i += 2;
                    continue;
                }
                if c == q {
                    quote = None;
                    last_significant = c;
                }
                i += 1;
                continue;
            }
            match c {
                '\\' if i + 1 < n => {
                    i += 2;
                    last_significant = 'x';
                    continue;
                }
                '"' | '\'' if last_significant == '=' => quote = Some(c),
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            if !c.is_whitespace() {
                last_significant = c;
            }
            i += 1;
        }
        if i >= n {
            return Err(shorthand_error(
                format!("Expected '}}' to close the map for key \"{key}\""),
                input,
            ));
        }
        let inner: String = chars[inner_start..i].iter().collect();
        i += 1; // '}'
        skip_ws(&mut i);
        if i < n && chars[i] != ',' {
            return Err(shorthand_error(
                format!(
                    "Expected ',' after the map for key \"{key}\", received '{}'",
                    chars[i]
                ),
                input,
            ));
        }
        if i < n {
            i += 1; // ','
        }
        out.push((key, inner));
    }
    Ok(out)
}

/// `--constraints`: shorthand `EncryptionContextSubset={k1=v1,k2=v2}` (and/or
/// `EncryptionContextEquals={...}`), JSON
/// `{"EncryptionContextSubset":{"k":"v"}}`, or `file://PATH` holding either.
pub fn parse_grant_constraints(
    param: &str,
    value: &str,
) -> Result<pb::GrantConstraints, ParamError> {
    let text = read_text(param, value)?;
    let trimmed = text.trim();
    let mut constraints = pb::GrantConstraints::default();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let serde_json::Value::Object(obj) = parse_json(param, trimmed)? else {
            return Err(ParamError::new(
                param,
                ParamErrorKind::Shape(
                    "expected a JSON object with EncryptionContextSubset or \
                     EncryptionContextEquals"
                        .to_owned(),
                ),
            ));
        };
        for (member, v) in obj {
            let serde_json::Value::Object(entries) = v else {
                return Err(ParamError::new(
                    param,
                    ParamErrorKind::Shape(format!(
                        "Invalid type for parameter Constraints.{member}: expected a map of strings"
                    )),
                ));
            };
            let mut map = HashMap::with_capacity(entries.len());
            for (k, v) in entries {
                let serde_json::Value::String(s) = v else {
                    return Err(ParamError::new(
                        param,
                        ParamErrorKind::Shape(format!(
                            "Invalid type for parameter Constraints.{member}.{k}: expected a string"
                        )),
                    ));
                };
                map.insert(k, s);
            }
            set_constraint(param, &mut constraints, &member, map)?;
        }
    } else {
        let members = split_map_members(trimmed).map_err(|kind| ParamError::new(param, kind))?;
        if members.is_empty() {
            return Err(ParamError::new(
                param,
                shorthand_error(
                    "Expected EncryptionContextSubset={...} or EncryptionContextEquals={...}",
                    trimmed,
                ),
            ));
        }
        for (member, inner) in members {
            let map = parse_shorthand(&inner)
                .map_err(|kind| ParamError::new(param, kind))?
                .into_iter()
                .collect();
            set_constraint(param, &mut constraints, &member, map)?;
        }
    }
    Ok(constraints)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn temp_file(contents: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(contents).expect("write temp file");
        f
    }

    fn uri(prefix: &str, f: &tempfile::NamedTempFile) -> String {
        format!("{prefix}{}", f.path().display())
    }

    #[test]
    fn blob_base64_default() {
        let got = read_blob("--plaintext", "aGVsbG8=", BinaryFormat::Base64).expect("decodes");
        assert_eq!(got, b"hello");
        // Padding optional, whitespace/newlines ignored.
        let got = read_blob("--plaintext", "aGVs\nbG8\n", BinaryFormat::Base64).expect("decodes");
        assert_eq!(got, b"hello");
    }

    #[test]
    fn blob_bad_base64_is_an_error_without_the_value() {
        let err = read_blob("--plaintext", "not base64!!secret", BinaryFormat::Base64)
            .expect_err("must fail");
        assert!(matches!(err.kind, ParamErrorKind::InvalidBase64 { .. }));
        let msg = err.to_string();
        assert!(msg.starts_with("Error parsing parameter '--plaintext': Invalid base64"));
        assert!(!msg.contains("secret"));
    }

    #[test]
    fn blob_raw_in_base64_out() {
        let got = read_blob("--plaintext", "hello world", BinaryFormat::RawInBase64Out)
            .expect("raw bytes");
        assert_eq!(got, b"hello world");
    }

    #[test]
    fn blob_fileb_reads_raw_bytes_in_any_format() {
        let f = temp_file(&[0, 159, 146, 150, 255]);
        for format in [BinaryFormat::Base64, BinaryFormat::RawInBase64Out] {
            let got = read_blob("--ciphertext-blob", &uri("fileb://", &f), format).expect("reads");
            assert_eq!(got, [0, 159, 146, 150, 255]);
        }
    }

    #[test]
    fn blob_file_reads_text_then_applies_format() {
        let f = temp_file(b"aGVsbG8=\n");
        let got =
            read_blob("--plaintext", &uri("file://", &f), BinaryFormat::Base64).expect("reads");
        assert_eq!(got, b"hello");
        let got = read_blob(
            "--plaintext",
            &uri("file://", &f),
            BinaryFormat::RawInBase64Out,
        )
        .expect("reads");
        assert_eq!(got, b"aGVsbG8=\n");
    }

    #[test]
    fn missing_files_are_errors() {
        let err = read_blob(
            "--ciphertext-blob",
            "fileb:///nonexistent/x.bin",
            BinaryFormat::Base64,
        )
        .expect_err("must fail");
        assert!(matches!(err.kind, ParamErrorKind::Unreadable { .. }));
        assert!(err
            .to_string()
            .contains("Unable to load paramfile fileb:///nonexistent/x.bin"));
        let err = read_text("--policy", "file:///nonexistent/p.json").expect_err("must fail");
        assert!(matches!(err.kind, ParamErrorKind::Unreadable { .. }));
    }

    #[test]
    fn file_text_must_be_utf8() {
        let f = temp_file(&[0xff, 0xfe, 0x00]);
        let err = read_text("--description", &uri("file://", &f)).expect_err("must fail");
        assert!(matches!(err.kind, ParamErrorKind::NotUtf8 { .. }));
    }

    #[test]
    fn text_file_and_inline() {
        let f = temp_file(b"{\"Version\":\"2012-10-17\"}");
        assert_eq!(
            read_text("--policy", &uri("file://", &f)).expect("reads"),
            "{\"Version\":\"2012-10-17\"}"
        );
        assert_eq!(
            read_text("--description", "plain").expect("inline"),
            "plain"
        );
    }

    #[test]
    fn shorthand_basic_and_quoting() {
        let pairs = parse_shorthand("purpose=backup,team=db").expect("parses");
        assert_eq!(
            pairs,
            vec![
                ("purpose".to_owned(), "backup".to_owned()),
                ("team".to_owned(), "db".to_owned())
            ]
        );
        let pairs =
            parse_shorthand(r#" a = "x,y" , b='it\'s', c=p\,q, d=, e=k=v"#).expect("parses");
        assert_eq!(
            pairs,
            vec![
                ("a".to_owned(), "x,y".to_owned()),
                ("b".to_owned(), "it's".to_owned()),
                ("c".to_owned(), "p,q".to_owned()),
                ("d".to_owned(), String::new()),
                ("e".to_owned(), "k=v".to_owned()),
            ]
        );
        assert!(parse_shorthand("").expect("empty").is_empty());
    }

    #[test]
    fn shorthand_errors() {
        for bad in [
            "novalue", "a=1,b", "=x", "a=\"open", "a=\"x\"y", ",=", "a=1,,b",
        ] {
            let err = parse_shorthand(bad);
            assert!(
                matches!(err, Err(ParamErrorKind::Shorthand { .. })),
                "{bad:?} gave {err:?}"
            );
        }
    }

    #[test]
    fn shorthand_never_panics_on_odd_input() {
        for odd in [
            "\\",
            "a=\\",
            "a='\\",
            "é=ü,ß='\\'",
            "a=\"\\\"",
            "\u{0}=\u{0}",
            "a=1,",
            "  ",
        ] {
            let _ = parse_shorthand(odd);
        }
    }

    #[test]
    fn maps_shorthand_json_and_file() {
        let want: HashMap<String, String> = [("k1", "v1"), ("k2", "v2")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(
            parse_map("--encryption-context", "k1=v1,k2=v2").expect("shorthand"),
            want
        );
        assert_eq!(
            parse_map("--encryption-context", r#" {"k1":"v1","k2":"v2"} "#).expect("json"),
            want
        );
        let f = temp_file(br#"{"k1":"v1","k2":"v2"}"#);
        assert_eq!(
            parse_map("--encryption-context", &uri("file://", &f)).expect("file"),
            want
        );
    }

    #[test]
    fn maps_bad_input() {
        for bad in [r#"{"k": 1}"#, r#"["a"]"#, "{not json", "k1"] {
            let err = parse_map("--encryption-context", bad).expect_err(bad);
            assert_eq!(err.param, "--encryption-context");
        }
    }

    #[test]
    fn tags_shorthand_json_and_file() {
        let want = vec![
            pb::Tag {
                tag_key: "a".into(),
                tag_value: "1".into(),
            },
            pb::Tag {
                tag_key: "b".into(),
                tag_value: "".into(),
            },
        ];
        let args = vec![
            "TagKey=a,TagValue=1".to_owned(),
            "TagValue=,TagKey=b".to_owned(),
        ];
        assert_eq!(parse_tags("--tags", &args).expect("shorthand"), want);
        let json =
            vec![r#"[{"TagKey":"a","TagValue":"1"},{"TagKey":"b","TagValue":""}]"#.to_owned()];
        assert_eq!(parse_tags("--tags", &json).expect("json"), want);
        let f = temp_file(json[0].as_bytes());
        assert_eq!(
            parse_tags("--tags", &[uri("file://", &f)]).expect("file"),
            want
        );
    }

    #[test]
    fn tags_bad_input() {
        for bad in [
            "TagKey=a",
            "TagValue=1",
            "Key=a,Value=1",
            "TagKey=a,TagValue=1,Extra=2",
            r#"[{"TagKey":"a","TagValue":1}]"#,
            r#"["a"]"#,
            r#"[{"TagKey":"a"}"#,
            "TagKey",
        ] {
            let err = parse_tags("--tags", &[bad.to_owned()]).expect_err(bad);
            assert_eq!(err.param, "--tags");
        }
    }

    #[test]
    fn string_lists() {
        let args = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(parse_string_list("--tag-keys", &args).expect("plain"), args);
        assert_eq!(
            parse_string_list("--tag-keys", &[r#"["a","b"]"#.to_owned()]).expect("json"),
            args
        );
        assert_eq!(
            parse_string_list("--tag-keys", &["solo".to_owned()]).expect("one"),
            vec!["solo".to_owned()]
        );
        assert!(parse_string_list("--tag-keys", &["[1]".to_owned()]).is_err());
        assert!(parse_string_list("--tag-keys", &["[oops".to_owned()]).is_err());
    }

    fn ts(seconds: i64, nanos: i32) -> prost_types::Timestamp {
        prost_types::Timestamp { seconds, nanos }
    }

    #[test]
    fn timestamps_iso8601_and_epoch() {
        let jan_2027 = ts(1_798_761_600, 0);
        for ok in [
            "2027-01-01T00:00:00Z",
            "2027-01-01T00:00:00z",
            "2027-01-01T00:00:00+00:00",
            "2027-01-01T01:00:00+01:00",
            "2026-12-31T19:00:00-0500",
            "2027-01-01T02:00+02",
            "2027-01-01 00:00:00",
            "2027-01-01T00:00",
            "2027-01-01",
            "1798761600",
            " 1798761600\n",
        ] {
            assert_eq!(
                parse_timestamp("--valid-to", ok).expect(ok),
                jan_2027,
                "{ok}"
            );
        }
        assert_eq!(
            parse_timestamp("--valid-to", "2027-01-01T00:00:00.25Z").expect("fraction"),
            ts(1_798_761_600, 250_000_000)
        );
        assert_eq!(
            parse_timestamp("--valid-to", "1798761600.5").expect("fraction"),
            ts(1_798_761_600, 500_000_000)
        );
        assert_eq!(
            parse_timestamp("--valid-to", "-1.5").expect("negative"),
            ts(-2, 500_000_000)
        );
        assert_eq!(
            parse_timestamp("--valid-to", "2024-02-29T12:00:00Z").expect("leap day"),
            ts(1_709_208_000, 0)
        );
        assert_eq!(
            parse_timestamp("--valid-to", "1970-01-01T00:00:00Z").expect("epoch"),
            ts(0, 0)
        );
        for bad in [
            "",
            "tomorrow",
            "2027-13-01",
            "2027-02-29",
            "2027-01-32T00:00:00Z",
            "2027-01-01T24:00:00Z",
            "2027-01-01T00:60Z",
            "2027-01-01T00:00:00.Z",
            "2027-01-01T00:00:00Zjunk",
            "2027-1-1",
            "1e9",
            "--",
            "12:00",
            "2027-01-01T00:00:00+25:00",
        ] {
            let err = parse_timestamp("--valid-to", bad).expect_err(bad);
            assert!(
                err.to_string()
                    .starts_with("Error parsing parameter '--valid-to': Invalid timestamp"),
                "{err}"
            );
        }
    }

    #[test]
    fn enums_map_aws_spellings() {
        assert_eq!(
            parse_enum::<pb::DataKeySpec>("--key-spec", "AES_256").expect("valid"),
            pb::DataKeySpec::Aes256 as i32
        );
        assert_eq!(
            parse_enum::<pb::KeySpec>("--key-spec", "SYMMETRIC_DEFAULT").expect("valid"),
            pb::KeySpec::SymmetricDefault as i32
        );
        assert_eq!(
            parse_enum::<pb::KeyUsageType>("--key-usage", "ENCRYPT_DECRYPT").expect("valid"),
            pb::KeyUsageType::EncryptDecrypt as i32
        );
        assert_eq!(
            parse_enum::<pb::OriginType>("--origin", "AWS_KMS").expect("valid"),
            pb::OriginType::AwsKms as i32
        );
        for bad in [
            "",
            "UNSPECIFIED",
            "aes_256",
            "AES_512",
            "DATA_KEY_SPEC_AES_256",
        ] {
            let err = parse_enum::<pb::DataKeySpec>("--key-spec", bad).expect_err(bad);
            assert!(err.to_string().contains("AES_256, AES_128"), "{err}");
        }
        assert_eq!(pb::DataKeySpec::aws_names(), ["AES_256", "AES_128"]);
        assert_eq!(pb::KeyUsageType::aws_name_of(0), None);
        assert_eq!(pb::KeyUsageType::aws_name_of(999), None);
        assert_eq!(
            pb::EncryptionAlgorithmSpec::aws_name_of(1),
            Some("SYMMETRIC_DEFAULT")
        );
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    /// The brief's mapping, written independently of the code under test:
    /// an underscore before every inner capital, then upper case.
    fn camel_to_upper_snake(camel: &str) -> String {
        let mut out = String::new();
        for (i, c) in camel.chars().enumerate() {
            if i > 0 && c.is_ascii_uppercase() {
                out.push('_');
            }
            out.push(c.to_ascii_uppercase());
        }
        out
    }

    #[test]
    fn grant_operations_map_camel_case_to_proto() {
        let ops = |items: &[&str]| parse_grant_operations("--operations", &strings(items));
        assert_eq!(
            ops(&["Decrypt", "Encrypt"]).expect("valid"),
            [
                pb::GrantOperation::Decrypt as i32,
                pb::GrantOperation::Encrypt as i32
            ]
        );
        assert_eq!(
            ops(&[
                "GenerateDataKeyWithoutPlaintext",
                "ReEncryptFrom",
                "VerifyMac"
            ])
            .expect("valid"),
            [
                pb::GrantOperation::GenerateDataKeyWithoutPlaintext as i32,
                pb::GrantOperation::ReEncryptFrom as i32,
                pb::GrantOperation::VerifyMac as i32,
            ]
        );
        // Comma-separated and JSON lists, inline or from a file.
        let want = [
            pb::GrantOperation::Decrypt as i32,
            pb::GrantOperation::ReEncryptTo as i32,
        ];
        assert_eq!(ops(&["Decrypt,ReEncryptTo"]).expect("commas"), want);
        assert_eq!(ops(&["Decrypt, ReEncryptTo"]).expect("commas"), want);
        assert_eq!(ops(&[r#"["Decrypt","ReEncryptTo"]"#]).expect("json"), want);
        let f = temp_file(br#"["Decrypt", "ReEncryptTo"]"#);
        assert_eq!(ops(&[&uri("file://", &f)]).expect("file"), want);

        // Every proto value has a CamelCase name that maps back to it, and
        // the proto name is the CamelCase name in UPPER_SNAKE.
        let table = pb::GrantOperation::entries();
        assert_eq!(table.len(), 19);
        for (op, name) in table {
            let value = *op as i32;
            assert_eq!(
                op.as_str_name(),
                format!("GRANT_OPERATION_{}", camel_to_upper_snake(name))
            );
            assert_eq!(ops(&[name]).expect(name), [value]);
            assert_eq!(pb::GrantOperation::aws_name_of(value), Some(*name));
        }
        assert_eq!(
            pb::GrantOperation::aws_name_of(
                pb::GrantOperation::GenerateDataKeyPairWithoutPlaintext as i32
            ),
            Some("GenerateDataKeyPairWithoutPlaintext")
        );
        assert_eq!(pb::GrantOperation::aws_name_of(0), None);
        assert_eq!(pb::GrantOperation::aws_name_of(999), None);
    }

    #[test]
    fn grant_operations_bad_names_are_errors() {
        for bad in [
            "decrypt",
            "DECRYPT",
            "GRANT_OPERATION_DECRYPT",
            "Generate_Data_Key",
            "Nope",
            "",
            "Decrypt,",
            "Decrypt,,Encrypt",
            "Décrypt",
        ] {
            let err = parse_grant_operations("--operations", &strings(&[bad])).expect_err(bad);
            assert_eq!(err.param, "--operations");
            let msg = err.to_string();
            assert!(
                msg.starts_with("Error parsing parameter '--operations': invalid GrantOperation"),
                "{msg}"
            );
            assert!(msg.contains("Decrypt, Encrypt, GenerateDataKey"), "{msg}");
        }
        for bad in ["[1]", r#"["Decrypt""#, r#"[["Decrypt"]]"#] {
            let err = parse_grant_operations("--operations", &strings(&[bad])).expect_err(bad);
            assert_eq!(err.param, "--operations");
        }
        let err = parse_grant_operations("--operations", &strings(&["file:///nonexistent/ops"]))
            .expect_err("no file");
        assert!(matches!(err.kind, ParamErrorKind::Unreadable { .. }));
    }

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn grant_constraints_shorthand() {
        let c = parse_grant_constraints("--constraints", "EncryptionContextSubset={k1=v1,k2=v2}")
            .expect("subset");
        assert_eq!(
            c.encryption_context_subset,
            map(&[("k1", "v1"), ("k2", "v2")])
        );
        assert!(c.encryption_context_equals.is_empty());

        let c = parse_grant_constraints("--constraints", " EncryptionContextEquals = { a = b } ")
            .expect("equals");
        assert_eq!(c.encryption_context_equals, map(&[("a", "b")]));
        assert!(c.encryption_context_subset.is_empty());

        let c = parse_grant_constraints(
            "--constraints",
            r#"EncryptionContextSubset={dept="a,b}c",owner=bob's},EncryptionContextEquals={x=p\,q}"#,
        )
        .expect("both, quoted");
        assert_eq!(
            c.encryption_context_subset,
            map(&[("dept", "a,b}c"), ("owner", "bob's")])
        );
        assert_eq!(c.encryption_context_equals, map(&[("x", "p,q")]));

        let c = parse_grant_constraints("--constraints", "EncryptionContextSubset={}")
            .expect("empty map");
        assert!(c.encryption_context_subset.is_empty());
    }

    #[test]
    fn grant_constraints_json_and_file() {
        let json = r#"{"EncryptionContextSubset":{"k":"v"},"EncryptionContextEquals":{"a":"b"}}"#;
        let c = parse_grant_constraints("--constraints", json).expect("json");
        assert_eq!(c.encryption_context_subset, map(&[("k", "v")]));
        assert_eq!(c.encryption_context_equals, map(&[("a", "b")]));
        let f = temp_file(b"EncryptionContextEquals={purpose=backup}\n");
        let c = parse_grant_constraints("--constraints", &uri("file://", &f)).expect("file");
        assert_eq!(c.encryption_context_equals, map(&[("purpose", "backup")]));
        let f = temp_file(br#" {"EncryptionContextSubset": {"k": "v"}} "#);
        let c = parse_grant_constraints("--constraints", &uri("file://", &f)).expect("file");
        assert_eq!(c.encryption_context_subset, map(&[("k", "v")]));
    }

    #[test]
    fn grant_constraints_bad_input() {
        for bad in [
            "",
            "   ",
            "EncryptionContextSubset",
            "EncryptionContextSubset=",
            "EncryptionContextSubset=a=b",
            "EncryptionContextSubset={a=b",
            "EncryptionContextSubset={a=\"b}",
            "EncryptionContextSubset={a}",
            "EncryptionContextSubset={a=b}x",
            "EncryptionContextSubset={a=b},,",
            "={a=b}",
            "Foo={a=b}",
            "encryptioncontextsubset={a=b}",
            "{bad json",
            "[]",
            r#"{"EncryptionContextSubset":"x"}"#,
            r#"{"EncryptionContextSubset":{"a":1}}"#,
            r#"{"Foo":{}}"#,
            "file:///nonexistent/constraints.json",
        ] {
            let err = parse_grant_constraints("--constraints", bad).expect_err(bad);
            assert_eq!(err.param, "--constraints", "{bad:?}");
            assert!(
                err.to_string()
                    .starts_with("Error parsing parameter '--constraints': "),
                "{err}"
            );
        }
        let err = parse_grant_constraints("--constraints", "Foo={a=b}").expect_err("unknown");
        assert!(
            err.to_string()
                .contains("must be one of: EncryptionContextSubset, EncryptionContextEquals"),
            "{err}"
        );
    }

    #[test]
    fn grant_constraints_never_panic_on_odd_input() {
        for odd in [
            "\\",
            "a={\\",
            "a={'",
            "a={b='\\",
            "a={{{{",
            "a=}}}}",
            "}{",
            "é={ü=ß}",
            "a={b={c=d}}",
            "\u{0}={\u{0}=\u{0}}",
            ",",
            "a={b=c},",
        ] {
            let _ = parse_grant_constraints("--constraints", odd);
        }
    }
}
