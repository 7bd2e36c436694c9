//! Tidy: the architecture rules, checked by reading the source (after
//! rust-analyzer's `tidy` tests). Each rule is a function from a file's path
//! and text to violations; the `tidy_*` tests walk the real `src/` and fail
//! with the full list, and the `catches_*` tests plant a violation in a
//! small text to show each rule can fail.
//!
//! The rules:
//!
//! 1. **The core names no door and no wire crate.** Files under `src/kms/`,
//!    `src/model/`, `src/store/`, `src/authz/`, `src/backend/`, and
//!    `src/crypto/`, `src/ciphertext.rs`, `src/secret.rs`, `src/clock.rs`
//!    name neither `tonic*` nor `prost*`, nor a door module
//!    (`crate::service`, `crate::proto`, `crate::api`, `crate::http`,
//!    `crate::json`): the doors sit above the core, the door-neutral `api`
//!    layer too. Nor `kms_proto`, with one exception: `src/backend/hsm/`,
//!    the HSM backend, is a client of hsm-sim and speaks its protocol
//!    (tonic, prost, `kms_proto::hsm`); that wire is the backend's own, not
//!    a door, and it still names no door module.
//! 2. **The core returns no wire type.** No core function's return type
//!    names a `tonic*`/`prost*` (e.g. `prost_types::Timestamp`), `pb::` or
//!    `proto::` type; no core module re-exports (`pub use`) a door item.
//! 3. **A door does not reach the store.** Files under `src/service/` and
//!    `src/http/` name neither `Store`/`Store*Error`-style types nor a
//!    `store::` path: they call the core.
//! 4. **Secrets are neither `Debug`-derived nor `Clone`.** A type defined in
//!    `src/secret.rs`, or any type whose name contains `Secret`,
//!    `KeyMaterial`, `RootKey`, `Plaintext` or `PrivateKey`, has no
//!    `#[derive(Debug)]` or `#[derive(Clone)]` (a hand-written redacting
//!    `Debug` is fine).
//! 5. **No unexplained `unwrap()`/`expect(` outside tests.** Each needs a
//!    `// INVARIANT: <why>` comment on its line, the line before, or in the
//!    comment block directly above. Checked in every crate of the
//!    workspace ([`UNWRAP_SCANNED`]: kmsd, kmsctl, kms-bench, kms-proto,
//!    hsm-sim).
//!    Code in `#[cfg(test)]` items (and `#[cfg(test)] mod x;` files) is
//!    exempt, as are `tests/` and `benches/`, and so is a call
//!    `self.expect(..)` in a file that defines its own `fn expect` (kmsctl's
//!    query parser: "expect this token", not Option's or Result's). The
//!    unwraps that predate this rule are in [`UNWRAP_ALLOWLIST`], per file,
//!    and that list may only shrink.
//!
//! 6. **Clients and hsm-sim build without the server.** kms-proto, kmsctl,
//!    kms-bench and hsm-sim have neither kmsd nor RocksDB in their
//!    dependency tree (`cargo tree` over the lock file).
//!
//! The scanner is lexical, not a parser: comments and the contents of
//! string and char literals are blanked before matching, `#[cfg(test)]`
//! items are skipped by brace depth. That is enough for this code base's
//! style; a rule that misfires should be fixed here, not worked around.

use std::fmt;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------
// Configuration.

/// The core: door-neutral, wire-neutral (rules 1 and 2). Every entry must
/// exist (`tidy_core_paths_exist`): a rename that left an entry behind
/// would silently take that code out of the rules (`src/crypto.rs` became
/// `src/crypto/` in issue 12).
const CORE: &[&str] = &[
    "src/kms",
    "src/model",
    "src/store",
    "src/authz",
    "src/backend",
    "src/crypto",
    "src/ciphertext.rs",
    "src/secret.rs",
    "src/clock.rs",
];

/// The one core module that may speak a wire protocol (rule 1): the HSM
/// backend, a client of hsm-sim.
const HSM_BACKEND: &str = "src/backend/hsm/";

/// The doors (rule 3): the gRPC door, the JSON door, and the peer door
/// (`src/replication/`: the Replication service other Regions call, and
/// the client that calls theirs).
const DOORS: &[&str] = &["src/service", "src/http", "src/replication"];

/// Modules of the crate that are doors (or the layer above the core) and
/// so may not be named by the core.
const DOOR_MODULES: &[&str] = &["service", "proto", "api", "http", "json", "replication"];

/// Name fragments that make a type a secret (rule 4), besides every type
/// defined in `src/secret.rs`.
const SECRET_NAME_PARTS: &[&str] = &[
    "Secret",
    "KeyMaterial",
    "RootKey",
    "Plaintext",
    "PrivateKey",
];

