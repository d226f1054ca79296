//! The provider conformance suite (`tests/suite/`) run against
//! [`crypto_backends::RUSTCRYPTO`], plus checks specific to this provider.

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

use crypto_backends::RUSTCRYPTO;
use oscore_core::crypto::{AlgorithmId, CryptoProvider, CurveId};
use proptest::prelude::*;

/// The provider under test: change this to run the suite on another backend.
fn provider() -> &'static CryptoProvider {
    crypto_backends::rustcrypto()
}

suite_tests!(provider());

/// RUSTCRYPTO offers exactly the algorithms it documents, in this order.
#[test]
fn offers_documented_algorithms() {
    let p = provider();
    assert!(core::ptr::eq(p, &RUSTCRYPTO));
    let aeads: Vec<i32> = p.aeads.iter().map(|a| a.alg().0).collect();
    assert_eq!(aeads, [10, 30, 1, 3, 24]);
    let hkdfs: Vec<i32> = p.hkdfs.iter().map(|h| h.alg().0).collect();
    assert_eq!(hkdfs, [-10]);
    let sigs: Vec<(i32, CurveId)> = p.signatures.iter().map(|s| (s.alg().0, s.curve())).collect();
    assert_eq!(sigs, [(-8, CurveId::ED25519), (-7, CurveId::P256)]);
    let curves: Vec<CurveId> = p.key_agreements.iter().map(|k| k.curve()).collect();
    assert_eq!(curves, [CurveId::X25519, CurveId::P256]);
    assert!(p.aead(AlgorithmId(12345)).is_none());
    assert!(p.signature(AlgorithmId::HKDF_SHA256).is_none());
    assert!(p.key_agreement(CurveId::ED25519).is_none());
    let debug = format!("{p:?}");
    assert!(debug.contains("AES-CCM-16-64-128"), "{debug}");
}

/// RustCrypto's ES256 signs deterministically (RFC 6979).
#[test]
fn es256_rfc6979() {
    suite::es256_rfc6979(provider());
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
