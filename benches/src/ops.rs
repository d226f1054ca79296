//! The measured operations, one `#[inline(never)]` function each.
//!
//! Criterion times them, the `allocs` binary counts their heap allocations,
//! the `instructions` binary runs them under callgrind, which reports the
//! inclusive instruction count of each function by its path (for example
//! `benches::ops::msg::protect_request`): the last path segment is the
//! benchmark's function name. Nothing else may call them, or its cost would
//! be counted too; fixtures call the library directly.
//!
//! Each function drops what the operation returned before it returns: the
//! cost of an operation includes freeing its result. Inputs prepared for a
//! single use (a protected message to verify) are made and dropped outside.
//! A failure stops the run: a benchmark that measured an error path would
//! report a meaningless number.

use core::fmt::Debug;
use std::hint::black_box;

/// Drops the value after handing it to `black_box`; stops on an error.
#[inline]
#[track_caller]
#[allow(clippy::panic)] // see the module documentation
fn ok<T, E: Debug>(r: Result<T, E>) {
    match black_box(r) {
        Ok(v) => drop(v),
        Err(e) => panic!("benchmark operation failed: {e:?}"),
    }
}

/// Context derivation (RFC 8613 §3.2).
pub mod derive {
    use super::ok;
    use crate::fixtures::RawDerivation;
    use oscore_core::crypto::CryptoProvider;
    use oscore_core::{ContextParams, SecurityContext, context};

    /// `SecurityContext::derive` (keys, IV, prepared AEAD keys, in-memory store).
    #[inline(never)]
    pub fn derive_context(provider: &CryptoProvider, params: &ContextParams) {
        ok(SecurityContext::derive(provider, params));
    }

    /// `context::derive_keys` (Sender Key, Recipient Key, Common IV).
    #[inline(never)]
    pub fn derive_keys(provider: &CryptoProvider, params: &ContextParams) {
        ok(context::derive_keys(provider, params));
    }

    /// Baseline: three HKDF calls with pre-encoded `info` and two AEAD key schedules.
    #[inline(never)]
    pub fn raw_hkdf3_prepare2(raw: &RawDerivation) {
        ok(raw.hkdf3_prepare2());
    }

    /// Baseline: three HKDF calls with pre-encoded `info`.
    #[inline(never)]
    pub fn raw_hkdf3(raw: &RawDerivation) {
        ok(raw.hkdf3());
    }
}

/// OSCORE message protection and verification (RFC 8613 §8).
pub mod msg {
    use super::ok;
    use crate::fixtures::{NOW, RawAead};
    use coap_lite::Packet;
    use oscore_core::{RequestBinding, ResponsePiv, SecurityContext};

    /// `protect_request`.
    #[inline(never)]
    pub fn protect_request(client: &mut SecurityContext, request: &Packet) {
        ok(client.protect_request(request, NOW));
    }

    /// `verify_request` of a fresh protected request.
    #[inline(never)]
    pub fn verify_request(server: &mut SecurityContext, protected: &Packet) {
        ok(server.verify_request(protected, NOW));
    }

    /// `protect_request` then `verify_request` of its result.
    #[inline(never)]
    pub fn protect_verify_request(
        client: &mut SecurityContext,
        server: &mut SecurityContext,
        request: &Packet,
    ) {
        match client.protect_request(request, NOW) {
            Ok((protected, binding)) => {
                ok(server.verify_request(&protected, NOW));
                drop(std::hint::black_box((protected, binding)));
            }
            Err(e) => ok::<(), _>(Err(e)),
        }
    }

    /// `protect_response` reusing the request nonce (the usual response).
    #[inline(never)]
    pub fn protect_response(server: &mut SecurityContext, response: &Packet, binding: &mut RequestBinding) {
        ok(server.protect_response(response, binding, ResponsePiv::Auto, NOW));
    }

    /// `verify_response` of a fresh protected response.
    #[inline(never)]
    pub fn verify_response(client: &mut SecurityContext, protected: &Packet, binding: &mut RequestBinding) {
        ok(client.verify_response(protected, binding, NOW));
    }

    /// `protect_request_bytes`: the request as CoAP-over-UDP bytes, the
    /// OSCORE message appended to a reused buffer.
    #[inline(never)]
    pub fn protect_request_bytes(client: &mut SecurityContext, request: &[u8], out: &mut Vec<u8>) {
        out.clear();
        ok(client.protect_request_bytes(request, out, NOW));
        std::hint::black_box(out);
    }

