//! One generic adapter from RustCrypto's `aead::AeadInOut` to
//! [`oscore_core::crypto::Aead`].

use aead::array::typenum::Unsigned;
use aead::{AeadCore, AeadInOut, KeyInit, Nonce, Tag};
use aes::Aes128;
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use alloc::boxed::Box;
use ccm::Ccm;
use ccm::consts::{U8, U13, U16};
use chacha20poly1305::ChaCha20Poly1305;
use core::fmt;
use core::marker::PhantomData;
use oscore_core::crypto::{Aead, AeadKey, AlgorithmId, CryptoError};
use zeroize::Zeroize;

/// AES-CCM with a 128-bit key, 64-bit tag and 13-byte nonce (COSE 10).
type AesCcm16_64_128 = Ccm<Aes128, U8, U13>;
/// AES-CCM with a 128-bit key, 128-bit tag and 13-byte nonce (COSE 30).
type AesCcm16_128_128 = Ccm<Aes128, U16, U13>;

/// AES-CCM-16-64-128 (COSE 10): 16-byte key, 13-byte nonce, 8-byte tag.
pub static AES_CCM_16_64_128: RustCryptoAead<AesCcm16_64_128> =
    RustCryptoAead::new(AlgorithmId::AES_CCM_16_64_128);
/// AES-CCM-16-128-128 (COSE 30): 16-byte key, 13-byte nonce, 16-byte tag.
pub static AES_CCM_16_128_128: RustCryptoAead<AesCcm16_128_128> =
    RustCryptoAead::new(AlgorithmId::AES_CCM_16_128_128);
/// A128GCM (COSE 1): 16-byte key, 12-byte nonce, 16-byte tag.
pub static A128GCM: RustCryptoAead<Aes128Gcm> = RustCryptoAead::new(AlgorithmId::A128GCM);
/// A256GCM (COSE 3): 32-byte key, 12-byte nonce, 16-byte tag.
pub static A256GCM: RustCryptoAead<Aes256Gcm> = RustCryptoAead::new(AlgorithmId::A256GCM);
/// ChaCha20/Poly1305 (COSE 24): 32-byte key, 12-byte nonce, 16-byte tag.
pub static CHACHA20_POLY1305: RustCryptoAead<ChaCha20Poly1305> =
    RustCryptoAead::new(AlgorithmId::CHACHA20_POLY1305);

/// Any RustCrypto AEAD cipher `C` as an [`Aead`] with COSE identifier `alg`.
///
/// The key, nonce and tag lengths come from `C`'s type-level sizes, so they
/// cannot disagree with the cipher. The caller is responsible for pairing `C`
/// with the right COSE identifier.
pub struct RustCryptoAead<C> {
    alg: AlgorithmId,
    // `fn() -> C` keeps the descriptor `Send + Sync` whatever `C` is: it owns no `C`.
    _cipher: PhantomData<fn() -> C>,
}

impl<C> RustCryptoAead<C> {
    /// Describes cipher `C` under COSE identifier `alg`.
    #[must_use]
    pub const fn new(alg: AlgorithmId) -> Self {
        Self { alg, _cipher: PhantomData }
    }
}

impl<C> fmt::Debug for RustCryptoAead<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RustCryptoAead").field("alg", &self.alg).finish()
    }
}

impl<C> Aead for RustCryptoAead<C>
where
    C: AeadInOut + KeyInit + Send + Sync + 'static,
{
    fn alg(&self) -> AlgorithmId {
        self.alg
    }

    fn key_len(&self) -> usize {
        C::KeySize::USIZE
    }

    fn nonce_len(&self) -> usize {
        <C as AeadCore>::NonceSize::USIZE
    }

    fn tag_len(&self) -> usize {
        <C as AeadCore>::TagSize::USIZE
    }

    fn prepare(&self, key: &[u8]) -> Result<Box<dyn AeadKey>, CryptoError> {
        // `new_from_slice` checks the length; the key schedule lives in `C`,
        // which wipes itself on drop (see `RustCryptoAeadKey`).
        let cipher = C::new_from_slice(key).map_err(|_| CryptoError)?;
        Ok(Box::new(RustCryptoAeadKey { alg: self.alg, cipher }))
    }
}

/// A prepared key for [`RustCryptoAead`]: the cipher instance with its key schedule.
///
/// Dropping it wipes the key schedule: `aes` (used by AES-CCM and AES-GCM),
/// `aes-gcm` (which also wipes its GHASH key) and `chacha20poly1305` are built
/// with their `zeroize` features. `ccm::Ccm` has no `zeroize` feature of its
/// own, but its only state is the `aes` block cipher, which wipes itself.
/// `Debug` shows the algorithm only.
pub struct RustCryptoAeadKey<C> {
    alg: AlgorithmId,
    cipher: C,
}

impl<C> fmt::Debug for RustCryptoAeadKey<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RustCryptoAeadKey").field("alg", &self.alg).finish_non_exhaustive()
    }
}

impl<C> AeadKey for RustCryptoAeadKey<C>
where
    C: AeadInOut + Send + Sync,
{
    fn seal_detached(
        &self,
        nonce: &[u8],
        aad: &[u8],
        buf: &mut [u8],
        tag: &mut [u8],
    ) -> Result<(), CryptoError> {
        let nonce = <&Nonce<C>>::try_from(nonce).map_err(|_| CryptoError)?;
        if tag.len() != <C as AeadCore>::TagSize::USIZE {
            return Err(CryptoError);
        }
        let computed = self.cipher.encrypt_inout_detached(nonce, aad, buf.into()).map_err(|_| CryptoError)?;
        tag.copy_from_slice(&computed);
        Ok(())
    }

    fn open_detached(&self, nonce: &[u8], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> Result<(), CryptoError> {
        let nonce = <&Nonce<C>>::try_from(nonce).map_err(|_| CryptoError)?;
        let tag = <&Tag<C>>::try_from(tag).map_err(|_| CryptoError)?;
        let result = self.cipher.decrypt_inout_detached(nonce, aad, (&mut *buf).into(), tag);
        if result.is_err() {
            // Never hand back unauthenticated plaintext (CCM decrypts before
            // it can check the tag).
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
        let key = [0xabu8; 16];
        let prepared = RustCryptoAeadKey {
            alg: AlgorithmId::AES_CCM_16_64_128,
            cipher: AesCcm16_64_128::new_from_slice(&key).unwrap(),
        };
        let debug = format!("{prepared:?}");
        assert_eq!(debug, "RustCryptoAeadKey { alg: AES-CCM-16-64-128(10), .. }");
        assert_eq!(format!("{AES_CCM_16_64_128:?}"), "RustCryptoAead { alg: AES-CCM-16-64-128(10) }");
    }
}
