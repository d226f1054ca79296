//! key-limits-01 §3.3: the client- and server-initiated exchanges through the
//! typestate API, step by step, with the properties the draft requires.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{client_params, content, get, id_detail, server_params, updater, with_id_detail};
use oscore_core::option::decode_partial_iv;
use oscore_core::protect::decode_oscore_option;
use oscore_core::store::MemoryStore;
use oscore_core::{ReplayOutcome, ResponsePiv, SecurityContext};
use oscore_keyupdate::exchange::{Client, Initiator, ReceivedR1, Server};
use oscore_keyupdate::{Config, EphemeralPersistence, Error, KeyUpdater};

const NOW: u64 = 1_700_000_000;

fn contexts() -> (SecurityContext, SecurityContext) {
    let p = &crypto_backends::RUSTCRYPTO;
    (
        SecurityContext::derive_with_store(p, &client_params(), MemoryStore::boxed()).unwrap(),
        SecurityContext::derive_with_store(p, &server_params(), MemoryStore::boxed()).unwrap(),
    )
}

fn piv(p: &coap_lite::Packet) -> Option<u64> {
    decode_oscore_option(p).unwrap().partial_iv.map(|p| decode_partial_iv(&p).unwrap())
}

#[test]
fn client_initiated_figure_5() {
    let u = updater(Config::default());
    let (mut c_old, mut s_old) = contexts();
    // Some traffic first, so sequence numbers are not at 0.
    for _ in 0..3 {
        let (req, _) = c_old.protect_request(&get("warm"), NOW).unwrap();
        s_old.verify_request(&req, NOW).unwrap();
    }

    // Client: R1 in 'id detail', request under CTX_1.
    let (init, m1, mut c_binding) = Initiator::<Client>::start(&u, &mut c_old, &get("ku"), NOW).unwrap();
    let r1 = init.r1().to_vec();
    assert_eq!(r1.len(), 8, "default R1 length");
    assert_eq!(id_detail(&m1), Some(r1.clone()));
    // CTX_1's Partial IV is a sequence number of CTX_OLD.
    assert_eq!(piv(&m1), Some(3));
    assert_eq!(c_old.sender().sequence_number(), 4);
    // The ID Context and kid are those of CTX_OLD.
    let opt = decode_oscore_option(&m1).unwrap();
    assert_eq!(opt.kid_context.as_deref(), Some(&b"\x37\xcb"[..]));
    assert_eq!(opt.kid.as_deref(), Some(&b""[..]));
    // CTX_OLD alone cannot read it.
    let mut plain_old = SecurityContext::derive(&crypto_backends::RUSTCRYPTO, &server_params()).unwrap();
    assert_eq!(plain_old.verify_request(&m1, NOW).unwrap_err(), oscore_core::Error::DecryptionFailed);

    // Server: verifies under CTX_1, picks R2, answers under CTX_NEW with R1|R2.
    let (received, inner, mut s_binding) = ReceivedR1::<Server>::verify(&u, &mut s_old, &m1, NOW).unwrap();
    assert_eq!(common::uri_path(&inner), "ku");
    assert_eq!(received.r1(), r1.as_slice());
    let (responder, m2) =
        received.respond(&u, &mut EphemeralPersistence, &content("ok"), &mut s_binding, NOW).unwrap();
    let n = id_detail(&m2).unwrap();
    assert_eq!(n.len(), 16);
    assert_eq!(&n[..8], r1.as_slice());
    assert_eq!(responder.n(), n.as_slice());
    // Own Partial IV from the fresh CTX_NEW: sequence numbers restart at 0.
    assert_eq!(piv(&m2), Some(0));

    // Client: checks R1, derives CTX_NEW, verifies.
    let (completed, inner) =
        init.finish(&u, &mut c_old, &mut EphemeralPersistence, &m2, &mut c_binding, NOW).unwrap();
    assert_eq!(inner.payload, b"ok");
    assert_eq!(completed.n(), n.as_slice());
    let mut c_new = completed.into_context();
    // MSALT_NEW = N; IDs and ID Context unchanged.
    assert_eq!(c_new.common().master_salt(), n.as_slice());
    assert_eq!(c_new.common().id_context(), c_old.common().id_context());
    assert_eq!(c_new.sender().sender_id(), c_old.sender().sender_id());
    assert_eq!(c_new.recipient().recipient_id(), c_old.recipient().recipient_id());
    assert_eq!(c_new.sender().sequence_number(), 0);

    // Next request under CTX_NEW confirms the server.
    let (m3, mut c_binding) = c_new.protect_request(&get("after"), NOW).unwrap();
    assert_eq!(piv(&m3), Some(0));
    assert_eq!(id_detail(&m3), None);
    let (completed, _, mut s_binding) = responder.verify_request(&m3, NOW).unwrap();
    let mut s_new = completed.into_context();
    let r3 = s_new.protect_response(&content("fine"), &mut s_binding, ResponsePiv::Auto, NOW).unwrap();
    assert_eq!(c_new.verify_response(&r3, &mut c_binding, NOW).unwrap().payload, b"fine");
    assert_eq!(s_new.common().master_secret(), c_new.common().master_secret());
    assert_ne!(s_new.common().master_secret(), s_old.common().master_secret());
}