    /// `verify_request_bytes` of a fresh protected request (decrypted in place).
    #[inline(never)]
    pub fn verify_request_bytes(server: &mut SecurityContext, protected: &mut [u8], out: &mut Vec<u8>) {
        out.clear();
        ok(server.verify_request_bytes(protected, out, NOW));
        std::hint::black_box(out);
    }

    /// `protect_request_bytes` then `verify_request_bytes` of its result.
    #[inline(never)]
    pub fn protect_verify_request_bytes(
        client: &mut SecurityContext,
        server: &mut SecurityContext,
        request: &[u8],
        wire: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) {
        wire.clear();
        out.clear();
        match client.protect_request_bytes(request, wire, NOW) {
            Ok(binding) => {
                ok(server.verify_request_bytes(wire, out, NOW));
                drop(std::hint::black_box(binding));
            }
            Err(e) => ok::<(), _>(Err(e)),
        }
        std::hint::black_box(out);
    }

    /// `protect_response_bytes` reusing the request nonce.
    #[inline(never)]
    pub fn protect_response_bytes(
        server: &mut SecurityContext,
        response: &[u8],
        binding: &mut RequestBinding,
        out: &mut Vec<u8>,
    ) {
        out.clear();
        ok(server.protect_response_bytes(response, binding, ResponsePiv::Auto, out, NOW));
        std::hint::black_box(out);
    }

    /// `verify_response_bytes` of a fresh protected response.
    #[inline(never)]
    pub fn verify_response_bytes(
        client: &mut SecurityContext,
        protected: &mut [u8],
        binding: &mut RequestBinding,
        out: &mut Vec<u8>,
    ) {
        out.clear();
        ok(client.verify_response_bytes(protected, binding, out, NOW));
        std::hint::black_box(out);
    }

    /// What an application does with a verified message read in place: looks
    /// at its Code, each option and the payload.
    fn consume(message: &oscore_core::protect::VerifiedMessage<'_>) {
        let options: usize = message.options().map(|(n, v)| usize::from(n) + v.len()).sum();
        std::hint::black_box((message.code(), options, message.payload()));
    }

    /// `verify_request_in_place` of a fresh protected request, then reading
    /// the result's Code, options and payload.
    #[inline(never)]
    pub fn verify_request_in_place(server: &mut SecurityContext, protected: &mut [u8]) {
        verify_in_place_and_read(server, protected);
    }

    /// The body of [`verify_request_in_place`], shared with
    /// [`protect_verify_request_in_place`] (a measured function must not
    /// call another, or callgrind would count it twice).
    fn verify_in_place_and_read(server: &mut SecurityContext, protected: &mut [u8]) {
        match server.verify_request_in_place(protected, NOW) {
            Ok((message, binding)) => {
                consume(&message);
                drop(std::hint::black_box(binding));
            }
            Err(e) => ok::<(), _>(Err(e)),
        }
    }

    /// `protect_request_bytes`, then `verify_request_in_place` of its result
    /// (and reading it).
    #[inline(never)]
    pub fn protect_verify_request_in_place(
        client: &mut SecurityContext,
        server: &mut SecurityContext,
        request: &[u8],
        wire: &mut Vec<u8>,
    ) {
        wire.clear();
        match client.protect_request_bytes(request, wire, NOW) {
            Ok(binding) => {
                verify_in_place_and_read(server, wire);
                drop(std::hint::black_box(binding));
            }
            Err(e) => ok::<(), _>(Err(e)),
        }
    }

    /// `verify_response_in_place` of a fresh protected response, then
    /// reading the result.
    #[inline(never)]
    pub fn verify_response_in_place(
        client: &mut SecurityContext,
        protected: &mut [u8],
        binding: &mut RequestBinding,
    ) {
        match client.verify_response_in_place(protected, binding, NOW) {
            Ok(message) => consume(&message),
            Err(e) => ok::<(), _>(Err(e)),
        }
    }

    /// Baseline: AEAD encryption of a request-sized plaintext, same AAD size.
    #[inline(never)]
    pub fn raw_seal_request(raw: &mut RawAead) {
        ok(raw.seal());
    }

    /// Baseline: AEAD decryption of a request-sized ciphertext.
    #[inline(never)]
    pub fn raw_open_request(raw: &mut RawAead) {
        ok(raw.open());
    }

    /// Baseline: encryption then decryption of a request-sized plaintext.
    #[inline(never)]
    pub fn raw_seal_open_request(raw: &mut RawAead) {
        ok(raw.seal_open());
    }

    /// Baseline: AEAD encryption of a response-sized plaintext.
    #[inline(never)]
    pub fn raw_seal_response(raw: &mut RawAead) {
        ok(raw.seal());
    }

