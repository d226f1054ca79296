//! AES-GCM and ChaCha20/Poly1305 on `ring::aead`.

use alloc::boxed::Box;
use core::fmt;
use oscore_core::crypto::{Aead, AeadKey, AlgorithmId, CryptoError};
use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey};
use zeroize::Zeroize;

/// A128GCM (COSE 1) on `ring`: 16-byte key, 12-byte nonce, 16-byte tag.
pub static A128GCM: RingAead = RingAead::new(AlgorithmId::A128GCM, &ring::aead::AES_128_GCM);
/// A256GCM (COSE 3) on `ring`: 32-byte key, 12-byte nonce, 16-byte tag.
pub static A256GCM: RingAead = RingAead::new(AlgorithmId::A256GCM, &ring::aead::AES_256_GCM);
/// ChaCha20/Poly1305 (COSE 24) on `ring`: 32-byte key, 12-byte nonce, 16-byte tag.
pub static CHACHA20_POLY1305: RingAead =
    RingAead::new(AlgorithmId::CHACHA20_POLY1305, &ring::aead::CHACHA20_POLY1305);

/// A `ring` AEAD algorithm as an [`Aead`] with a COSE identifier.
///
/// `ring` has no AES-CCM, so COSE 10 and 30 cannot be built from this type
/// (they stay on [`crate::RustCryptoAead`]). The lengths come from the `ring`
/// algorithm, so they cannot disagree with the cipher.
pub struct RingAead {
    alg: AlgorithmId,
    algorithm: &'static ring::aead::Algorithm,
}

impl RingAead {
    /// Describes `ring`'s `algorithm` under COSE identifier `alg`; the caller
    /// pairs them correctly.
    #[must_use]
    pub const fn new(alg: AlgorithmId, algorithm: &'static ring::aead::Algorithm) -> Self {
        Self { alg, algorithm }
    }
}

impl fmt::Debug for RingAead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingAead").field("alg", &self.alg).finish()
    }
}

impl Aead for RingAead {
    fn alg(&self) -> AlgorithmId {
        self.alg
    }

    fn key_len(&self) -> usize {
        self.algorithm.key_len()
    }

    fn nonce_len(&self) -> usize {
        self.algorithm.nonce_len()
    }

    fn tag_len(&self) -> usize {
        self.algorithm.tag_len()
    }

    fn prepare(&self, key: &[u8]) -> Result<Box<dyn AeadKey>, CryptoError> {
        // `UnboundKey::new` refuses a key of the wrong length.
        let key = UnboundKey::new(self.algorithm, key).map_err(|_| CryptoError)?;
        Ok(Box::new(RingAeadKey { alg: self.alg, key: LessSafeKey::new(key) }))
    }
}

/// A prepared key for [`RingAead`]: `ring`'s expanded key.
///
/// **Not wiped on drop**: `ring` keeps the key schedule in an opaque type
/// without a `Drop` that zeroizes it, and this crate forbids the `unsafe`
/// that overwriting it from outside would take. Use [`crate::RUSTCRYPTO`]
/// where wipe-on-drop of AEAD keys is a requirement. `Debug` shows the
/// algorithm only.
///
/// `LessSafeKey` is `ring`'s AEAD key that accepts caller-chosen nonces; OSCORE
/// builds each nonce from the sender's unique Partial IV (RFC 8613 §5.2), which
/// is exactly the uniqueness `ring` asks the caller to guarantee.
pub struct RingAeadKey {
    alg: AlgorithmId,
    key: LessSafeKey,
}

impl fmt::Debug for RingAeadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingAeadKey").field("alg", &self.alg).finish_non_exhaustive()
    }
}

impl AeadKey for RingAeadKey {
    fn seal_detached(
        &self,
        nonce: &[u8],
        aad: &[u8],
        buf: &mut [u8],
        tag: &mut [u8],
    ) -> Result<(), CryptoError> {
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError)?;
        // Checked before encrypting so a bad call leaves `buf` untouched.
        if tag.len() != self.key.algorithm().tag_len() {
            return Err(CryptoError);
        }
        let computed =
            self.key.seal_in_place_separate_tag(nonce, Aad::from(aad), buf).map_err(|_| CryptoError)?;
        tag.copy_from_slice(computed.as_ref());
        Ok(())
    }

    fn open_detached(&self, nonce: &[u8], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> Result<(), CryptoError> {
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError)?;
        let tag = Tag::try_from(tag).map_err(|_| CryptoError)?;
        let result = self.key.open_in_place_separate_tag(nonce, Aad::from(aad), tag, buf, 0..);
        if result.is_err() {
            // `ring` leaves the buffer unspecified on failure: never hand back
            // unauthenticated plaintext.
            buf.zeroize();
            return Err(CryptoError);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use alloc::format;

    #[test]
    fn debug_shows_no_key_material() {
        let key = RingAeadKey {
            alg: AlgorithmId::A128GCM,
            key: LessSafeKey::new(UnboundKey::new(&ring::aead::AES_128_GCM, &[0xab; 16]).unwrap()),
        };
        assert_eq!(format!("{key:?}"), "RingAeadKey { alg: A128GCM(1), .. }");
        assert_eq!(format!("{A256GCM:?}"), "RingAead { alg: A256GCM(3) }");
    }
}
