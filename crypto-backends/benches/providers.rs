//! RustCrypto and `ring` side by side, per operation, through the provider
//! traits (so the figures include the small cost of the `dyn` call that the
//! protocol code pays too).
//!
//! `cargo bench -p crypto-backends --features ring --bench providers`
//!
//! Each benchmark id is `<operation>/<algorithm>[/<bytes>]/<provider>`. The
//! AEAD figures include copying the input into the work buffer (64 or 1024
//! bytes, the same for both providers), because opening decrypts in place.
//! The results decide the tables of `FASTEST` (see `src/fastest.rs`).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use crypto_backends::{RING, RUSTCRYPTO};
use oscore_core::crypto::{AlgorithmId, CryptoProvider};
use std::hint::black_box;
use std::time::Duration;

/// The providers compared, by the names of `provider_by_name`.
const PROVIDERS: [(&str, &CryptoProvider); 2] = [("rustcrypto", &RUSTCRYPTO), ("ring", &RING)];
/// AEAD plaintext lengths: a typical CoAP request and a full block.
const AEAD_LENGTHS: [usize; 2] = [64, 1024];
/// A typical OSCORE external_aad / Enc_structure length.
const AAD: [u8; 20] = [0x83; 20];
/// A countersignature input of typical size (Sig_structure of a small message).
const SIGNED: [u8; 128] = [0x5a; 128];

fn aead(c: &mut Criterion) {
    let algs = [
        ("AES-CCM-16-64-128", AlgorithmId::AES_CCM_16_64_128),
        ("AES-CCM-16-128-128", AlgorithmId::AES_CCM_16_128_128),
        ("A128GCM", AlgorithmId::A128GCM),
        ("A256GCM", AlgorithmId::A256GCM),
        ("ChaCha20-Poly1305", AlgorithmId::CHACHA20_POLY1305),
    ];
    for (label, alg) in algs {
        for len in AEAD_LENGTHS {
            let mut group = c.benchmark_group(format!("aead/{label}/{len}"));
            group.throughput(Throughput::Bytes(len as u64));
            for (name, provider) in PROVIDERS {
                let Some(aead) = provider.aead(alg) else { continue };
                let key = aead.prepare(&vec![0x42; aead.key_len()]).unwrap();
                let nonce = vec![0x24; aead.nonce_len()];
                let plaintext = vec![0xa5; len];
                let mut buf = plaintext.clone();
                let mut tag = vec![0; aead.tag_len()];
                group.bench_function(BenchmarkId::new("seal", name), |b| {
                    b.iter(|| {
                        buf.copy_from_slice(&plaintext);
                        key.seal_detached(&nonce, &AAD, black_box(&mut buf), &mut tag).unwrap();
                    });
                });
                let mut ciphertext = plaintext.clone();
                key.seal_detached(&nonce, &AAD, &mut ciphertext, &mut tag).unwrap();
                group.bench_function(BenchmarkId::new("open", name), |b| {
                    b.iter(|| {
                        buf.copy_from_slice(&ciphertext);
                        key.open_detached(&nonce, &AAD, black_box(&mut buf), &tag).unwrap();
                    });
                });
            }
            group.finish();
        }
    }
}

fn hkdf(c: &mut Criterion) {
    // The RFC 8613 §3.2.1 derivation of one 16-byte key: 16-byte Master
    // Secret, 8-byte Master Salt, an `info` of about 20 bytes.
    let (secret, salt, info) = ([0x01; 16], [0x9e; 8], [0x85; 20]);
    let mut group = c.benchmark_group("hkdf/HKDF-SHA-256");
    for (name, provider) in PROVIDERS {
        let hkdf = provider.hkdf(AlgorithmId::HKDF_SHA256).unwrap();
        let mut okm = [0u8; 16];
        group.bench_function(BenchmarkId::new("derive", name), |b| {
            b.iter(|| hkdf.derive(&salt, black_box(&secret), &info, &mut okm).unwrap());
        });
        let prk = [0x33; 32];
        group.bench_function(BenchmarkId::new("expand", name), |b| {
            b.iter(|| hkdf.expand(black_box(&prk), &info, &mut okm).unwrap());
        });
    }
    group.finish();
}

fn signatures(c: &mut Criterion) {
    for (label, alg) in [("Ed25519", AlgorithmId::EDDSA), ("ES256", AlgorithmId::ES256)] {
        let mut group = c.benchmark_group(format!("signature/{label}"));
        for (name, provider) in PROVIDERS {
            let sig_alg = provider.signature(alg).unwrap();
            let sk = sig_alg.signing_key(&[0x11; 32]).unwrap();
            let vk = sig_alg.verifying_key(&sk.public_key()).unwrap();
            let mut sig = vec![0u8; sig_alg.signature_len()];
            group.bench_function(BenchmarkId::new("sign", name), |b| {
                b.iter(|| sk.sign(black_box(&SIGNED), &mut sig).unwrap());
            });
            sk.sign(&SIGNED, &mut sig).unwrap();
            group.bench_function(BenchmarkId::new("verify", name), |b| {
                b.iter(|| vk.verify(black_box(&SIGNED), &sig).unwrap());
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(40)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = aead, hkdf, signatures
}
criterion_main!(benches);
