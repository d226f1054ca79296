//! Ed25519 and ES256 on `ring::signature`.

use crate::signature::{decode_ed25519_public, decode_p256_public, decode_p256_secret, secret_32};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use oscore_core::crypto::{AlgorithmId, CryptoError, CurveId, Signature, SigningKey, VerifyingKey};
use p256::elliptic_curve::sec1::ToSec1Point as _;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
    UnparsedPublicKey,
};

/// Length of an Ed25519 or ES256 signature (R‖S) in bytes.
const SIGNATURE_LEN: usize = 64;
/// Length of a SEC1 uncompressed P-256 point (`04 ‖ x ‖ y`).
const P256_UNCOMPRESSED_LEN: usize = 65;

/// EdDSA with Ed25519 (COSE -8, crv 6) on `ring`.
pub static ED25519: RingEd25519 = RingEd25519;
/// ES256: ECDSA with SHA-256 on P-256 (COSE -7, crv 1) on `ring`.
pub static ES256: RingEs256 = RingEs256;

/// The canonical encodings of the eight points of edwards25519 whose order
/// divides 8 (the torsion subgroup E\[8\]; curve of RFC 7748 §4.1). The unit
/// test `small_order_list_is_e8` regenerates the set as the multiples of the
/// first order-8 point and checks both the set and the encodings.
///
/// `ring` compares the signature's R with the canonical encoding of the point
/// it computes, so non-canonical encodings of these points never verify and
/// need no entry.
const SMALL_ORDER_R: [[u8; 32]; 8] = [
    // identity, y = 1
    [
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ],
    // order 2, y = −1 = p − 1
    [
        0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
    ],
    // order 4, y = 0
    [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ],
    // order 4, y = 0, x negative
    [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80,
    ],
    // order 8
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5,
        0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05,
    ],
    // order 8, x negative
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5,
        0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x85,
    ],
    // order 8
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a,
        0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a,
    ],
    // order 8, x negative
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a,
        0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0xfa,
    ],
];

/// EdDSA over Ed25519 (RFC 8032, pure Ed25519) on `ring`.
///
/// Same key encodings and the same acceptance rules as [`crate::Ed25519`]:
/// - public keys are validated when prepared with the same strict decoder
///   (canonical encoding, on the curve, not of small order), since `ring`
///   parses a public key only when it verifies;
/// - `ring` verifies with the cofactorless RFC 8032 §5.1.7 equation, refuses
///   S ≥ L and non-canonical R; a small-order R is refused here as well, as
///   `ed25519-dalek`'s `verify_strict` does. The two providers therefore
///   accept exactly the same signatures (a proxy on one and a member on the
///   other never disagree).
///
/// Signing is deterministic (RFC 8032), so both providers produce the same
/// bytes.
#[derive(Clone, Copy, Default)]
pub struct RingEd25519;

impl fmt::Debug for RingEd25519 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RingEd25519")
    }
}

impl Signature for RingEd25519 {
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
        // "Unchecked" only means that no public key is given to compare with.
        let pair = Ed25519KeyPair::from_seed_unchecked(&*seed).map_err(|_| CryptoError)?;
        Ok(Box::new(RingEd25519SigningKey(pair)))
    }

    fn verifying_key(&self, public_key: &[u8]) -> Result<Box<dyn VerifyingKey>, CryptoError> {
        let key = decode_ed25519_public(public_key)?;
        Ok(Box::new(RingEd25519VerifyingKey(key.to_bytes())))
    }
}

/// A prepared Ed25519 signing key on `ring`.
///
/// **Not wiped on drop** (`ring` does not zeroize its key pairs). `Debug`
/// shows nothing of the key.
pub struct RingEd25519SigningKey(Ed25519KeyPair);

impl fmt::Debug for RingEd25519SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingEd25519SigningKey").finish_non_exhaustive()
    }
}

impl SigningKey for RingEd25519SigningKey {
    fn sign(&self, msg: &[u8], signature: &mut [u8]) -> Result<(), CryptoError> {
        if signature.len() != SIGNATURE_LEN {
            return Err(CryptoError);
        }
        signature.copy_from_slice(self.0.sign(msg).as_ref());
        Ok(())
    }

    /// The 32-byte compressed Edwards point.
    fn public_key(&self) -> Vec<u8> {
        self.0.public_key().as_ref().to_vec()
    }
}

/// A prepared Ed25519 verifying key on `ring`: the validated 32-byte point.
#[derive(Debug)]
pub struct RingEd25519VerifyingKey([u8; 32]);

impl VerifyingKey for RingEd25519VerifyingKey {
    fn verify(&self, msg: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        if signature.len() != SIGNATURE_LEN {
            return Err(CryptoError);
        }
        let r = signature.get(..32).ok_or(CryptoError)?;
        if SMALL_ORDER_R.iter().any(|p| p == r) {
            return Err(CryptoError);
        }
        UnparsedPublicKey::new(&ring::signature::ED25519, &self.0)
            .verify(msg, signature)
            .map_err(|_| CryptoError)
    }
}

