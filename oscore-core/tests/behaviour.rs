//! Behaviour beyond the vectors: key-usage limits, expiry, sequence-number
//! exhaustion, crash safety through the store, Observe, Proxy-Uri, outer codes,
//! error mapping and secrets kept out of `Debug`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::{Arc, Mutex};

use coap_lite::{CoapOption, MessageClass, Packet, RequestType, ResponseType};
use crypto_backends::RUSTCRYPTO;
use oscore_core::context::MAX_SSN;
use oscore_core::option::OscoreOption;
use oscore_core::store::{MemoryStore, PersistedState, Store, StoreError};
use oscore_core::{CoapCode, ContextParams, Error, KeyLimits, ReplayOutcome, ResponsePiv, SecurityContext};

const SECRET: &[u8] = b"0123456789abcdef";

fn params(client: bool) -> ContextParams {
    if client {
        ContextParams::new(SECRET, b"\xc1", b"\x5e")
    } else {
        ContextParams::new(SECRET, b"\x5e", b"\xc1")
    }
}

fn get(path: &str) -> Packet {
    let mut p = Packet::new();
    p.header.code = MessageClass::Request(RequestType::Get);
    p.set_token(vec![1, 2, 3]);
    p.add_option(CoapOption::UriPath, path.as_bytes().to_vec());
    p
}

fn content(payload: &[u8]) -> Packet {
    let mut p = Packet::new();
    p.header.code = MessageClass::Response(ResponseType::Content);
    p.payload = payload.to_vec();
    p
}

fn piv_of(p: &Packet) -> Option<Vec<u8>> {
    OscoreOption::decode(p.get_first_option(CoapOption::Oscore).unwrap()).unwrap().partial_iv
}

/// A store shared between "process lifetimes", like a file on disk.
#[derive(Clone, Default)]
struct SharedStore(Arc<Mutex<MemoryStore>>);

impl Store for SharedStore {
    fn load(&mut self) -> Result<Option<PersistedState>, StoreError> {
        self.0.lock().unwrap().load()
    }
    fn save(&mut self, state: &PersistedState) -> Result<(), StoreError> {
        self.0.lock().unwrap().save(state)
    }
}

/// A store whose disk is full.
struct FailingStore;

impl Store for FailingStore {
    fn load(&mut self) -> Result<Option<PersistedState>, StoreError> {
        Ok(None)
    }
    fn save(&mut self, _: &PersistedState) -> Result<(), StoreError> {
        Err(StoreError("disk full"))
    }
}

#[test]
fn limit_q_stops_encryption_without_consuming_state() {
    let limits = KeyLimits { limit_q: 3, ..KeyLimits::default() };
    let mut client = SecurityContext::derive(&RUSTCRYPTO, &params(true).with_limits(limits)).unwrap();
    for _ in 0..3 {
        client.protect_request(&get("a"), 0).unwrap();
    }
    assert_eq!(client.sender().count_q(), 3);
    let ssn = client.sender().sequence_number();
    let err = client.protect_request(&get("a"), 0).unwrap_err();
    assert_eq!(err, Error::LimitQReached);
    assert!(err.needs_key_update());
    assert_eq!(client.sender().sequence_number(), ssn);
    assert_eq!(client.sender().count_q(), 3);
}

#[test]
fn responses_count_against_limit_q() {
    let limits = KeyLimits { limit_q: 1, ..KeyLimits::default() };
    let mut client = SecurityContext::derive(&RUSTCRYPTO, &params(true)).unwrap();
    let mut server = SecurityContext::derive(&RUSTCRYPTO, &params(false).with_limits(limits)).unwrap();
    let (req, _) = client.protect_request(&get("a"), 0).unwrap();
    let (_, mut b) = server.verify_request(&req, 0).unwrap();
    server.protect_response(&content(b"1"), &mut b, ResponsePiv::Auto, 0).unwrap();
    let (req, _) = client.protect_request(&get("a"), 0).unwrap();
    let (_, mut b) = server.verify_request(&req, 0).unwrap();
    assert_eq!(
        server.protect_response(&content(b"2"), &mut b, ResponsePiv::Auto, 0),
        Err(Error::LimitQReached)
    );
}

