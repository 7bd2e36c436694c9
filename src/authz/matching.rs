//! Wildcard and ARN matching: the `*` / `?` glob used by `Action`,
//! `Resource`, `StringLike` and the `Arn*` operators, compiled once from a
//! policy string and then matched many times.
//!
//! This module knows nothing of JSON, policies, condition operators or
//! requests. It matches one compiled pattern against one string, never
//! allocates while matching, and runs in time polynomial in the input (the
//! pattern is split at `*` once; segments are then found left to right, so
//! `*a*a*a*b` against a long run of `a`s is linear, not exponential).
//!
//! IAM wildcards have no escape character: `*` and `?` in a pattern are
//! always wildcards. (IAM's `${*}` escapes belong to policy variables, which
//! kmsd rejects at parse time; see `policy.rs`.)

/// How literal pattern characters compare with the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CaseMode {
    /// Byte-for-byte (resource ARNs, `StringLike`, `ArnLike`).
    Sensitive,
    /// ASCII letters compare case-insensitively (IAM action names, which are
    /// ASCII). The pattern is lowercased when compiled.
    AsciiInsensitive,
}

/// A compiled glob: `*` matches any run of characters (including none), `?`
/// exactly one character (a Unicode scalar value, not a byte).
#[derive(Clone, Debug)]
pub(crate) struct Pattern {
    kind: Kind,
    case: CaseMode,
}

#[derive(Clone, Debug)]
enum Kind {
    /// Only `*`s: matches everything.
    Any,
    /// No wildcard at all: plain (case-mode) equality.
    Exact(Box<str>),
    /// `?` but no `*`: one segment that must cover the whole input.
    Whole(Segment),
    /// At least one `*`: `first` anchored at the start, `last` anchored at
    /// the end, `middle` found left to right in between.
    Star {
        first: Segment,
        middle: Box<[Segment]>,
        last: Segment,
        /// Fewest bytes an input can have and still match (each `?` needs at
        /// least one byte), for a cheap early reject.
        min_len: usize,
    },
}

/// A run of pattern text between `*`s; may contain `?`.
#[derive(Clone, Debug)]
struct Segment {
    text: Box<str>,
    /// Whether `text` contains `?` (otherwise it is compared as a block).
    has_q: bool,
    /// Number of chars in `text` (to find where an end-anchored segment starts).
    chars: usize,
}

impl Segment {
    fn new(text: &str) -> Self {
        Self {
            text: text.into(),
            has_q: text.contains('?'),
            chars: text.chars().count(),
        }
    }

    /// Bytes the segment needs at minimum: literal bytes plus one per `?`.
    fn min_len(&self) -> usize {
        self.text.len()
    }
}

impl Pattern {
    /// Compiles `pattern`. In [`CaseMode::AsciiInsensitive`] the pattern is
    /// lowercased here so that matching only lowercases the input side.
    pub(crate) fn new(pattern: &str, case: CaseMode) -> Self {
        let owned;
        let pattern = match case {
            CaseMode::Sensitive => pattern,
            CaseMode::AsciiInsensitive => {
                owned = pattern.to_ascii_lowercase();
                owned.as_str()
            }
        };
        let kind = if !pattern.contains('*') {
            if pattern.contains('?') {
                Kind::Whole(Segment::new(pattern))
            } else {
                Kind::Exact(pattern.into())
            }
        } else if pattern.bytes().all(|b| b == b'*') {
            Kind::Any
        } else {
            let mut parts = pattern.split('*');
            // `split` on a string containing '*' yields at least two parts.
            let first = Segment::new(parts.next().unwrap_or(""));
            let mut rest: Vec<Segment> = parts.map(Segment::new).collect();
            let last = rest.pop().unwrap_or_else(|| Segment::new(""));
            // Empty middle segments come from `**` and match trivially.
            rest.retain(|s| !s.text.is_empty());
            let min_len =
                first.min_len() + last.min_len() + rest.iter().map(Segment::min_len).sum::<usize>();
            Kind::Star {
                first,
                middle: rest.into_boxed_slice(),
                last,
                min_len,
            }
        };
        Self { kind, case }
    }

    /// Whether `input` matches the whole pattern.
    pub(crate) fn matches(&self, input: &str) -> bool {
        match &self.kind {
            Kind::Any => true,
            Kind::Exact(text) => match self.case {
                CaseMode::Sensitive => **text == *input,
                CaseMode::AsciiInsensitive => text.eq_ignore_ascii_case(input),
            },
            Kind::Whole(seg) => self.match_at(seg, input, 0) == Some(input.len()),
            Kind::Star {
                first,
                middle,
                last,
                min_len,
            } => {
                if input.len() < *min_len {
                    return false;
                }
                let Some(mut pos) = self.match_at(first, input, 0) else {
                    return false;
                };
                let Some(tail) = self.suffix_start(last, input) else {
                    return false;
                };
                if tail < pos {
                    return false;
                }
                // Leftmost-first placement of each middle segment is optimal
                // for `*`-only globs: any later placement leaves less room.
                for seg in middle.iter() {
                    match self.find_in(seg, input, pos, tail) {
                        Some(end) => pos = end,
                        None => return false,
                    }
                }
                true
            }
        }
    }

