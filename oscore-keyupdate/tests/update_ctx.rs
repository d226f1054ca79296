//! key-limits-01 §3.2 `updateCtx()`: checked against an independent
//! computation written here with the `hmac`/`hkdf` crates directly (not the
//! code under test), starting from the RFC 8613 Appendix C.1 context.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::rfc8613_params;
use crypto_backends::RUSTCRYPTO;
use hmac::{Hmac, KeyInit, Mac};
use oscore_core::context::derive_keys;
use oscore_core::{ContextParams, ResponsePiv, SecurityContext};
use oscore_keyupdate::update::{HkdfKeyUpdate, hkdf_label};
use oscore_keyupdate::{KEY_UPDATE_LABEL, update_ctx};
use proptest::prelude::*;
use sha2::Sha256;

/// RFC 5869 HKDF-Expand written out with HMAC, keyed with `prk` as given
/// (no padding, whatever its length).
fn reference_expand(prk: &[u8], info: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut t: Vec<u8> = Vec::new();
    let mut i = 1u8;
    while out.len() < len {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(prk).unwrap();
        mac.update(&t);
        mac.update(info);
        mac.update(&[i]);
        t = mac.finalize().into_bytes().to_vec();
        out.extend_from_slice(&t);
        i += 1;
    }
    out.truncate(len);
    out
}

/// Figure 4's HkdfLabel written out byte by byte.
fn reference_label(len: u16, n: &[u8]) -> Vec<u8> {
    let label = b"oscore key update";
    let mut v = len.to_be_bytes().to_vec();
    v.push(u8::try_from(label.len()).unwrap());
    v.extend_from_slice(label);
    v.push(u8::try_from(n.len()).unwrap());
    v.extend_from_slice(n);
    v
}

/// RFC 8613 §3.2.1 info, CBOR written out by hand: [id, id_context / nil, alg_aead, type, L].
fn reference_info(id: &[u8], id_context: Option<&[u8]>, alg: u8, kind: &str, len: u8) -> Vec<u8> {
    assert!(id.len() < 24 && alg < 24 && len < 24);
    let mut v = vec![0x85, 0x40 | u8::try_from(id.len()).unwrap()];
    v.extend_from_slice(id);
    match id_context {
        Some(c) => {
            v.push(0x40 | u8::try_from(c.len()).unwrap());
            v.extend_from_slice(c);
        }
        None => v.push(0xf6),
    }
    v.push(alg);
    v.push(0x60 | u8::try_from(kind.len()).unwrap());
    v.extend_from_slice(kind.as_bytes());
    v.push(len);
    v
}

fn reference_hkdf(salt: &[u8], ikm: &[u8], info: &[u8], len: usize) -> Vec<u8> {
    let mut okm = vec![0u8; len];
    hkdf::Hkdf::<Sha256>::new(Some(salt), ikm).expand(info, &mut okm).unwrap();
    okm
}

const N: [u8; 16] =
    [0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8];

#[test]
fn label_is_our_named_decision() {
    assert_eq!(KEY_UPDATE_LABEL, "key update");
    assert_eq!(hkdf_label(16, KEY_UPDATE_LABEL, &N).unwrap(), reference_label(16, &N));
    let label = hkdf_label(16, KEY_UPDATE_LABEL, &N[..8]).unwrap();
    assert_eq!(&label[..4], &[0x00, 0x10, 17, b'o']);
    assert_eq!(label.len(), 2 + 1 + 17 + 1 + 8);
    assert!(hkdf_label(70_000, KEY_UPDATE_LABEL, &N).is_err());
    assert!(hkdf_label(16, KEY_UPDATE_LABEL, &[0; 256]).is_err());
}

#[test]
fn rfc8613_c1_updated_matches_independent_hkdf() {
    for section in ["C.1.1", "C.1.2"] {
        let ctx_in = rfc8613_params(section);
        let out = update_ctx(&RUSTCRYPTO, &HkdfKeyUpdate, &N, &ctx_in).unwrap();

        // MSECRET_NEW = HKDF-Expand(CTX_IN.MasterSecret, HkdfLabel, 16), with
        // the 16-byte Master Secret as HMAC key, unpadded.
        let info = reference_label(16, &N);
        let msecret = reference_expand(&ctx_in.master_secret, &info, 16);
        assert_eq!(*out.master_secret, msecret, "{section} MSECRET_NEW");
        // MSALT_NEW = N
        assert_eq!(out.master_salt, N, "{section} MSALT_NEW");
        // Every other parameter kept.
        assert_eq!(out.sender_id, ctx_in.sender_id);
        assert_eq!(out.recipient_id, ctx_in.recipient_id);
        assert_eq!(out.id_context, ctx_in.id_context);
        assert_eq!((out.aead, out.hkdf), (ctx_in.aead, ctx_in.hkdf));
        assert_eq!(out.limits, ctx_in.limits);

        // The RFC 8613 §3.2 derivation of CTX_OUT, recomputed.
        let keys = derive_keys(&RUSTCRYPTO, &out).unwrap();
        let alg = u8::try_from(ctx_in.aead.0).unwrap();
        let ctx = ctx_in.id_context.as_deref();
        assert_eq!(
            *keys.sender_key,
            reference_hkdf(&N, &msecret, &reference_info(&ctx_in.sender_id, ctx, alg, "Key", 16), 16)
        );
        assert_eq!(
            *keys.recipient_key,
            reference_hkdf(&N, &msecret, &reference_info(&ctx_in.recipient_id, ctx, alg, "Key", 16), 16)
        );
        assert_eq!(
            keys.common_iv,
            reference_hkdf(&N, &msecret, &reference_info(&[], ctx, alg, "IV", 13), 13)
        );
    }
}