#[test]
fn limit_v_counts_failures_not_replays() {
    let limits = KeyLimits { limit_v: 2, ..KeyLimits::default() };
    let mut client = SecurityContext::derive(&RUSTCRYPTO, &params(true)).unwrap();
    let mut server = SecurityContext::derive(&RUSTCRYPTO, &params(false).with_limits(limits)).unwrap();
    let (good, _) = client.protect_request(&get("a"), 0).unwrap();
    server.verify_request(&good, 0).unwrap();
    // Replays do not count.
    for _ in 0..5 {
        assert_eq!(server.verify_request(&good, 0), Err(Error::Replay(ReplayOutcome::Replayed)));
    }
    assert_eq!(server.recipient().count_v(), 0);
    // Forgeries do; after count_v exceeds limit_v (2) the key is refused.
    for i in 1..=3 {
        let (mut forged, _) = client.protect_request(&get("a"), 0).unwrap();
        forged.payload[0] ^= 1;
        assert_eq!(server.verify_request(&forged, 0), Err(Error::DecryptionFailed));
        assert_eq!(server.recipient().count_v(), i);
    }
    let (valid, _) = client.protect_request(&get("a"), 0).unwrap();
    let err = server.verify_request(&valid, 0).unwrap_err();
    assert_eq!(err, Error::LimitVReached);
    assert!(err.needs_key_update());
}

#[test]
fn exp_stops_both_directions() {
    let limits = KeyLimits { exp: Some(1_000), ..KeyLimits::default() };
    let mut client = SecurityContext::derive(&RUSTCRYPTO, &params(true).with_limits(limits)).unwrap();
    let mut server = SecurityContext::derive(&RUSTCRYPTO, &params(false).with_limits(limits)).unwrap();
    let (req, _) = client.protect_request(&get("a"), 999).unwrap();
    assert_eq!(client.protect_request(&get("a"), 1_000).unwrap_err(), Error::ContextExpired);
    assert_eq!(server.verify_request(&req, 1_000).unwrap_err(), Error::ContextExpired);
    let (_, mut b) = server.verify_request(&req, 999).unwrap();
    assert_eq!(
        server.protect_response(&content(b""), &mut b, ResponsePiv::Auto, 1_001).unwrap_err(),
        Error::ContextExpired
    );
}

#[test]
fn sequence_number_never_wraps() {
    let store = MemoryStore::with_state(PersistedState { ssn_bound: MAX_SSN, ..Default::default() });
    let mut client = SecurityContext::derive_with_store(&RUSTCRYPTO, &params(true), Box::new(store)).unwrap();
    let (last, _) = client.protect_request(&get("a"), 0).unwrap();
    assert_eq!(piv_of(&last), Some(vec![0xff; 5]));
    assert_eq!(client.protect_request(&get("a"), 0).unwrap_err(), Error::SequenceNumberExhausted);
    assert_eq!(client.protect_request(&get("a"), 0).unwrap_err(), Error::SequenceNumberExhausted);
}

#[test]
fn no_nonce_reuse_after_crash() {
    let disk = SharedStore::default();
    let mut p = params(true);
    p.persist_step = 4;
    let mut used = std::collections::BTreeSet::new();
    for _boot in 0..5 {
        let mut client = SecurityContext::derive_with_store(&RUSTCRYPTO, &p, Box::new(disk.clone())).unwrap();
        for _ in 0..3 {
            let (msg, _) = client.protect_request(&get("a"), 0).unwrap();
            assert!(used.insert(piv_of(&msg).unwrap()), "Partial IV reused after a restart");
        }
        // kill -9: the context is dropped without any shutdown hook.
        drop(client);
    }
    assert_eq!(used.len(), 15);
    // With K = 4 and 3 messages per boot, each boot skips at most 4 numbers.
    let saves = disk.0.lock().unwrap().saves;
    assert!(saves <= 5 * 2, "{saves} saves: the bound must be written ahead, not per message");
}

#[test]
fn replay_window_survives_restart() {
    let disk = SharedStore::default();
    let mut client = SecurityContext::derive(&RUSTCRYPTO, &params(true)).unwrap();
    let (first, _) = client.protect_request(&get("a"), 0).unwrap();
    let (second, _) = client.protect_request(&get("b"), 0).unwrap();
    {
        let mut server =
            SecurityContext::derive_with_store(&RUSTCRYPTO, &params(false), Box::new(disk.clone())).unwrap();
        server.verify_request(&first, 0).unwrap();
    }
    let mut server = SecurityContext::derive_with_store(&RUSTCRYPTO, &params(false), Box::new(disk)).unwrap();
    assert_eq!(server.verify_request(&first, 0).unwrap_err(), Error::Replay(ReplayOutcome::Replayed));
    server.verify_request(&second, 0).unwrap();
}

