//! The ciphertext blob format (see docs/ciphertext-format.md) and the
//! canonical form of an encryption context.
//!
//! Version 3, what kmsd makes (version 2 has the same layout):
//!
//! ```text
//! offset  size  field
//! 0       1     format version (3)
//! 1       1     key id kind: 0 = UUID, 1 = multi-Region (mrk-)
//! 2       16    key id
//! 18      4     key material version, big-endian
//! 22      32    salt (random per blob)
//! 54      12    AES-GCM nonce
//! 66      n     AES-GCM ciphertext
//! 66+n    16    AES-GCM tag
//! ```
//!
//! The AES-256-GCM key of a v3 blob is derived from the material and the
//! salt (HKDF-SHA256-Expand with the material as the PRK, through
//! `MaterialHandle::seal_into`), so each key seals one blob and no
//! long-lived key approaches GCM's limit of 2^32 random nonces. Version 2
//! derived it with HKDF's extract step too (the salt as HKDF salt), which
//! cost several times more per blob; version 1 had no salt and sealed
//! directly under the material. Both are still opened, never made. HSM
//! material seals v3 blobs (v2 before) directly under the material, the
//! salt only in the additional data: the derivation is the local
//! backend's.
//!
//! The additional authenticated data is the header (54 bytes in v2 and
//! v3, 22 in v1) followed by the canonical encryption context, so neither
//! the format, the key id, the version, the salt nor any context pair can
//! be changed without the open failing (a v3 blob relabelled v2 is opened
//! under another key and with other additional data).

use std::collections::HashMap;

use crate::backend::{BackendError, MaterialHandle, RemoteAead};
use crate::crypto::{NONCE_LEN, SALT_LEN, TAG_LEN};
use crate::error::{KmsError, KmsResult};
use crate::model::KeyId;
use crate::secret::Plaintext;

/// The first format: sealed directly under the material. Opened, no longer
/// made.
pub const FORMAT_V1: u8 = 1;
/// The second format: sealed under a key derived per blob with HKDF's
/// extract and expand. Opened, no longer made.
pub const FORMAT_V2: u8 = 2;
/// The current format: v2's layout, the per-blob key derived by HKDF's
/// expand alone (`crypto::BlobKeys`).
pub const FORMAT_V3: u8 = 3;
/// Length of the fields all formats share (version, key id kind, key id,
/// material version): all of a v1 header.
pub const HEADER_LEN_V1: usize = 22;
/// Length of the v2 and v3 header: the shared fields, then the salt.
pub const HEADER_LEN: usize = HEADER_LEN_V1 + SALT_LEN;
/// Smallest v1 blob (empty plaintext).
pub const MIN_BLOB_LEN_V1: usize = HEADER_LEN_V1 + NONCE_LEN + TAG_LEN;
/// Smallest blob of format v2 or v3 (empty plaintext). A blob kmsd makes is
/// this plus the plaintext's length.
pub const MIN_BLOB_LEN: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;
/// AWS's maximum ciphertext blob size.
pub const MAX_BLOB_LEN: usize = 6144;

/// What the header of a blob says: which key and which material version
/// sealed it. Read without any secret, so Decrypt can find the material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobHeader {
    /// The key that sealed the blob.
    pub key_id: KeyId,
    /// The material version that sealed it.
    pub version: u32,
}

impl BlobHeader {
    /// The fields both formats share, with format byte `format`.
    fn encode(&self, format: u8) -> [u8; HEADER_LEN_V1] {
        let mut h = [0u8; HEADER_LEN_V1];
        h[0] = format;
        h[1..18].copy_from_slice(&self.key_id.storage_key());
        h[18..22].copy_from_slice(&self.version.to_be_bytes());
        h
    }

