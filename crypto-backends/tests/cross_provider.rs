//! Cross-provider checks (cargo feature `ring`): for every algorithm two
//! providers share, what one seals the other opens, what one signs the other
//! verifies, both derive the same HKDF output, and both accept and refuse
//! the same keys, signatures and lengths.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    missing_docs
)]

#[allow(dead_code, unused_macros)]
mod suite;

use crypto_backends::{FASTEST, RING, RUSTCRYPTO};
use oscore_core::crypto::{AlgorithmId, CryptoProvider, Signature};
use suite::{AEAD_LENGTHS, flip, open, pattern, seal};

/// Every ordered pair of distinct providers.
fn pairs() -> Vec<(&'static str, &'static CryptoProvider, &'static str, &'static CryptoProvider)> {
    let all: [(&str, &'static CryptoProvider); 3] =
        [("rustcrypto", &RUSTCRYPTO), ("ring", &RING), ("fastest", &FASTEST)];
    let mut out = Vec::new();
    for (i, (na, a)) in all.iter().enumerate() {
        for (j, (nb, b)) in all.iter().enumerate() {
            if i != j {
                out.push((*na, *a, *nb, *b));
            }
        }
    }
    out
}

/// The order n of the P-256 group (FIPS 186-4 D.1.2.3), big-endian.
const P256_ORDER: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
/// The order L of the Ed25519 base point (RFC 8032 §5.1), little-endian.
const ED25519_L: &str = "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010";

/// `a − b` on 32-byte big-endian integers (a ≥ b).
fn sub_be(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = d as u8;
    }
    assert_eq!(borrow, 0);
    out
}

/// `a + b` on 32-byte little-endian integers (no overflow expected).
fn add_le(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let s = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = s as u8;
        carry = s >> 8;
    }
    assert_eq!(carry, 0);
    out
}

/// The SEC1 compressed form of an uncompressed P-256 point.
fn compress(uncompressed: &[u8]) -> Vec<u8> {
    assert_eq!(uncompressed.len(), 65);
    let prefix = 0x02 | (uncompressed[64] & 1);
    [&[prefix][..], &uncompressed[1..33]].concat()
}

/// Private keys used for the signature checks: fixed patterns and fresh
/// random ones.
fn private_keys() -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = (1..=6).map(|seed| pattern(32, seed)).collect();
    for _ in 0..4 {
        let mut k = vec![0u8; 32];
        RUSTCRYPTO.random.fill(&mut k).unwrap();
        keys.push(k);
    }
    keys
}

#[test]
fn aead_sealed_by_one_opened_by_the_other() {
    let mut shared = 0;
    for (na, a, nb, b) in pairs() {
        for aead_a in a.aeads {
            let Some(aead_b) = b.aead(aead_a.alg()) else { continue };
            let what = format!("{:?} {na} → {nb}", aead_a.alg());
            assert_eq!(aead_a.key_len(), aead_b.key_len(), "{what}");
            assert_eq!(aead_a.nonce_len(), aead_b.nonce_len(), "{what}");
            assert_eq!(aead_a.tag_len(), aead_b.tag_len(), "{what}");
            for (n, pt_len) in AEAD_LENGTHS.into_iter().enumerate() {
                for aad_len in AEAD_LENGTHS {
                    let key = pattern(aead_a.key_len(), n as u8);
                    let nonce = pattern(aead_a.nonce_len(), 40 + n as u8);
                    let aad = pattern(aad_len, 7);
                    let plaintext = pattern(pt_len, 9);
                    let (ct, tag) = seal(*aead_a, &key, &nonce, &aad, &plaintext);
                    assert_eq!(
                        seal(aead_b, &key, &nonce, &aad, &plaintext),
                        (ct.clone(), tag.clone()),
                        "{what}: same ciphertext"
                    );
                    assert_eq!(
                        open(aead_b, &key, &nonce, &aad, &ct, &tag).as_deref(),
                        Some(&plaintext[..]),
                        "{what}: pt {pt_len} aad {aad_len}"
                    );
                    let mut bad_tag = tag.clone();
                    flip(&mut bad_tag, 7);
                    assert_eq!(open(aead_b, &key, &nonce, &aad, &ct, &bad_tag), None, "{what}");
                    if !ct.is_empty() {
                        let mut bad_ct = ct.clone();
                        flip(&mut bad_ct, ct.len() * 8 - 1);
                        assert_eq!(open(aead_b, &key, &nonce, &aad, &bad_ct, &tag), None, "{what}");
                    }
                }
            }
            shared += 1;
        }
    }
    // rustcrypto/fastest share 5 AEADs, ring shares 3 with each: 2·(5 + 3 + 3).
    assert_eq!(shared, 22);
}

