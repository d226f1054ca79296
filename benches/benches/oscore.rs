//! Criterion timings: every measured operation beside its raw-primitive
//! baseline, in the same criterion group and the same run.
//!
//! Groups (see the `benches` crate documentation for the naming):
//! - `derive`: `SecurityContext::derive` and `context::derive_keys` per AEAD,
//!   beside three raw HKDF calls (+ two AEAD key schedules);
//! - `msg_<AEAD>`: protect / verify of a request and of a response, and
//!   protect + verify of a request, per payload size, beside the raw AEAD
//!   encryption / decryption of the same plaintext and AAD sizes;
//! - `group_<signature>`: signature-mode protect and verify and the
//!   non-member `SignatureChecker`, beside raw sign / verify of the same bytes;
//! - `pairwise_<signature>`: pairwise-key derivation with a cold and a warm
//!   shared-secret cache, beside raw ECDH + HKDF and raw HKDF;
//! - `keyupdate`: `updateCtx()` beside a raw HKDF-Expand, and a full
//!   client-initiated key-update exchange beside the primitives it runs.
//!
//! Every group exists once per provider (`ring` groups end in `_ring`), each
//! compared with the raw primitives of the same provider.
//!
//! Verification needs a fresh message each time (replay protection): its
//! inputs are made by `iter_batched_ref` setup, outside the measurement.
//! Every measured function drops its own result (see `benches::ops`).
//!
//! Run with `cargo xtask bench` (which also writes the report), or
//! `cargo bench -p benches --bench oscore -- <criterion options>`.

// Fixture and setup failures stop the run (see `benches::fixtures`).
#![allow(clippy::expect_used)]

use benches::fixtures::{
    AEADS, FIRST_SSN, GROUP_PAYLOAD, GroupFixture, KeyUpdateFixture, NOW, PairwiseFixture, Provider, RawAead,
    RawDerivation, SIGNATURES, c1_params, pair, payload_sizes, protected_request_bytes,
    protected_response_bytes, providers, request, request_binding, request_bytes, response, response_bytes,
};
use benches::ops;
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use oscore_core::ResponsePiv;
use oscore_core::crypto::AlgorithmId;
use oscore_core::protect::PROTECT_OVERHEAD;
use oscore_group::RequestMode;

fn suite(c: &mut Criterion) {
    for &p in providers() {
        let aeads: Vec<(AlgorithmId, &str)> =
            AEADS.iter().copied().filter(|(a, _)| p.offers_aead(*a)).collect();
        derive(c, p, &aeads);
        for &(aead, name) in &aeads {
            messages(c, p, aead, name);
        }
        for &(alg, name) in &SIGNATURES {
            group(c, p, alg, name);
        }
        for &(alg, name) in &SIGNATURES {
            pairwise(c, p, alg, name);
        }
        keyupdate(c, p);
    }
}

fn derive(c: &mut Criterion, p: Provider, aeads: &[(AlgorithmId, &str)]) {
    let mut g = c.benchmark_group(format!("derive{}", p.suffix));
    for &(aead, name) in aeads {
        let params = c1_params("C.1.1", aead);
        let raw = RawDerivation::new(p, aead);
        g.bench_function(BenchmarkId::new("derive_context", name), |b| {
            b.iter(|| ops::derive::derive_context(p.provider, &params));
        });
        g.bench_function(BenchmarkId::new("derive_keys", name), |b| {
            b.iter(|| ops::derive::derive_keys(p.provider, &params));
        });
        g.bench_function(BenchmarkId::new("raw_hkdf3_prepare2", name), |b| {
            b.iter(|| ops::derive::raw_hkdf3_prepare2(&raw));
        });
        g.bench_function(BenchmarkId::new("raw_hkdf3", name), |b| b.iter(|| ops::derive::raw_hkdf3(&raw)));
    }
    g.finish();
}

