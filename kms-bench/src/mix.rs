//! The operations kms-bench can drive and the weighted mix of them given by
//! `--operation`: `GenerateDataKey`, or `GenerateDataKey=3,Decrypt=7`.
//!
//! Names are the AWS operation names, matched case-insensitively and with
//! `-`/`_` ignored, so `generate-data-key` (kmsctl's spelling) works too. A
//! weight is a whole number from 1 to [`MAX_WEIGHT`]; a name without one
//! weighs 1. Each worker picks operations with smooth weighted round-robin
//! ([`Picker`]): exact proportions over every `sum(weights)` requests, no
//! randomness, and the heavier operations spread out rather than bunched.

use std::fmt;
use std::str::FromStr;

/// The largest weight of one operation in a mix.
pub const MAX_WEIGHT: u32 = 1_000_000;

/// An operation kms-bench can drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BenchOp {
    /// GenerateDataKey (the envelope-encryption hot path).
    GenerateDataKey,
    /// GenerateDataKeyWithoutPlaintext.
    GenerateDataKeyWithoutPlaintext,
    /// Encrypt of a data-key-sized plaintext.
    Encrypt,
    /// Decrypt of a blob from the pre-made pool.
    Decrypt,
    /// ReEncrypt of a blob from the pool to the next key.
    ReEncrypt,
    /// GenerateRandom of a data key's length (authorization on no key).
    GenerateRandom,
    /// DescribeKey (resolution and authorization, no crypto).
    DescribeKey,
    /// Sign of a RAW message with an asymmetric key.
    Sign,
    /// Verify of a signature made beforehand.
    Verify,
    /// GetPublicKey.
    GetPublicKey,
    /// GenerateMac of a message with an HMAC key.
    GenerateMac,
    /// VerifyMac of a MAC made beforehand.
    VerifyMac,
    /// GenerateDataKeyPair under a symmetric key.
    GenerateDataKeyPair,
    /// GenerateDataKeyPairWithoutPlaintext under a symmetric key.
    GenerateDataKeyPairWithoutPlaintext,
}

impl BenchOp {
    /// Every operation, in a fixed order (the index is [`BenchOp::index`]).
    pub const ALL: [BenchOp; 14] = [
        BenchOp::GenerateDataKey,
        BenchOp::GenerateDataKeyWithoutPlaintext,
        BenchOp::Encrypt,
        BenchOp::Decrypt,
        BenchOp::ReEncrypt,
        BenchOp::GenerateRandom,
        BenchOp::DescribeKey,
        BenchOp::Sign,
        BenchOp::Verify,
        BenchOp::GetPublicKey,
        BenchOp::GenerateMac,
        BenchOp::VerifyMac,
        BenchOp::GenerateDataKeyPair,
        BenchOp::GenerateDataKeyPairWithoutPlaintext,
    ];

    /// The AWS operation name.
    pub fn name(self) -> &'static str {
        match self {
            BenchOp::GenerateDataKey => "GenerateDataKey",
            BenchOp::GenerateDataKeyWithoutPlaintext => "GenerateDataKeyWithoutPlaintext",
            BenchOp::Encrypt => "Encrypt",
            BenchOp::Decrypt => "Decrypt",
            BenchOp::ReEncrypt => "ReEncrypt",
            BenchOp::GenerateRandom => "GenerateRandom",
            BenchOp::DescribeKey => "DescribeKey",
            BenchOp::Sign => "Sign",
            BenchOp::Verify => "Verify",
            BenchOp::GetPublicKey => "GetPublicKey",
            BenchOp::GenerateMac => "GenerateMac",
            BenchOp::VerifyMac => "VerifyMac",
            BenchOp::GenerateDataKeyPair => "GenerateDataKeyPair",
            BenchOp::GenerateDataKeyPairWithoutPlaintext => "GenerateDataKeyPairWithoutPlaintext",
        }
    }

    /// Position in [`BenchOp::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Parses an operation name: AWS spelling, any case, `-` and `_`
    /// ignored.
    pub fn parse(name: &str) -> Option<Self> {
        let wanted: String = name
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .flat_map(char::to_lowercase)
            .collect();
        Self::ALL
            .into_iter()
            .find(|op| op.name().to_ascii_lowercase() == wanted)
    }

    /// Whether the operation needs ciphertexts made beforehand.
    pub fn needs_ciphertexts(self) -> bool {
        matches!(self, BenchOp::Decrypt | BenchOp::ReEncrypt)
    }
}