#[test]
fn server_initiated_figure_6() {
    let u = updater(Config::default());
    let (mut c_old, mut s_old) = contexts();

    // A normal request under CTX_OLD ...
    let (m0, mut c_binding) = c_old.protect_request(&get("normal"), NOW).unwrap();
    let (_, mut s_binding) = s_old.verify_request(&m0, NOW).unwrap();
    // ... answered under CTX_1 with R1.
    let (init, m1) = Initiator::<Server>::start(&u, &mut s_old, &content("r1"), &mut s_binding, NOW).unwrap();
    assert_eq!(id_detail(&m1), Some(init.r1().to_vec()));
    assert_eq!(piv(&m1), Some(0), "own Partial IV reserved from CTX_OLD");
    assert_eq!(s_old.sender().sequence_number(), 1);

    // Client: verifies under CTX_1, picks R2, next request under CTX_NEW with R1|R2.
    let (received, inner) = ReceivedR1::<Client>::verify(&u, &mut c_old, &m1, &mut c_binding, NOW).unwrap();
    assert_eq!(inner.payload, b"r1");
    let (responder, m2, mut c_binding) =
        received.respond(&u, &mut EphemeralPersistence, &get("r2"), NOW).unwrap();
    let n = id_detail(&m2).unwrap();
    assert_eq!(&n[..8], init.r1());
    assert_eq!(piv(&m2), Some(0));

    // Server: checks R1, derives CTX_NEW, verifies; answers under CTX_NEW.
    let (completed, inner, mut s_binding) =
        init.finish(&u, &mut s_old, &mut EphemeralPersistence, &m2, NOW).unwrap();
    assert_eq!(common::uri_path(&inner), "r2");
    let mut s_new = completed.into_context();
    let m3 = s_new.protect_response(&content("done"), &mut s_binding, ResponsePiv::Auto, NOW).unwrap();
    // Client: confirmation.
    let (completed, inner) = responder.verify_response(&m3, &mut c_binding, NOW).unwrap();
    assert_eq!(inner.payload, b"done");
    assert_eq!(completed.context().common().master_secret(), s_new.common().master_secret());
}

#[test]
fn wrong_r1_is_rejected_and_the_initiator_keeps_waiting() {
    let u = updater(Config::default());
    let (mut c_old, mut s_old) = contexts();
    let (init, m1, mut c_binding) = Initiator::<Client>::start(&u, &mut c_old, &get("ku"), NOW).unwrap();
    let (received, _, mut s_binding) = ReceivedR1::<Server>::verify(&u, &mut s_old, &m1, NOW).unwrap();
    let (_, m2) =
        received.respond(&u, &mut EphemeralPersistence, &content("ok"), &mut s_binding, NOW).unwrap();
    let mut bad = id_detail(&m2).unwrap();
    bad[0] ^= 1;
    let forged = with_id_detail(&m2, bad);
    let rejected =
        init.finish(&u, &mut c_old, &mut EphemeralPersistence, &forged, &mut c_binding, NOW).unwrap_err();
    assert_eq!(rejected.error, Error::R1Mismatch);
    // No decryption was attempted, nothing counted.
    assert_eq!(c_old.recipient().count_v(), 0);
    let (completed, _) =
        rejected.state.finish(&u, &mut c_old, &mut EphemeralPersistence, &m2, &mut c_binding, NOW).unwrap();
    assert_eq!(completed.n(), id_detail(&m2).unwrap().as_slice());

    // A reply with the right R1 but a forged R2 fails verification and is
    // charged to CTX_OLD's count_v.
    let (init, m1, mut c_binding) = Initiator::<Client>::start(&u, &mut c_old, &get("ku"), NOW).unwrap();
    let (received, _, mut s_binding) = ReceivedR1::<Server>::verify(&u, &mut s_old, &m1, NOW).unwrap();
    let (_, m2) =
        received.respond(&u, &mut EphemeralPersistence, &content("ok"), &mut s_binding, NOW).unwrap();
    let mut bad = id_detail(&m2).unwrap();
    bad[15] ^= 1;
    let rejected = init
        .finish(&u, &mut c_old, &mut EphemeralPersistence, &with_id_detail(&m2, bad), &mut c_binding, NOW)
        .unwrap_err();
    assert_eq!(rejected.error, Error::Oscore(oscore_core::Error::DecryptionFailed));
    assert_eq!(c_old.recipient().count_v(), 1);
}