#[test]
fn store_failure_sends_nothing_and_accepts_nothing() {
    let mut client =
        SecurityContext::derive_with_store(&RUSTCRYPTO, &params(true), Box::new(FailingStore)).unwrap();
    assert!(matches!(client.protect_request(&get("a"), 0), Err(Error::Store(_))));
    assert_eq!(client.sender().sequence_number(), 0);

    let mut good_client = SecurityContext::derive(&RUSTCRYPTO, &params(true)).unwrap();
    let (req, _) = good_client.protect_request(&get("a"), 0).unwrap();
    let mut server =
        SecurityContext::derive_with_store(&RUSTCRYPTO, &params(false), Box::new(FailingStore)).unwrap();
    assert!(matches!(server.verify_request(&req, 0), Err(Error::Store(_))));
    assert_eq!(server.recipient().replay_window().highest(), None);
}

#[test]
fn observe_notifications_carry_partial_iv_and_are_ordered() {
    let mut client = SecurityContext::derive(&RUSTCRYPTO, &params(true)).unwrap();
    let mut server = SecurityContext::derive(&RUSTCRYPTO, &params(false)).unwrap();
    let mut register = get("obs");
    register.set_observe_value(0);
    let (req, mut cb) = client.protect_request(&register, 0).unwrap();
    // ref: RFC 8613 §4.1.3.5: Outer Code FETCH and Outer Observe for a registration
    assert_eq!(req.header.code, MessageClass::Request(RequestType::Fetch));
    assert_eq!(req.get_observe_value(), Some(Ok(0)));
    let (got, mut sb) = server.verify_request(&req, 0).unwrap();
    assert_eq!(got, register);
    assert!(sb.is_observe() && cb.is_observe());

    let mut notes = Vec::new();
    for i in 0..3u32 {
        let mut n = content(i.to_string().as_bytes());
        n.set_observe_value(i + 7);
        let protected = server.protect_response(&n, &mut sb, ResponsePiv::Auto, 0).unwrap();
        assert!(piv_of(&protected).is_some(), "every notification carries a Partial IV");
        assert_eq!(protected.header.code, MessageClass::Response(ResponseType::Content));
        assert_eq!(protected.get_observe_value(), Some(Ok(i + 7)), "Outer Observe keeps the value");
        notes.push(protected);
    }
    // Out of order: the newest first, then the older ones are refused.
    let newest = client.verify_response(&notes[2], &mut cb, 0).unwrap();
    assert_eq!(newest.payload, b"2");
    assert!(newest.get_observe_value().is_some());
    assert_eq!(
        client.verify_response(&notes[0], &mut cb, 0).unwrap_err(),
        Error::Replay(ReplayOutcome::Replayed)
    );
    assert_eq!(
        client.verify_response(&notes[2], &mut cb, 0).unwrap_err(),
        Error::Replay(ReplayOutcome::Replayed)
    );
}

#[test]
fn inner_observe_in_a_plain_response_is_refused() {
    let mut client = SecurityContext::derive(&RUSTCRYPTO, &params(true)).unwrap();
    let mut server = SecurityContext::derive(&RUSTCRYPTO, &params(false)).unwrap();
    let (req, mut cb) = client.protect_request(&get("a"), 0).unwrap();
    let (_, mut sb) = server.verify_request(&req, 0).unwrap();
    let mut resp = content(b"x");
    resp.set_observe_value(3);
    let protected = server.protect_response(&resp, &mut sb, ResponsePiv::Auto, 0).unwrap();
    assert!(matches!(client.verify_response(&protected, &mut cb, 0), Err(Error::ResponseMismatch(_))));
}

#[test]
fn proxy_uri_is_decomposed() {
    let mut client = SecurityContext::derive(&RUSTCRYPTO, &params(true)).unwrap();
    let mut server = SecurityContext::derive(&RUSTCRYPTO, &params(false)).unwrap();
    let mut req = Packet::new();
    req.header.code = MessageClass::Request(RequestType::Get);
    req.add_option(CoapOption::ProxyUri, b"coap://example.com/resource/a%2Fb?q=1&r".to_vec());
    let (protected, _) = client.protect_request(&req, 0).unwrap();
    // ref: RFC 8613 §4.1.3.3 example
    assert_eq!(protected.get_first_option(CoapOption::ProxyUri), Some(&b"coap://example.com".to_vec()));
    assert!(protected.get_option(CoapOption::UriPath).is_none());
    let (got, _) = server.verify_request(&protected, 0).unwrap();
    let paths: Vec<_> = got.get_option(CoapOption::UriPath).unwrap().iter().cloned().collect();
    assert_eq!(paths, vec![b"resource".to_vec(), b"a/b".to_vec()]);
    let queries: Vec<_> = got.get_option(CoapOption::UriQuery).unwrap().iter().cloned().collect();
    assert_eq!(queries, vec![b"q=1".to_vec(), b"r".to_vec()]);

    let mut bad = req.clone();
    bad.clear_option(CoapOption::ProxyUri);
    bad.add_option(CoapOption::ProxyUri, b"coap://h/x#frag".to_vec());
    assert!(matches!(client.protect_request(&bad, 0), Err(Error::InvalidInput(_))));
}