/// Transitional lines exempt from rules 1 and 2: (file, the line's code,
/// trimmed). Each entry must still match a line (else remove the entry);
/// the list may only shrink.
const SHIMS: &[(&str, &str)] = &[];

/// Unwraps/expects without an `// INVARIANT:` comment that predate rule 5,
/// per file, in files owned by other work in progress. Exact counts: this
/// list may only shrink. When a file loses one, lower its count (remove
/// the entry at 0); never raise a count or add a file — annotate the call
/// with `// INVARIANT: <why it cannot fail>` or return an error instead.
/// The source trees rule 5 reads: every crate of the workspace (the
/// clients handle input from users and servers as much as kmsd does).
const UNWRAP_SCANNED: &[&str] = &[
    "src",
    "kmsctl/src",
    "kms-bench/src",
    "proto/src",
    "hsm-sim/src",
];

const UNWRAP_ALLOWLIST: &[(&str, usize)] = &[
    // `cf_handle(name).expect(..)`: every column family is created at open.
    ("src/store/mod.rs", 1),
];

// ---------------------------------------------------------------------------
// Violations.

/// One broken rule at one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Path relative to the crate root (`src/kms/mod.rs`).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// Which rule and what it found.
    pub what: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.what)
    }
}

fn violation(file: &str, line: usize, what: impl Into<String>) -> Violation {
    Violation {
        file: file.to_owned(),
        line,
        what: what.into(),
    }
}

// ---------------------------------------------------------------------------
// Lexing: blank comments and literals, find test-only code.

/// A source file prepared for matching.
pub struct Source {
    /// The code with comments blanked, and the contents of string and char
    /// literals blanked (the quotes stay); newlines are kept, so byte
    /// offsets and line numbers match the original.
    pub code: String,
    /// The comment text on each line (index 0 is line 1).
    pub comments: Vec<String>,
    /// Per line: whether it lies in a `#[cfg(test)]` item.
    pub in_test: Vec<bool>,
    /// Byte offset of the start of each line.
    line_starts: Vec<usize>,
}

impl Source {
    pub fn new(text: &str) -> Self {
        let (code, comments) = blank_comments_and_literals(text);
        let in_test = test_lines(&code);
        let line_starts = std::iter::once(0)
            .chain(code.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            code,
            comments,
            in_test,
            line_starts,
        }
    }

    /// The 1-based line of a byte offset in `code`.
    fn line_of(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&s| s <= offset)
    }

    fn is_test(&self, line: usize) -> bool {
        self.in_test.get(line - 1).copied().unwrap_or(false)
    }

    fn comment(&self, line: usize) -> &str {
        line.checked_sub(1)
            .and_then(|i| self.comments.get(i))
            .map_or("", String::as_str)
    }

    /// The code of one line (1-based), trimmed.
    fn code_line(&self, line: usize) -> &str {
        self.code.lines().nth(line - 1).unwrap_or("").trim()
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn blank_comments_and_literals(text: &str) -> (String, Vec<String>) {
    let chars: Vec<char> = text.chars().collect();
    let mut code = String::with_capacity(text.len());
    let mut comments = vec![String::new()];
    let mut i = 0;
    // Keeps byte lengths equal: a blanked char becomes as many spaces as it
    // had UTF-8 bytes.
    let blank = |c: char, code: &mut String| {
        if c == '\n' {
            code.push('\n');
        } else {
            code.extend(std::iter::repeat_n(' ', c.len_utf8()));
        }
    };
    let push_comment = |c: char, comments: &mut Vec<String>| {
        if c == '\n' {
            comments.push(String::new());
        } else if let Some(last) = comments.last_mut() {
            last.push(c);
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let prev_ident = i > 0 && is_ident_char(chars[i - 1]);
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                push_comment(chars[i], &mut comments);
                blank(chars[i], &mut code);
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0usize;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    for _ in 0..2 {
                        push_comment(chars[i], &mut comments);
                        blank(chars[i], &mut code);
                        i += 1;
                    }
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    for _ in 0..2 {
                        push_comment(chars[i], &mut comments);
                        blank(chars[i], &mut code);
                        i += 1;
                    }
                    if depth == 0 {
                        break;
                    }
                } else {
                    push_comment(chars[i], &mut comments);
                    blank(chars[i], &mut code);
                    i += 1;
                }
            }
        } else if (c == 'r' || (c == 'b' && next == Some('r'))) && !prev_ident && {
            // A raw string: r"..", r#".."#, br"..".
            let start = if c == 'b' { i + 2 } else { i + 1 };
            let mut j = start;
            while chars.get(j) == Some(&'#') {
                j += 1;
            }
            chars.get(j) == Some(&'"')
        } {
            let start = if c == 'b' { i + 2 } else { i + 1 };
            let mut j = start;
            while chars.get(j) == Some(&'#') {
                j += 1;
            }
            let hashes = j - start;
            // Keep the prefix and opening quote.
            for &ch in &chars[i..=j] {
                code.push(ch);
            }
            i = j + 1;
            while i < chars.len() {
                if chars[i] == '"'
                    && chars[i + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&h| h == '#')
                        .count()
                        == hashes
                {
                    code.push('"');
                    i += 1;
                    for _ in 0..hashes {
                        code.push('#');
                        i += 1;
                    }
                    break;
                }
                if chars[i] == '\n' {
                    comments.push(String::new());
                }
                blank(chars[i], &mut code);
                i += 1;
            }
        } else if c == '"' {
            code.push('"');
            i += 1;
            while i < chars.len() {
                match chars[i] {
                    '\\' => {
                        blank(chars[i], &mut code);
                        i += 1;
                        if i < chars.len() {
                            if chars[i] == '\n' {
                                comments.push(String::new());
                            }
                            blank(chars[i], &mut code);
                            i += 1;
                        }
                    }
                    '"' => {
                        code.push('"');
                        i += 1;
                        break;
                    }
                    ch => {
                        if ch == '\n' {
                            comments.push(String::new());
                        }
                        blank(ch, &mut code);
                        i += 1;
                    }
                }
            }
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            let is_char = match next {
                Some('\\') => true,
                Some(_) => chars.get(i + 2) == Some(&'\''),
                None => false,
            };
            code.push('\'');
            i += 1;
            if is_char {
                while i < chars.len() && chars[i] != '\'' {
                    if chars[i] == '\\' {
                        blank(chars[i], &mut code);
                        i += 1;
                    }
                    if i < chars.len() {
                        blank(chars[i], &mut code);
                        i += 1;
                    }
                }
                if i < chars.len() {
                    code.push('\'');
                    i += 1;
                }
            }
        } else {
            if c == '\n' {
                comments.push(String::new());
            }
            code.push(c);
            i += 1;
        }
    }
    (code, comments)
}

