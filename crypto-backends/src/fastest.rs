//! The composed provider: per algorithm the faster of RustCrypto and `ring`.

use crate::ring_backend;
use alloc::boxed::Box;
use core::fmt;
use oscore_core::crypto::{
    Aead, AlgorithmId, CryptoError, CryptoProvider, CurveId, Hkdf, KeyAgreement, Signature, SigningKey,
    VerifyingKey,
};

/// One signature algorithm whose signing keys come from `signer` and whose
/// verifying keys come from `verifier` — e.g. deterministic RFC 6979 ES256
/// signing on RustCrypto with the faster ES256 verification of `ring`.
///
/// Both halves must implement the same algorithm on the same curve with the
/// same key and signature encodings; `alg`, `curve` and `signature_len` are
/// taken from `signer`. The providers' test suites check that the halves
/// used in [`FASTEST`] agree and verify each other's signatures.
pub struct SplitSignature {
    signer: &'static dyn Signature,
    verifier: &'static dyn Signature,
}

impl SplitSignature {
    /// Signs with `signer`, verifies with `verifier`.
    #[must_use]
    pub const fn new(signer: &'static dyn Signature, verifier: &'static dyn Signature) -> Self {
        Self { signer, verifier }
    }

    /// The algorithm that prepares signing keys.
    #[must_use]
    pub fn signer(&self) -> &'static dyn Signature {
        self.signer
    }

    /// The algorithm that prepares verifying keys.
    #[must_use]
    pub fn verifier(&self) -> &'static dyn Signature {
        self.verifier
    }
}

impl fmt::Debug for SplitSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SplitSignature").field("alg", &self.signer.alg()).finish_non_exhaustive()
    }
}

impl Signature for SplitSignature {
    fn alg(&self) -> AlgorithmId {
        self.signer.alg()
    }

    fn curve(&self) -> CurveId {
        self.signer.curve()
    }

    fn signature_len(&self) -> usize {
        self.signer.signature_len()
    }

    fn signing_key(&self, private_key: &[u8]) -> Result<Box<dyn SigningKey>, CryptoError> {
        self.signer.signing_key(private_key)
    }

    fn verifying_key(&self, public_key: &[u8]) -> Result<Box<dyn VerifyingKey>, CryptoError> {
        self.verifier.verifying_key(public_key)
    }
}

/// Ed25519 in [`FASTEST`]: signing on `ed25519-dalek`, verification on `ring`.
/// Both are RFC 8032 (deterministic, byte-identical signatures) and accept
/// the same signatures (see [`ring_backend::RingEd25519`]).
pub static FASTEST_ED25519: SplitSignature = SplitSignature::new(&crate::ED25519, &ring_backend::ED25519);

/// ES256 in [`FASTEST`]: deterministic RFC 6979 signing on `p256`,
/// verification on `ring`.
pub static FASTEST_ES256: SplitSignature = SplitSignature::new(&crate::ES256, &ring_backend::ES256);