    /// Parses the header of `blob` (any format). Any malformation is
    /// InvalidCiphertextException, as in AWS.
    pub fn parse(blob: &[u8]) -> KmsResult<Self> {
        let min = match blob.first() {
            Some(&FORMAT_V3 | &FORMAT_V2) => MIN_BLOB_LEN,
            Some(&FORMAT_V1) => MIN_BLOB_LEN_V1,
            _ => return Err(invalid()),
        };
        if blob.len() < min || blob.len() > MAX_BLOB_LEN {
            return Err(invalid());
        }
        let key_id = KeyId::from_storage_key(&blob[1..18]).ok_or_else(invalid)?;
        let mut v = [0u8; 4];
        v.copy_from_slice(&blob[18..22]);
        Ok(Self {
            key_id,
            version: u32::from_be_bytes(v),
        })
    }
}

fn invalid() -> KmsError {
    KmsError::InvalidCiphertext(
        "The ciphertext is invalid, or the encryption context does not match.".into(),
    )
}

/// An encryption context in canonical form: pairs sorted by key, each
/// string length-prefixed, so two maps encode the same iff they are equal.
pub struct CanonicalContext(Vec<u8>);

/// kmsd's limit on the encoded size of an encryption context.
pub const MAX_CONTEXT_BYTES: usize = 8192;

/// Encoded bytes of one pair besides its strings: two u16 lengths.
const PAIR_OVERHEAD: usize = 4;
/// Encoded bytes before the pairs: the u16 count.
const COUNT_LEN: usize = 2;