#[test]
fn hkdf_outputs_and_limits_agree() {
    let salts = [vec![], pattern(8, 1), pattern(64, 2), pattern(100, 3)];
    let ikms = [vec![], pattern(16, 4), pattern(32, 5), pattern(200, 6)];
    let infos = [vec![], pattern(20, 7), pattern(300, 8)];
    let lengths = [0, 1, 13, 16, 32, 33, 64, 255 * 32];
    for (na, a, nb, b) in pairs() {
        for ha in a.hkdfs {
            let hb = b.hkdf(ha.alg()).unwrap();
            assert_eq!(ha.hash_len(), hb.hash_len());
            for salt in &salts {
                for ikm in &ikms {
                    for info in &infos {
                        for len in lengths {
                            let (mut oa, mut ob) = (vec![0u8; len], vec![0u8; len]);
                            ha.derive(salt, ikm, info, &mut oa).unwrap();
                            hb.derive(salt, ikm, info, &mut ob).unwrap();
                            assert_eq!(oa, ob, "derive {na} vs {nb}, okm {len}");
                        }
                    }
                }
            }
            for prk_len in [0, 1, 31, 32, 33, 64, 100] {
                let prk = pattern(prk_len, 11);
                for len in [0, 16, 255 * 32, 255 * 32 + 1] {
                    let (mut oa, mut ob) = (vec![0u8; len], vec![0u8; len]);
                    let ra = ha.expand(&prk, b"info", &mut oa);
                    let rb = hb.expand(&prk, b"info", &mut ob);
                    assert_eq!(ra, rb, "expand prk {prk_len} okm {len}: {na} vs {nb}");
                    assert_eq!(oa, ob);
                }
            }
            let (mut oa, mut ob) = (vec![0u8; 255 * 32 + 1], vec![0u8; 255 * 32 + 1]);
            assert!(ha.derive(b"s", b"k", b"i", &mut oa).is_err());
            assert!(hb.derive(b"s", b"k", b"i", &mut ob).is_err());
        }
    }
}

/// Checks one shared signature algorithm from `a` (signing) to `b` (verifying).
fn check_signatures(sa: &dyn Signature, sb: &dyn Signature, what: &str) {
    assert_eq!(sa.curve(), sb.curve(), "{what}");
    assert_eq!(sa.signature_len(), sb.signature_len(), "{what}");
    let msg = b"Group OSCORE countersignature over a Sig_structure";
    for private in private_keys() {
        let (ka, kb) = (sa.signing_key(&private), sb.signing_key(&private));
        assert_eq!(ka.is_ok(), kb.is_ok(), "{what}: key acceptance");
        let (Ok(ka), Ok(kb)) = (ka, kb) else { continue };
        let public = ka.public_key();
        assert_eq!(public, kb.public_key(), "{what}: same public key");
        let mut sig = vec![0u8; sa.signature_len()];
        ka.sign(msg, &mut sig).unwrap();
        let mut sig_b = vec![0u8; sb.signature_len()];
        kb.sign(msg, &mut sig_b).unwrap();
        if sa.alg() == AlgorithmId::EDDSA {
            assert_eq!(sig, sig_b, "{what}: Ed25519 is deterministic");
        }
        let mut encodings = vec![public.clone()];
        if sa.alg() == AlgorithmId::ES256 {
            encodings.push(compress(&public));
        }
        for encoding in &encodings {
            let vb = sb.verifying_key(encoding).unwrap();
            assert!(vb.verify(msg, &sig).is_ok(), "{what}: verify");
            let va = sa.verifying_key(encoding).unwrap();
            assert!(va.verify(msg, &sig_b).is_ok(), "{what}: verify back");
            for bit in [0, 100, 255, 256, 300, 511] {
                let mut bad = sig.clone();
                flip(&mut bad, bit);
                assert!(vb.verify(msg, &bad).is_err(), "{what}: signature bit {bit}");
            }
            let mut bad_msg = msg.to_vec();
            flip(&mut bad_msg, 9);
            assert!(vb.verify(&bad_msg, &sig).is_err(), "{what}: message");
        }
        let vb = sb.verifying_key(&public).unwrap();
        if sa.alg() == AlgorithmId::ES256 {
            // Plain ECDSA: (r, n − s) is valid as well, in both providers.
            let order = hex::decode(P256_ORDER).unwrap();
            let high = [&sig[..32], &sub_be(&order, &sig[32..])[..]].concat();
            let va = sa.verifying_key(&public).unwrap();
            assert!(va.verify(msg, &high).is_ok(), "{what}: n − s, signer side");
            assert!(vb.verify(msg, &high).is_ok(), "{what}: n − s");
        } else {
            // S + L is the same scalar in a non-canonical encoding: refused.
            let l = hex::decode(ED25519_L).unwrap();
            let s_plus_l = add_le(&sig[32..], &l);
            if s_plus_l[31] < 0x20 {
                let bad = [&sig[..32], &s_plus_l[..]].concat();
                assert!(vb.verify(msg, &bad).is_err(), "{what}: S + L");
            }
        }
    }
}

