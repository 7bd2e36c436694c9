//! The OS CSPRNG ([`super::fill_random`]) behind the `rand_core` 0.10
//! traits, for the RustCrypto crates that take an RNG argument (`rsa`'s OAEP
//! encryption, `ml-dsa`'s hedged signing). Knows nothing of keys.

use rsa::rand_core::{TryCryptoRng, TryRng};

use super::CryptoError;

/// The OS CSPRNG, through kmsd's per-thread pool.
pub(crate) struct OsRng;

impl TryRng for OsRng {
    type Error = CryptoError;

    fn try_next_u32(&mut self) -> Result<u32, CryptoError> {
        let mut b = [0u8; 4];
        super::fill_random(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, CryptoError> {
        let mut b = [0u8; 8];
        super::fill_random(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), CryptoError> {
        super::fill_random(dst)
    }
}

// Every byte comes from the OS generator (getrandom).
impl TryCryptoRng for OsRng {}