impl CanonicalContext {
    /// Validates and encodes `ctx`.
    ///
    /// Encoding: u16 BE pair count, then per pair (in key order) u16 BE key
    /// length, key bytes, u16 BE value length, value bytes.
    ///
    /// The size is checked first, from the pair count and then the string
    /// lengths, stopping at the first pair over the limit; only a context
    /// within it is sorted and encoded. So an oversized context costs at
    /// most one pass over its lengths, nothing per pair.
    pub fn new(ctx: &HashMap<String, String>) -> KmsResult<Self> {
        let too_large = || {
            KmsError::Validation(format!(
                "Encryption context is too large: at most {MAX_CONTEXT_BYTES} bytes of keys and values"
            ))
        };
        // Every pair takes at least its two length prefixes.
        if ctx.len() > (MAX_CONTEXT_BYTES - COUNT_LEN) / PAIR_OVERHEAD {
            return Err(too_large());
        }
        let mut size = COUNT_LEN;
        for (k, v) in ctx {
            // Each term is at most MAX_CONTEXT_BYTES past a sum that is at
            // most MAX_CONTEXT_BYTES: no overflow.
            size = size.saturating_add(PAIR_OVERHEAD + k.len().min(MAX_CONTEXT_BYTES));
            size = size.saturating_add(v.len().min(MAX_CONTEXT_BYTES));
            if size > MAX_CONTEXT_BYTES {
                return Err(too_large());
            }
        }
        if ctx.contains_key("") {
            return Err(KmsError::Validation(
                "Encryption context keys must not be empty".into(),
            ));
        }
        let mut sorted: Vec<(&str, &str)> =
            ctx.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        // Keys of a map are distinct, so an unstable sort is deterministic.
        sorted.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut out = Vec::with_capacity(size);
        // Both fit in u16: the count is at most 2047 and every string at
        // most MAX_CONTEXT_BYTES (checked above).
        out.extend_from_slice(&(sorted.len() as u16).to_be_bytes());
        for (k, v) in sorted {
            for s in [k, v] {
                out.extend_from_slice(&(s.len() as u16).to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
        }
        Ok(Self(out))
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// `header ‖ canonical context`, the additional data of a blob.
fn aad(header: &[u8], ctx: &CanonicalContext) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + ctx.as_bytes().len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(ctx.as_bytes());
    aad
}

/// Seals `plaintext` with `material` (version `header.version` of key
/// `header.key_id`) into a v3 blob under a fresh random salt.
pub fn seal(
    header: BlobHeader,
    material: &dyn MaterialHandle,
    ctx: &CanonicalContext,
    plaintext: &[u8],
) -> KmsResult<Vec<u8>> {
    let mut salt = [0u8; SALT_LEN];
    crate::crypto::fill_random(&mut salt).map_err(KmsError::internal)?;
    let mut blob = Vec::with_capacity(MIN_BLOB_LEN + plaintext.len());
    blob.extend_from_slice(&header.encode(FORMAT_V3));
    blob.extend_from_slice(&salt);
    let aad = aad(&blob, ctx);
    material
        .seal_into(&salt, &aad, plaintext, &mut blob)
        .map_err(KmsError::internal)?;
    Ok(blob)
}

/// Seals `plaintext` into a v3 blob through material held outside this
/// process (an HSM): the same layout as [`seal`], the salt random and bound
/// in the additional data, the AEAD done remotely directly under the
/// material. An unreachable HSM is an error of its own (`unavailable`),
/// not a crypto failure.
pub async fn seal_remote(
    header: BlobHeader,
    material: &dyn RemoteAead,
    ctx: &CanonicalContext,
    plaintext: &[u8],
    unavailable: fn(BackendError) -> KmsError,
) -> KmsResult<Vec<u8>> {
    let mut salt = [0u8; SALT_LEN];
    crate::crypto::fill_random(&mut salt).map_err(KmsError::internal)?;
    let mut blob = Vec::with_capacity(MIN_BLOB_LEN + plaintext.len());
    blob.extend_from_slice(&header.encode(FORMAT_V3));
    blob.extend_from_slice(&salt);
    let aad = aad(&blob, ctx);
    let sealed = material.seal(&aad, plaintext).await.map_err(|e| match e {
        e @ BackendError::Unavailable(_) => unavailable(e),
        e => KmsError::internal(e),
    })?;
    if sealed.len() != NONCE_LEN + plaintext.len() + TAG_LEN {
        return Err(KmsError::internal(
            "the HSM returned a malformed ciphertext",
        ));
    }
    blob.extend_from_slice(&sealed);
    Ok(blob)
}

/// Opens a v3 or v2 blob sealed by [`seal_remote`] (HSM material exists
/// only in those; both seal directly under the material with the header in
/// the additional data). Any failure but an unreachable HSM is
/// InvalidCiphertextException.
pub async fn open_remote(
    material: &dyn RemoteAead,
    ctx: &CanonicalContext,
    blob: &[u8],
    unavailable: fn(BackendError) -> KmsError,
) -> KmsResult<Plaintext> {
    match blob.first() {
        Some(&FORMAT_V3 | &FORMAT_V2) if blob.len() >= MIN_BLOB_LEN => {
            let (h, sealed) = blob.split_at(HEADER_LEN);
            material
                .open(&aad(h, ctx), sealed)
                .await
                .map_err(|e| match e {
                    e @ BackendError::Unavailable(_) => unavailable(e),
                    _ => invalid(),
                })
        }
        _ => Err(invalid()),
    }
}

/// Opens a blob (any format) whose header has been parsed and whose
/// material was found.
pub fn open(
    material: &dyn MaterialHandle,
    ctx: &CanonicalContext,
    blob: &[u8],
) -> KmsResult<Plaintext> {
    // Whatever the backend's reason, the client learns only that the blob
    // is invalid (as in AWS).
    match blob.first() {
        Some(&format @ (FORMAT_V3 | FORMAT_V2)) if blob.len() >= MIN_BLOB_LEN => {
            let (h, sealed) = blob.split_at(HEADER_LEN);
            let mut salt = [0u8; SALT_LEN];
            salt.copy_from_slice(&h[HEADER_LEN_V1..]);
            let aad = aad(h, ctx);
            let opened = if format == FORMAT_V3 {
                material.open(&salt, &aad, sealed)
            } else {
                material.open_v2(&salt, &aad, sealed)
            };
            opened.map_err(|_| invalid())
        }
        Some(&FORMAT_V1) if blob.len() >= MIN_BLOB_LEN_V1 => {
            let (h, sealed) = blob.split_at(HEADER_LEN_V1);
            material
                .open_v1(&aad(h, ctx), sealed)
                .map_err(|_| invalid())
        }
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{self, SALT_LEN};

    fn ctx(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const MATERIAL: [u8; 32] = [3u8; 32];

    /// Fixed AES-256 material behind a handle (the format does not depend
    /// on which backend seals; any handle does).
    fn material() -> std::sync::Arc<dyn MaterialHandle> {
        crate::backend::local::handle_from_material(
            crate::model::KeySpec::SymmetricDefault,
            crate::secret::KeyMaterial::from_slice(&MATERIAL).expect("32 bytes"),
        )
    }

    /// A v1 blob as kmsd made them before per-blob keys: the 22-byte
    /// header, then AES-256-GCM directly under the material with AAD =
    /// header || canonical context.
    fn v1_blob(header: BlobHeader, c: &CanonicalContext, pt: &[u8]) -> Vec<u8> {
        let mut b = header.encode(FORMAT_V1).to_vec();
        let aad = aad(&b, c);
        crypto::seal_into(&MATERIAL, &aad, pt, &mut b).expect("seal");
        b
    }

    fn salt_of(blob: &[u8]) -> [u8; SALT_LEN] {
        let mut s = [0u8; SALT_LEN];
        s.copy_from_slice(&blob[HEADER_LEN_V1..HEADER_LEN]);
        s
    }

    #[test]
    fn round_trip_and_header() {
        let header = BlobHeader {
            key_id: KeyId::new_random(),
            version: 7,
        };
        let c = CanonicalContext::new(&ctx(&[("a", "1"), ("b", "2")])).expect("ctx");
        let blob = seal(header, &*material(), &c, b"data key").expect("seal");
        assert_eq!(blob.len(), MIN_BLOB_LEN + 8);
        assert_eq!(BlobHeader::parse(&blob).expect("header"), header);
        let pt = open(&*material(), &c, &blob).expect("open");
        assert_eq!(pt.expose_secret(), b"data key");
    }

    /// A v2 blob as kmsd made them before format v3: the v3 layout with
    /// format byte 2, AES-256-GCM under HKDF-SHA256(salt, material,
    /// "kmsd/blob-key/v2") (extract and expand, by ring directly).
    fn v2_blob(header: BlobHeader, c: &CanonicalContext, pt: &[u8]) -> Vec<u8> {
        let mut salt = [0u8; SALT_LEN];
        crypto::fill_random(&mut salt).expect("random");
        let prk = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, &salt).extract(&MATERIAL);
        let mut k = [0u8; 32];
        prk.expand(&[b"kmsd/blob-key/v2"], ring::hkdf::HKDF_SHA256)
            .expect("expand")
            .fill(&mut k)
            .expect("fill");
        let mut b = header.encode(FORMAT_V2).to_vec();
        b.extend_from_slice(&salt);
        let aad = aad(&b, c);
        crypto::seal_into(&k, &aad, pt, &mut b).expect("seal");
        b
    }

    #[test]
    fn blob_is_the_v3_layout_under_a_key_expanded_per_blob() {
        // Byte for byte the format of docs/ciphertext-format.md: the
        // header with a salt, then AES-256-GCM under
        // HKDF-SHA256-Expand(PRK = material, "kmsd/blob-key/v3" || salt)
        // with AAD = header || context.
        let header = BlobHeader {
            key_id: KeyId::new_random(),
            version: 0x0102_0304,
        };
        let c = CanonicalContext::new(&ctx(&[("k", "v")])).expect("ctx");
        let blob = seal(header, &*material(), &c, b"pt").expect("seal");
        assert_eq!(blob[0], FORMAT_V3);
        assert_eq!(blob[..HEADER_LEN_V1], header.encode(FORMAT_V3));
        assert_eq!(&blob[18..22], &[1, 2, 3, 4]);
        let aad = aad(&blob[..HEADER_LEN], &c);
        // An independent HKDF-Expand (ring's, the material as its PRK)
        // gives the key that opens it.
        let salt = salt_of(&blob);
        let prk = ring::hkdf::Prk::new_less_safe(ring::hkdf::HKDF_SHA256, &MATERIAL);
        let mut k = [0u8; 32];
        prk.expand(&[b"kmsd/blob-key/v3", &salt], ring::hkdf::HKDF_SHA256)
            .expect("expand")
            .fill(&mut k)
            .expect("fill");
        let keys = crypto::BlobKeys::new(&MATERIAL).expect("keys");
        assert_eq!(keys.derive(&salt).expose_secret(), &k);
        let pt = crypto::open(&k, &aad, &blob[HEADER_LEN..]).expect("open");
        assert_eq!(pt.expose_secret(), b"pt");
        // Not under the material itself (v1), nor under v2's derivation.
        assert!(crypto::open(&MATERIAL, &aad, &blob[HEADER_LEN..]).is_err());
        let v2_key = crypto::derive_blob_key_v2(&MATERIAL, &salt).expect("derive");
        assert!(crypto::open(v2_key.expose_secret(), &aad, &blob[HEADER_LEN..]).is_err());
    }

    #[test]
    fn v2_blobs_still_open_and_cannot_be_confused_with_v3() {
        let header = BlobHeader {
            key_id: KeyId::new_random(),
            version: 2,
        };
        let c = CanonicalContext::new(&ctx(&[("purpose", "x")])).expect("ctx");
        let v2 = v2_blob(header, &c, b"older data key");
        assert_eq!(v2.len(), MIN_BLOB_LEN + 14);
        assert_eq!(BlobHeader::parse(&v2).expect("header"), header);
        assert_eq!(
            open(&*material(), &c, &v2).expect("open").expose_secret(),
            b"older data key"
        );
        // The v2 derivation kmsd keeps for opening is ring's HKDF.
        let salt = salt_of(&v2);
        let aad = aad(&v2[..HEADER_LEN], &c);
        let k = crypto::derive_blob_key_v2(&MATERIAL, &salt).expect("derive");
        assert!(crypto::open(k.expose_secret(), &aad, &v2[HEADER_LEN..]).is_ok());
        // Another context, or any flipped byte, fails.
        let other = CanonicalContext::new(&ctx(&[("purpose", "y")])).expect("ctx");
        assert!(matches!(
            open(&*material(), &other, &v2),
            Err(KmsError::InvalidCiphertext(_))
        ));
        for i in 0..v2.len() {
            let mut t = v2.clone();
            t[i] ^= 0x01;
            assert!(open(&*material(), &c, &t).is_err(), "byte {i}");
        }
        // A v2 blob relabelled v3, and a v3 blob relabelled v2, open as
        // neither: the format byte picks the derivation and is in the AAD.
        let mut up = v2.clone();
        up[0] = FORMAT_V3;
        assert!(matches!(
            open(&*material(), &c, &up),
            Err(KmsError::InvalidCiphertext(_))
        ));
        let v3 = seal(header, &*material(), &c, b"new data key").expect("seal");
        let mut down = v3.clone();
        down[0] = FORMAT_V2;
        assert!(matches!(
            open(&*material(), &c, &down),
            Err(KmsError::InvalidCiphertext(_))
        ));
        // An unknown format byte is refused before any key is looked up.
        let mut v4 = v3.clone();
        v4[0] = 4;
        assert!(BlobHeader::parse(&v4).is_err());
        assert!(open(&*material(), &c, &v4).is_err());
    }

    #[test]
    fn item_08_two_blobs_of_one_plaintext_differ_in_salt_and_key() {
        let header = BlobHeader {
            key_id: KeyId::new_random(),
            version: 1,
        };
        let c = CanonicalContext::new(&ctx(&[])).expect("ctx");
        let a = seal(header, &*material(), &c, b"same").expect("seal");
        let b = seal(header, &*material(), &c, b"same").expect("seal");
        assert_eq!(a[..HEADER_LEN_V1], b[..HEADER_LEN_V1]);
        assert_ne!(salt_of(&a), salt_of(&b));
        let keys = crypto::BlobKeys::new(&MATERIAL).expect("keys");
        let (ka, kb) = (keys.derive(&salt_of(&a)), keys.derive(&salt_of(&b)));
        assert_ne!(ka.expose_secret(), kb.expose_secret());
        assert_ne!(ka.expose_secret(), &MATERIAL);
        // Each key opens its own blob only.
        let aad_b = aad(&b[..HEADER_LEN], &c);
        assert!(crypto::open(ka.expose_secret(), &aad_b, &b[HEADER_LEN..]).is_err());
        assert!(crypto::open(kb.expose_secret(), &aad_b, &b[HEADER_LEN..]).is_ok());
        // Swapping salts between the two blobs opens neither.
        let mut swapped = b.clone();
        swapped[HEADER_LEN_V1..HEADER_LEN].copy_from_slice(&salt_of(&a));
        assert!(open(&*material(), &c, &swapped).is_err());
    }

    #[test]
    fn item_08_v1_blobs_still_open_and_cannot_be_confused_with_v2_or_v3() {
        let header = BlobHeader {
            key_id: KeyId::new_random(),
            version: 3,
        };
        let c = CanonicalContext::new(&ctx(&[("purpose", "x")])).expect("ctx");
        let v1 = v1_blob(header, &c, b"old data key");
        assert_eq!(v1.len(), MIN_BLOB_LEN_V1 + 12);
        assert_eq!(BlobHeader::parse(&v1).expect("header"), header);
        assert_eq!(
            open(&*material(), &c, &v1).expect("open").expose_secret(),
            b"old data key"
        );
        // Another context, or any flipped byte, fails as before.
        let other = CanonicalContext::new(&ctx(&[("purpose", "y")])).expect("ctx");
        assert!(matches!(
            open(&*material(), &other, &v1),
            Err(KmsError::InvalidCiphertext(_))
        ));
        for i in 0..v1.len() {
            let mut t = v1.clone();
            t[i] ^= 0x01;
            assert!(open(&*material(), &c, &t).is_err(), "byte {i}");
        }
        // A v1 blob relabelled v2 or v3 (and the reverse) opens as neither.
        for format in [FORMAT_V2, FORMAT_V3] {
            let mut up = v1.clone();
            up[0] = format;
            assert!(open(&*material(), &c, &up).is_err());
        }
        let v3 = seal(header, &*material(), &c, b"new data key").expect("seal");
        let mut down = v3.clone();
        down[0] = FORMAT_V1;
        assert!(open(&*material(), &c, &down).is_err());
        // Nor does a v3 blob with its salt cut out (a v1 layout of its parts).
        let mut stripped = v3[..HEADER_LEN_V1].to_vec();
        stripped[0] = FORMAT_V1;
        stripped.extend_from_slice(&v3[HEADER_LEN..]);
        assert!(matches!(
            open(&*material(), &c, &stripped),
            Err(KmsError::InvalidCiphertext(_))
        ));
    }

    #[test]
    fn context_is_canonical_and_unambiguous() {
        let a = CanonicalContext::new(&ctx(&[("a", "1"), ("b", "2")])).expect("ctx");
        let b = CanonicalContext::new(&ctx(&[("b", "2"), ("a", "1")])).expect("ctx");
        assert_eq!(a.as_bytes(), b.as_bytes());
        assert_eq!(a.as_bytes(), b"\0\x02\0\x01a\0\x011\0\x01b\0\x012");
        let c = CanonicalContext::new(&ctx(&[("ab", "")])).expect("ctx");
        let d = CanonicalContext::new(&ctx(&[("a", "b")])).expect("ctx");
        assert_ne!(c.as_bytes(), d.as_bytes());
        assert!(CanonicalContext::new(&ctx(&[("", "x")])).is_err());
        let big = "v".repeat(MAX_CONTEXT_BYTES);
        assert!(CanonicalContext::new(&ctx(&[("k", &big)])).is_err());
        assert_eq!(
            CanonicalContext::new(&ctx(&[])).expect("ctx").as_bytes(),
            b"\0\0"
        );
        // Byte order of keys, not char order of some locale.
        let e = CanonicalContext::new(&ctx(&[("b", ""), ("B", ""), ("é", "")])).expect("ctx");
        assert_eq!(
            e.as_bytes(),
            "\0\x03\0\x01B\0\0\0\x01b\0\0\0\x02é\0\0".as_bytes()
        );
    }

    #[test]
    fn item_18_context_size_is_checked_before_any_per_pair_work() {
        let too_large = |r: KmsResult<CanonicalContext>| matches!(r, Err(KmsError::Validation(m)) if m.contains("too large"));
        // Exactly at the limit is accepted, one byte over is not:
        // 2 (count) + 4 (lengths) + 1 (key) + value.
        let at = "v".repeat(MAX_CONTEXT_BYTES - 7);
        let c = CanonicalContext::new(&ctx(&[("k", &at)])).expect("at the limit");
        assert_eq!(c.as_bytes().len(), MAX_CONTEXT_BYTES);
        let over = "v".repeat(MAX_CONTEXT_BYTES - 6);
        assert!(too_large(CanonicalContext::new(&ctx(&[("k", &over)]))));
        // Many small pairs, each fine alone.
        let many: HashMap<String, String> = (0..100_000)
            .map(|i| (format!("k{i}"), String::new()))
            .collect();
        assert!(too_large(CanonicalContext::new(&many)));
        // One string longer than a u16 length prefix can say (the old code
        // clamped its prefix) is refused on size, not encoded.
        let huge = "k".repeat(70_000);
        assert!(too_large(CanonicalContext::new(&ctx(&[(&huge, "")]))));
        // The size is decided before any check of single pairs (which the
        // old code made in sorted order while encoding): an oversized
        // context whose smallest key is empty is refused for its size.
        let mut with_empty = many.clone();
        with_empty.insert(String::new(), "x".into());
        assert!(too_large(CanonicalContext::new(&with_empty)));
        // Within the limit, the empty key is still refused.
        assert!(matches!(
            CanonicalContext::new(&ctx(&[("", "x"), ("a", "b")])),
            Err(KmsError::Validation(m)) if m.contains("must not be empty")
        ));
    }

    #[test]
    fn any_change_is_invalid_ciphertext() {
        let header = BlobHeader {
            key_id: KeyId::new_random(),
            version: 1,
        };
        let c = CanonicalContext::new(&ctx(&[("purpose", "x")])).expect("ctx");
        let blob = seal(header, &*material(), &c, b"k").expect("seal");
        let other = CanonicalContext::new(&ctx(&[("purpose", "y")])).expect("ctx");
        assert!(matches!(
            open(&*material(), &other, &blob),
            Err(KmsError::InvalidCiphertext(_))
        ));
        for i in 0..blob.len() {
            for bit in [0x01, 0x80] {
                let mut t = blob.clone();
                t[i] ^= bit;
                assert!(
                    matches!(
                        open(&*material(), &c, &t),
                        Err(KmsError::InvalidCiphertext(_))
                    ),
                    "byte {i} bit {bit:#x}"
                );
            }
        }
        // Truncated or extended by a byte.
        assert!(open(&*material(), &c, &blob[..blob.len() - 1]).is_err());
        let mut longer = blob.clone();
        longer.push(0);
        assert!(open(&*material(), &c, &longer).is_err());
        assert!(open(&*material(), &c, &blob[..MIN_BLOB_LEN - 1]).is_err());
        assert!(open(&*material(), &c, &[]).is_err());
    }

    #[test]
    fn malformed_headers_are_rejected() {
        assert!(BlobHeader::parse(&[]).is_err());
        assert!(BlobHeader::parse(&[1u8; MIN_BLOB_LEN_V1 - 1]).is_err());
        let mut b = vec![0u8; MIN_BLOB_LEN];
        for format in [0u8, 4, 0x81, 0xff] {
            b[0] = format;
            assert!(BlobHeader::parse(&b).is_err(), "format {format}");
        }
        b[0] = FORMAT_V1;
        assert!(BlobHeader::parse(&b).is_ok());
        b[1] = 9;
        assert!(BlobHeader::parse(&b).is_err());
        // A v2 or v3 header must have room for its salt, nonce and tag.
        for format in [FORMAT_V2, FORMAT_V3] {
            let mut short = vec![0u8; MIN_BLOB_LEN - 1];
            short[0] = format;
            assert!(BlobHeader::parse(&short).is_err());
            short.push(0);
            assert!(BlobHeader::parse(&short).is_ok());
        }
        assert!(BlobHeader::parse(&vec![1u8; MAX_BLOB_LEN + 1]).is_err());
    }
}
