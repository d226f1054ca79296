//! HKDF-SHA-256 (RFC 5869) on `ring::hkdf`.

use core::fmt;
use oscore_core::crypto::{AlgorithmId, CryptoError, Hkdf};
use ring::hkdf::{HKDF_SHA256 as RING_HKDF_SHA256, KeyType, Prk, Salt};

/// HKDF-SHA-256 (COSE -10) on `ring`.
pub static HKDF_SHA256: RingHkdfSha256 = RingHkdfSha256;

/// SHA-256 output length in bytes.
const HASH_LEN: usize = 32;

/// HKDF with SHA-256 (RFC 5869) on `ring`, COSE identifier -10.
///
/// `ring`'s HMAC keys for the salt and the PRK are not wiped on drop (see
/// [`crate::ring_backend`]); they live only for the duration of one call.
#[derive(Clone, Copy, Default)]
pub struct RingHkdfSha256;

impl fmt::Debug for RingHkdfSha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RingHkdfSha256")
    }
}

/// The requested output length, in the form `ring`'s `Prk::expand` takes.
struct OkmLen(usize);

impl KeyType for OkmLen {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand of `prk` into `okm`; `ring` refuses more than 255 × 32 bytes.
fn expand_into(prk: &Prk, info: &[u8], okm: &mut [u8]) -> Result<(), CryptoError> {
    let info = [info];
    prk.expand(&info, OkmLen(okm.len())).and_then(|o| o.fill(okm)).map_err(|_| CryptoError)
}

impl Hkdf for RingHkdfSha256 {
    fn alg(&self) -> AlgorithmId {
        AlgorithmId::HKDF_SHA256
    }

    fn hash_len(&self) -> usize {
        HASH_LEN
    }

    fn derive(&self, salt: &[u8], ikm: &[u8], info: &[u8], okm: &mut [u8]) -> Result<(), CryptoError> {
        // ref: RFC 5869 §2.2 — an empty salt keys HMAC with zero bytes, which
        // HMAC pads to the same block as the "HashLen zeros" default.
        let prk = Salt::new(RING_HKDF_SHA256, salt).extract(ikm);
        expand_into(&prk, info, okm)
    }

    fn expand(&self, prk: &[u8], info: &[u8], okm: &mut [u8]) -> Result<(), CryptoError> {
        // ref: RFC 5869 §2.3 — PRK is "at least HashLen octets"; `ring` itself
        // would take any length, the RustCrypto provider refuses shorter ones.
        if prk.len() < HASH_LEN {
            return Err(CryptoError);
        }
        expand_into(&Prk::new_less_safe(RING_HKDF_SHA256, prk), info, okm)
    }
}
