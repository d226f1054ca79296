//! Static-static ECDH: X25519 (with the Ed25519 key mapping) and P-256.

use crate::is_all_zero;
use crate::signature::{decode_ed25519_public, decode_p256_public, decode_p256_secret, secret_32};
use alloc::vec::Vec;
use core::fmt;
use oscore_core::crypto::{CryptoError, CurveId, KeyAgreement};
use zeroize::Zeroizing;

/// X25519 key agreement (crv 4), with the Ed25519 → X25519 key mapping.
pub static X25519: X25519Agreement = X25519Agreement;
/// P-256 ECDH key agreement (crv 1).
pub static P256_ECDH: P256Ecdh = P256Ecdh;

/// Length of an X25519 key or shared secret, and of a P-256 scalar or
/// shared secret (x-coordinate), in bytes.
const LEN_32: usize = 32;

/// X25519 (RFC 7748) on 32-byte little-endian keys.
///
/// `agree` clamps the private key as RFC 7748 §5 requires (any 32 bytes are
/// accepted) and rejects an all-zero (non-contributory) result, which any
/// low-order peer key produces. Ed25519 keys map as follows:
/// - private: `clamp(SHA-512(seed)[0..32])` (RFC 8032 §5.1.5), the value
///   libsodium's `crypto_sign_ed25519_sk_to_curve25519` returns;
/// - public: the Montgomery `u = (1 + y) / (1 − y)` of the Edwards point
///   (RFC 7748 §4.1). The Edwards point must decode canonically and not be of
///   small order.
#[derive(Clone, Copy, Default)]
pub struct X25519Agreement;

impl fmt::Debug for X25519Agreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("X25519Agreement")
    }
}

impl KeyAgreement for X25519Agreement {
    fn curve(&self) -> CurveId {
        CurveId::X25519
    }

    fn shared_secret_len(&self) -> usize {
        LEN_32
    }

    fn agree(&self, private_key: &[u8], peer_public_key: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let secret = x25519_dalek::StaticSecret::from(*secret_32(private_key)?);
        let peer: [u8; LEN_32] = peer_public_key.try_into().map_err(|_| CryptoError)?;
        let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(peer));
        if !shared.was_contributory() {
            return Err(CryptoError);
        }
        Ok(Zeroizing::new(shared.as_bytes().to_vec()))
    }

    fn private_from_signature_key(
        &self,
        sig_curve: CurveId,
        private_key: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if sig_curve != CurveId::ED25519 {
            return Err(CryptoError);
        }
        let signing = ed25519_dalek::SigningKey::from_bytes(&*secret_32(private_key)?);
        // SHA-512(seed)[0..32], unclamped.
        let mut scalar = Zeroizing::new(signing.to_scalar_bytes());
        // Clamping here gives the same bytes as other implementations
        // (X25519 would clamp again anyway).
        let bytes: &mut [u8; LEN_32] = &mut scalar;
        bytes[0] &= 0b1111_1000;
        bytes[31] &= 0b0111_1111;
        bytes[31] |= 0b0100_0000;
        Ok(Zeroizing::new(scalar.to_vec()))
    }

    fn public_from_signature_key(
        &self,
        sig_curve: CurveId,
        public_key: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        if sig_curve != CurveId::ED25519 {
            return Err(CryptoError);
        }
        let edwards = decode_ed25519_public(public_key)?;
        Ok(edwards.to_montgomery().to_bytes().to_vec())
    }
}

/// ECDH on P-256; the shared secret is the 32-byte x-coordinate.
///
/// Private keys are the 32-byte big-endian scalar (0 < d < n); public keys
/// are SEC1 compressed (33 bytes) or uncompressed (65 bytes) points on the
/// curve. Signature keys are the same keys, so the mappings only validate
/// and copy their input.
#[derive(Clone, Copy, Default)]
pub struct P256Ecdh;

impl fmt::Debug for P256Ecdh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("P256Ecdh")
    }
}

impl KeyAgreement for P256Ecdh {
    fn curve(&self) -> CurveId {
        CurveId::P256
    }

    fn shared_secret_len(&self) -> usize {
        LEN_32
    }

    fn agree(&self, private_key: &[u8], peer_public_key: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let secret = decode_p256_secret(private_key)?;
        let peer = decode_p256_public(peer_public_key)?;
        let shared = secret.diffie_hellman(&peer);
        let bytes = Zeroizing::new(shared.raw_secret_bytes().to_vec());
        if is_all_zero(&bytes) {
            return Err(CryptoError);
        }
        Ok(bytes)
    }

    fn private_from_signature_key(
        &self,
        sig_curve: CurveId,
        private_key: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if sig_curve != CurveId::P256 {
            return Err(CryptoError);
        }
        decode_p256_secret(private_key)?;
        Ok(Zeroizing::new(private_key.to_vec()))
    }

    fn public_from_signature_key(
        &self,
        sig_curve: CurveId,
        public_key: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        if sig_curve != CurveId::P256 {
            return Err(CryptoError);
        }
        decode_p256_public(public_key)?;
        Ok(public_key.to_vec())
    }
}
