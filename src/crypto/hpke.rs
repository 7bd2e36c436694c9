//! HPKE (RFC 9180) for replicated key material: each Region has an X25519
//! key pair (its "Region key"); a primary seals every material version it
//! replicates to the destination Region's public key, so material never
//! crosses between Regions in plaintext, even inside TLS
//! (docs/multi-region.md, "Wire protection of material").
//!
//! Suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305, base
//! mode (crate `hpke`). `info` is [`REPLICATION_INFO`]; the additional
//! data ([`material_aad`]) binds a sealed blob to its key id, material
//! version, KeyMaterialId and the source and destination Regions, so it
//! cannot be replayed as another key's, version's or Region's.

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};

use super::CryptoError;
use crate::model::KeyId;
use crate::secret::KeyMaterial;

/// HPKE `info` of replicated material.
pub const REPLICATION_INFO: &[u8] = b"kmsd replication v1";
/// Length of an X25519 public key, of a private key, and of HPKE's
/// encapsulated key for this suite.
pub const X25519_LEN: usize = 32;

type Suite = X25519HkdfSha256;
type PrivateKey = <Suite as Kem>::PrivateKey;
type PublicKey = <Suite as Kem>::PublicKey;
type EncappedKey = <Suite as Kem>::EncappedKey;

/// A Region's X25519 private key. Held only here (the `hpke` type wipes
/// itself on drop); stored only sealed by the backend. No `Debug`, no
/// `Clone`.
pub struct RegionSecretKey {
    sk: PrivateKey,
    pk: [u8; X25519_LEN],
}

impl RegionSecretKey {
    /// A fresh random key pair (OS CSPRNG).
    pub fn generate() -> Result<Self, CryptoError> {
        // 32 random bytes are a valid X25519 private key (clamped when
        // used), drawn from the same CSPRNG as every other key of kmsd.
        let ikm = KeyMaterial::generate(X25519_LEN)?;
        Self::from_bytes(ikm.expose_secret())
    }

    /// The key whose private half is `bytes` (as [`Self::to_material`]
    /// gave them).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != X25519_LEN {
            return Err(CryptoError::Open);
        }
        let sk = PrivateKey::from_bytes(bytes).map_err(|_| CryptoError::Open)?;
        let pk = public_bytes(&<Suite as Kem>::sk_to_pk(&sk));
        Ok(Self { sk, pk })
    }

    /// The private half, for sealing by the backend (zeroizing).
    pub fn to_material(&self) -> Result<KeyMaterial, CryptoError> {
        let mut bytes = self.sk.to_bytes();
        let out = KeyMaterial::from_slice(&bytes).ok_or(CryptoError::Seal);
        zeroize::Zeroize::zeroize(&mut bytes[..]);
        out
    }

    /// The public half: what peers seal to.
    pub fn public_key(&self) -> [u8; X25519_LEN] {
        self.pk
    }
}

fn public_bytes(pk: &PublicKey) -> [u8; X25519_LEN] {
    let mut out = [0u8; X25519_LEN];
    out.copy_from_slice(&pk.to_bytes());
    out
}

/// The additional data of a replicated material version: every field
/// length-prefixed (u32 BE), so no field can run into the next.
pub fn material_aad(
    key_id: &KeyId,
    version: u32,
    material_id: &str,
    from_region: &str,
    to_region: &str,
) -> Vec<u8> {
    let mut aad = Vec::with_capacity(
        5 * 4 + 17 + 4 + material_id.len() + from_region.len() + to_region.len(),
    );
    let mut field = |bytes: &[u8]| {
        aad.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
        aad.extend_from_slice(bytes);
    };
    field(&key_id.storage_key());
    field(&version.to_be_bytes());
    field(material_id.as_bytes());
    field(from_region.as_bytes());
    field(to_region.as_bytes());
    aad
}

/// Seals `material` to the Region whose public key is `recipient_pk`.
/// Returns (encapsulated key, ciphertext and tag).
pub fn seal_for_region(
    recipient_pk: &[u8; X25519_LEN],
    info: &[u8],
    aad: &[u8],
    material: &KeyMaterial,
) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    let pk = PublicKey::from_bytes(recipient_pk).map_err(|_| CryptoError::Seal)?;
    // The `hpke` crate draws the ephemeral key from the OS generator.
    let (enc, ct) = hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, Suite>(
        &OpModeS::Base,
        &pk,
        info,
        material.expose_secret(),
        aad,
    )
    .map_err(|_| CryptoError::Seal)?;
    Ok((enc.to_bytes().to_vec(), ct))
}