/// Marks the lines of every `#[cfg(test)]` item (the attribute through the
/// item's closing brace or semicolon).
fn test_lines(code: &str) -> Vec<bool> {
    let n_lines = code.lines().count().max(1);
    let mut in_test = vec![false; n_lines + 1];
    let bytes = code.as_bytes();
    let mut search = 0;
    while let Some(found) = code[search..].find("#[cfg(") {
        let attr_start = search + found;
        let Some(attr_len) = code[attr_start..].find(']') else {
            break;
        };
        let attr = &code[attr_start..attr_start + attr_len];
        search = attr_start + attr_len;
        if !is_test_cfg(attr) {
            continue;
        }
        // The item ends at the first `;` at depth 0, or at the brace that
        // closes its first `{`.
        let mut depth = 0usize;
        let mut end = code.len();
        let mut j = search;
        while j < bytes.len() {
            match bytes[j] {
                b'{' => depth += 1,
                b'}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = j;
                        break;
                    }
                }
                b';' if depth == 0 => {
                    end = j;
                    break;
                }
                _ => {}
            }
            j += 1;
        }
        let first = code[..attr_start].matches('\n').count();
        let last = code[..end].matches('\n').count();
        for flag in &mut in_test[first..=last.min(n_lines)] {
            *flag = true;
        }
        search = end.min(code.len());
    }
    in_test
}

/// `cfg(test)`, `cfg(all(test, ..))`, `cfg(any(test, ..))`; not `not(test)`.
fn is_test_cfg(attr: &str) -> bool {
    let words = idents(attr);
    words.iter().any(|(_, w)| *w == "test") && !attr.replace(' ', "").contains("not(test")
}