#[test]
fn full_length_secret_matches_hkdf_crate_from_prk() {
    // With a Master Secret of hash length no padding is involved: the hkdf
    // crate's own HKDF-Expand applies directly.
    let ctx_in = ContextParams::new(&[0x5a; 32], b"\x01", b"\x02");
    let out = update_ctx(&RUSTCRYPTO, &HkdfKeyUpdate, &N[..8], &ctx_in).unwrap();
    let mut want = [0u8; 32];
    hkdf::Hkdf::<Sha256>::from_prk(&[0x5a; 32])
        .unwrap()
        .expand(&reference_label(32, &N[..8]), &mut want)
        .unwrap();
    assert_eq!(*out.master_secret, want);
    // And the padded short key is the same HMAC as the unpadded one.
    assert_eq!(
        reference_expand(&[7; 16], b"x", 40),
        reference_expand(&[[7u8; 16], [0u8; 16]].concat(), b"x", 40)
    );
}

#[test]
fn updated_peers_interoperate_and_differ_from_old() {
    let client_in = rfc8613_params("C.1.1");
    let server_in = rfc8613_params("C.1.2");
    let client_out = update_ctx(&RUSTCRYPTO, &HkdfKeyUpdate, &N, &client_in).unwrap();
    let server_out = update_ctx(&RUSTCRYPTO, &HkdfKeyUpdate, &N, &server_in).unwrap();
    assert_ne!(*client_out.master_secret, *client_in.master_secret);
    let mut client = SecurityContext::derive(&RUSTCRYPTO, &client_out).unwrap();
    let mut server = SecurityContext::derive(&RUSTCRYPTO, &server_out).unwrap();
    let (req, mut cb) = client.protect_request(&common::get("x"), 0).unwrap();
    let (_, mut sb) = server.verify_request(&req, 0).unwrap();
    let resp = server.protect_response(&common::content("y"), &mut sb, ResponsePiv::Auto, 0).unwrap();
    assert_eq!(client.verify_response(&resp, &mut cb, 0).unwrap().payload, b"y");
    // The old server context cannot read the new traffic.
    let mut old_server = SecurityContext::derive(&RUSTCRYPTO, &server_in).unwrap();
    let (req, _) = client.protect_request(&common::get("x"), 0).unwrap();
    assert!(old_server.verify_request(&req, 0).is_err());
}

proptest! {
    #[test]
    fn hkdf_label_layout(len in 0usize..=65535, label in "[a-z ]{0,200}", context in proptest::collection::vec(any::<u8>(), 0..=255)) {
        let v = hkdf_label(len, &label, &context).unwrap();
        prop_assert_eq!(&v[..2], &u16::try_from(len).unwrap().to_be_bytes());
        let l = usize::from(v[2]);
        prop_assert_eq!(l, 7 + label.len());
        let full = format!("oscore {label}");
        prop_assert_eq!(&v[3..3 + l], full.as_bytes());
        prop_assert_eq!(usize::from(v[3 + l]), context.len());
        prop_assert_eq!(&v[4 + l..], context.as_slice());
    }

    #[test]
    fn update_matches_reference_for_any_n(secret in proptest::collection::vec(any::<u8>(), 1..=100), n in proptest::collection::vec(any::<u8>(), 1..=64)) {
        let ctx_in = ContextParams::new(&secret, b"", b"\x01");
        let out = update_ctx(&RUSTCRYPTO, &HkdfKeyUpdate, &n, &ctx_in).unwrap();
        let info = reference_label(u16::try_from(secret.len()).unwrap(), &n);
        prop_assert_eq!(&*out.master_secret, &reference_expand(&secret, &info, secret.len()));
        prop_assert_eq!(&out.master_salt, &n);
    }
}
