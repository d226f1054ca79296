//! Interleaved A/B timing of RustCrypto against `ring`, per operation.
//!
//! `cargo run --release -p crypto-backends --features ring --example provider_timing`
//!
//! The criterion bench (`benches/providers.rs`) measures one provider after
//! the other; on a shared machine the load can change in between. Here the
//! two providers alternate batch by batch (a batch is a few hundred
//! microseconds of work), so both see the same load, and the report gives
//! per operation the **minimum** over all batches (the least disturbed
//! figure) and the median. Results print as a Markdown table.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use crypto_backends::{RING, RUSTCRYPTO};
use oscore_core::crypto::{AlgorithmId, CryptoProvider};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Batches per provider and operation.
const ROUNDS: usize = 600;
/// Target wall time of one batch.
const BATCH: Duration = Duration::from_micros(400);

/// One operation on one provider, run `n` times.
type Op = Box<dyn FnMut(u32)>;

/// The number of calls that makes one batch last about [`BATCH`].
fn calibrate(op: &mut Op) -> u32 {
    let mut n = 1u32;
    loop {
        let start = Instant::now();
        op(n);
        if start.elapsed() >= BATCH || n >= 1 << 20 {
            return n;
        }
        n *= 2;
    }
}

fn aead_ops(p: &'static CryptoProvider, alg: AlgorithmId, len: usize) -> Option<(Op, Op)> {
    let aead = p.aead(alg)?;
    let key = aead.prepare(&vec![0x42; aead.key_len()]).unwrap();
    let nonce = vec![0x24; aead.nonce_len()];
    let aad = [0x83u8; 20];
    let plaintext = vec![0xa5u8; len];
    let mut ciphertext = plaintext.clone();
    let mut tag = vec![0u8; aead.tag_len()];
    key.seal_detached(&nonce, &aad, &mut ciphertext, &mut tag).unwrap();
    let key2 = aead.prepare(&vec![0x42; aead.key_len()]).unwrap();
    let (n2, tag2) = (nonce.clone(), tag.clone());
    let mut buf = plaintext.clone();
    let mut buf2 = plaintext.clone();
    let mut seal_tag = tag.clone();
    let seal: Op = Box::new(move |n| {
        for _ in 0..n {
            buf.copy_from_slice(&plaintext);
            key.seal_detached(&nonce, &aad, black_box(&mut buf), &mut seal_tag).unwrap();
        }
    });
    let open: Op = Box::new(move |n| {
        for _ in 0..n {
            buf2.copy_from_slice(&ciphertext);
            key2.open_detached(&n2, &aad, black_box(&mut buf2), &tag2).unwrap();
        }
    });
    Some((seal, open))
}

fn hkdf_op(p: &'static CryptoProvider) -> Op {
    let hkdf = p.hkdf(AlgorithmId::HKDF_SHA256).unwrap();
    let mut okm = [0u8; 16];
    Box::new(move |n| {
        for _ in 0..n {
            hkdf.derive(&[0x9e; 8], black_box(&[0x01; 16]), &[0x85; 20], &mut okm).unwrap();
        }
    })
}

fn signature_ops(p: &'static CryptoProvider, alg: AlgorithmId) -> (Op, Op) {
    let sig_alg = p.signature(alg).unwrap();
    let sk = sig_alg.signing_key(&[0x11; 32]).unwrap();
    let vk = sig_alg.verifying_key(&sk.public_key()).unwrap();
    let msg = [0x5au8; 128];
    let mut sig = vec![0u8; sig_alg.signature_len()];
    sk.sign(&msg, &mut sig).unwrap();
    let mut out = sig.clone();
    let sign: Op = Box::new(move |n| {
        for _ in 0..n {
            sk.sign(black_box(&msg), &mut out).unwrap();
        }
    });
    let verify: Op = Box::new(move |n| {
        for _ in 0..n {
            vk.verify(black_box(&msg), &sig).unwrap();
        }
    });
    (sign, verify)
}

/// Runs `a` (RustCrypto) and `b` (ring) in alternation; returns
/// (min, median) in nanoseconds per call for each.
fn race(mut a: Op, mut b: Op) -> [(f64, f64); 2] {
    let na = calibrate(&mut a);
    let nb = calibrate(&mut b);
    let mut times = [Vec::with_capacity(ROUNDS), Vec::with_capacity(ROUNDS)];
    for round in 0..ROUNDS {
        // Alternate which one goes first.
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for which in order {
            let (op, n) = if which == 0 { (&mut a, na) } else { (&mut b, nb) };
            let start = Instant::now();
            op(n);
            times[which].push(start.elapsed().as_nanos() as f64 / f64::from(n));
        }
    }
    times.map(|mut t| {
        t.sort_by(f64::total_cmp);
        (t[0], t[t.len() / 2])
    })
}

fn show(ns: f64) -> String {
    if ns >= 1000.0 { format!("{:.1} µs", ns / 1000.0) } else { format!("{ns:.0} ns") }
}

fn row(what: &str, r: [(f64, f64); 2]) {
    let [(rc_min, rc_med), (ring_min, ring_med)] = r;
    let faster = if rc_min <= ring_min { "rustcrypto" } else { "ring" };
    println!(
        "| {what} | {} | {} | {} | {} | {faster} ({:.2}×) |",
        show(rc_min),
        show(rc_med),
        show(ring_min),
        show(ring_med),
        rc_min.max(ring_min) / rc_min.min(ring_min)
    );
}

fn main() {
    println!("| operation | RustCrypto min | RustCrypto median | ring min | ring median | faster (by min) |");
    println!("|---|---|---|---|---|---|");
    let algs = [
        ("A128GCM", AlgorithmId::A128GCM),
        ("A256GCM", AlgorithmId::A256GCM),
        ("ChaCha20/Poly1305", AlgorithmId::CHACHA20_POLY1305),
    ];
    for (label, alg) in algs {
        for len in [64, 1024] {
            let (a_seal, a_open) = aead_ops(&RUSTCRYPTO, alg, len).unwrap();
            let (b_seal, b_open) = aead_ops(&RING, alg, len).unwrap();
            row(&format!("{label} seal {len} B"), race(a_seal, b_seal));
            row(&format!("{label} open {len} B"), race(a_open, b_open));
        }
    }
    row("HKDF-SHA-256 derive 16 B", race(hkdf_op(&RUSTCRYPTO), hkdf_op(&RING)));
    for (label, alg) in [("Ed25519", AlgorithmId::EDDSA), ("ES256", AlgorithmId::ES256)] {
        let (a_sign, a_verify) = signature_ops(&RUSTCRYPTO, alg);
        let (b_sign, b_verify) = signature_ops(&RING, alg);
        row(&format!("{label} sign"), race(a_sign, b_sign));
        row(&format!("{label} verify"), race(a_verify, b_verify));
    }
}