    /// Baseline: AEAD decryption of a response-sized ciphertext.
    #[inline(never)]
    pub fn raw_open_response(raw: &mut RawAead) {
        ok(raw.open());
    }
}

/// Group OSCORE signature mode (groupcomm-08 §7) and the non-member checker (§2.3).
pub mod group {
    use super::ok;
    use crate::fixtures::NOW;
    use coap_lite::Packet;
    use oscore_core::crypto::{SigningKey, VerifyingKey};
    use oscore_group::{Group, RequestMode, SignatureChecker};

    /// `Group::protect_request` in signature mode (encrypt, then sign).
    #[inline(never)]
    pub fn protect_request(client: &mut Group, request: &Packet) {
        ok(client.protect_request(request, RequestMode::Group, NOW));
    }

    /// `Group::verify_request` of a fresh signature-mode request (verify, decrypt).
    #[inline(never)]
    pub fn verify_request(server: &mut Group, protected: &Packet) {
        ok(server.verify_request(protected, NOW));
    }

    /// `SignatureChecker::check_request` (no decryption; key cache warm).
    #[inline(never)]
    pub fn check_request(checker: &mut SignatureChecker, protected: &Packet) {
        ok(checker.check_request(protected));
    }

    /// Baseline: raw signature over the bytes a protected request signs.
    #[inline(never)]
    pub fn raw_sign(key: &dyn SigningKey, to_be_signed: &[u8]) {
        let mut signature = [0u8; 64];
        ok(key.sign(to_be_signed, &mut signature));
        std::hint::black_box(signature);
    }

    /// Baseline: raw verification of that signature over the same bytes.
    #[inline(never)]
    pub fn raw_verify(key: &dyn VerifyingKey, to_be_signed: &[u8], signature: &[u8]) {
        ok(key.verify(to_be_signed, signature));
    }
}

/// Pairwise-key derivation (groupcomm-08 §3).
pub mod pairwise {
    use super::ok;
    use crate::fixtures::{GROUP_CLIENT, PairwiseFixture};
    use oscore_group::pairwise::derive_pairwise_key;

    fn derive(fx: &mut PairwiseFixture) {
        match fx.agreement.shared_secret(&fx.peer_public) {
            Ok(shared) => ok(derive_pairwise_key(
                fx.hkdf(),
                fx.aead(),
                fx.key_len(),
                fx.sender_key(),
                &shared,
                GROUP_CLIENT,
                fx.gid(),
            )),
            Err(e) => ok::<(), _>(Err(e)),
        }
    }

    /// Shared-secret cache emptied first: key mapping, ECDH, HKDF, cache insert.
    #[inline(never)]
    pub fn derive_cold(fx: &mut PairwiseFixture) {
        fx.agreement.clear_cache();
        derive(fx);
    }

    /// Shared secret from the cache, then HKDF.
    #[inline(never)]
    pub fn derive_warm(fx: &mut PairwiseFixture) {
        derive(fx);
    }

    /// Baseline: ECDH on pre-mapped keys, then HKDF with pre-encoded `info`.
    #[inline(never)]
    pub fn raw_ecdh_hkdf(fx: &PairwiseFixture) {
        ok(fx.raw_ecdh_hkdf());
    }

    /// Baseline: HKDF with pre-encoded `info`.
    #[inline(never)]
    pub fn raw_hkdf(fx: &PairwiseFixture) {
        ok(fx.raw_hkdf());
    }
}

/// Key update (key-limits-01 §3).
pub mod keyupdate {
    use super::ok;
    use crate::fixtures::KeyUpdateFixture;

    /// `updateCtx(N, CTX_IN)` (§3.2): the parameters of CTX_NEW.
    #[inline(never)]
    pub fn update_ctx(fx: &KeyUpdateFixture) {
        ok(fx.update_ctx());
    }

    /// A full client-initiated exchange in memory (§3.3, Figure 5), four messages.
    #[inline(never)]
    pub fn exchange(fx: &mut KeyUpdateFixture) {
        ok(fx.exchange());
    }

    /// Baseline: HKDF-Expand with the `HkdfLabel` already encoded.
    #[inline(never)]
    pub fn raw_hkdf_expand(fx: &KeyUpdateFixture) {
        ok(fx.raw_hkdf_expand());
    }

    /// Baseline: the primitives of one exchange (see `KeyUpdateFixture::raw_exchange`).
    #[inline(never)]
    pub fn raw_exchange(fx: &mut KeyUpdateFixture) {
        ok(fx.raw_exchange());
    }
}