    fn char_eq(&self, pat: char, c: char) -> bool {
        pat == '?'
            || pat == c
            || (self.case == CaseMode::AsciiInsensitive && pat == c.to_ascii_lowercase())
    }

    /// If `seg` matches `input` starting at byte `start`, the end offset.
    fn match_at(&self, seg: &Segment, input: &str, start: usize) -> Option<usize> {
        if !seg.has_q {
            let end = start.checked_add(seg.text.len())?;
            // `get` also rejects offsets that are not char boundaries.
            let candidate = input.get(start..end)?;
            let equal = match self.case {
                CaseMode::Sensitive => candidate == &*seg.text,
                CaseMode::AsciiInsensitive => candidate.eq_ignore_ascii_case(&seg.text),
            };
            return equal.then_some(end);
        }
        let rest = input.get(start..)?;
        let mut chars = rest.char_indices();
        for pat in seg.text.chars() {
            let (_, c) = chars.next()?;
            if !self.char_eq(pat, c) {
                return None;
            }
        }
        Some(start + chars.offset())
    }

    /// Where `seg` must start to end exactly at the end of `input`, if it
    /// matches there.
    fn suffix_start(&self, seg: &Segment, input: &str) -> Option<usize> {
        let start = if seg.chars == 0 {
            input.len()
        } else if seg.has_q {
            input.char_indices().rev().nth(seg.chars - 1)?.0
        } else {
            input.len().checked_sub(seg.text.len())?
        };
        (self.match_at(seg, input, start)? == input.len()).then_some(start)
    }

    /// End offset of the leftmost match of `seg` inside `input[from..limit]`.
    fn find_in(&self, seg: &Segment, input: &str, from: usize, limit: usize) -> Option<usize> {
        let hay = input.get(from..limit)?;
        if !seg.has_q && self.case == CaseMode::Sensitive {
            // std's substring search is linear (Two-Way).
            return hay.find(&*seg.text).map(|i| from + i + seg.text.len());
        }
        // Matching within `hay` (not `input`) keeps every match inside the
        // window, so it cannot overlap the end-anchored last segment.
        hay.char_indices()
            .find_map(|(i, _)| self.match_at(seg, hay, i))
            .map(|end| from + end)
    }
}

/// A compiled ARN pattern: up to six colon-separated components, each a
/// case-sensitive [`Pattern`] matched against the same component of the
/// input, so a wildcard never spans a colon — except in the pattern's last
/// component, which is matched against the rest of the input (an ARN's
/// resource part may itself contain colons). `"*"` is one component and
/// therefore matches every input, ARN or not.
///
/// This is IAM's `ArnLike` rule (each component checked separately). For
/// `Resource`, AWS additionally lets a `*` that ends an *inner* component
/// run across colons; kmsd does not, which only matters for resource ARNs
/// with colons in unexpected places (a KMS key ARN has none).
#[derive(Clone, Debug)]
pub(crate) struct ArnPattern {
    components: Box<[Pattern]>,
}

/// An ARN has six components: `arn:partition:service:region:account:resource`.
const ARN_COMPONENTS: usize = 6;

impl ArnPattern {
    /// Compiles an ARN pattern.
    pub(crate) fn new(pattern: &str) -> Self {
        Self {
            components: pattern
                .splitn(ARN_COMPONENTS, ':')
                .map(|c| Pattern::new(c, CaseMode::Sensitive))
                .collect(),
        }
    }