#[test]
fn replayed_r1_request_is_refused_by_ctx_old_window() {
    let u = updater(Config::default());
    let (mut c_old, mut s_old) = contexts();
    let (_, m1, _) = Initiator::<Client>::start(&u, &mut c_old, &get("ku"), NOW).unwrap();
    ReceivedR1::<Server>::verify(&u, &mut s_old, &m1, NOW).unwrap();
    let err = ReceivedR1::<Server>::verify(&u, &mut s_old, &m1, NOW).unwrap_err();
    assert_eq!(err, Error::Oscore(oscore_core::Error::Replay(ReplayOutcome::Replayed)));
    // The number is recorded in CTX_OLD, which therefore also refuses it.
    assert_eq!(s_old.recipient().replay_window().check(0), ReplayOutcome::Replayed);
    // A forged R1 request is charged to CTX_OLD.
    let mut d = id_detail(&m1).unwrap();
    d[0] ^= 0xff;
    let (_, m1b, _) = Initiator::<Client>::start(&u, &mut c_old, &get("ku"), NOW).unwrap();
    let forged = with_id_detail(&m1b, d);
    assert!(ReceivedR1::<Server>::verify(&u, &mut s_old, &forged, NOW).is_err());
    assert_eq!(s_old.recipient().count_v(), 1);
}

#[test]
fn configurable_nonce_lengths() {
    let config = Config { r1_len: 4, r2_len: 12, ..Config::default() };
    let u = updater(config);
    let (mut c_old, mut s_old) = contexts();
    let (init, m1, mut cb) = Initiator::<Client>::start(&u, &mut c_old, &get("ku"), NOW).unwrap();
    assert_eq!(init.r1().len(), 4);
    let (received, _, mut sb) = ReceivedR1::<Server>::verify(&u, &mut s_old, &m1, NOW).unwrap();
    let (_, m2) = received.respond(&u, &mut EphemeralPersistence, &content("ok"), &mut sb, NOW).unwrap();
    assert_eq!(id_detail(&m2).unwrap().len(), 16);
    init.finish(&u, &mut c_old, &mut EphemeralPersistence, &m2, &mut cb, NOW).unwrap();

    for bad in [
        Config { r1_len: 0, ..Config::default() },
        Config { r2_len: 0, ..Config::default() },
        Config { r1_len: 200, r2_len: 56, ..Config::default() },
    ] {
        assert!(matches!(
            KeyUpdater::new(&crypto_backends::RUSTCRYPTO).with_config(bad),
            Err(Error::InvalidConfig(_))
        ));
    }
}

#[test]
fn expired_context_is_not_renewed_but_exhausted_sender_key_is() {
    let u = updater(Config::default());
    let p = &crypto_backends::RUSTCRYPTO;
    // A client whose Sender Key is exhausted can still initiate: CTX_1 has
    // its own Sender Key.
    let mut params = client_params();
    params.limits.limit_q = 1;
    let mut c_old = SecurityContext::derive(p, &params).unwrap();
    c_old.protect_request(&get("one"), NOW).unwrap();
    let e = c_old.protect_request(&get("two"), NOW).unwrap_err();
    assert!(e.needs_key_update());
    assert!(Initiator::<Client>::start(&u, &mut c_old, &get("ku"), NOW).is_ok());

    // An expired one cannot.
    let mut params = client_params();
    params.limits.exp = Some(NOW);
    let mut c_old = SecurityContext::derive(p, &params).unwrap();
    let err = Initiator::<Client>::start(&u, &mut c_old, &get("ku"), NOW).unwrap_err();
    assert_eq!(err, Error::Oscore(oscore_core::Error::ContextExpired));
    assert!(err.needs_key_update());
}

