//! Object-safe crypto traits and the [`CryptoProvider`] that bundles them.
//!
//! The protocol code never names a crypto library: it asks a provider for the
//! algorithm with a given COSE identifier and talks to it through these traits.
//! `crypto-backends` fills them in (RustCrypto today). A provider is a plain
//! struct of `&'static dyn` tables, so a custom provider is a `static` value.
//!
//! Every operation that handles key material works on *prepared* keys
//! ([`AeadKey`], [`SigningKey`], [`VerifyingKey`]): the key schedule is computed
//! once when a context is built, not on every message.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use zeroize::Zeroizing;

/// A COSE algorithm identifier (IANA "COSE Algorithms" registry).
///
/// An open newtype: an unknown value is carried as is and refused by policy
/// (no provider offers it), not by parsing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AlgorithmId(pub i32);

impl AlgorithmId {
    /// AES-CCM-16-64-128 (RFC 8152 §10.2), the OSCORE default and mandatory AEAD.
    pub const AES_CCM_16_64_128: Self = Self(10);
    /// AES-CCM-16-128-128 (RFC 8152 §10.2).
    pub const AES_CCM_16_128_128: Self = Self(30);
    /// AES-GCM with a 128-bit key (RFC 8152 §10.1).
    pub const A128GCM: Self = Self(1);
    /// AES-GCM with a 256-bit key (RFC 8152 §10.1).
    pub const A256GCM: Self = Self(3);
    /// ChaCha20/Poly1305 (RFC 8152 §10.3).
    pub const CHACHA20_POLY1305: Self = Self(24);
    /// HKDF with SHA-256 (registry value `direct+HKDF-SHA-256`, used by RFC 8613 §3.2).
    pub const HKDF_SHA256: Self = Self(-10);
    /// EdDSA (with Ed25519 in this workspace; RFC 8152 §8.2).
    pub const EDDSA: Self = Self(-8);
    /// ECDSA with SHA-256 on P-256 (RFC 8152 §8.1).
    pub const ES256: Self = Self(-7);
}

impl fmt::Debug for AlgorithmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match *self {
            Self::AES_CCM_16_64_128 => "AES-CCM-16-64-128",
            Self::AES_CCM_16_128_128 => "AES-CCM-16-128-128",
            Self::A128GCM => "A128GCM",
            Self::A256GCM => "A256GCM",
            Self::CHACHA20_POLY1305 => "ChaCha20/Poly1305",
            Self::HKDF_SHA256 => "HKDF-SHA-256",
            Self::EDDSA => "EdDSA",
            Self::ES256 => "ES256",
            _ => return write!(f, "AlgorithmId({})", self.0),
        };
        write!(f, "{name}({})", self.0)
    }
}

/// A COSE elliptic curve identifier (IANA "COSE Elliptic Curves" registry).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct CurveId(pub i32);

impl CurveId {
    /// NIST P-256 (crv 1).
    pub const P256: Self = Self(1);
    /// X25519 for ECDH (crv 4).
    pub const X25519: Self = Self(4);
    /// Ed25519 for EdDSA (crv 6).
    pub const ED25519: Self = Self(6);
}

/// A crypto operation failed.
///
/// Deliberately opaque: callers learn *that* something failed (bad tag, bad
/// key, bad signature), never a detail that could become an oracle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CryptoError;

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cryptographic operation failed")
    }
}

impl core::error::Error for CryptoError {}

/// An AEAD algorithm (COSE Encrypt0 content encryption).
pub trait Aead: Send + Sync {
    /// The COSE identifier.
    fn alg(&self) -> AlgorithmId;
    /// Key length in bytes.
    fn key_len(&self) -> usize;
    /// Nonce length in bytes.
    fn nonce_len(&self) -> usize;
    /// Authentication tag length in bytes.
    fn tag_len(&self) -> usize;
    /// Prepares a key (runs the key schedule once).
    ///
    /// # Errors
    /// The key has the wrong length.
    fn prepare(&self, key: &[u8]) -> Result<Box<dyn AeadKey>, CryptoError>;
}

