//! The provider conformance suite (`tests/suite/`) run against
//! [`crypto_backends::RING`], plus checks specific to this provider
//! (cargo feature `ring`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    missing_docs
)]

#[macro_use]
mod suite;

use crypto_backends::{RING, RUSTCRYPTO, ring_backend};
use oscore_core::crypto::{AlgorithmId, CryptoProvider, CurveId};
use proptest::prelude::*;

/// The provider under test.
fn provider() -> &'static CryptoProvider {
    crypto_backends::ring()
}

suite_tests!(provider());

/// RING offers exactly the algorithms it documents: no AES-CCM, and the
/// RustCrypto key agreements (ring's agreement API is ephemeral-only).
#[test]
fn offers_documented_algorithms() {
    let p = provider();
    assert!(core::ptr::eq(p, &RING));
    let aeads: Vec<i32> = p.aeads.iter().map(|a| a.alg().0).collect();
    assert_eq!(aeads, [1, 3, 24]);
    assert!(p.aead(AlgorithmId::AES_CCM_16_64_128).is_none());
    assert!(p.aead(AlgorithmId::AES_CCM_16_128_128).is_none());
    let hkdfs: Vec<i32> = p.hkdfs.iter().map(|h| h.alg().0).collect();
    assert_eq!(hkdfs, [-10]);
    assert!(core::ptr::addr_eq(p.hkdfs[0], &ring_backend::HKDF_SHA256));
    let sigs: Vec<(i32, CurveId)> = p.signatures.iter().map(|s| (s.alg().0, s.curve())).collect();
    assert_eq!(sigs, [(-8, CurveId::ED25519), (-7, CurveId::P256)]);
    assert!(core::ptr::addr_eq(p.signatures[0], &ring_backend::ED25519));
    assert!(core::ptr::addr_eq(p.signatures[1], &ring_backend::ES256));
    let curves: Vec<CurveId> = p.key_agreements.iter().map(|k| k.curve()).collect();
    assert_eq!(curves, [CurveId::X25519, CurveId::P256]);
    assert!(core::ptr::addr_eq(p.key_agreements[0], &crypto_backends::X25519));
    assert!(core::ptr::addr_eq(p.key_agreements[1], &crypto_backends::P256_ECDH));
    assert!(core::ptr::addr_eq(p.random, &ring_backend::SYSTEM_RANDOM));
    let debug = format!("{p:?}");
    assert!(debug.contains("A128GCM") && !debug.contains("AES-CCM"), "{debug}");
}

/// ring signs ES256 with a random k: two signatures of one message differ,
/// and both verify under ring and under RustCrypto.
#[test]
fn es256_signing_is_randomized() {
    let es256 = RING.signature(AlgorithmId::ES256).unwrap();
    let reference = RUSTCRYPTO.signature(AlgorithmId::ES256).unwrap();
    let d = suite::pattern(32, 0x17);
    let sk = es256.signing_key(&d).unwrap();
    let msg = b"the same message";
    let mut first = [0u8; 64];
    let mut second = [0u8; 64];
    sk.sign(msg, &mut first).unwrap();
    sk.sign(msg, &mut second).unwrap();
    assert_ne!(first, second, "two ring ES256 signatures are equal");
    for alg in [es256, reference] {
        let vk = alg.verifying_key(&sk.public_key()).unwrap();
        assert!(vk.verify(msg, &first).is_ok());
        assert!(vk.verify(msg, &second).is_ok());
    }
}

/// The suite's RFC 6979 check fails for ring, as documented.
#[test]
#[should_panic(expected = "ES256 signing is not deterministic")]
fn es256_is_not_rfc6979() {
    suite::es256_rfc6979(provider());
}

/// A small-order R is refused before ring is asked (as `verify_strict`
/// does), for every canonical small-order encoding.
#[test]
fn ed25519_small_order_r_refused() {
    let ed = RING.signature(AlgorithmId::EDDSA).unwrap();
    let sk = ed.signing_key(&[7; 32]).unwrap();
    let vk = ed.verifying_key(&sk.public_key()).unwrap();
    let mut sig = [0u8; 64];
    sk.sign(b"m", &mut sig).unwrap();
    assert!(vk.verify(b"m", &sig).is_ok());
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut minus_one = [0xffu8; 32];
    minus_one[0] = 0xec;
    minus_one[31] = 0x7f;
    for r in [identity, minus_one, [0u8; 32]] {
        let mut bad = sig;
        bad[..32].copy_from_slice(&r);
        assert!(vk.verify(b"m", &bad).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// AEAD round trip with random algorithm, key, nonce, AAD and plaintext.
    #[test]
    fn aead_round_trip_random(
        index in 0usize..3,
        key in prop::collection::vec(any::<u8>(), 32),
        nonce in prop::collection::vec(any::<u8>(), 13),
        aad in prop::collection::vec(any::<u8>(), 0..100),
        plaintext in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        suite::aead_round_trip_case(provider(), index, &key, &nonce, &aad, &plaintext);
    }
}