/// Opens what [`seal_for_region`] sealed to `sk`'s public key with the
/// same `info` and `aad`. Fails opaquely.
pub fn open_from_region(
    sk: &RegionSecretKey,
    enc: &[u8],
    ct: &[u8],
    info: &[u8],
    aad: &[u8],
) -> Result<KeyMaterial, CryptoError> {
    let enc = EncappedKey::from_bytes(enc).map_err(|_| CryptoError::Open)?;
    let pt = hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, Suite>(
        &OpModeR::Base,
        &sk.sk,
        &enc,
        info,
        ct,
        aad,
    )
    .map_err(|_| CryptoError::Open)?;
    // Copied into its final box; the plain Vec is wiped when it drops.
    let pt = zeroize::Zeroizing::new(pt);
    KeyMaterial::from_slice(&pt).ok_or(CryptoError::Open)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn material() -> KeyMaterial {
        KeyMaterial::from_slice(&[0x5a; 32]).expect("32 bytes")
    }

    #[test]
    fn sealed_material_opens_only_for_the_same_key_version_id_and_regions() {
        let id = KeyId::new_random_multi_region();
        let other_id = KeyId::new_random_multi_region();
        let r = RegionSecretKey::generate().expect("key");
        let aad = material_aad(&id, 2, "mid", "us-east-1", "eu-west-1");
        let (enc, ct) =
            seal_for_region(&r.public_key(), REPLICATION_INFO, &aad, &material()).expect("seal");
        assert_eq!(enc.len(), X25519_LEN);
        let m = open_from_region(&r, &enc, &ct, REPLICATION_INFO, &aad).expect("open");
        assert_eq!(m.expose_secret(), material().expose_secret());
        // The sealed bytes do not contain the material.
        assert!(!ct.windows(32).any(|w| w == [0x5a; 32]));

        for wrong in [
            material_aad(&other_id, 2, "mid", "us-east-1", "eu-west-1"),
            material_aad(&id, 3, "mid", "us-east-1", "eu-west-1"),
            material_aad(&id, 2, "other", "us-east-1", "eu-west-1"),
            material_aad(&id, 2, "mid", "us-west-2", "eu-west-1"),
            material_aad(&id, 2, "mid", "us-east-1", "us-west-2"),
            // Fields moved across a boundary: the length prefixes differ.
            material_aad(&id, 2, "mi", "dus-east-1", "eu-west-1"),
        ] {
            assert!(open_from_region(&r, &enc, &ct, REPLICATION_INFO, &wrong).is_err());
        }
        assert!(open_from_region(&r, &enc, &ct, b"kmsd replication v2", &aad).is_err());

        let mut bad_enc = enc.clone();
        bad_enc[0] ^= 1;
        assert!(open_from_region(&r, &bad_enc, &ct, REPLICATION_INFO, &aad).is_err());
        assert!(open_from_region(&r, &enc[..31], &ct, REPLICATION_INFO, &aad).is_err());
        for i in [0, ct.len() / 2, ct.len() - 1] {
            let mut bad_ct = ct.clone();
            bad_ct[i] ^= 0x80;
            assert!(open_from_region(&r, &enc, &bad_ct, REPLICATION_INFO, &aad).is_err());
        }
        assert!(open_from_region(&r, &enc, &ct[..ct.len() - 1], REPLICATION_INFO, &aad).is_err());

        let other = RegionSecretKey::generate().expect("key");
        assert_ne!(other.public_key(), r.public_key());
        assert!(open_from_region(&other, &enc, &ct, REPLICATION_INFO, &aad).is_err());
    }

    #[test]
    fn a_region_key_survives_its_stored_form() {
        let r = RegionSecretKey::generate().expect("key");
        let stored = r.to_material().expect("bytes");
        let back = RegionSecretKey::from_bytes(stored.expose_secret()).expect("parse");
        assert_eq!(back.public_key(), r.public_key());
        let aad = b"aad";
        let (enc, ct) =
            seal_for_region(&r.public_key(), REPLICATION_INFO, aad, &material()).expect("seal");
        assert!(open_from_region(&back, &enc, &ct, REPLICATION_INFO, aad).is_ok());
        assert!(RegionSecretKey::from_bytes(&[1; 31]).is_err());
        // Two seals of the same material differ (fresh ephemeral keys).
        let (enc2, ct2) =
            seal_for_region(&r.public_key(), REPLICATION_INFO, aad, &material()).expect("seal");
        assert_ne!((enc, ct), (enc2, ct2));
    }
}