/// The composed provider: for each algorithm, the faster of [`crate::RUSTCRYPTO`]
/// and [`crate::RING`], **decided by measurement** on the development machine
/// (2 shared cores of an AMD EPYC, x86_64 with AES-NI, PCLMULQDQ, AVX2,
/// SHA-NI; `ring` 0.17.14, `aes-gcm` 0.11, `chacha20poly1305` 0.11, `hkdf`
/// 0.13, `ed25519-dalek` 3 with `fast`, `p256` 0.14 with base-point tables).
///
/// Figures: time per call through the provider traits, minimum over 600
/// interleaved batches, median of 5 runs of
/// `cargo run --release -p crypto-backends --features ring --example provider_timing`
/// (the criterion bench `benches/providers.rs` gives the same ranking; the
/// machine was shared, medians under load are 15–20 % higher, the ratios
/// stayed within ±5 % from run to run). AEAD figures are with a 20-byte AAD
/// and include copying the input into the buffer.
///
/// | Algorithm | Operation | RustCrypto | `ring` | Chosen |
/// |---|---|---|---|---|
/// | AES-CCM-16-64-128 (10), AES-CCM-16-128-128 (30) | seal / open | 0.3 µs (64 B), 2.0 µs (1 KiB), criterion medians | — | RustCrypto (only one) |
/// | A128GCM (1) | seal / open 64 B | 176 / 185 ns | 140 / 146 ns | **`ring`** (1.26×) |
/// | A128GCM (1) | seal / open 1 KiB | 648 / 653 ns | 433 / 442 ns | **`ring`** (1.5×) |
/// | A256GCM (3) | seal / open 64 B | 192 / 203 ns | 143 / 151 ns | **`ring`** (1.34×) |
/// | A256GCM (3) | seal / open 1 KiB | 717 / 719 ns | 469 / 471 ns | **`ring`** (1.53×) |
/// | ChaCha20/Poly1305 (24) | seal / open 64 B | 1.4 / 1.4 µs | 282 / 297 ns | **`ring`** (4.7–5×) |
/// | ChaCha20/Poly1305 (24) | seal / open 1 KiB | 2.7 / 2.7 µs | 1.1 / 1.0 µs | **`ring`** (2.5–2.7×) |
/// | HKDF-SHA-256 (-10) | derive 16 B | 571 ns | 793 ns | **RustCrypto** (1.39×) |
/// | Ed25519 (-8) | sign | 28.8 µs | 38.0 µs | **RustCrypto** (1.32×) |
/// | Ed25519 (-8) | verify | 87.7 µs | 72.7 µs | **`ring`** (1.21×) |
/// | ES256 (-7) | sign | 122 µs (RFC 6979) | 26 µs (random k) | **RustCrypto**, 4.7× slower: kept for determinism |
/// | ES256 (-7) | verify | 386 µs | 81 µs | **`ring`** (4.8×) |
/// | X25519, P-256 ECDH | agree | — | — | RustCrypto (`ring` has no static keys) |
/// | random | fill | — | — | RustCrypto's [`crate::OsRandom`] (the same OS source) |
///
/// Why ES256 signing stays on RustCrypto although `ring` signs 4.7× faster:
/// RFC 6979 signatures are reproducible (tests, known-answer vectors,
/// byte-exact interop traces) and do not depend on the random source at
/// signing time; a Group OSCORE sender signs once per message, whereas the
/// proxy's hot path is verification, which is on `ring`. Use [`crate::RING`]
/// for randomized, faster ES256 signing.
///
/// Secrets: the signing keys (RustCrypto) and HKDF state are wiped on drop;
/// the AES-GCM and ChaCha20/Poly1305 key schedules come from `ring` and are
/// **not** (see [`crate::ring_backend`]); AES-CCM keys (RustCrypto) are.
///
/// The figures are from one machine: on a CPU without AES or carry-less
/// multiply instructions the ranking can differ. Run the example to check,
/// and compose a provider of your own from the public statics otherwise.
pub static FASTEST: CryptoProvider = CryptoProvider {
    aeads: &[
        &crate::AES_CCM_16_64_128 as &dyn Aead,
        &crate::AES_CCM_16_128_128,
        &ring_backend::A128GCM,
        &ring_backend::A256GCM,
        &ring_backend::CHACHA20_POLY1305,
    ],
    hkdfs: &[&crate::HKDF_SHA256 as &dyn Hkdf],
    signatures: &[&FASTEST_ED25519 as &dyn Signature, &FASTEST_ES256],
    key_agreements: &[&crate::X25519 as &dyn KeyAgreement, &crate::P256_ECDH],
    random: &crate::SYSTEM_RANDOM,
};

/// The composed provider ([`FASTEST`]).
#[must_use]
pub fn fastest() -> &'static CryptoProvider {
    &FASTEST
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each split's halves are the same algorithm, and the halves are the
    /// documented implementations.
    #[test]
    fn splits_pair_matching_halves() {
        for (split, signer, verifier) in [
            (&FASTEST_ED25519, &crate::ED25519 as &dyn Signature, &ring_backend::ED25519 as &dyn Signature),
            (&FASTEST_ES256, &crate::ES256, &ring_backend::ES256),
        ] {
            assert!(core::ptr::addr_eq(split.signer(), signer));
            assert!(core::ptr::addr_eq(split.verifier(), verifier));
            assert_eq!(signer.alg(), verifier.alg());
            assert_eq!(signer.curve(), verifier.curve());
            assert_eq!(signer.signature_len(), verifier.signature_len());
            assert_eq!(split.alg(), signer.alg());
        }
    }

    #[test]
    fn debug_names_the_algorithm_only() {
        assert_eq!(alloc::format!("{FASTEST_ES256:?}"), "SplitSignature { alg: ES256(-7), .. }");
    }
}
