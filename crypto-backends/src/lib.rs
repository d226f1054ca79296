//! Crypto providers for `oscore-core`.
//!
//! Three providers, each a plain [`CryptoProvider`] value; the protocol
//! crates take any of them unchanged:
//!
//! | Provider       | Cargo feature | What it is |
//! |----------------|---------------|------------|
//! | [`RUSTCRYPTO`] | (always)      | RustCrypto and dalek crates; every algorithm below; deterministic ES256 (RFC 6979); all keys wiped on drop |
//! | `RING`         | `ring`        | `ring` 0.17 for AES-GCM, ChaCha20/Poly1305, HKDF, Ed25519, ES256 (randomized signing); no AES-CCM; key agreement from RustCrypto (see `ring_backend`) |
//! | `FASTEST`      | `ring`        | per algorithm the faster of the two, chosen from measurements recorded in its documentation |
//!
//! [`provider_by_name`] maps the configuration names `"rustcrypto"`,
//! `"ring"` and `"fastest"` to these values.
//!
//! # Cargo features
//!
//! - `std` (default): `p256`'s precomputed base-point tables (ES256 signing
//!   and P-256 key generation about 3× faster; the tables are built once at
//!   first use, which needs `std`). Without it the crate is `no_std` + `alloc`.
//! - `ring`: the `RING` and `FASTEST` providers and the `ring_backend`
//!   module. `benches/providers.rs` and `examples/provider_timing.rs`
//!   compare the two libraries per operation.
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
//! In [`RUSTCRYPTO`], prepared keys own the library's key objects, which wipe
//! themselves on drop (the `zeroize` features of `aes`, `aes-gcm`, `chacha20poly1305`, `sha2`,
//! `hmac`, `ed25519-dalek`, `x25519-dalek` are enabled; `p256` keys always
//! zeroize). Intermediate secret buffers created here are wrapped in
//! [`zeroize::Zeroizing`]. No `Debug` output contains key bytes, in any
//! provider. `ring`'s key objects are **not** wiped on drop (`ring` offers no
//! way to); `RING` and `FASTEST` document which of their algorithms this
//! concerns.

#![no_std]

extern crate alloc;

mod aead;
mod agreement;
#[cfg(feature = "ring")]
mod fastest;
mod hkdf;
mod random;
#[cfg(feature = "ring")]
pub mod ring_backend;
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

#[cfg(feature = "ring")]
pub use crate::fastest::{FASTEST, FASTEST_ED25519, FASTEST_ES256, SplitSignature, fastest};

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

/// The `ring` provider: AES-GCM, ChaCha20/Poly1305, HKDF-SHA-256, Ed25519 and
/// ES256 on `ring`; **no AES-CCM** (10, 30); key agreement from RustCrypto.
/// Its limits and why are in [`ring_backend`].
#[cfg(feature = "ring")]
pub static RING: CryptoProvider = CryptoProvider {
    aeads: &[&ring_backend::A128GCM as &dyn Aead, &ring_backend::A256GCM, &ring_backend::CHACHA20_POLY1305],
    hkdfs: &[&ring_backend::HKDF_SHA256 as &dyn Hkdf],
    signatures: &[&ring_backend::ED25519 as &dyn Signature, &ring_backend::ES256],
    // ref: `ring::agreement` is ephemeral-only (no import of a static private
    // key), so static-static ECDH stays on RustCrypto.
    key_agreements: &[&X25519 as &dyn KeyAgreement, &P256_ECDH],
    random: &ring_backend::SYSTEM_RANDOM,
};

/// The `ring` provider ([`RING`]).
#[cfg(feature = "ring")]
#[must_use]
pub fn ring() -> &'static CryptoProvider {
    &RING
}

/// The provider names [`provider_by_name`] knows in this build (`"ring"` and
/// `"fastest"` need the `ring` feature), for configuration error messages.
#[cfg(feature = "ring")]
pub const PROVIDER_NAMES: &[&str] = &["rustcrypto", "ring", "fastest"];
/// The provider names [`provider_by_name`] knows in this build (`"ring"` and
/// `"fastest"` need the `ring` feature), for configuration error messages.
#[cfg(not(feature = "ring"))]
pub const PROVIDER_NAMES: &[&str] = &["rustcrypto"];

/// The provider a configuration names: `"rustcrypto"` → [`RUSTCRYPTO`],
/// `"ring"` → `RING`, `"fastest"` → `FASTEST` (ASCII case-insensitive).
///
/// `None` for an unknown name, and for `"ring"` / `"fastest"` when the crate
/// is built without the `ring` feature; [`PROVIDER_NAMES`] lists the names
/// this build accepts.
#[must_use]
pub fn provider_by_name(name: &str) -> Option<&'static CryptoProvider> {
    if name.eq_ignore_ascii_case("rustcrypto") {
        return Some(&RUSTCRYPTO);
    }
    #[cfg(feature = "ring")]
    {
        if name.eq_ignore_ascii_case("ring") {
            return Some(&RING);
        }
        if name.eq_ignore_ascii_case("fastest") {
            return Some(&FASTEST);
        }
    }
    None
}

/// `true` when every byte of `bytes` is zero, without an early exit.
fn is_all_zero(bytes: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    let acc = bytes.iter().fold(0u8, |acc, b| acc | b);
    acc.ct_eq(&0).into()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

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
    fn providers_by_name() {
        assert!(core::ptr::eq(super::provider_by_name("rustcrypto").unwrap(), &super::RUSTCRYPTO));
        assert!(super::provider_by_name("RustCrypto").is_some());
        assert!(super::provider_by_name("openssl").is_none());
        assert!(super::provider_by_name("").is_none());
        #[cfg(feature = "ring")]
        {
            assert!(core::ptr::eq(super::provider_by_name("ring").unwrap(), &super::RING));
            assert!(core::ptr::eq(super::provider_by_name("fastest").unwrap(), &super::FASTEST));
        }
        #[cfg(not(feature = "ring"))]
        {
            assert!(super::provider_by_name("ring").is_none());
            assert!(super::provider_by_name("fastest").is_none());
        }
        for name in super::PROVIDER_NAMES {
            assert!(super::provider_by_name(name).is_some(), "{name}");
        }
    }

    #[test]
    fn all_zero() {
        assert!(super::is_all_zero(&[]));
        assert!(super::is_all_zero(&[0; 32]));
        assert!(!super::is_all_zero(&[0, 0, 1]));
    }
}
