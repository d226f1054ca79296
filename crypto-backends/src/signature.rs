//! Ed25519 (EdDSA) and ES256 (ECDSA P-256 with SHA-256) signatures.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use ed25519_dalek::Signer as _;
use oscore_core::crypto::{AlgorithmId, CryptoError, CurveId, Signature, SigningKey, VerifyingKey};
use p256::ecdsa::signature::Verifier as _;
use zeroize::Zeroizing;

/// Length of an Ed25519 or ES256 signature (R‖S) in bytes.
const SIGNATURE_LEN: usize = 64;
/// Length of a private key (Ed25519 seed, P-256 scalar) in bytes.
const PRIVATE_KEY_LEN: usize = 32;

/// EdDSA with Ed25519 (COSE -8, crv 6).
pub static ED25519: Ed25519 = Ed25519;
/// ES256: ECDSA with SHA-256 on P-256 (COSE -7, crv 1).
pub static ES256: Es256 = Es256;

/// Copies a 32-byte secret into a buffer that is wiped on drop.
pub(crate) fn secret_32(bytes: &[u8]) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let mut out = Zeroizing::new([0u8; 32]);
    if bytes.len() != out.len() {
        return Err(CryptoError);
    }
    out.copy_from_slice(bytes);
    Ok(out)
}

/// Decodes an Ed25519 public key strictly: 32 bytes, a point on the curve in
/// its canonical RFC 8032 encoding (`ed25519-dalek` alone follows the looser
/// ZIP-215 rules), and not of small order.
pub(crate) fn decode_ed25519_public(bytes: &[u8]) -> Result<ed25519_dalek::VerifyingKey, CryptoError> {
    let array: [u8; 32] = bytes.try_into().map_err(|_| CryptoError)?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&array).map_err(|_| CryptoError)?;
    if key.to_edwards().compress().to_bytes() != array || key.is_weak() {
        return Err(CryptoError);
    }
    Ok(key)
}

/// Decodes a P-256 public key from SEC1: compressed (33 bytes, `02`/`03`) or
/// uncompressed (65 bytes, `04`); the point must be on the curve and not the
/// identity.
pub(crate) fn decode_p256_public(bytes: &[u8]) -> Result<p256::PublicKey, CryptoError> {
    match (bytes.len(), bytes.first()) {
        (33, Some(0x02 | 0x03)) | (65, Some(0x04)) => {
            p256::PublicKey::from_sec1_bytes(bytes).map_err(|_| CryptoError)
        }
        _ => Err(CryptoError),
    }
}

/// Decodes a P-256 private key: exactly 32 big-endian bytes, 0 < d < n.
pub(crate) fn decode_p256_secret(bytes: &[u8]) -> Result<p256::SecretKey, CryptoError> {
    if bytes.len() != PRIVATE_KEY_LEN {
        return Err(CryptoError);
    }
    p256::SecretKey::from_slice(bytes).map_err(|_| CryptoError)
}

/// EdDSA over Ed25519 (RFC 8032, pure Ed25519, no context).
///
/// Private keys are the 32-byte seed, public keys the 32-byte compressed
/// Edwards point.
///
/// Verification uses `ed25519-dalek`'s `verify_strict`: on top of the RFC 8032
/// §5.1.7 equation (cofactorless, non-canonical S rejected) it refuses
/// small-order public keys and small-order R, which closes the known
/// malleability and "signature valid for many messages" tricks with weak
/// keys. The RFC 8032 §7.1 vectors and every interop signature in
/// `test-vectors/` pass it. Public keys must also use the canonical encoding.
#[derive(Clone, Copy, Default)]
pub struct Ed25519;

impl fmt::Debug for Ed25519 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ed25519")
    }
}

impl Signature for Ed25519 {
    fn alg(&self) -> AlgorithmId {
        AlgorithmId::EDDSA
    }

    fn curve(&self) -> CurveId {
        CurveId::ED25519
    }

    fn signature_len(&self) -> usize {
        SIGNATURE_LEN
    }

    fn signing_key(&self, private_key: &[u8]) -> Result<Box<dyn SigningKey>, CryptoError> {
        let seed = secret_32(private_key)?;
        Ok(Box::new(Ed25519SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed))))
    }

    fn verifying_key(&self, public_key: &[u8]) -> Result<Box<dyn VerifyingKey>, CryptoError> {
        Ok(Box::new(Ed25519VerifyingKey(decode_ed25519_public(public_key)?)))
    }
}

/// A prepared Ed25519 signing key (wiped on drop by `ed25519-dalek`).
pub struct Ed25519SigningKey(ed25519_dalek::SigningKey);

impl fmt::Debug for Ed25519SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ed25519SigningKey").finish_non_exhaustive()
    }
}

