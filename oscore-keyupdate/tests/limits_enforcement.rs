//! key-limits-01 §2.2–§2.3 end to end: reaching 'limit_q', 'limit_v' or
//! 'exp' yields an error that says a key update is needed, and after the
//! update traffic continues.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{Pair, content, get, id_detail};
use oscore_core::ResponsePiv;
use oscore_keyupdate::{Config, Error, KeyUpdatePhase, UsageLimits};

fn tiny(q: u64, v: u64) -> Config {
    Config { limits: Some(UsageLimits::new(q, v, 1 << 8)), ..Config::default() }
}

#[test]
fn limits_are_applied_to_every_context() {
    let p = Pair::new();
    // Recommended for the default AES-CCM-16-64-128: (2^20, 2^10, 2^8).
    let c = p.client.current();
    assert_eq!(c.sender().limit_q(), 1 << 20);
    assert_eq!(c.recipient().limit_v(), (1 << 10) - 1);
    let p = Pair::with_config(tiny(3, 2));
    assert_eq!(p.server.current().sender().limit_q(), 3);
    assert_eq!(p.server.current().recipient().limit_v(), 1);
}

#[test]
fn client_limit_q_then_update_then_traffic_continues() {
    let mut p = Pair::with_configs(tiny(3, 4), Config::default());
    for generation in 0..4 {
        let mut i = 0;
        while p.client.current().sender().count_q() < 3 {
            p.round_trip(&format!("g{generation} m{i}"));
            i += 1;
        }
        // The Sender Key is used up.
        let e = p.client.protect_request(&get("one too many"), p.now).unwrap_err();
        assert_eq!(e, Error::Oscore(oscore_core::Error::LimitQReached));
        assert!(e.needs_key_update());
        assert_eq!(e.coap_code(), None);
        // The update works although CTX_OLD's Sender Key is exhausted: R1
        // goes under CTX_1, which has its own.
        assert!(p.client.start_key_update());
        p.round_trip("key update");
        p.round_trip("confirm");
        assert!(p.agree());
        assert_eq!(p.client.current().sender().count_q(), 1);
    }
}

#[test]
fn server_limit_q_then_server_initiated_update() {
    let mut p = Pair::with_configs(Config::default(), tiny(2, 4));
    p.round_trip("a");
    p.round_trip("b");
    let (req, mut sent) = p.client.protect_request(&get("c"), p.now).unwrap();
    let (_, mut received) = p.server.verify_request(&req, p.now).unwrap();
    let e = p.server.protect_response(&content("c"), &mut received, ResponsePiv::Auto, p.now).unwrap_err();
    assert!(e.needs_key_update());
    // The server answers the same request with its R1 offer under CTX_1.
    assert!(p.server.start_key_update());
    let offer = p.server.protect_response(&content("c"), &mut received, ResponsePiv::Auto, p.now).unwrap();
    assert!(id_detail(&offer).is_some());
    assert_eq!(p.client.verify_response(&offer, &mut sent, p.now).unwrap().payload, b"c");
    p.round_trip("r1|r2");
    assert!(p.agree());
    p.round_trip("d");
}

#[test]
fn client_limit_v_then_update_then_traffic_continues() {
    // limit_v = v − 1 = 1: after 2 failed decryptions the Recipient Key is refused.
    let mut p = Pair::with_configs(tiny(100, 2), Config::default());
    for i in 0..2 {
        let (req, mut sent) = p.client.protect_request(&get("x"), p.now).unwrap();
        let (_, mut received) = p.server.verify_request(&req, p.now).unwrap();
        let mut resp =
            p.server.protect_response(&content("x"), &mut received, ResponsePiv::Auto, p.now).unwrap();
        let last = resp.payload.len() - 1;
        resp.payload[last] ^= 1; // forged
        let e = p.client.verify_response(&resp, &mut sent, p.now).unwrap_err();
        assert_eq!(e, Error::Oscore(oscore_core::Error::DecryptionFailed), "attempt {i}");
    }
    assert_eq!(p.client.current().recipient().count_v(), 2);
    let (req, mut sent) = p.client.protect_request(&get("y"), p.now).unwrap();
    let (_, mut received) = p.server.verify_request(&req, p.now).unwrap();
    let resp = p.server.protect_response(&content("y"), &mut received, ResponsePiv::Auto, p.now).unwrap();
    let e = p.client.verify_response(&resp, &mut sent, p.now).unwrap_err();
    assert_eq!(e, Error::Oscore(oscore_core::Error::LimitVReached));
    assert!(e.needs_key_update());
    // The client initiates; the R1|R2 response is verified under CTX_NEW.
    assert!(p.client.start_key_update());
    p.round_trip("key update");
    p.round_trip("confirm");
    assert!(p.agree());
    assert_eq!(p.client.current().recipient().count_v(), 0);
}