/// A prepared AEAD key. Implementations zeroize their key schedule on drop.
pub trait AeadKey: Send + Sync {
    /// Encrypts `buf` in place and writes the tag into `tag` (exactly `tag_len` bytes).
    ///
    /// # Errors
    /// Wrong nonce or tag length, or the message is too long for the algorithm.
    fn seal_detached(
        &self,
        nonce: &[u8],
        aad: &[u8],
        buf: &mut [u8],
        tag: &mut [u8],
    ) -> Result<(), CryptoError>;

    /// Decrypts `buf` in place after checking `tag`; on error `buf` is unspecified
    /// and must be discarded.
    ///
    /// # Errors
    /// The tag does not verify, or the lengths are wrong.
    fn open_detached(&self, nonce: &[u8], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> Result<(), CryptoError>;
}

/// Encrypts `buf` in place with `key` and appends the `tag_len`-byte tag: the
/// COSE ciphertext of OSCORE (RFC 8152 §5.3).
///
/// # Errors
/// As [`AeadKey::seal_detached`].
pub fn seal_append(
    key: &dyn AeadKey,
    tag_len: usize,
    nonce: &[u8],
    aad: &[u8],
    buf: &mut Vec<u8>,
) -> Result<(), CryptoError> {
    let len = buf.len();
    buf.resize(len + tag_len, 0);
    let (plaintext, tag) = buf.split_at_mut(len);
    key.seal_detached(nonce, aad, plaintext, tag)
}

/// Decrypts a COSE ciphertext (`tag_len`-byte tag appended) with `key`; the
/// plaintext is wiped when dropped.
///
/// # Errors
/// The ciphertext is shorter than the tag, or does not verify.
pub fn open_appended(
    key: &dyn AeadKey,
    tag_len: usize,
    nonce: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let split = ciphertext.len().checked_sub(tag_len).ok_or(CryptoError)?;
    let (ct, tag) = ciphertext.split_at(split);
    let mut buf = Zeroizing::new(ct.to_vec());
    key.open_detached(nonce, aad, &mut buf, tag)?;
    Ok(buf)
}

/// An HKDF instance (RFC 5869).
pub trait Hkdf: Send + Sync {
    /// The COSE identifier.
    fn alg(&self) -> AlgorithmId;
    /// Output length of the hash in bytes.
    fn hash_len(&self) -> usize;
    /// HKDF-Extract then HKDF-Expand into `okm`.
    ///
    /// # Errors
    /// `okm` is longer than 255 × hash length.
    fn derive(&self, salt: &[u8], ikm: &[u8], info: &[u8], okm: &mut [u8]) -> Result<(), CryptoError>;
    /// HKDF-Expand alone, with `prk` used as the pseudorandom key (it must be at
    /// least `hash_len` bytes).
    ///
    /// # Errors
    /// `prk` is too short or `okm` too long.
    fn expand(&self, prk: &[u8], info: &[u8], okm: &mut [u8]) -> Result<(), CryptoError>;
}

/// A signature algorithm (COSE countersignatures of Group OSCORE).
pub trait Signature: Send + Sync {
    /// The COSE identifier.
    fn alg(&self) -> AlgorithmId;
    /// The curve the keys live on.
    fn curve(&self) -> CurveId;
    /// Signature length in bytes (64 for both Ed25519 and ES256, R‖S).
    fn signature_len(&self) -> usize;
    /// Prepares a signing key from its private bytes (the 32-byte seed for
    /// Ed25519, the 32-byte scalar for P-256).
    ///
    /// # Errors
    /// The bytes are not a valid private key.
    fn signing_key(&self, private_key: &[u8]) -> Result<Box<dyn SigningKey>, CryptoError>;
    /// Prepares a verifying key from its public bytes (32-byte compressed
    /// Edwards point for Ed25519; SEC1 compressed or uncompressed for P-256).
    ///
    /// # Errors
    /// The bytes are not a valid public key.
    fn verifying_key(&self, public_key: &[u8]) -> Result<Box<dyn VerifyingKey>, CryptoError>;
}

/// A prepared private signing key.
pub trait SigningKey: Send + Sync {
    /// Signs `msg` into `signature` (exactly `signature_len` bytes).
    ///
    /// # Errors
    /// Wrong output length, or the backend failed.
    fn sign(&self, msg: &[u8], signature: &mut [u8]) -> Result<(), CryptoError>;
    /// The matching public key, in the encoding `verifying_key` accepts.
    fn public_key(&self) -> Vec<u8>;
}

/// A prepared public verifying key.
pub trait VerifyingKey: Send + Sync {
    /// Verifies `signature` over `msg`.
    ///
    /// # Errors
    /// The signature does not verify or is malformed.
    fn verify(&self, msg: &[u8], signature: &[u8]) -> Result<(), CryptoError>;
}

/// Static-static ECDH on one curve (Group OSCORE pairwise keys).
pub trait KeyAgreement: Send + Sync {
    /// The curve used for the agreement (X25519 or P-256).
    fn curve(&self) -> CurveId;
    /// Length of the shared secret in bytes.
    fn shared_secret_len(&self) -> usize;
    /// Computes the shared secret between `private_key` and `peer_public_key`
    /// (both in this curve's agreement encoding).
    ///
    /// # Errors
    /// Invalid key, or an all-zero (non-contributory) result.
    fn agree(&self, private_key: &[u8], peer_public_key: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError>;
    /// Maps a private signing key of `sig_curve` to this curve's agreement
    /// encoding (Ed25519 → X25519 per RFC 8032 §5.1.5 / RFC 7748; P-256 is
    /// the identity).
    ///
    /// # Errors
    /// The curve cannot be mapped, or the key is invalid.
    fn private_from_signature_key(
        &self,
        sig_curve: CurveId,
        private_key: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError>;
    /// Maps a public signing key of `sig_curve` to this curve's agreement
    /// encoding (Ed25519 → X25519: u = (1 + y) / (1 − y), RFC 7748 §4.1).
    ///
    /// # Errors
    /// The curve cannot be mapped, or the key is invalid.
    fn public_from_signature_key(
        &self,
        sig_curve: CurveId,
        public_key: &[u8],
    ) -> Result<Vec<u8>, CryptoError>;
}

/// A cryptographically secure random source.
pub trait SecureRandom: Send + Sync {
    /// Fills `buf` with random bytes.
    ///
    /// # Errors
    /// The system source is unavailable.
    fn fill(&self, buf: &mut [u8]) -> Result<(), CryptoError>;
}

/// Every algorithm a backend offers, in one place.
///
/// Lookups scan the small tables; this is the only place where an algorithm
/// number is matched to an implementation.
#[derive(Clone, Copy)]
pub struct CryptoProvider {
    /// AEAD algorithms.
    pub aeads: &'static [&'static dyn Aead],
    /// HKDF instances.
    pub hkdfs: &'static [&'static dyn Hkdf],
    /// Signature algorithms.
    pub signatures: &'static [&'static dyn Signature],
    /// Key agreement curves.
    pub key_agreements: &'static [&'static dyn KeyAgreement],
    /// The random source.
    pub random: &'static dyn SecureRandom,
}

