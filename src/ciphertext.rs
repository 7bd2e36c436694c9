//! The ciphertext blob format (see docs/ciphertext-format.md) and the
//! canonical form of an encryption context.
//!
//! ```text
//! offset  size  field
//! 0       1     format version (1)
//! 1       1     key id kind: 0 = UUID, 1 = multi-Region (mrk-)
//! 2       16    key id
//! 18      4     key material version, big-endian
//! 22      12    AES-GCM nonce
//! 34      n     AES-GCM ciphertext
//! 34+n    16    AES-GCM tag
//! ```
//!
//! The additional authenticated data is the 22-byte header followed by the
//! canonical encryption context, so neither the key id, the version nor any
//! context pair can be changed without the open failing.

use std::collections::{BTreeMap, HashMap};

use crate::backend::MaterialHandle;
use crate::crypto::{NONCE_LEN, TAG_LEN};
use crate::error::{KmsError, KmsResult};
use crate::model::KeyId;
use crate::secret::Plaintext;

/// The only format version so far.
pub const FORMAT_V1: u8 = 1;
/// Length of the header (version, key id kind, key id, material version).
pub const HEADER_LEN: usize = 22;
/// Smallest possible blob (empty plaintext).
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
    fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0] = FORMAT_V1;
        h[1..18].copy_from_slice(&self.key_id.storage_key());
        h[18..22].copy_from_slice(&self.version.to_be_bytes());
        h
    }

    /// Parses the header of `blob`. Any malformation is
    /// InvalidCiphertextException, as in AWS.
    pub fn parse(blob: &[u8]) -> KmsResult<Self> {
        if blob.len() < MIN_BLOB_LEN || blob.len() > MAX_BLOB_LEN || blob[0] != FORMAT_V1 {
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

impl CanonicalContext {
    /// Validates and encodes `ctx`.
    ///
    /// Encoding: u16 BE pair count, then per pair (in key order) u16 BE key
    /// length, key bytes, u16 BE value length, value bytes.
    pub fn new(ctx: &HashMap<String, String>) -> KmsResult<Self> {
        let sorted: BTreeMap<&str, &str> =
            ctx.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut out = Vec::with_capacity(2 + ctx.len() * 16);
        out.extend_from_slice(&(sorted.len() as u16).to_be_bytes());
        for (k, v) in sorted {
            if k.is_empty() {
                return Err(KmsError::Validation(
                    "Encryption context keys must not be empty".into(),
                ));
            }
            for s in [k, v] {
                out.extend_from_slice(&(s.len().min(u16::MAX as usize) as u16).to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            if out.len() > MAX_CONTEXT_BYTES {
                return Err(KmsError::Validation(format!(
                    "Encryption context is too large: at most {MAX_CONTEXT_BYTES} bytes of keys and values"
                )));
            }
        }
        Ok(Self(out))
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Seals `plaintext` with `material` (version `header.version` of key
/// `header.key_id`) into a blob.
pub fn seal(
    header: BlobHeader,
    material: &dyn MaterialHandle,
    ctx: &CanonicalContext,
    plaintext: &[u8],
) -> KmsResult<Vec<u8>> {
    let h = header.encode();
    let mut aad = Vec::with_capacity(HEADER_LEN + ctx.as_bytes().len());
    aad.extend_from_slice(&h);
    aad.extend_from_slice(ctx.as_bytes());
    let mut blob = Vec::with_capacity(MIN_BLOB_LEN + plaintext.len());
    blob.extend_from_slice(&h);
    material
        .seal_into(&aad, plaintext, &mut blob)
        .map_err(KmsError::internal)?;
    Ok(blob)
}

/// Opens a blob whose header has been parsed and whose material was found.
pub fn open(
    material: &dyn MaterialHandle,
    ctx: &CanonicalContext,
    blob: &[u8],
) -> KmsResult<Plaintext> {
    if blob.len() < MIN_BLOB_LEN {
        return Err(invalid());
    }
    let (h, sealed) = blob.split_at(HEADER_LEN);
    let mut aad = Vec::with_capacity(HEADER_LEN + ctx.as_bytes().len());
    aad.extend_from_slice(h);
    aad.extend_from_slice(ctx.as_bytes());
    // Whatever the backend's reason, the client learns only that the blob
    // is invalid (as in AWS).
    material.open(&aad, sealed).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Fixed AES-256 material behind a handle (the format does not depend
    /// on which backend seals; any handle does).
    fn material() -> std::sync::Arc<dyn MaterialHandle> {
        crate::backend::local::handle_from_material(
            crate::model::KeySpec::SymmetricDefault,
            crate::secret::KeyMaterial::from_slice(&[3u8; 32]).expect("32 bytes"),
        )
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

    #[test]
    fn blob_is_the_v1_layout_whatever_seals_it() {
        // Byte for byte the format of docs/ciphertext-format.md: the header,
        // then AES-256-GCM under the raw material with AAD = header ||
        // canonical context, exactly as before material moved behind
        // handles.
        let header = BlobHeader {
            key_id: KeyId::new_random(),
            version: 0x0102_0304,
        };
        let c = CanonicalContext::new(&ctx(&[("k", "v")])).expect("ctx");
        let blob = seal(header, &*material(), &c, b"pt").expect("seal");
        assert_eq!(blob[..HEADER_LEN], header.encode());
        assert_eq!(&blob[18..22], &[1, 2, 3, 4]);
        let mut aad = header.encode().to_vec();
        aad.extend_from_slice(c.as_bytes());
        let pt = crate::crypto::open(&[3u8; 32], &aad, &blob[HEADER_LEN..]).expect("open");
        assert_eq!(pt.expose_secret(), b"pt");
        let resealed = {
            let mut b = header.encode().to_vec();
            crate::crypto::seal_into(&[3u8; 32], &aad, b"pt", &mut b).expect("seal");
            b
        };
        assert_eq!(
            open(&*material(), &c, &resealed)
                .expect("open")
                .expose_secret(),
            b"pt"
        );
    }

    #[test]
    fn context_is_canonical_and_unambiguous() {
        let a = CanonicalContext::new(&ctx(&[("a", "1"), ("b", "2")])).expect("ctx");
        let b = CanonicalContext::new(&ctx(&[("b", "2"), ("a", "1")])).expect("ctx");
        assert_eq!(a.as_bytes(), b.as_bytes());
        let c = CanonicalContext::new(&ctx(&[("ab", "")])).expect("ctx");
        let d = CanonicalContext::new(&ctx(&[("a", "b")])).expect("ctx");
        assert_ne!(c.as_bytes(), d.as_bytes());
        assert!(CanonicalContext::new(&ctx(&[("", "x")])).is_err());
        let big = "v".repeat(MAX_CONTEXT_BYTES);
        assert!(CanonicalContext::new(&ctx(&[("k", &big)])).is_err());
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
            let mut t = blob.clone();
            t[i] ^= 0x80;
            assert!(open(&*material(), &c, &t).is_err(), "byte {i}");
        }
    }

    #[test]
    fn malformed_headers_are_rejected() {
        assert!(BlobHeader::parse(&[]).is_err());
        assert!(BlobHeader::parse(&[1u8; MIN_BLOB_LEN - 1]).is_err());
        let mut b = vec![0u8; MIN_BLOB_LEN];
        b[0] = 2;
        assert!(BlobHeader::parse(&b).is_err());
        b[0] = 1;
        b[1] = 9;
        assert!(BlobHeader::parse(&b).is_err());
        assert!(BlobHeader::parse(&vec![1u8; MAX_BLOB_LEN + 1]).is_err());
    }
}