/// ECDSA on P-256 with SHA-256 (ES256) on `ring`.
///
/// Same key and signature encodings as [`crate::Es256`] (32-byte scalar;
/// SEC1 compressed or uncompressed public keys, uncompressed returned;
/// 64-byte `r ‖ s`), but **signing is randomized, not RFC 6979**: `ring`
/// draws k from the system random source (hedged with the key and the
/// message digest), so signing the same message twice gives two different
/// valid signatures. Use [`crate::Es256`] (RustCrypto) wherever
/// reproducible signatures matter (tests, known-answer vectors); both
/// verify each other's signatures.
///
/// `ring` takes public keys in the uncompressed form only, so a compressed
/// key is validated and decompressed with `p256` when the key is prepared;
/// likewise `ring` needs the public key next to the private scalar, which
/// `p256` computes once at preparation (that also validates 0 < d < n).
/// Verification accepts both low and high `s`, as plain ECDSA and
/// [`crate::Es256`] do.
#[derive(Clone, Copy, Default)]
pub struct RingEs256;

impl fmt::Debug for RingEs256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RingEs256")
    }
}

/// The SEC1 uncompressed encoding of a P-256 public key.
fn uncompressed(public: &p256::PublicKey) -> Result<[u8; P256_UNCOMPRESSED_LEN], CryptoError> {
    public.to_sec1_point(false).as_bytes().try_into().map_err(|_| CryptoError)
}

impl Signature for RingEs256 {
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
        let public = uncompressed(&secret.public_key())?;
        let rng = ring::rand::SystemRandom::new();
        let pair = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            private_key,
            &public,
            &rng,
        )
        .map_err(|_| CryptoError)?;
        Ok(Box::new(RingEs256SigningKey { pair, rng }))
    }

    fn verifying_key(&self, public_key: &[u8]) -> Result<Box<dyn VerifyingKey>, CryptoError> {
        let public = decode_p256_public(public_key)?;
        Ok(Box::new(RingEs256VerifyingKey(uncompressed(&public)?)))
    }
}

/// A prepared ES256 signing key on `ring` (randomized signing, see
/// [`RingEs256`]).
///
/// **Not wiped on drop** (`ring` does not zeroize its key pairs). `Debug`
/// shows nothing of the key.
pub struct RingEs256SigningKey {
    pair: EcdsaKeyPair,
    rng: ring::rand::SystemRandom,
}

impl fmt::Debug for RingEs256SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingEs256SigningKey").finish_non_exhaustive()
    }
}

impl SigningKey for RingEs256SigningKey {
    fn sign(&self, msg: &[u8], signature: &mut [u8]) -> Result<(), CryptoError> {
        if signature.len() != SIGNATURE_LEN {
            return Err(CryptoError);
        }
        let sig = self.pair.sign(&self.rng, msg).map_err(|_| CryptoError)?;
        let sig = sig.as_ref();
        if sig.len() != SIGNATURE_LEN {
            return Err(CryptoError);
        }
        signature.copy_from_slice(sig);
        Ok(())
    }

    /// The SEC1 uncompressed point `04 ‖ x ‖ y` (65 bytes).
    fn public_key(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }
}

/// A prepared ES256 verifying key on `ring`: the validated point, uncompressed.
#[derive(Debug)]
pub struct RingEs256VerifyingKey([u8; P256_UNCOMPRESSED_LEN]);

impl VerifyingKey for RingEs256VerifyingKey {
    fn verify(&self, msg: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        if signature.len() != SIGNATURE_LEN {
            return Err(CryptoError);
        }
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.0)
            .verify(msg, signature)
            .map_err(|_| CryptoError)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use alloc::collections::BTreeSet;
    use alloc::format;

    #[test]
    fn debug_shows_no_key_material() {
        let seed = [0x11u8; 32];
        let ed = RingEd25519SigningKey(Ed25519KeyPair::from_seed_unchecked(&seed).unwrap());
        assert_eq!(format!("{ed:?}"), "RingEd25519SigningKey { .. }");
        let secret = decode_p256_secret(&seed).unwrap();
        let rng = ring::rand::SystemRandom::new();
        let pair = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &seed,
            &uncompressed(&secret.public_key()).unwrap(),
            &rng,
        )
        .unwrap();
        let es = RingEs256SigningKey { pair, rng };
        assert_eq!(format!("{es:?}"), "RingEs256SigningKey { .. }");
    }

    /// `SMALL_ORDER_R` is exactly the torsion subgroup E[8], each point in its
    /// canonical encoding: the multiples 0·P … 7·P of an order-8 point P.
    #[test]
    fn small_order_list_is_e8() {
        let decode = |bytes: &[u8; 32]| {
            // `from_bytes` decompresses without the strict checks.
            ed25519_dalek::VerifyingKey::from_bytes(bytes).unwrap().to_edwards()
        };
        let p = decode(&SMALL_ORDER_R[4]);
        let mut multiples = BTreeSet::new();
        let mut acc = p - p;
        for _ in 0..8 {
            multiples.insert(acc.compress().to_bytes());
            acc += p;
        }
        assert_eq!(acc.compress(), (p - p).compress(), "8·P is the identity");
        let listed: BTreeSet<[u8; 32]> = SMALL_ORDER_R.iter().copied().collect();
        assert_eq!(listed.len(), 8);
        assert_eq!(listed, multiples);
        for r in &SMALL_ORDER_R {
            let point = decode(r);
            assert!(point.is_small_order());
            assert_eq!(&point.compress().to_bytes(), r, "canonical");
        }
    }
}
