//! Crypto providers for `oscore-core`.
//!
//! [`RUSTCRYPTO`] implements every trait of [`oscore_core::crypto`] with the
//! RustCrypto and dalek crates:
//!
//! | Kind          | Algorithms                                                              |
//! |---------------|-------------------------------------------------------------------------|
//! | AEAD          | AES-CCM-16-64-128 (10), AES-CCM-16-128-128 (30), A128GCM (1), A256GCM (3), ChaCha20/Poly1305 (24) |
//! | HKDF          | HKDF-SHA-256 (-10)                                                      |
//! | Signature     | EdDSA/Ed25519 (-8, crv 6), ES256/P-256 (-7, crv 1)                      |
//! | Key agreement | X25519 (crv 4), P-256 (crv 1)                                           |
//! | Random        | the operating system source through `getrandom`                         |
//!
//! # Secrets
//!
//! Prepared keys own the library's key objects, which wipe themselves on drop
//! (the `zeroize` features of `aes`, `aes-gcm`, `chacha20poly1305`, `sha2`,
//! `hmac`, `ed25519-dalek`, `x25519-dalek` are enabled; `p256` keys always
//! zeroize). Intermediate secret buffers created here are wrapped in
//! [`zeroize::Zeroizing`]. No `Debug` output contains key bytes.

#![no_std]

extern crate alloc;

mod aead;
mod agreement;
mod hkdf;
mod random;
mod signature;

pub use crate::aead::{
    A128GCM, A256GCM, AES_CCM_16_64_128, AES_CCM_16_128_128, CHACHA20_POLY1305, RustCryptoAead,
    RustCryptoAeadKey,
};
pub use crate::agreement::{P256_ECDH, P256Ecdh, X25519, X25519Agreement};
pub use crate::hkdf::{HKDF_SHA256, HkdfSha256};
pub use crate::random::{OsRandom, SYSTEM_RANDOM};
pub use crate::signature::{
    ED25519, ES256, Ed25519, Ed25519SigningKey, Ed25519VerifyingKey, Es256, Es256SigningKey,
    Es256VerifyingKey,
};

use oscore_core::crypto::{Aead, CryptoProvider, Hkdf, KeyAgreement, Signature};

/// The RustCrypto provider: every algorithm listed in the [crate documentation](crate).
pub static RUSTCRYPTO: CryptoProvider = CryptoProvider {
    aeads: &[&AES_CCM_16_64_128 as &dyn Aead, &AES_CCM_16_128_128, &A128GCM, &A256GCM, &CHACHA20_POLY1305],
    hkdfs: &[&HKDF_SHA256 as &dyn Hkdf],
    signatures: &[&ED25519 as &dyn Signature, &ES256],
    key_agreements: &[&X25519 as &dyn KeyAgreement, &P256_ECDH],
    random: &SYSTEM_RANDOM,
};

/// The RustCrypto provider ([`RUSTCRYPTO`]).
#[must_use]
pub fn rustcrypto() -> &'static CryptoProvider {
    &RUSTCRYPTO
}

/// `true` when every byte of `bytes` is zero, without an early exit.
fn is_all_zero(bytes: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    let acc = bytes.iter().fold(0u8, |acc, b| acc | b);
    acc.ct_eq(&0).into()
}

#[cfg(test)]
mod tests {
    use zeroize::ZeroizeOnDrop;

    fn zeroizes_on_drop<T: ZeroizeOnDrop>() {}

    /// The cipher types the AEAD adapter wraps wipe themselves on drop.
    /// `ccm::Ccm` has no `ZeroizeOnDrop` marker, but its only state is the
    /// `aes::Aes128` instance checked here.
    #[test]
    fn ciphers_zeroize_on_drop() {
        zeroizes_on_drop::<aes::Aes128>();
        zeroizes_on_drop::<aes::Aes256>();
        zeroizes_on_drop::<aes_gcm::Aes128Gcm>();
        zeroizes_on_drop::<aes_gcm::Aes256Gcm>();
        zeroizes_on_drop::<chacha20poly1305::ChaCha20Poly1305>();
        zeroizes_on_drop::<ed25519_dalek::SigningKey>();
        zeroizes_on_drop::<x25519_dalek::StaticSecret>();
        zeroizes_on_drop::<x25519_dalek::SharedSecret>();
        zeroizes_on_drop::<p256::ecdsa::SigningKey>();
        zeroizes_on_drop::<p256::SecretKey>();
        zeroizes_on_drop::<p256::ecdh::SharedSecret>();
    }

    #[test]
    fn all_zero() {
        assert!(super::is_all_zero(&[]));
        assert!(super::is_all_zero(&[0; 32]));
        assert!(!super::is_all_zero(&[0, 0, 1]));
    }
}