impl fmt::Display for BenchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an `--operation` value is not a mix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MixError {
    /// Nothing given, or an empty item (`A=1,,B=2`).
    #[error(
        "empty operation in \"{0}\": expected e.g. GenerateDataKey or GenerateDataKey=3,Decrypt=7"
    )]
    Empty(String),
    /// An operation name kms-bench does not know.
    #[error("unknown operation \"{name}\"; expected one of: {valid}")]
    UnknownOperation {
        /// The name as given.
        name: String,
        /// The accepted names.
        valid: String,
    },
    /// A weight that is not a whole number from 1 to [`MAX_WEIGHT`].
    #[error(
        "invalid weight \"{weight}\" for {op}: expected a whole number from 1 to {MAX_WEIGHT}"
    )]
    BadWeight {
        /// The operation.
        op: BenchOp,
        /// The weight as given.
        weight: String,
    },
    /// The same operation twice.
    #[error("operation {0} is given more than once")]
    Duplicate(BenchOp),
}

/// A weighted mix of operations, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix {
    entries: Vec<(BenchOp, u32)>,
}

impl Mix {
    /// A mix of one operation.
    pub fn single(op: BenchOp) -> Self {
        Self {
            entries: vec![(op, 1)],
        }
    }

    /// Parses `Op`, or `Op=W,Op=W,...`.
    pub fn parse(spec: &str) -> Result<Self, MixError> {
        let mut entries: Vec<(BenchOp, u32)> = Vec::new();
        for item in spec.split(',') {
            let item = item.trim();
            if item.is_empty() {
                return Err(MixError::Empty(spec.to_owned()));
            }
            let (name, weight) = match item.split_once('=') {
                Some((n, w)) => (n.trim(), Some(w.trim())),
                None => (item, None),
            };
            if name.is_empty() {
                return Err(MixError::Empty(spec.to_owned()));
            }
            let op = BenchOp::parse(name).ok_or_else(|| MixError::UnknownOperation {
                name: name.to_owned(),
                valid: BenchOp::ALL.map(BenchOp::name).join(", "),
            })?;
            let weight = match weight {
                None => 1,
                Some(w) => w
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=MAX_WEIGHT).contains(n))
                    .ok_or_else(|| MixError::BadWeight {
                        op,
                        weight: w.to_owned(),
                    })?,
            };
            if entries.iter().any(|(o, _)| *o == op) {
                return Err(MixError::Duplicate(op));
            }
            entries.push((op, weight));
        }
        Ok(Self { entries })
    }

    /// The operations and their weights, in the order given.
    pub fn entries(&self) -> &[(BenchOp, u32)] {
        &self.entries
    }

    /// Whether the mix contains `op`.
    pub fn contains(&self, op: BenchOp) -> bool {
        self.entries.iter().any(|(o, _)| *o == op)
    }

    /// Whether any operation needs a pool of ciphertexts.
    pub fn needs_ciphertexts(&self) -> bool {
        self.entries.iter().any(|(o, _)| o.needs_ciphertexts())
    }

    /// The share of requests `op` gets, 0.0 to 1.0.
    pub fn share(&self, op: BenchOp) -> f64 {
        let total: u64 = self.entries.iter().map(|(_, w)| u64::from(*w)).sum();
        let w = self
            .entries
            .iter()
            .find(|(o, _)| *o == op)
            .map_or(0, |(_, w)| u64::from(*w));
        if total == 0 {
            0.0
        } else {
            w as f64 / total as f64
        }
    }

    /// A fresh picker over this mix.
    pub fn picker(&self) -> Picker {
        Picker {
            ops: self
                .entries
                .iter()
                .map(|(op, w)| (*op, i64::from(*w)))
                .collect(),
            current: vec![0; self.entries.len()],
            total: self.entries.iter().map(|(_, w)| i64::from(*w)).sum(),
        }
    }
}

impl FromStr for Mix {
    type Err = MixError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The canonical spelling: `GenerateDataKey` for a single operation,
/// `GenerateDataKey=3,Decrypt=7` for a mix.
impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let [(op, _)] = self.entries.as_slice() {
            return f.write_str(op.name());
        }
        for (i, (op, w)) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{op}={w}")?;
        }
        Ok(())
    }
}

/// Smooth weighted round-robin over a [`Mix`] (nginx's algorithm): each
/// pick adds every weight to its running counter, takes the largest
/// counter, and subtracts the total from it.
#[derive(Debug, Clone)]
pub struct Picker {
    ops: Vec<(BenchOp, i64)>,
    current: Vec<i64>,
    total: i64,
}

impl Picker {
    /// The next operation.
    pub fn next_op(&mut self) -> BenchOp {
        let mut best = 0;
        for (i, (_, w)) in self.ops.iter().enumerate() {
            self.current[i] += w;
            if self.current[i] > self.current[best] {
                best = i;
            }
        }
        self.current[best] -= self.total;
        self.ops[best].0
    }

