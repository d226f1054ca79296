//! HKDF-SHA-256 (RFC 5869).

use core::fmt;
use oscore_core::crypto::{AlgorithmId, CryptoError, Hkdf};
use sha2::Sha256;

/// HKDF-SHA-256 (COSE -10).
pub static HKDF_SHA256: HkdfSha256 = HkdfSha256;

/// SHA-256 output length in bytes.
const HASH_LEN: usize = 32;

/// HKDF with SHA-256 (RFC 5869), COSE identifier -10.
///
/// The HMAC states derived from the PRK are wiped on drop (`hmac` and `sha2`
/// are built with their `zeroize` features); the PRK itself is never returned.
#[derive(Clone, Copy, Default)]
pub struct HkdfSha256;

impl fmt::Debug for HkdfSha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HkdfSha256")
    }
}

impl Hkdf for HkdfSha256 {
    fn alg(&self) -> AlgorithmId {
        AlgorithmId::HKDF_SHA256
    }

    fn hash_len(&self) -> usize {
        HASH_LEN
    }

    fn derive(&self, salt: &[u8], ikm: &[u8], info: &[u8], okm: &mut [u8]) -> Result<(), CryptoError> {
        // An empty salt is HMAC-keyed with zero bytes, which HMAC pads to the
        // same block as RFC 5869's "HashLen zeros" default.
        let hkdf = hkdf::Hkdf::<Sha256>::new(Some(salt), ikm);
        hkdf.expand(info, okm).map_err(|_| CryptoError)
    }

    fn expand(&self, prk: &[u8], info: &[u8], okm: &mut [u8]) -> Result<(), CryptoError> {
        let hkdf = hkdf::Hkdf::<Sha256>::from_prk(prk).map_err(|_| CryptoError)?;
        hkdf.expand(info, okm).map_err(|_| CryptoError)
    }
}
