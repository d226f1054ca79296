//! The `ring` provider ([`RING`](crate::RING), cargo feature `ring`).
//!
//! | Kind          | Algorithms                                       | Implementation |
//! |---------------|--------------------------------------------------|----------------|
//! | AEAD          | A128GCM (1), A256GCM (3), ChaCha20/Poly1305 (24)  | `ring::aead` |
//! | HKDF          | HKDF-SHA-256 (-10)                               | `ring::hkdf` |
//! | Signature     | EdDSA/Ed25519 (-8), ES256 (-7)                   | `ring::signature` |
//! | Key agreement | X25519 (crv 4), P-256 (crv 1)                    | **RustCrypto** ([`crate::X25519`], [`crate::P256_ECDH`]) |
//! | Random        | the operating system source                      | `ring::rand::SystemRandom` |
//!
//! What `ring` does not offer, and what happens instead:
//! - **AES-CCM** (COSE 10 and 30, the OSCORE default): `ring` has no CCM
//!   mode, so this provider does not list 10 or 30 and a context asking for
//!   them is refused as "algorithm not offered". Use [`crate::FASTEST`],
//!   which takes AES-CCM from RustCrypto.
//! - **Static-static key agreement**: `ring::agreement` only has
//!   `EphemeralPrivateKey::generate` — a private key cannot be imported, and
//!   Group OSCORE pairwise keys (groupcomm-08 §2.4.1) need the members'
//!   long-term keys. The key agreement tables are therefore the RustCrypto
//!   implementations.
//! - **Deterministic ECDSA**: `ring` signs ES256 with a random k (hedged
//!   with the key and the digest), not RFC 6979; see [`RingEs256`].
//! - **Wipe on drop**: `ring` does not zeroize its key objects (AEAD key
//!   schedules, HMAC keys, key pairs) when they are dropped, and wiping them
//!   from outside would take `unsafe`, which this crate forbids. Secret
//!   buffers this module creates itself are [`zeroize::Zeroizing`]. Choose
//!   [`crate::RUSTCRYPTO`] where wipe-on-drop is a requirement.
//!
//! Key validation is the same as in the RustCrypto provider (this module
//! reuses its strict decoders when a key is prepared), so both providers
//! accept and refuse the same keys and signatures; `tests/cross_provider.rs`
//! checks it.

mod aead;
mod hkdf;
mod random;
mod signature;

pub use self::aead::{A128GCM, A256GCM, CHACHA20_POLY1305, RingAead, RingAeadKey};
pub use self::hkdf::{HKDF_SHA256, RingHkdfSha256};
pub use self::random::{RingRandom, SYSTEM_RANDOM};
pub use self::signature::{
    ED25519, ES256, RingEd25519, RingEd25519SigningKey, RingEd25519VerifyingKey, RingEs256,
    RingEs256SigningKey, RingEs256VerifyingKey,
};