impl SigningKey for Ed25519SigningKey {
    fn sign(&self, msg: &[u8], signature: &mut [u8]) -> Result<(), CryptoError> {
        if signature.len() != SIGNATURE_LEN {
            return Err(CryptoError);
        }
        let sig = self.0.try_sign(msg).map_err(|_| CryptoError)?;
        signature.copy_from_slice(&sig.to_bytes());
        Ok(())
    }

    /// The 32-byte compressed Edwards point.
    fn public_key(&self) -> Vec<u8> {
        self.0.verifying_key().to_bytes().to_vec()
    }
}

/// A prepared Ed25519 verifying key.
#[derive(Debug)]
pub struct Ed25519VerifyingKey(ed25519_dalek::VerifyingKey);

impl VerifyingKey for Ed25519VerifyingKey {
    fn verify(&self, msg: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        let bytes: &[u8; SIGNATURE_LEN] = signature.try_into().map_err(|_| CryptoError)?;
        let sig = ed25519_dalek::Signature::from_bytes(bytes);
        self.0.verify_strict(msg, &sig).map_err(|_| CryptoError)
    }
}

/// ECDSA on P-256 with SHA-256 (ES256).
///
/// Private keys are the 32-byte big-endian scalar. Verifying keys accept SEC1
/// compressed (33 bytes) or uncompressed (65 bytes) points;
/// [`SigningKey::public_key`] returns the **uncompressed** encoding
/// (`04 ‖ x ‖ y`, 65 bytes), which is what a COSE_Key with `x` and `y` holds.
///
/// Signing is deterministic (RFC 6979, as `p256::ecdsa::SigningKey` does);
/// signatures are the fixed 64-byte `r ‖ s`, not DER. Verification accepts
/// both low and high `s`, as plain ECDSA does.
#[derive(Clone, Copy, Default)]
pub struct Es256;

impl fmt::Debug for Es256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Es256")
    }
}

impl Signature for Es256 {
    fn alg(&self) -> AlgorithmId {
        AlgorithmId::ES256
    }

    fn curve(&self) -> CurveId {
        CurveId::P256
    }

    fn signature_len(&self) -> usize {
        SIGNATURE_LEN
    }

    fn signing_key(&self, private_key: &[u8]) -> Result<Box<dyn SigningKey>, CryptoError> {
        let secret = decode_p256_secret(private_key)?;
        Ok(Box::new(Es256SigningKey(p256::ecdsa::SigningKey::from(secret))))
    }

    fn verifying_key(&self, public_key: &[u8]) -> Result<Box<dyn VerifyingKey>, CryptoError> {
        let public = decode_p256_public(public_key)?;
        Ok(Box::new(Es256VerifyingKey(p256::ecdsa::VerifyingKey::from(public))))
    }
}

/// A prepared ES256 signing key (wiped on drop by `ecdsa`).
pub struct Es256SigningKey(p256::ecdsa::SigningKey);

impl fmt::Debug for Es256SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Es256SigningKey").finish_non_exhaustive()
    }
}

impl SigningKey for Es256SigningKey {
    fn sign(&self, msg: &[u8], signature: &mut [u8]) -> Result<(), CryptoError> {
        if signature.len() != SIGNATURE_LEN {
            return Err(CryptoError);
        }
        let sig: p256::ecdsa::Signature = self.0.try_sign(msg).map_err(|_| CryptoError)?;
        signature.copy_from_slice(&sig.to_bytes());
        Ok(())
    }

    /// The SEC1 uncompressed point `04 ‖ x ‖ y` (65 bytes).
    fn public_key(&self) -> Vec<u8> {
        self.0.verifying_key().to_sec1_point(false).as_bytes().to_vec()
    }
}

/// A prepared ES256 verifying key.
#[derive(Debug)]
pub struct Es256VerifyingKey(p256::ecdsa::VerifyingKey);

impl VerifyingKey for Es256VerifyingKey {
    fn verify(&self, msg: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        if signature.len() != SIGNATURE_LEN {
            return Err(CryptoError);
        }
        let sig = p256::ecdsa::Signature::from_slice(signature).map_err(|_| CryptoError)?;
        self.0.verify(msg, &sig).map_err(|_| CryptoError)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use alloc::format;

    #[test]
    fn debug_shows_no_key_material() {
        let seed = [0x11u8; 32];
        let ed = Ed25519SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed));
        assert_eq!(format!("{ed:?}"), "Ed25519SigningKey { .. }");
        let es = Es256SigningKey(p256::ecdsa::SigningKey::from_slice(&seed).unwrap());
        assert_eq!(format!("{es:?}"), "Es256SigningKey { .. }");
    }
}