#[test]
fn outer_codes_and_option_classes() {
    let mut client = SecurityContext::derive(&RUSTCRYPTO, &params(true)).unwrap();
    let mut server = SecurityContext::derive(&RUSTCRYPTO, &params(false)).unwrap();
    let mut req = get("secret-path");
    req.header.code = MessageClass::Request(RequestType::Delete);
    req.add_option(CoapOption::UriHost, b"host".to_vec());
    req.add_option(CoapOption::Block2, vec![0x06]);
    req.add_option(CoapOption::Unknown(252), b"echo".to_vec());
    let (p, _) = client.protect_request(&req, 0).unwrap();
    // ref: RFC 8613 §4.2: Outer Code POST; Class E options invisible outside
    assert_eq!(p.header.code, MessageClass::Request(RequestType::Post));
    assert_eq!(p.get_first_option(CoapOption::UriHost), Some(&b"host".to_vec()));
    for hidden in [CoapOption::UriPath, CoapOption::Block2, CoapOption::Unknown(252)] {
        assert!(p.get_option(hidden).is_none(), "{hidden:?} must be inner");
    }
    let (_, mut b) = server.verify_request(&p, 0).unwrap();
    let r = server.protect_response(&content(b"x"), &mut b, ResponsePiv::Auto, 0).unwrap();
    assert_eq!(r.header.code, MessageClass::Response(ResponseType::Changed));

    let mut nested = p.clone();
    nested.header.code = MessageClass::Request(RequestType::Get);
    assert!(matches!(client.protect_request(&nested, 0), Err(Error::InvalidInput(_))));
}

#[test]
fn wrong_kid_or_context_is_unknown_context() {
    let mut client = SecurityContext::derive(&RUSTCRYPTO, &params(true)).unwrap();
    let other = ContextParams::new(SECRET, b"\x5e", b"\xc2");
    let mut server = SecurityContext::derive(&RUSTCRYPTO, &other).unwrap();
    let (p, _) = client.protect_request(&get("a"), 0).unwrap();
    let err = server.verify_request(&p, 0).unwrap_err();
    assert_eq!(err, Error::UnknownContext);
    assert_eq!(err.coap_code(), Some(CoapCode::UNAUTHORIZED));
}

#[test]
fn error_codes_follow_section_8() {
    assert_eq!(Error::MalformedOption("x").coap_code(), Some(CoapCode::BAD_OPTION));
    assert_eq!(Error::Replay(ReplayOutcome::TooOld).coap_code(), Some(CoapCode::UNAUTHORIZED));
    assert_eq!(Error::DecryptionFailed.coap_code(), Some(CoapCode::BAD_REQUEST));
    assert_eq!(Error::LimitQReached.coap_code(), None);
    assert_eq!(CoapCode::BAD_OPTION.to_byte(), 0x82);
}

#[test]
fn invalid_contexts_are_refused() {
    let same = ContextParams::new(SECRET, b"\x01", b"\x01");
    assert!(matches!(SecurityContext::derive(&RUSTCRYPTO, &same), Err(Error::InvalidContext(_))));
    // ref: RFC 8613 §3.3: at most nonce length − 6 = 7 bytes for AES-CCM
    let long = ContextParams::new(SECRET, &[1; 8], b"");
    assert!(matches!(SecurityContext::derive(&RUSTCRYPTO, &long), Err(Error::InvalidContext(_))));
    let gcm_long =
        ContextParams::new(SECRET, &[1; 7], b"").with_aead(oscore_core::crypto::AlgorithmId::A128GCM);
    assert!(SecurityContext::derive(&RUSTCRYPTO, &gcm_long).is_err());
    let unknown = ContextParams::new(SECRET, b"", b"\x01").with_aead(oscore_core::crypto::AlgorithmId(999));
    assert!(matches!(SecurityContext::derive(&RUSTCRYPTO, &unknown), Err(Error::UnsupportedAlgorithm(_))));
}

#[test]
fn secrets_are_not_in_debug_output() {
    let ctx = SecurityContext::derive(&RUSTCRYPTO, &params(true)).unwrap();
    let debug = format!("{ctx:?} {:?}", params(true));
    for secret in
        [SECRET.to_vec(), ctx.sender().sender_key().to_vec(), ctx.recipient().recipient_key().to_vec()]
    {
        assert!(!debug.contains(&hex::encode(&secret)), "secret in Debug output");
        assert!(!debug.contains(&format!("{secret:?}")), "secret in Debug output");
    }
    assert!(debug.contains("redacted"));
}