/// Identifiers with their byte offsets.
fn idents(code: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in code.char_indices() {
        match (start, is_ident_char(c)) {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                out.push((s, &code[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &code[s..]));
    }
    // Numbers are not identifiers.
    out.retain(|(_, w)| !w.starts_with(|c: char| c.is_ascii_digit()));
    out
}

/// The code after `offset`, skipping whitespace.
fn after(code: &str, offset: usize) -> &str {
    code[offset..].trim_start()
}

/// `#[cfg(test)] mod name;` declarations: the module names.
fn test_only_modules(src: &Source) -> Vec<String> {
    let mut out = Vec::new();
    let ids = idents(&src.code);
    for (k, &(off, w)) in ids.iter().enumerate() {
        if w != "mod" || !src.is_test(src.line_of(off)) {
            continue;
        }
        if let Some(&(name_off, name)) = ids.get(k + 1) {
            if after(&src.code, name_off + name.len()).starts_with(';') {
                out.push(name.to_owned());
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// The rules.

/// Rule 1: the core names no door and no wire crate.
pub fn check_core_names_no_door(file: &str, src: &Source) -> Vec<Violation> {
    let mut out = Vec::new();
    let ids = idents(&src.code);
    // The HSM backend speaks hsm-sim's gRPC protocol: that wire is the
    // backend's own (kmsd is its client), not a door, so only there may
    // the core name tonic, prost and `kms_proto` (never a door module).
    let hsm_backend = file.starts_with(HSM_BACKEND);
    for &(off, w) in &ids {
        let line = src.line_of(off);
        if src.is_test(line) || is_shim(file, src, line) {
            continue;
        }
        if !hsm_backend && (w.starts_with("tonic") || w.starts_with("prost") || w == "kms_proto") {
            out.push(violation(
                file,
                line,
                format!("rule 1: the core names the wire crate `{w}`"),
            ));
            continue;
        }
        if w != "crate" || !after(&src.code, off + w.len()).starts_with("::") {
            continue;
        }
        let rest = after(&src.code, off + w.len())[2..].trim_start();
        let named: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::c}`: the first segment of each tree.
            let group = &group[..group.find('}').unwrap_or(group.len())];
            group
                .split(',')
                .filter_map(|t| idents(t).first().map(|&(_, s)| s))
                .collect()
        } else {
            idents(rest).first().map(|&(_, s)| s).into_iter().collect()
        };
        for m in named {
            if DOOR_MODULES.contains(&m) {
                out.push(violation(
                    file,
                    line,
                    format!("rule 1: the core names the door module `crate::{m}`"),
                ));
            }
        }
    }
    out
}

/// Rule 2: no core function returns a wire type; no core module re-exports
/// a door item.
pub fn check_core_returns_no_wire_type(file: &str, src: &Source) -> Vec<Violation> {
    let mut out = Vec::new();
    let code = &src.code;
    let mut search = 0;
    while let Some(found) = code[search..].find("->") {
        let at = search + found;
        search = at + 2;
        let line = src.line_of(at);
        if src.is_test(line) || is_shim(file, src, line) {
            continue;
        }
        // The return type runs to the body, a `where`, or a `;`.
        let rest = &code[at + 2..];
        let end = rest
            .find(['{', ';'])
            .into_iter()
            .chain(rest.find(" where "))
            .chain(rest.find("\nwhere"))
            .min()
            .unwrap_or(rest.len());
        let ret = &rest[..end];
        if let Some(wire) = wire_type_in(ret) {
            out.push(violation(
                file,
                line,
                format!(
                    "rule 2: a core function returns the wire type `{wire}` (in `{}`)",
                    ret.trim()
                ),
            ));
        }
    }
    for (off, w) in idents(code) {
        if w != "pub" {
            continue;
        }
        let line = src.line_of(off);
        if src.is_test(line) || is_shim(file, src, line) {
            continue;
        }
        let rest = after(code, off + 3);
        // `pub use` and `pub(crate) use`.
        let rest = match rest.strip_prefix('(') {
            Some(r) => after(r, r.find(')').map_or(0, |p| p + 1)),
            None => rest,
        };
        let Some(path) = rest.strip_prefix("use ") else {
            continue;
        };
        let path = &path[..path.find(';').unwrap_or(path.len())];
        let reexports_door = DOOR_MODULES
            .iter()
            .any(|m| path.replace(' ', "").starts_with(&format!("crate::{m}::")))
            || wire_type_in(path).is_some();
        if reexports_door {
            out.push(violation(
                file,
                line,
                format!("rule 2: the core re-exports a door or wire item (`pub use {path}`)"),
            ));
        }
    }
    out
}

/// The first wire type named in a type or path, if any.
fn wire_type_in(ty: &str) -> Option<String> {
    let ids = idents(ty);
    for (k, &(off, w)) in ids.iter().enumerate() {
        let is_path_root = after(ty, off + w.len()).starts_with("::")
            && (k == 0 || !ty[..off].trim_end().ends_with("::"));
        // A bare `Timestamp` may be the core's own (authz has one); the
        // protobuf one can only be reached through `prost_types`.
        if w.starts_with("tonic") || w.starts_with("prost") {
            return Some(w.to_owned());
        }
        if is_path_root && (w == "pb" || w == "proto") {
            return Some(format!("{w}::"));
        }
    }
    None
}

fn is_shim(file: &str, src: &Source, line: usize) -> bool {
    let code = src.code_line(line);
    SHIMS.iter().any(|&(f, l)| f == file && l == code)
}

/// Rule 3: a door does not reach the store.
pub fn check_door_skips_store(file: &str, src: &Source) -> Vec<Violation> {
    let mut out = Vec::new();
    for (off, w) in idents(&src.code) {
        let line = src.line_of(off);
        if src.is_test(line) {
            continue;
        }
        let store_type = w == "Store"
            || (w.starts_with("Store") && w[5..].starts_with(|c: char| c.is_ascii_uppercase()));
        let store_path = w == "store" && after(&src.code, off + w.len()).starts_with("::");
        if store_type || store_path {
            out.push(violation(
                file,
                line,
                format!("rule 3: a door names the store (`{w}`); go through the core"),
            ));
        }
    }
    out
}

/// The struct and enum names a file defines (outside tests).
fn defined_types(src: &Source) -> Vec<String> {
    let ids = idents(&src.code);
    ids.windows(2)
        .filter(|p| (p[0].1 == "struct" || p[0].1 == "enum") && !src.is_test(src.line_of(p[0].0)))
        .map(|p| p[1].1.to_owned())
        .collect()
}

/// Rule 4: secret types derive neither `Debug` nor `Clone`.
/// `secret_types` are the names defined in `src/secret.rs`.
pub fn check_secrets_not_debug_or_clone(
    file: &str,
    src: &Source,
    secret_types: &[String],
) -> Vec<Violation> {
    let mut out = Vec::new();
    let code = &src.code;
    let mut search = 0;
    while let Some(found) = code[search..].find("#[derive(") {
        let at = search + found;
        search = at + 9;
        let line = src.line_of(at);
        if src.is_test(line) {
            continue;
        }
        let Some(close) = code[at..].find(")]") else {
            break;
        };
        let derives: Vec<&str> = idents(&code[at + 9..at + close])
            .into_iter()
            .map(|(_, w)| w)
            .collect();
        // The item the attribute is on: the first `struct`/`enum` after it
        // (further attributes and doc comments may come between).
        let rest = &code[at + close..];
        let ids = idents(rest);
        let Some(pos) = ids
            .iter()
            .position(|&(_, w)| matches!(w, "struct" | "enum" | "fn" | "impl" | "trait"))
        else {
            continue;
        };
        if !matches!(ids[pos].1, "struct" | "enum") {
            continue;
        }
        let Some(&(_, name)) = ids.get(pos + 1) else {
            continue;
        };
        // `…WithoutPlaintext…` names the API's operations that return no
        // plaintext: the word is there because the secret is not.
        let secret = secret_types.iter().any(|t| t == name)
            || (SECRET_NAME_PARTS.iter().any(|p| name.contains(p))
                && !name.contains("WithoutPlaintext"));
        if !secret {
            continue;
        }
        for d in derives.iter().filter(|d| matches!(**d, "Debug" | "Clone")) {
            out.push(violation(
                file,
                line,
                format!("rule 4: the secret type `{name}` derives `{d}`"),
            ));
        }
    }
    out
}

/// Rule 5: each `unwrap()`/`expect(` outside tests has an `// INVARIANT:`
/// comment on its line or the line before. Returns the unexplained ones.
pub fn check_unwraps_explained(file: &str, src: &Source) -> Vec<Violation> {
    let mut out = Vec::new();
    let code = &src.code;
    let ids = idents(code);
    let defines_expect = ids.windows(2).any(|p| p[0].1 == "fn" && p[1].1 == "expect");
    for (off, w) in ids {
        if w != "unwrap" && w != "expect" {
            continue;
        }
        // A method call: `.unwrap()`, `.expect(`.
        let is_call =
            code[..off].trim_end().ends_with('.') && after(code, off + w.len()).starts_with('(');
        let is_unwrap_call = w == "expect" || after(code, off + w.len()).starts_with("()");
        // `self.expect(..)` in a file that defines `fn expect` is that
        // type's own method (a parser's), not Option's or Result's.
        let own_method = w == "expect"
            && defines_expect
            && code[..off]
                .trim_end()
                .trim_end_matches('.')
                .trim_end()
                .ends_with("self");
        if !is_call || !is_unwrap_call || own_method {
            continue;
        }
        let line = src.line_of(off);
        if src.is_test(line) {
            continue;
        }
        let explained = invariant_noted(src, line);
        if !explained {
            out.push(violation(
                file,
                line,
                format!("rule 5: `{w}` without an `// INVARIANT:` comment"),
            ));
        }
    }
    out
}

/// Whether an `INVARIANT:` comment is on `line`, on the line before, or in
/// the block of comment-only lines directly above.
fn invariant_noted(src: &Source, line: usize) -> bool {
    if [line, line - 1]
        .iter()
        .any(|&l| src.comment(l).contains("INVARIANT:"))
    {
        return true;
    }
    let mut l = line - 1;
    while l >= 1 && src.code_line(l).is_empty() && !src.comment(l).is_empty() {
        if src.comment(l).contains("INVARIANT:") {
            return true;
        }
        l -= 1;
    }
    false
}

// ---------------------------------------------------------------------------
// Walking the tree.

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `rel` (a file or directory relative to the crate
/// root), as (relative path with `/`, text); a missing path gives none.
fn rust_files(rel: &str) -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let root = root();
    let path = root.join(rel);
    let mut files = Vec::new();
    if path.is_dir() {
        walk(&path, &mut files);
    } else if path.is_file() {
        files.push(path);
    }
    files.sort();
    let mut out: Vec<(String, String)> = files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
            let rel = p
                .strip_prefix(&root)
                .unwrap_or(&p)
                .to_string_lossy()
                .replace('\\', "/");
            (rel, text)
        })
        .collect();
    // Drop files that are test-only modules (`#[cfg(test)] mod x;`).
    let test_only = test_only_files(&out);
    out.retain(|(f, _)| !test_only.contains(f));
    out
}

/// The files declared by `#[cfg(test)] mod x;` in the given files.
fn test_only_files(files: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (f, text) in files {
        let src = Source::new(text);
        let dir = match f.rsplit_once('/') {
            Some((d, "mod.rs" | "lib.rs" | "main.rs")) => d.to_owned(),
            Some((d, name)) => format!("{d}/{}", name.trim_end_matches(".rs")),
            None => String::new(),
        };
        for m in test_only_modules(&src) {
            out.push(format!("{dir}/{m}.rs"));
            out.push(format!("{dir}/{m}/mod.rs"));
        }
    }
    out
}

fn files_under(list: &[&str]) -> Vec<(String, String)> {
    list.iter().flat_map(|r| rust_files(r)).collect()
}

#[track_caller]
fn assert_clean(rule: &str, violations: Vec<Violation>) {
    if violations.is_empty() {
        return;
    }
    let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
    panic!(
        "tidy: {rule}: {} violation(s):\n  {}\n(see tests/it/tidy.rs for the rule and how to fix it)",
        list.len(),
        list.join("\n  ")
    );
}

// ---------------------------------------------------------------------------
// The tidy tests: the real tree.

#[test]
fn tidy_core_paths_exist() {
    for rel in CORE {
        assert!(
            !rust_files(rel).is_empty(),
            "tidy: the core path {rel} holds no Rust file; update CORE"
        );
    }
}

#[test]
fn tidy_core_names_no_door_or_wire_crate() {
    let mut v = Vec::new();
    for (f, text) in files_under(CORE) {
        v.extend(check_core_names_no_door(&f, &Source::new(&text)));
    }
    assert_clean("rule 1 (core names no door)", v);
}

#[test]
fn tidy_core_returns_no_wire_type() {
    let mut v = Vec::new();
    for (f, text) in files_under(CORE) {
        v.extend(check_core_returns_no_wire_type(&f, &Source::new(&text)));
    }
    assert_clean("rule 2 (core returns no wire type)", v);
}

#[test]
fn tidy_shims_still_exist() {
    for &(file, line) in SHIMS {
        let text = std::fs::read_to_string(root().join(file)).unwrap_or_default();
        assert!(
            text.lines().any(|l| l.trim() == line),
            "tidy: the shim `{line}` is gone from {file}: remove its SHIMS entry"
        );
    }
}

#[test]
fn tidy_doors_do_not_reach_the_store() {
    let mut v = Vec::new();
    for (f, text) in files_under(DOORS) {
        v.extend(check_door_skips_store(&f, &Source::new(&text)));
    }
    assert_clean("rule 3 (doors call the core, not the store)", v);
}

#[test]
fn tidy_secrets_derive_neither_debug_nor_clone() {
    let secret_types: Vec<String> = rust_files("src/secret.rs")
        .iter()
        .flat_map(|(_, t)| defined_types(&Source::new(t)))
        .collect();
    assert!(
        secret_types.iter().any(|t| t == "RootKey"),
        "src/secret.rs defines no RootKey? {secret_types:?}"
    );
    let mut v = Vec::new();
    for (f, text) in rust_files("src") {
        v.extend(check_secrets_not_debug_or_clone(
            &f,
            &Source::new(&text),
            &secret_types,
        ));
    }
    assert_clean("rule 4 (secrets are not Debug-derived or Clone)", v);
}

#[test]
fn tidy_unwraps_are_explained() {
    let mut v = Vec::new();
    let mut counts: Vec<(String, usize)> = Vec::new();
    let files = files_under(UNWRAP_SCANNED);
    for root in UNWRAP_SCANNED {
        assert!(
            files.iter().any(|(f, _)| f.starts_with(root)),
            "tidy: rule 5 found no file under {root}"
        );
    }
    for (f, text) in files {
        let found = check_unwraps_explained(&f, &Source::new(&text));
        let allowed = UNWRAP_ALLOWLIST
            .iter()
            .find(|(a, _)| *a == f)
            .map_or(0, |&(_, n)| n);
        if found.len() > allowed {
            v.extend(found.iter().cloned());
        }
        if !found.is_empty() {
            counts.push((f, found.len()));
        }
    }
    // The allowlist may only shrink: a lower count must be written down.
    let mut stale = Vec::new();
    for &(file, allowed) in UNWRAP_ALLOWLIST {
        let now = counts
            .iter()
            .find(|(f, _)| f == file)
            .map_or(0, |&(_, n)| n);
        if now < allowed {
            stale.push(format!(
                "{file}: {now} unexplained unwrap/expect now, {allowed} allowed: lower UNWRAP_ALLOWLIST to {now}{}",
                if now == 0 { " (remove the entry)" } else { "" }
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "tidy: rule 5 allowlist must shrink:\n  {}",
        stale.join("\n  ")
    );
    assert_clean(
        "rule 5 (unwrap/expect need `// INVARIANT:`; files over their UNWRAP_ALLOWLIST count list every call)",
        v,
    );
}

// ---------------------------------------------------------------------------
// Self-tests: each rule catches a planted violation, and passes clean code.

fn check(rule: fn(&str, &Source) -> Vec<Violation>, text: &str) -> Vec<(usize, String)> {
    rule("src/planted.rs", &Source::new(text))
        .into_iter()
        .map(|v| (v.line, v.what))
        .collect()
}

#[test]
fn catches_a_core_file_naming_a_door() {
    let planted = "use std::sync::Arc;\n\
                   use tonic::Status;\n\
                   fn f() -> crate::proto::kms::v1::Key { todo!() }\n\
                   use crate::{model, service::KmsService};\n\
                   fn g() { let _ = prost_types::Timestamp::default(); }\n";
    let found = check(check_core_names_no_door, planted);
    let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, vec![2, 3, 4, 5], "{found:?}");
    assert!(found[2].1.contains("crate::service"), "{found:?}");

    let planted_kms_proto = "use kms_proto::hsm::v1::HsmClient;\n";
    assert_eq!(check(check_core_names_no_door, planted_kms_proto).len(), 1);
    // The HSM backend may name hsm-sim's wire, but not a door module.
    let hsm = "use kms_proto::hsm::v1 as pb;\nuse tonic::Status;\nuse crate::proto::kms;\n";
    let found: Vec<usize> = check_core_names_no_door("src/backend/hsm/pool.rs", &Source::new(hsm))
        .into_iter()
        .map(|v| v.line)
        .collect();
    assert_eq!(found, vec![3]);

    let clean = "//! Knows nothing of tonic or crate::service.\n\
                 use crate::model::KeyId;\n\
                 const S: &str = \"tonic::Status and crate::proto\";\n\
                 #[cfg(test)]\nmod tests {\n    use crate::service::x;\n}\n";
    assert_eq!(check(check_core_names_no_door, clean), vec![]);
}

#[test]
fn catches_a_core_function_returning_a_wire_type() {
    let planted = "pub fn to_timestamp(ms: i64) -> prost_types::Timestamp {\n    todo!()\n}\n\
                   pub fn st(e: E) -> Result<(), tonic::Status> { todo!() }\n\
                   pub use crate::service::time::to_timestamp;\n\
                   fn ok(x: i64) -> Option<i64> where i64: Copy { Some(x) }\n";
    let found = check(check_core_returns_no_wire_type, planted);
    let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, vec![1, 4, 5], "{found:?}");
}

#[test]
fn catches_a_door_reaching_the_store() {
    let planted = "use crate::kms::Kms;\n\
                   fn h(s: &crate::store::Store) {}\n\
                   fn e(e: StoreError) {}\n\
                   let custom_key_store_id = r.custom_key_store_id; // Store\n";
    let found = check(check_door_skips_store, planted);
    let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
    // `store::` and `Store` on line 2, `StoreError` on line 3; not the
    // `custom_key_store_id` field nor the comment.
    assert_eq!(lines, vec![2, 2, 3], "{found:?}");
}

#[test]
fn catches_a_secret_deriving_debug_or_clone() {
    let secrets = vec!["Sealed".to_owned()];
    let planted = "#[derive(Clone)]\npub struct Sealed(Vec<u8>);\n\
                   /// Doc.\n#[derive(Debug, Clone, PartialEq)]\n#[non_exhaustive]\npub struct DataKeyPlaintext { b: Vec<u8> }\n\
                   #[derive(Debug, Clone)]\npub struct KeyRecord { id: u8 }\n\
                   #[derive(Debug)]\nenum PrivateKeyKind { A }\n\
                   #[derive(Debug, Clone)]\npub struct GenerateDataKeyWithoutPlaintextResponse { b: Vec<u8> }\n";
    let found = check_secrets_not_debug_or_clone("src/planted.rs", &Source::new(planted), &secrets);
    let got: Vec<(usize, &str)> = found.iter().map(|v| (v.line, v.what.as_str())).collect();
    assert_eq!(got.len(), 4, "{got:?}");
    assert_eq!(got[0].0, 1);
    assert!(got[0].1.contains("`Sealed` derives `Clone`"), "{got:?}");
    assert!(
        got[1].1.contains("`DataKeyPlaintext` derives `Debug`"),
        "{got:?}"
    );
    assert!(
        got[2].1.contains("`DataKeyPlaintext` derives `Clone`"),
        "{got:?}"
    );
    assert!(
        got[3].1.contains("`PrivateKeyKind` derives `Debug`"),
        "{got:?}"
    );
}

#[test]
fn catches_an_unexplained_unwrap() {
    let planted = "fn f(x: Option<u8>) -> u8 {\n\
                   \x20   let a = x.unwrap();\n\
                   \x20   // INVARIANT: checked above,\n\
                   \x20   // over two lines.\n\
                   \x20   let b = x.unwrap();\n\
                   \x20   let c = x.expect(\"present\"); // INVARIANT: ditto.\n\
                   \x20   let d = x.unwrap_or(0) + x.unwrap_or_default();\n\
                   \x20   let s = \"x.unwrap()\"; // x.expect(\n\
                   \x20   let e = x\n        .expect(\"no\");\n\
                   \x20   a + b + c + d + e\n}\n\
                   #[cfg(test)]\nmod tests {\n    fn t() { None::<u8>.unwrap(); }\n}\n\
                   fn after_tests() { None::<u8>.unwrap(); }\n\
                   fn parse(&mut self) { self.expect(&Tok::Comma)?; }\n";
    let found = check(check_unwraps_explained, planted);
    let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
    // Line 18: `self.expect(` where no `fn expect` is defined is Option's
    // or Result's (e.g. in an impl on a wrapper).
    assert_eq!(lines, vec![2, 10, 17, 18], "{found:?}");
    // With the parser's own method defined, its calls are not unwraps,
    // and other expects still are.
    let parser = "impl P {\n\
                  \x20   fn expect(&mut self, t: &Tok) -> Result<(), E> { todo!() }\n\
                  \x20   fn list(&mut self) -> Result<(), E> { self.expect(&Tok::Comma)?; self\n.expect(&Tok::Colon) }\n\
                  \x20   fn other(&self, x: Option<u8>) -> u8 { x.expect(\"no\") }\n}\n";
    let found = check(check_unwraps_explained, parser);
    let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, vec![5], "{found:?}");
}

#[test]
fn the_lexer_blanks_comments_and_literals_and_finds_test_items() {
    let text = "let a = 'x'; let b = '\\''; fn f<'a>(s: &'a str) {}\n\
                let r = r#\"unwrap() \"quoted\" \"#; /* block /* nested */ unwrap() */ let z = 1;\n\
                #[cfg(all(test, unix))]\nfn t() {\n    {}\n}\nfn after() {}\n";
    let src = Source::new(text);
    assert_eq!(src.code.len(), text.len());
    assert!(!src.code.contains("unwrap"), "{}", src.code);
    assert!(src.code.contains("fn f<'a>(s: &'a str)"), "{}", src.code);
    assert!(src.code.contains("let z = 1;"), "{}", src.code);
    assert_eq!(
        src.in_test[..7],
        [false, false, true, true, true, true, false]
    );
    assert!(src.comment(2).contains("nested"));
}

// ---------------------------------------------------------------------------
// Rule 6: the client crates and hsm-sim build without the server.

/// The workspace members that must not depend, even indirectly, on kmsd
/// or RocksDB (ARCHITECTURE.md: clients and the HSM simulator stay small
/// and fast to build).
const SERVERLESS_CRATES: &[&str] = &["kms-proto", "kmsctl", "kms-bench", "hsm-sim"];

/// The names of every package in `crate`'s normal dependency tree (its own
/// included), from `cargo tree` over the lock file.
fn dependency_names(krate: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "--locked",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-p",
        ])
        .arg(krate)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree -p {krate}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

#[test]
fn tidy_clients_and_hsm_sim_do_not_link_the_server_or_rocksdb() {
    for krate in SERVERLESS_CRATES {
        let deps = dependency_names(krate);
        assert!(deps.iter().any(|d| d == krate), "{krate}: {deps:?}");
        let bad: Vec<&String> = deps
            .iter()
            .filter(|d| *d == "kmsd" || d.contains("rocksdb"))
            .collect();
        assert!(bad.is_empty(), "tidy: rule 6: {krate} depends on {bad:?}");
    }
    // The check can fail: kmsd itself does depend on RocksDB.
    assert!(dependency_names("kmsd")
        .iter()
        .any(|d| d.contains("rocksdb")));
}
