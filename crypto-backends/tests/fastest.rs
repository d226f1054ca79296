//! The provider conformance suite (`tests/suite/`) run against
//! [`crypto_backends::FASTEST`], plus the composition it documents (cargo
//! feature `ring`).

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

use crypto_backends::{FASTEST, RING, RUSTCRYPTO};
use oscore_core::crypto::{AlgorithmId, CryptoProvider, CurveId};
use proptest::prelude::*;

/// The provider under test.
fn provider() -> &'static CryptoProvider {
    crypto_backends::fastest()
}

suite_tests!(provider());

/// FASTEST keeps RustCrypto's deterministic ES256 signing.
#[test]
fn es256_rfc6979() {
    suite::es256_rfc6979(provider());
}

/// FASTEST offers every algorithm RUSTCRYPTO offers, in the same order.
#[test]
fn offers_what_rustcrypto_offers() {
    let p = provider();
    assert!(core::ptr::eq(p, &FASTEST));
    let algs = |p: &CryptoProvider| -> Vec<i32> { p.aeads.iter().map(|a| a.alg().0).collect() };
    assert_eq!(algs(p), algs(&RUSTCRYPTO));
    let hkdfs: Vec<i32> = p.hkdfs.iter().map(|h| h.alg().0).collect();
    assert_eq!(hkdfs, [-10]);
    let sigs: Vec<(i32, CurveId)> = p.signatures.iter().map(|s| (s.alg().0, s.curve())).collect();
    assert_eq!(sigs, [(-8, CurveId::ED25519), (-7, CurveId::P256)]);
    let curves: Vec<CurveId> = p.key_agreements.iter().map(|k| k.curve()).collect();
    assert_eq!(curves, [CurveId::X25519, CurveId::P256]);
}

/// Each AEAD, HKDF and key agreement of FASTEST is the very table entry of
/// the provider its documentation names (AES-CCM and key agreement can only
/// be RustCrypto).
#[test]
fn composition_is_the_documented_one() {
    let aeads: [(AlgorithmId, &CryptoProvider); 5] = [
        (AlgorithmId::AES_CCM_16_64_128, &RUSTCRYPTO),
        (AlgorithmId::AES_CCM_16_128_128, &RUSTCRYPTO),
        (AlgorithmId::A128GCM, &RING),
        (AlgorithmId::A256GCM, &RING),
        (AlgorithmId::CHACHA20_POLY1305, &RING),
    ];
    for (alg, source) in aeads {
        assert!(core::ptr::addr_eq(FASTEST.aead(alg).unwrap(), source.aead(alg).unwrap()), "{alg:?}");
    }
    let hkdf = AlgorithmId::HKDF_SHA256;
    assert!(core::ptr::addr_eq(FASTEST.hkdf(hkdf).unwrap(), RUSTCRYPTO.hkdf(hkdf).unwrap()));
    for curve in [CurveId::X25519, CurveId::P256] {
        assert!(core::ptr::addr_eq(
            FASTEST.key_agreement(curve).unwrap(),
            RUSTCRYPTO.key_agreement(curve).unwrap()
        ));
    }
    assert!(core::ptr::addr_eq(FASTEST.random, RUSTCRYPTO.random));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// AEAD round trip with random algorithm, key, nonce, AAD and plaintext.
    #[test]
    fn aead_round_trip_random(
        index in 0usize..5,
        key in prop::collection::vec(any::<u8>(), 32),
        nonce in prop::collection::vec(any::<u8>(), 13),
        aad in prop::collection::vec(any::<u8>(), 0..100),
        plaintext in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        suite::aead_round_trip_case(provider(), index, &key, &nonce, &aad, &plaintext);
    }
}