#[test]
fn forged_replies_have_a_budget_per_exchange() {
    // v = 2 → limit_v = 1: two failed replies are tolerated, then the
    // exchange refuses to verify any more (the client starts a new one).
    let u = updater(Config::default());
    let p = &crypto_backends::RUSTCRYPTO;
    let mut cp = client_params();
    cp.limits.limit_v = 1;
    let mut c_old = SecurityContext::derive(p, &cp).unwrap();
    let (_, mut s_old) = contexts();
    let (mut init, m1, mut cb) = Initiator::<Client>::start(&u, &mut c_old, &get("ku"), NOW).unwrap();
    let (received, _, mut sb) = ReceivedR1::<Server>::verify(&u, &mut s_old, &m1, NOW).unwrap();
    let (_, m2) = received.respond(&u, &mut EphemeralPersistence, &content("ok"), &mut sb, NOW).unwrap();
    for i in 0..3 {
        let mut forged = m2.clone();
        let last = forged.payload.len() - 1;
        forged.payload[last] ^= 1;
        let rejected =
            init.finish(&u, &mut c_old, &mut EphemeralPersistence, &forged, &mut cb, NOW).unwrap_err();
        let want =
            if i < 2 { oscore_core::Error::DecryptionFailed } else { oscore_core::Error::LimitVReached };
        assert_eq!(rejected.error, Error::Oscore(want), "attempt {i}");
        init = rejected.state;
    }
    assert!(init.finish(&u, &mut c_old, &mut EphemeralPersistence, &m2, &mut cb, NOW).is_err());
}

#[test]
fn secrets_never_in_debug() {
    let u = updater(Config::default());
    let (mut c_old, mut s_old) = contexts();
    let (init, m1, _) = Initiator::<Client>::start(&u, &mut c_old, &get("ku"), NOW).unwrap();
    let (received, _, mut sb) = ReceivedR1::<Server>::verify(&u, &mut s_old, &m1, NOW).unwrap();
    let received_dbg = format!("{received:?}");
    let (responder, _) =
        received.respond(&u, &mut EphemeralPersistence, &content("ok"), &mut sb, NOW).unwrap();
    let new_secret = responder.context().common().master_secret().to_vec();
    let session = oscore_keyupdate::SessionState {
        current: s_old.params(),
        pending: Some(responder.context().params()),
        pending_r1_seq: Some(0),
        retained: None,
        offered_r1: None,
    };
    let keys = oscore_keyupdate::HkdfKeyUpdate;
    let master = oscore_keyupdate::KeyUpdateSource::new_master_keys(
        &keys,
        &crypto_backends::RUSTCRYPTO,
        b"n",
        &s_old.params(),
    )
    .unwrap();
    for dbg in [
        format!("{init:?}"),
        received_dbg,
        format!("{responder:?}"),
        format!("{session:?}"),
        format!("{master:?}"),
        format!("{u:?}"),
    ] {
        for secret in [&common::SECRET[..], &new_secret[..], &master.master_secret[..]] {
            assert!(!dbg.contains(&hex::encode(secret)), "{dbg}");
            assert!(!dbg.contains(&format!("{secret:?}")), "{dbg}");
            assert!(!dbg.contains(&format!("{secret:02x?}")), "{dbg}");
        }
    }
}

#[test]
fn endpoints_and_states_are_send_for_async_drivers() {
    fn send<T: Send>() {}
    send::<oscore_keyupdate::ClientEndpoint>();
    send::<oscore_keyupdate::ServerEndpoint>();
    send::<oscore_keyupdate::SentRequest>();
    send::<oscore_keyupdate::ReceivedRequest>();
    send::<Initiator<Client>>();
    send::<oscore_keyupdate::Responder<Server>>();
    send::<KeyUpdater>();
}
