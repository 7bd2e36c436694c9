//! Request-field rules shared by several operations, with AWS's limits and
//! error messages.

use crate::error::{KmsError, KmsResult};
use crate::model::ids::printable;

/// Maximum plaintext for Encrypt.
pub const MAX_PLAINTEXT: usize = 4096;
/// Maximum description length.
pub const MAX_DESCRIPTION: usize = 8192;
/// Maximum tags per key.
pub const MAX_TAGS: usize = 50;
/// Maximum aliases per key (AWS's default quota).
pub const MAX_ALIASES_PER_KEY: usize = 50;
/// Maximum grant tokens per request.
pub const MAX_GRANT_TOKENS: usize = 10;
/// Default page size of List* operations.
pub const DEFAULT_LIMIT: usize = 100;

/// `1 validation error detected: Value at 'field' failed to satisfy constraint: ...`
pub fn validation(field: &str, constraint: &str) -> KmsError {
    KmsError::Validation(format!(
        "1 validation error detected: Value at '{field}' failed to satisfy constraint: {constraint}"
    ))
}

/// A length rule on a string or blob field.
pub fn length(field: &str, len: usize, min: usize, max: usize) -> KmsResult<()> {
    if len < min || len > max {
        return Err(validation(
            field,
            &format!("Member must have length between {min} and {max}"),
        ));
    }
    Ok(())
}

/// A range rule on an integer field.
pub fn range(field: &str, v: i32, min: i32, max: i32) -> KmsResult<()> {
    if v < min || v > max {
        return Err(validation(
            field,
            &format!("Member must have value between {min} and {max}"),
        ));
    }
    Ok(())
}

/// The `Limit` of a List* call: 1–1000, default 100.
pub fn limit(v: Option<i32>) -> KmsResult<usize> {
    match v {
        None => Ok(DEFAULT_LIMIT),
        Some(v) => {
            range("limit", v, 1, 1000)?;
            Ok(usize::try_from(v).unwrap_or(DEFAULT_LIMIT))
        }
    }
}

/// A pagination marker: 1–1024 characters.
pub fn marker(v: Option<&str>) -> KmsResult<Option<&str>> {
    match v {
        None => Ok(None),
        Some(m) => {
            length("marker", m.len(), 1, 1024)?;
            Ok(Some(m))
        }
    }
}

/// `GrantTokens`: at most 10, each 1–8192 characters. (Grants themselves
/// arrive with the authorization issue; until then tokens are checked and
/// otherwise unused.)
pub fn grant_tokens(tokens: &[String]) -> KmsResult<()> {
    if tokens.len() > MAX_GRANT_TOKENS {
        return Err(validation(
            "grantTokens",
            &format!("Member must have length less than or equal to {MAX_GRANT_TOKENS}"),
        ));
    }
    for t in tokens {
        length("grantTokens.member", t.len(), 1, 8192)?;
    }
    Ok(())
}

/// A description: at most 8192 characters.
pub fn description(d: &str) -> KmsResult<()> {
    length("description", d.chars().count(), 0, MAX_DESCRIPTION)
}

/// A tag key: 1–128 characters, not in the reserved `aws:` namespace.
pub fn tag_key(k: &str) -> KmsResult<()> {
    let n = k.chars().count();
    if n == 0 || n > 128 {
        return Err(KmsError::Tag(format!(
            "Tag key {} must have length between 1 and 128",
            printable(k)
        )));
    }
    if k.to_ascii_lowercase().starts_with("aws:") {
        return Err(KmsError::Tag(format!(
            "Tag key {} uses the reserved prefix aws:",
            printable(k)
        )));
    }
    Ok(())
}

/// A tag value: at most 256 characters.
pub fn tag_value(v: &str) -> KmsResult<()> {
    if v.chars().count() > 256 {
        return Err(KmsError::Tag(
            "Tag value must have length at most 256".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(limit(None).is_ok());
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(1001)).is_err());
        assert_eq!(limit(Some(5)).ok(), Some(5));
        assert!(marker(Some("")).is_err());
        assert!(grant_tokens(&vec!["t".into(); 11]).is_err());
        assert!(grant_tokens(&[String::new()]).is_err());
        assert!(description(&"x".repeat(8193)).is_err());
        assert!(matches!(tag_key("aws:x"), Err(KmsError::Tag(_))));
        assert!(matches!(tag_key(""), Err(KmsError::Tag(_))));
        assert!(tag_key("team").is_ok());
        assert!(tag_value(&"v".repeat(257)).is_err());
        assert!(range("n", 0, 1, 1024).is_err());
    }
}