#[test]
fn signed_by_one_verified_by_the_other() {
    let mut shared = 0;
    for (na, a, nb, b) in pairs() {
        for sa in a.signatures {
            let Some(sb) = b.signature(sa.alg()) else { continue };
            check_signatures(*sa, sb, &format!("{:?} {na} → {nb}", sa.alg()));
            shared += 1;
        }
    }
    assert_eq!(shared, 12);
}

/// The same strings are accepted and refused as public keys.
#[test]
fn public_key_acceptance_agrees() {
    let mut candidates: Vec<Vec<u8>> = Vec::new();
    for i in 0..200u8 {
        let mut x = pattern(32, i);
        x[0] = i;
        candidates.push(x.clone());
        candidates.push([&[0x02 | (i & 1)][..], &x[..]].concat());
        candidates.push([&[0x04][..], &x[..], &pattern(32, i ^ 0x55)[..]].concat());
    }
    for (na, a, nb, b) in pairs() {
        for sa in a.signatures {
            let sb = b.signature(sa.alg()).unwrap();
            let mut accepted = 0;
            for c in &candidates {
                let (ra, rb) = (sa.verifying_key(c).is_ok(), sb.verifying_key(c).is_ok());
                assert_eq!(ra, rb, "{:?} {na} vs {nb}: {}", sa.alg(), hex::encode(c));
                accepted += usize::from(ra);
            }
            assert!(accepted > 0, "{:?}: nothing accepted", sa.alg());
        }
    }
}

#[test]
fn key_agreement_agrees() {
    for (na, a, nb, b) in pairs() {
        for ka in a.key_agreements {
            let kb = b.key_agreement(ka.curve()).unwrap();
            let sig = a
                .signatures
                .iter()
                .find(|s| match ka.curve().0 {
                    1 => s.alg() == AlgorithmId::ES256,
                    _ => s.alg() == AlgorithmId::EDDSA,
                })
                .unwrap();
            let keys = private_keys();
            for pair in keys.windows(2) {
                let (Ok(s0), Ok(s1)) = (sig.signing_key(&pair[0]), sig.signing_key(&pair[1])) else {
                    continue;
                };
                let d0 = ka.private_from_signature_key(sig.curve(), &pair[0]).unwrap();
                let p1 = kb.public_from_signature_key(sig.curve(), &s1.public_key()).unwrap();
                let d1 = kb.private_from_signature_key(sig.curve(), &pair[1]).unwrap();
                let p0 = ka.public_from_signature_key(sig.curve(), &s0.public_key()).unwrap();
                assert_eq!(
                    ka.agree(&d0, &p1).unwrap(),
                    kb.agree(&d1, &p0).unwrap(),
                    "{:?} {na} ↔ {nb}",
                    ka.curve()
                );
            }
        }
    }
}