fn messages(c: &mut Criterion, p: Provider, aead: AlgorithmId, name: &str) {
    let mut g = c.benchmark_group(format!("msg_{name}{}", p.suffix));
    for &size in payload_sizes() {
        let (req, resp) = (request(size), response(size));

        let (mut client, _) = pair(p, aead);
        g.bench_function(BenchmarkId::new("protect_request", size), |b| {
            b.iter(|| ops::msg::protect_request(&mut client, &req));
        });

        let (mut client, mut server) = pair(p, aead);
        g.bench_function(BenchmarkId::new("verify_request", size), |b| {
            b.iter_batched_ref(
                || client.protect_request(&req, NOW).expect("request protects").0,
                |protected| ops::msg::verify_request(&mut server, protected),
                BatchSize::SmallInput,
            );
        });

        let (mut client, mut server) = pair(p, aead);
        g.bench_function(BenchmarkId::new("protect_verify_request", size), |b| {
            b.iter(|| ops::msg::protect_verify_request(&mut client, &mut server, &req));
        });

        let (_, mut server) = pair(p, aead);
        let mut seq = FIRST_SSN;
        g.bench_function(BenchmarkId::new("protect_response", size), |b| {
            b.iter_batched_ref(
                || {
                    seq += 1;
                    request_binding(seq)
                },
                |binding| ops::msg::protect_response(&mut server, &resp, binding),
                BatchSize::SmallInput,
            );
        });

        let (mut client, mut server) = pair(p, aead);
        let mut seq = FIRST_SSN;
        g.bench_function(BenchmarkId::new("verify_response", size), |b| {
            b.iter_batched_ref(
                || {
                    seq += 1;
                    let protected = server
                        .protect_response(&resp, &mut request_binding(seq), ResponsePiv::Auto, NOW)
                        .expect("response protects");
                    (protected, request_binding(seq))
                },
                |(protected, binding)| ops::msg::verify_response(&mut client, protected, binding),
                BatchSize::SmallInput,
            );
        });

        bytes_api(&mut g, p, aead, size);

        let mut raw = RawAead::for_request(p, aead, size);
        g.bench_function(BenchmarkId::new("raw_seal_request", size), |b| {
            b.iter(|| ops::msg::raw_seal_request(&mut raw));
        });
        g.bench_function(BenchmarkId::new("raw_open_request", size), |b| {
            b.iter(|| ops::msg::raw_open_request(&mut raw));
        });
        g.bench_function(BenchmarkId::new("raw_seal_open_request", size), |b| {
            b.iter(|| ops::msg::raw_seal_open_request(&mut raw));
        });
        let mut raw = RawAead::for_response(p, aead, size);
        g.bench_function(BenchmarkId::new("raw_seal_response", size), |b| {
            b.iter(|| ops::msg::raw_seal_response(&mut raw));
        });
        g.bench_function(BenchmarkId::new("raw_open_response", size), |b| {
            b.iter(|| ops::msg::raw_open_response(&mut raw));
        });
    }
    g.finish();
}

/// The same operations through the byte-level API: CoAP-over-UDP bytes in,
/// bytes appended to a reused buffer out, verification in place.
fn bytes_api(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    p: Provider,
    aead: AlgorithmId,
    size: usize,
) {
    let (req, resp) = (request_bytes(size), response_bytes(size));
    let mut out = Vec::with_capacity(req.len().max(resp.len()) + PROTECT_OVERHEAD);
    let mut wire = Vec::with_capacity(out.capacity());

    let (mut client, _) = pair(p, aead);
    g.bench_function(BenchmarkId::new("protect_request_bytes", size), |b| {
        b.iter(|| ops::msg::protect_request_bytes(&mut client, &req, &mut out));
    });

    let (mut client, mut server) = pair(p, aead);
    g.bench_function(BenchmarkId::new("verify_request_bytes", size), |b| {
        b.iter_batched_ref(
            || protected_request_bytes(&mut client, &req),
            |protected| ops::msg::verify_request_bytes(&mut server, protected, &mut out),
            BatchSize::SmallInput,
        );
    });

    let (mut client, mut server) = pair(p, aead);
    g.bench_function(BenchmarkId::new("protect_verify_request_bytes", size), |b| {
        b.iter(|| {
            ops::msg::protect_verify_request_bytes(&mut client, &mut server, &req, &mut wire, &mut out)
        });
    });

    let (_, mut server) = pair(p, aead);
    let mut seq = FIRST_SSN;
    g.bench_function(BenchmarkId::new("protect_response_bytes", size), |b| {
        b.iter_batched_ref(
            || {
                seq += 1;
                request_binding(seq)
            },
            |binding| ops::msg::protect_response_bytes(&mut server, &resp, binding, &mut out),
            BatchSize::SmallInput,
        );
    });

    let (mut client, mut server) = pair(p, aead);
    let mut seq = FIRST_SSN;
    g.bench_function(BenchmarkId::new("verify_response_bytes", size), |b| {
        b.iter_batched_ref(
            || {
                seq += 1;
                protected_response_bytes(&mut server, &resp, seq)
            },
            |(protected, binding)| ops::msg::verify_response_bytes(&mut client, protected, binding, &mut out),
            BatchSize::SmallInput,
        );
    });

    let (mut client, mut server) = pair(p, aead);
    g.bench_function(BenchmarkId::new("verify_request_in_place", size), |b| {
        b.iter_batched_ref(
            || protected_request_bytes(&mut client, &req),
            |protected| ops::msg::verify_request_in_place(&mut server, protected),
            BatchSize::SmallInput,
        );
    });

    let (mut client, mut server) = pair(p, aead);
    g.bench_function(BenchmarkId::new("protect_verify_request_in_place", size), |b| {
        b.iter(|| ops::msg::protect_verify_request_in_place(&mut client, &mut server, &req, &mut wire));
    });

    let (mut client, mut server) = pair(p, aead);
    let mut seq = FIRST_SSN;
    g.bench_function(BenchmarkId::new("verify_response_in_place", size), |b| {
        b.iter_batched_ref(
            || {
                seq += 1;
                protected_response_bytes(&mut server, &resp, seq)
            },
            |(protected, binding)| ops::msg::verify_response_in_place(&mut client, protected, binding),
            BatchSize::SmallInput,
        );
    });
}