#[test]
fn responder_past_limit_v_refuses_the_update() {
    // Documented consequence of charging CTX_1 failures to CTX_OLD: a
    // responder whose Recipient Key exceeded limit_v takes part in no update
    // (key-limits-01 §2.4: start before the limits are reached).
    let mut p = Pair::with_config(tiny(100, 1));
    let (mut req, _) = p.client.protect_request(&get("x"), p.now).unwrap();
    let last = req.payload.len() - 1;
    req.payload[last] ^= 1;
    assert!(p.server.verify_request(&req, p.now).is_err());
    p.client.start_key_update();
    let (m1, _) = p.client.protect_request(&get("ku"), p.now).unwrap();
    let e = p.server.verify_request(&m1, p.now).unwrap_err();
    assert_eq!(e, Error::Oscore(oscore_core::Error::LimitVReached));
    assert_eq!(p.server.phase(), KeyUpdatePhase::Idle);
}

#[test]
fn exp_stops_the_context_and_the_update_renews_it() {
    let config = Config { lifetime: Some(3600), ..Config::default() };
    let mut p = Pair::with_config(config);
    // The initial contexts have no 'exp'; the updated ones get now + lifetime.
    assert_eq!(p.client.current().common().exp(), None);
    p.client.start_key_update();
    p.round_trip("ku");
    p.round_trip("confirm");
    let exp = p.now + 3600;
    assert_eq!(p.client.current().common().exp(), Some(exp));
    assert_eq!(p.server.current().common().exp(), Some(exp));
    // Shortly before 'exp' the update renews it ...
    p.now = exp - 10;
    p.server.start_key_update();
    p.round_trip("offer");
    p.round_trip("r1|r2");
    assert!(p.agree());
    assert_eq!(p.client.current().common().exp(), Some(exp - 10 + 3600));
    // ... after it, the context is dead for both directions and cannot be renewed.
    p.now += 3600;
    let e = p.client.protect_request(&get("late"), p.now).unwrap_err();
    assert_eq!(e, Error::Oscore(oscore_core::Error::ContextExpired));
    assert!(e.needs_key_update());
    p.client.start_key_update();
    assert_eq!(
        p.client.protect_request(&get("ku"), p.now).unwrap_err(),
        Error::Oscore(oscore_core::Error::ContextExpired)
    );
}

#[test]
fn without_lifetime_the_new_context_keeps_the_old_exp() {
    let mut p = Pair::new();
    let mut params = common::client_params();
    params.limits.exp = Some(p.now + 100);
    p.client = oscore_keyupdate::ClientEndpoint::open(
        common::updater(Config::default()),
        common::Durable::new().boxed(),
        params,
    )
    .unwrap();
    let mut params = common::server_params();
    params.limits.exp = Some(p.now + 100);
    p.server = oscore_keyupdate::ServerEndpoint::open(
        common::updater(Config::default()),
        common::Durable::new().boxed(),
        params,
    )
    .unwrap();
    p.client.start_key_update();
    p.round_trip("ku");
    p.round_trip("confirm");
    assert!(p.agree());
    assert_eq!(p.client.current().common().exp(), Some(p.now + 100));
}

#[test]
fn messages_longer_than_l_blocks_are_refused() {
    let mut p = Pair::with_config(Config {
        limits: Some(UsageLimits::new(1 << 10, 1 << 10, 4)),
        ..Config::default()
    });
    let mut big = get("x");
    big.payload = vec![0; 64];
    let e = p.client.protect_request(&big, p.now).unwrap_err();
    assert!(matches!(e, Error::MessageTooLong { max: 64, .. }), "{e:?}");
    big.payload = vec![0; 40];
    let (req, _) = p.client.protect_request(&big, p.now).unwrap();
    // The server refuses a long ciphertext before decrypting (count_v stays 0).
    let mut long = req.clone();
    long.payload.extend_from_slice(&[0; 64]);
    assert!(matches!(p.server.verify_request(&long, p.now), Err(Error::MessageTooLong { .. })));
    assert_eq!(p.server.current().recipient().count_v(), 0);
    p.server.verify_request(&req, p.now).unwrap();
}

#[test]
fn explicit_limits_in_the_initial_context_are_checked() {
    let mut params = common::client_params();
    params.limits.limit_v = 1 << 20; // far too many forgeries for CCM_8
    let e = oscore_keyupdate::ClientEndpoint::open(
        common::updater(Config::default()),
        common::Durable::new().boxed(),
        params,
    )
    .unwrap_err();
    assert!(matches!(e, Error::LimitsTooWeak { .. }), "{e:?}");
    let e = common::updater(Config::default());
    let bad = Config { limits: Some(UsageLimits::new(1 << 20, 1 << 20, 1 << 8)), ..Config::default() };
    // The configured limits are checked when they are applied.
    drop(e);
    let r = oscore_keyupdate::ClientEndpoint::open(
        common::updater(bad),
        common::Durable::new().boxed(),
        common::client_params(),
    );
    assert!(matches!(r, Err(Error::LimitsTooWeak { .. })));
}