    /// Skips `n` picks (so that workers do not all start in step).
    pub fn skip(&mut self, n: usize) {
        let period = usize::try_from(self.total).unwrap_or(1).max(1);
        for _ in 0..n % period {
            self.next_op();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_operations_parse_in_any_spelling() {
        for s in [
            "GenerateDataKey",
            "generatedatakey",
            "generate-data-key",
            " GENERATE_DATA_KEY ",
        ] {
            assert_eq!(
                Mix::parse(s).unwrap(),
                Mix::single(BenchOp::GenerateDataKey),
                "{s}"
            );
        }
        assert_eq!(
            Mix::parse("GenerateDataKeyWithoutPlaintext").unwrap(),
            Mix::single(BenchOp::GenerateDataKeyWithoutPlaintext)
        );
        for op in BenchOp::ALL {
            assert_eq!(BenchOp::parse(op.name()), Some(op));
            assert_eq!(BenchOp::ALL[op.index()], op);
        }
    }

    #[test]
    fn weighted_mixes_parse_and_print_canonically() {
        let m = Mix::parse("GenerateDataKey=3, decrypt = 7").unwrap();
        assert_eq!(
            m.entries(),
            &[(BenchOp::GenerateDataKey, 3), (BenchOp::Decrypt, 7)]
        );
        assert_eq!(m.to_string(), "GenerateDataKey=3,Decrypt=7");
        assert!(m.needs_ciphertexts());
        assert!((m.share(BenchOp::Decrypt) - 0.7).abs() < 1e-12);
        assert_eq!(m.share(BenchOp::Encrypt), 0.0);
        let m = Mix::parse("Encrypt,ReEncrypt=2").unwrap();
        assert_eq!(m.to_string(), "Encrypt=1,ReEncrypt=2");
        assert_eq!(Mix::parse("Encrypt=1").unwrap().to_string(), "Encrypt");
        assert!(!Mix::parse("Encrypt").unwrap().needs_ciphertexts());
        assert_eq!(
            "Decrypt".parse::<Mix>().unwrap(),
            Mix::single(BenchOp::Decrypt)
        );
    }

    #[test]
    fn bad_mixes_are_clear_errors() {
        assert!(matches!(Mix::parse(""), Err(MixError::Empty(_))));
        assert!(matches!(
            Mix::parse("Encrypt,,Decrypt"),
            Err(MixError::Empty(_))
        ));
        assert!(matches!(Mix::parse("Encrypt,"), Err(MixError::Empty(_))));
        assert!(matches!(Mix::parse("=3"), Err(MixError::Empty(_))));
        let e = Mix::parse("Sing=1").unwrap_err();
        assert!(matches!(e, MixError::UnknownOperation { .. }));
        let msg = e.to_string();
        assert!(
            msg.contains("\"Sing\"")
                && msg.contains("GenerateDataKey, ")
                && msg.contains("VerifyMac"),
            "{msg}"
        );
        for w in ["0", "-1", "x", "1.5", "", "1000001"] {
            let e = Mix::parse(&format!("Encrypt={w}")).unwrap_err();
            assert!(matches!(e, MixError::BadWeight { .. }), "{w}: {e}");
            assert!(e.to_string().contains("Encrypt"), "{e}");
        }
        assert_eq!(
            Mix::parse("Decrypt=1,decrypt=2").unwrap_err(),
            MixError::Duplicate(BenchOp::Decrypt)
        );
    }

    #[test]
    fn picker_gives_exact_proportions_spread_out() {
        let m = Mix::parse("GenerateDataKey=3,Decrypt=7").unwrap();
        let mut p = m.picker();
        let picks: Vec<BenchOp> = (0..1000).map(|_| p.next_op()).collect();
        let gdk = picks
            .iter()
            .filter(|o| **o == BenchOp::GenerateDataKey)
            .count();
        assert_eq!(gdk, 300);
        // Exact over every period of sum(weights) picks.
        for window in picks.chunks(10) {
            assert_eq!(
                window
                    .iter()
                    .filter(|o| **o == BenchOp::GenerateDataKey)
                    .count(),
                3
            );
        }
        // Smooth: never two GenerateDataKey (the lighter one) in a row.
        assert!(picks
            .windows(2)
            .all(|w| !(w[0] == BenchOp::GenerateDataKey && w[1] == BenchOp::GenerateDataKey)));
        let mut single = Mix::single(BenchOp::Encrypt).picker();
        assert!((0..5).all(|_| single.next_op() == BenchOp::Encrypt));
    }

    #[test]
    fn skipping_offsets_the_sequence() {
        let m = Mix::parse("Encrypt=1,Decrypt=1").unwrap();
        let mut a = m.picker();
        let mut b = m.picker();
        b.skip(1);
        assert_ne!(a.next_op(), b.next_op());
        let mut c = m.picker();
        c.skip(2);
        assert_eq!(m.picker().next_op(), c.next_op());
    }
}