fn group(c: &mut Criterion, p: Provider, alg: AlgorithmId, name: &str) {
    let mut g = c.benchmark_group(format!("group_{name}{}", p.suffix));
    let mut fx = GroupFixture::new(p, alg, GROUP_PAYLOAD);
    let size = GROUP_PAYLOAD;
    g.bench_function(BenchmarkId::new("protect_request", size), |b| {
        b.iter(|| ops::group::protect_request(&mut fx.client, &fx.request));
    });
    g.bench_function(BenchmarkId::new("verify_request", size), |b| {
        b.iter_batched_ref(
            || fx.client.protect_request(&fx.request, RequestMode::Group, NOW).expect("request protects").0,
            |protected| ops::group::verify_request(&mut fx.server, protected),
            BatchSize::SmallInput,
        );
    });
    g.bench_function(BenchmarkId::new("check_request", size), |b| {
        b.iter(|| ops::group::check_request(&mut fx.checker, &fx.protected));
    });
    g.bench_function(BenchmarkId::new("raw_sign", size), |b| {
        b.iter(|| ops::group::raw_sign(&*fx.signing_key, &fx.to_be_signed));
    });
    g.bench_function(BenchmarkId::new("raw_verify", size), |b| {
        b.iter(|| ops::group::raw_verify(&*fx.verifying_key, &fx.to_be_signed, &fx.signature));
    });
    g.finish();
}

fn pairwise(c: &mut Criterion, p: Provider, alg: AlgorithmId, name: &str) {
    let mut g = c.benchmark_group(format!("pairwise_{name}{}", p.suffix));
    let mut fx = PairwiseFixture::new(p, alg);
    g.bench_function("derive_cold", |b| b.iter(|| ops::pairwise::derive_cold(&mut fx)));
    g.bench_function("derive_warm", |b| b.iter(|| ops::pairwise::derive_warm(&mut fx)));
    g.bench_function("raw_ecdh_hkdf", |b| b.iter(|| ops::pairwise::raw_ecdh_hkdf(&fx)));
    g.bench_function("raw_hkdf", |b| b.iter(|| ops::pairwise::raw_hkdf(&fx)));
    g.finish();
}

fn keyupdate(c: &mut Criterion, p: Provider) {
    let mut g = c.benchmark_group(format!("keyupdate{}", p.suffix));
    let mut fx = KeyUpdateFixture::new(p);
    g.bench_function("update_ctx", |b| b.iter(|| ops::keyupdate::update_ctx(&fx)));
    g.bench_function("exchange", |b| b.iter(|| ops::keyupdate::exchange(&mut fx)));
    g.bench_function("raw_hkdf_expand", |b| b.iter(|| ops::keyupdate::raw_hkdf_expand(&fx)));
    g.bench_function("raw_exchange", |b| b.iter(|| ops::keyupdate::raw_exchange(&mut fx)));
    g.finish();
}

criterion_group!(all, suite);
criterion_main!(all);