    /// Whether `input` matches, component by component.
    pub(crate) fn matches(&self, input: &str) -> bool {
        let mut parts = input.splitn(self.components.len(), ':');
        self.components
            .iter()
            .all(|p| parts.next().is_some_and(|part| p.matches(part)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(p: &str, s: &str) -> bool {
        Pattern::new(p, CaseMode::Sensitive).matches(s)
    }

    #[test]
    fn literal_and_star() {
        assert!(glob("", ""));
        assert!(!glob("", "a"));
        assert!(glob("abc", "abc"));
        assert!(!glob("abc", "abcd"));
        assert!(!glob("abc", "ab"));
        assert!(glob("*", ""));
        assert!(glob("*", "anything"));
        assert!(glob("***", "x"));
        assert!(glob("a*", "a"));
        assert!(glob("a*", "abc"));
        assert!(!glob("a*", "ba"));
        assert!(glob("*c", "abc"));
        assert!(!glob("*c", "cb"));
        assert!(glob("a*c", "ac"));
        assert!(glob("a*c", "abbbc"));
        assert!(!glob("a*c", "abbb"));
        assert!(glob("*b*", "abc"));
        assert!(!glob("*b*", "ac"));
        assert!(glob("a**c", "abc"));
        assert!(glob("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!glob("*a*b*c*", "xxcxxbxxaxx"));
    }

    #[test]
    fn question_mark() {
        assert!(glob("?", "a"));
        assert!(!glob("?", ""));
        assert!(!glob("?", "ab"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(glob("??", "ab"));
        assert!(glob("*?", "a"));
        assert!(!glob("*?", ""));
        assert!(glob("?*?", "ab"));
        assert!(!glob("?*?", "a"));
        assert!(glob("a*?c", "abc"));
        assert!(!glob("a*?c", "ac"));
        assert!(glob("*b?d*", "abcde"));
        assert!(glob("*b?d", "abcbxd"));
    }

    #[test]
    fn question_mark_is_one_char_not_one_byte() {
        assert!(glob("?", "é"));
        assert!(glob("a?c", "aéc"));
        assert!(glob("*?", "日本"));
        assert!(!glob("??", "日"));
        assert!(glob("?本", "日本"));
        assert!(glob("日*", "日本語"));
        assert!(glob("*語", "日本語"));
        assert!(!glob("*語", "日本"));
    }

    #[test]
    fn overlap_between_prefix_and_suffix() {
        // "ab*ba" must not reuse the middle 'b' for both ends.
        assert!(!glob("ab*ba", "aba"));
        assert!(glob("ab*ba", "abba"));
        assert!(!glob("a*a", "a"));
        assert!(glob("a*a", "aa"));
    }

    #[test]
    fn middle_segment_cannot_overlap_suffix() {
        assert!(!glob("*ab*b", "ab"));
        assert!(glob("*ab*b", "abb"));
        assert!(!glob("x*?y*y", "x?y"));
    }

    #[test]
    fn ascii_case_insensitive() {
        let p = Pattern::new("kms:Generate*", CaseMode::AsciiInsensitive);
        assert!(p.matches("kms:GenerateDataKey"));
        assert!(p.matches("KMS:generatedatakey"));
        assert!(!p.matches("kms:Decrypt"));
        let p = Pattern::new("kms:*DataKey*", CaseMode::AsciiInsensitive);
        assert!(p.matches("kms:GenerateDataKeyPairWithoutPlaintext"));
        assert!(p.matches("kms:generatedatakey"));
        assert!(!p.matches("kms:Decrypt"));
        let p = Pattern::new("kms:decrypt", CaseMode::AsciiInsensitive);
        assert!(p.matches("kms:Decrypt"));
        let p = Pattern::new("kms:?ecrypt", CaseMode::AsciiInsensitive);
        assert!(p.matches("KMS:DECRYPT"));
        assert!(!p.matches("kms:Encrypt"));
    }

    #[test]
    fn pathological_patterns_are_fast() {
        let long_a = "a".repeat(100_000);
        let start = std::time::Instant::now();
        assert!(!glob("*a*a*a*b", &long_a));
        assert!(!glob("*a*a*a*a*a*a*a*a*a*a*b*", &long_a));
        assert!(glob("*a*a*a*a*a*a*a*a*a*a*", &long_a));
        assert!(!glob("a*a*a*a*a*a*a*a*a*a*ab", &long_a));
        let mut tricky = "ab".repeat(50_000);
        tricky.push('c');
        assert!(glob("*ab*ab*ab*c", &tricky));
        assert!(!glob("*ab*ab*abd*c", &tricky));
        assert!(!glob("*a?a?a?*b", &long_a));
        assert!(!glob("*?a?*?a?*?*b", &long_a));
        // A '?' segment is searched naively (O(n * segment)), still polynomial.
        let p = Pattern::new("*a?a?a?a?a?c*", CaseMode::AsciiInsensitive);
        assert!(!p.matches(&long_a));
        // Generous bound: a backtracking matcher would take years here.
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn arn_components_are_matched_separately() {
        let p = ArnPattern::new("arn:aws:someservice:*:111122223333:finance/*");
        // The IAM documentation's example: StringLike would match, ArnLike not.
        assert!(!p.matches("arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"));
        assert!(p.matches("arn:aws:someservice:us-east-2:111122223333:finance/document.txt"));
        // The resource component may contain colons.
        let p = ArnPattern::new("arn:aws:logs:*:111122223333:log-group:*");
        assert!(p.matches("arn:aws:logs:us-east-1:111122223333:log-group:x:y"));
        let p = ArnPattern::new("arn:aws:kms:*:*:key/*");
        assert!(p.matches("arn:aws:kms:us-east-1:111122223333:key/1234"));
        assert!(!p.matches("arn:aws:kms:us-east-1:111122223333:alias/1234"));
        assert!(!p.matches("arn:aws:kms:us-east-1"));
        // Case-sensitive.
        assert!(!p.matches("arn:aws:KMS:us-east-1:111122223333:key/1234"));
    }

    #[test]
    fn arn_pattern_with_fewer_components_absorbs_the_rest() {
        assert!(ArnPattern::new("*").matches("anything:at:all"));
        let p = ArnPattern::new("arn:aws:kms:*");
        assert!(p.matches("arn:aws:kms:us-east-1:111122223333:key/x"));
        assert!(!p.matches("arn:aws:s3:::bucket"));
        assert!(!p.matches("arn:aws"));
    }
}