impl CryptoProvider {
    /// The AEAD with COSE identifier `alg`.
    pub fn aead(&self, alg: AlgorithmId) -> Option<&'static dyn Aead> {
        self.aeads.iter().copied().find(|a| a.alg() == alg)
    }
    /// The HKDF with COSE identifier `alg`.
    pub fn hkdf(&self, alg: AlgorithmId) -> Option<&'static dyn Hkdf> {
        self.hkdfs.iter().copied().find(|h| h.alg() == alg)
    }
    /// The signature algorithm with COSE identifier `alg`.
    pub fn signature(&self, alg: AlgorithmId) -> Option<&'static dyn Signature> {
        self.signatures.iter().copied().find(|s| s.alg() == alg)
    }
    /// The key agreement on curve `curve`.
    pub fn key_agreement(&self, curve: CurveId) -> Option<&'static dyn KeyAgreement> {
        self.key_agreements.iter().copied().find(|k| k.curve() == curve)
    }
}

impl fmt::Debug for CryptoProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CryptoProvider")
            .field("aeads", &self.aeads.iter().map(|a| a.alg()).collect::<Vec<_>>())
            .field("hkdfs", &self.hkdfs.iter().map(|h| h.alg()).collect::<Vec<_>>())
            .field("signatures", &self.signatures.iter().map(|s| s.alg()).collect::<Vec<_>>())
            .field("key_agreements", &self.key_agreements.iter().map(|k| k.curve()).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}
