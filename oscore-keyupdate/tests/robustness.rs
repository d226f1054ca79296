//! key-limits-01 §3.3 / §3.4 robustness: two in-memory endpoints and a
//! virtual clock. Lost messages in either direction, duplicates, a replayed
//! R1 request, a wrong R1 in the reply, reboots between the two messages,
//! and both peers starting at once — after each, the peers still talk, and
//! sequence numbers never repeat under one context.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use coap_lite::Packet;
use common::{Pair, content, get, id_detail, uri_path, with_id_detail};
use oscore_core::protect::decode_oscore_option;
use oscore_core::{ReplayOutcome, ResponsePiv};
use oscore_keyupdate::{Config, Error, Event, KeyUpdatePhase, ReceivedRequest, SentRequest};

fn ok(s: &str) -> Packet {
    content(s)
}

/// Client sends `path`; returns the protected request and its handle.
fn send(p: &mut Pair, path: &str) -> (Packet, SentRequest) {
    p.client.protect_request(&get(path), p.now).unwrap()
}

/// Server verifies and answers; returns the protected response.
fn serve(p: &mut Pair, req: &Packet) -> (Packet, ReceivedRequest) {
    let (inner, mut received) = p.server.verify_request(req, p.now).unwrap();
    let resp =
        p.server.protect_response(&ok(&uri_path(&inner)), &mut received, ResponsePiv::Auto, p.now).unwrap();
    (resp, received)
}

fn replay_err(e: &Error) -> bool {
    matches!(e, Error::Oscore(oscore_core::Error::Replay(_)))
}

/// A full client-initiated update; returns N.
fn client_initiated(p: &mut Pair) -> Vec<u8> {
    assert!(p.client.start_key_update());
    let (m1, mut s1) = send(p, "m1");
    assert!(s1.carries_r1());
    let (m2, _) = serve(p, &m1);
    p.client.verify_response(&m2, &mut s1, p.now).unwrap();
    p.round_trip("m3");
    assert!(p.agree());
    p.client.current().common().master_salt().to_vec()
}

#[test]
fn happy_client_initiated_with_events() {
    let mut p = Pair::new();
    p.round_trip("before");
    let old_salt = p.client.current().common().master_salt().to_vec();
    assert!(p.client.start_key_update());
    assert!(!p.client.start_key_update(), "only one at a time");
    assert_eq!(p.client.phase(), KeyUpdatePhase::Requested);
    let (m1, mut s1) = send(&mut p, "m1");
    assert_eq!(p.client.phase(), KeyUpdatePhase::Initiating);
    let (m2, _) = serve(&mut p, &m1);
    assert_eq!(p.server.phase(), KeyUpdatePhase::Responding);
    let n = id_detail(&m2).unwrap();
    assert_eq!(p.client.verify_response(&m2, &mut s1, p.now).unwrap().payload, b"m1");
    assert_eq!(p.client.phase(), KeyUpdatePhase::Idle);
    assert_eq!(p.client.current().common().master_salt(), n.as_slice());
    assert!(!p.agree(), "server not confirmed yet");
    p.round_trip("m3");
    assert!(p.agree());
    assert_ne!(p.client.current().common().master_salt(), old_salt.as_slice());
    let (c, s) = p.drain_events();
    assert_eq!(c, vec![Event::KeyUpdateStarted, Event::KeyUpdateCompleted { n: n.clone() }]);
    assert_eq!(s, vec![Event::KeyUpdateResponding, Event::KeyUpdateCompleted { n: n.clone() }]);
    // The IDs and the ID Context never change.
    assert_eq!(p.client.current().common().id_context(), Some(&b"\x37\xcb"[..]));
    assert_eq!(p.server.current().sender().sender_id(), b"\x01");
    // A second update, from CTX_NEW.
    let n2 = client_initiated(&mut p);
    assert_ne!(n2, n);
    // The client saved the switch, with CTX_OLD retained.
    let session = p.client_disk.session().unwrap();
    assert_eq!(session.current.master_salt, n2);
    assert_eq!(session.retained.unwrap().0.master_salt, n);
    p.round_trip("after");
}

#[test]
fn happy_server_initiated() {
    let mut p = Pair::new();
    assert!(p.server.start_key_update());
    let (m0, mut s0) = send(&mut p, "m0");
    let (m1, _) = serve(&mut p, &m0);
    assert_eq!(p.server.phase(), KeyUpdatePhase::Initiating);
    let r1 = id_detail(&m1).unwrap();
    assert_eq!(p.client.verify_response(&m1, &mut s0, p.now).unwrap().payload, b"m0");
    assert_eq!(p.client.phase(), KeyUpdatePhase::Received);
    let (m2, mut s2) = send(&mut p, "m2");
    assert_eq!(p.client.phase(), KeyUpdatePhase::Responding);
    assert_eq!(&id_detail(&m2).unwrap()[..8], r1.as_slice());
    let (m3, _) = serve(&mut p, &m2);
    assert_eq!(p.server.phase(), KeyUpdatePhase::Idle);
    assert_eq!(p.client.verify_response(&m3, &mut s2, p.now).unwrap().payload, b"m2");
    assert_eq!(p.client.phase(), KeyUpdatePhase::Idle);
    assert!(p.agree());
    p.round_trip("after");
}

#[test]
fn lost_r1_request() {
    let mut p = Pair::new();
    p.client.start_key_update();
    let (_lost, _) = send(&mut p, "m1");
    // The next request carries the same R1 again.
    let (m1b, mut s1b) = send(&mut p, "m1b");
    let (m2, _) = serve(&mut p, &m1b);
    p.client.verify_response(&m2, &mut s1b, p.now).unwrap();
    p.round_trip("m3");
    assert!(p.agree());

    // Or the client gives up and keeps talking under CTX_OLD.
    let mut p = Pair::new();
    p.client.start_key_update();
    let _lost = send(&mut p, "m1");
    p.client.abort_key_update().unwrap();
    p.round_trip("old");
    assert_eq!(p.client.current().common().master_salt(), b"");
    client_initiated(&mut p);
}

#[test]
fn lost_r1r2_response() {
    let mut p = Pair::new();
    p.client.start_key_update();
    let (m1, _s1) = send(&mut p, "m1");
    let (m2, _) = serve(&mut p, &m1);
    let lost_n = id_detail(&m2); // m2 is lost
    // The client's next request repeats R1; the server repeats R1|R2 (same N).
    let (m1b, mut s1b) = send(&mut p, "m1b");
    assert_eq!(id_detail(&m1b), id_detail(&m1));
    let (m2b, _) = serve(&mut p, &m1b);
    assert_eq!(id_detail(&m2b), lost_n);
    p.client.verify_response(&m2b, &mut s1b, p.now).unwrap();
    p.round_trip("m3");
    assert!(p.agree());

    // Alternatively the client aborts: its next CTX_OLD request tells the
    // server, which drops its pending CTX_NEW; a new update works.
    let mut p = Pair::new();
    p.client.start_key_update();
    let (m1, _) = send(&mut p, "m1");
    let (_lost, _) = serve(&mut p, &m1);
    assert_eq!(p.server.phase(), KeyUpdatePhase::Responding);
    p.client.abort_key_update().unwrap();
    p.round_trip("old");
    assert_eq!(p.server.phase(), KeyUpdatePhase::Idle);
    assert!(p.drain_events().1.contains(&Event::KeyUpdateAbandoned));
    client_initiated(&mut p);
    p.round_trip("after");
}

#[test]
fn lost_first_message_under_ctx_new_both_flows() {
    // Client-initiated: the first CTX_NEW request is lost.
    let mut p = Pair::new();
    p.client.start_key_update();
    let (m1, mut s1) = send(&mut p, "m1");
    let (m2, _) = serve(&mut p, &m1);
    p.client.verify_response(&m2, &mut s1, p.now).unwrap();
    let _lost = send(&mut p, "m3");
    p.round_trip("m3b");
    assert!(p.agree());

    // Server-initiated: the server's answer to R1|R2 is lost; the client
    // keeps sending R1|R2 under CTX_NEW, which the server verifies normally.
    let mut p = Pair::new();
    p.server.start_key_update();
    let (m0, mut s0) = send(&mut p, "m0");
    let (m1, _) = serve(&mut p, &m0);
    p.client.verify_response(&m1, &mut s0, p.now).unwrap();
    let (m2, _s2) = send(&mut p, "m2");
    let (_lost, _) = serve(&mut p, &m2);
    assert_eq!(p.server.phase(), KeyUpdatePhase::Idle);
    let (m2b, mut s2b) = send(&mut p, "m2b");
    assert_eq!(id_detail(&m2b), id_detail(&m2));
    let (m3, _) = serve(&mut p, &m2b);
    p.client.verify_response(&m3, &mut s2b, p.now).unwrap();
    assert_eq!(p.client.phase(), KeyUpdatePhase::Idle);
    assert!(p.agree());
    p.round_trip("after");
}

#[test]
fn lost_offer_and_lost_r1r2_request_server_initiated() {
    let mut p = Pair::new();
    p.server.start_key_update();
    // The offer is lost ...
    let (m0, _s0) = send(&mut p, "m0");
    let (_lost, _) = serve(&mut p, &m0);
    // ... and repeated with the same R1 on the next response.
    let (m0b, mut s0b) = send(&mut p, "m0b");
    let (m1, _) = serve(&mut p, &m0b);
    assert_eq!(id_detail(&_lost), id_detail(&m1));
    p.client.verify_response(&m1, &mut s0b, p.now).unwrap();
    // The R1|R2 request is lost; the next request repeats it.
    let _lost = send(&mut p, "m2");
    let (m2b, mut s2b) = send(&mut p, "m2b");
    let (m3, _) = serve(&mut p, &m2b);
    p.client.verify_response(&m3, &mut s2b, p.now).unwrap();
    assert!(p.agree());
    p.round_trip("after");
}

#[test]
fn duplicates_are_replays_and_change_nothing() {
    let mut p = Pair::new();
    p.client.start_key_update();
    let (m1, mut s1) = send(&mut p, "m1");
    let (m2, _) = serve(&mut p, &m1);
    // Duplicate R1 request.
    let e = p.server.verify_request(&m1, p.now).unwrap_err();
    assert!(replay_err(&e), "{e:?}");
    assert_eq!(p.server.phase(), KeyUpdatePhase::Responding);
    // Duplicate R1|R2 response.
    p.client.verify_response(&m2, &mut s1, p.now).unwrap();
    let e = p.client.verify_response(&m2, &mut s1, p.now).unwrap_err();
    assert!(replay_err(&e), "{e:?}");
    // Duplicate first CTX_NEW request.
    let (m3, mut s3) = send(&mut p, "m3");
    let (r3, _) = serve(&mut p, &m3);
    assert!(replay_err(&p.server.verify_request(&m3, p.now).unwrap_err()));
    p.client.verify_response(&r3, &mut s3, p.now).unwrap();
    assert!(p.agree());

    // Server-initiated duplicates: the offer and the R1|R2 request.
    p.server.start_key_update();
    let (m0, mut s0) = send(&mut p, "m0");
    let (m1, _) = serve(&mut p, &m0);
    p.client.verify_response(&m1, &mut s0, p.now).unwrap();
    assert!(replay_err(&p.client.verify_response(&m1, &mut s0, p.now).unwrap_err()));
    let (m2, mut s2) = send(&mut p, "m2");
    let (m3, _) = serve(&mut p, &m2);
    assert!(replay_err(&p.server.verify_request(&m2, p.now).unwrap_err()));
    p.client.verify_response(&m3, &mut s2, p.now).unwrap();
    assert!(p.agree());
    p.round_trip("after");
}

#[test]
fn replayed_r1_request_never_restarts_the_update() {
    let mut p = Pair::new();
    p.client.start_key_update();
    let (m1, mut s1) = send(&mut p, "m1");
    let (m2, _) = serve(&mut p, &m1);
    p.client.verify_response(&m2, &mut s1, p.now).unwrap();
    p.round_trip("m3");
    let salt = p.server.current().common().master_salt().to_vec();
    // Replayed within the retention time: the retained CTX_OLD's window.
    let e = p.server.verify_request(&m1, p.now).unwrap_err();
    assert!(replay_err(&e), "{e:?}");
    // Replayed after it: the old context is gone.
    p.now += Config::default().retention + 1;
    p.server.handle_timeout(p.now);
    assert!(!p.server.has_retained());
    assert!(p.server.verify_request(&m1, p.now).is_err());
    assert_eq!(p.server.current().common().master_salt(), salt.as_slice());
    assert_eq!(p.server.phase(), KeyUpdatePhase::Idle);
    // Replayed after a further update: refused, nothing changes.
    client_initiated(&mut p);
    let salt = p.server.current().common().master_salt().to_vec();
    assert!(p.server.verify_request(&m1, p.now).is_err());
    assert_eq!(p.server.current().common().master_salt(), salt.as_slice());
    assert_eq!(p.server.phase(), KeyUpdatePhase::Idle);
    p.round_trip("after");

    // Replayed while the server is responding: refused by CTX_OLD's window,
    // the pending CTX_NEW stays.
    let mut p = Pair::new();
    p.round_trip("x");
    p.client.start_key_update();
    let (m1, mut s1) = send(&mut p, "m1");
    let (m2, _) = serve(&mut p, &m1);
    let e = p.server.verify_request(&m1, p.now).unwrap_err();
    assert_eq!(e, Error::Oscore(oscore_core::Error::Replay(ReplayOutcome::Replayed)));
    p.client.verify_response(&m2, &mut s1, p.now).unwrap();
    p.round_trip("m3");
    assert!(p.agree());
}

#[test]
fn wrong_r1_in_the_reply() {
    // Client-initiated: the R1|R2 response carries another R1.
    let mut p = Pair::new();
    p.client.start_key_update();
    let (m1, mut s1) = send(&mut p, "m1");
    let (m2, _) = serve(&mut p, &m1);
    let mut d = id_detail(&m2).unwrap();
    d[3] ^= 0x40;
    let e = p.client.verify_response(&with_id_detail(&m2, d), &mut s1, p.now).unwrap_err();
    assert_eq!(e, Error::R1Mismatch);
    assert_eq!(p.client.phase(), KeyUpdatePhase::Initiating);
    p.client.verify_response(&m2, &mut s1, p.now).unwrap();
    p.round_trip("m3");
    assert!(p.agree());

    // Server-initiated: the R1|R2 request carries another R1.
    let mut p = Pair::new();
    p.server.start_key_update();
    let (m0, mut s0) = send(&mut p, "m0");
    let (m1, _) = serve(&mut p, &m0);
    p.client.verify_response(&m1, &mut s0, p.now).unwrap();
    let (m2, mut s2) = send(&mut p, "m2");
    let mut d = id_detail(&m2).unwrap();
    d[0] ^= 1;
    assert!(p.server.verify_request(&with_id_detail(&m2, d), p.now).is_err());
    assert_eq!(p.server.phase(), KeyUpdatePhase::Initiating);
    let (m3, _) = serve(&mut p, &m2);
    p.client.verify_response(&m3, &mut s2, p.now).unwrap();
    assert!(p.agree());
    p.round_trip("after");
}

/// Every (context, sender, Partial IV) a peer sent, to check that a reboot
/// never makes one repeat.
#[derive(Default)]
struct Nonces(std::collections::HashSet<(Vec<u8>, bool, u64)>);

impl Nonces {
    /// Records a message protected under `salt` by the client (`from_client`).
    fn record(&mut self, salt: &[u8], from_client: bool, msg: &Packet) {
        let opt = decode_oscore_option(msg).unwrap();
        if let Some(piv) = opt.partial_iv {
            let seq = oscore_core::option::decode_partial_iv(&piv).unwrap();
            assert!(
                self.0.insert((salt.to_vec(), from_client, seq)),
                "nonce reused: {seq} under {salt:02x?}"
            );
        }
    }
}

#[test]
fn server_reboots_between_the_two_messages_client_initiated() {
    let mut p = Pair::new();
    p.round_trip("warm");
    p.client.start_key_update();
    let (m1, mut s1) = send(&mut p, "m1");
    let (m2, _) = serve(&mut p, &m1);
    let n = id_detail(&m2).unwrap();
    // The server saved CTX_NEW before R1|R2 left.
    assert_eq!(p.server_disk.session().unwrap().pending.unwrap().master_salt, n);
    let seq_before = p.server_disk.store_state(&n).unwrap().ssn_bound;
    p.reboot_server();
    assert_eq!(p.server.phase(), KeyUpdatePhase::Responding);
    p.client.verify_response(&m2, &mut s1, p.now).unwrap();
    // The resumed CTX_NEW continues above the persisted bound.
    let (m3, mut s3) = send(&mut p, "m3");
    let (inner, mut received) = p.server.verify_request(&m3, p.now).unwrap();
    assert_eq!(uri_path(&inner), "m3");
    let r3 = p.server.protect_response(&ok("m3"), &mut received, ResponsePiv::Own, p.now).unwrap();
    let piv = decode_oscore_option(&r3).unwrap().partial_iv.unwrap();
    assert!(oscore_core::option::decode_partial_iv(&piv).unwrap() >= seq_before);
    p.client.verify_response(&r3, &mut s3, p.now).unwrap();
    assert!(p.agree());
    p.round_trip("after");
}

#[test]
fn client_reboots_between_the_two_messages_client_initiated() {
    let mut p = Pair::new();
    p.client.start_key_update();
    let (m1, _s1) = send(&mut p, "m1");
    p.reboot_client(); // R1 and the request handle are gone
    let (_orphan, _) = serve(&mut p, &m1);
    assert_eq!(p.client.phase(), KeyUpdatePhase::Idle);
    // CTX_OLD still works: the server has not switched.
    p.round_trip("old");
    assert_eq!(p.client.current().common().master_salt(), b"");
    client_initiated(&mut p);
    p.round_trip("after");
}

#[test]
fn server_reboots_after_its_offer() {
    let mut p = Pair::new();
    p.server.start_key_update();
    let (m0, mut s0) = send(&mut p, "m0");
    let (m1, _) = serve(&mut p, &m0);
    let r1 = id_detail(&m1).unwrap();
    assert_eq!(p.server_disk.session().unwrap().offered_r1.unwrap().0, r1);
    p.reboot_server();
    assert_eq!(p.server.phase(), KeyUpdatePhase::Initiating);
    p.client.verify_response(&m1, &mut s0, p.now).unwrap();
    let (m2, mut s2) = send(&mut p, "m2");
    let (m3, _) = serve(&mut p, &m2);
    p.client.verify_response(&m3, &mut s2, p.now).unwrap();
    assert!(p.agree());
    p.round_trip("after");
}

#[test]
fn client_reboots_after_its_r1r2_request() {
    let mut p = Pair::new();
    p.server.start_key_update();
    let (m0, mut s0) = send(&mut p, "m0");
    let (m1, _) = serve(&mut p, &m0);
    p.client.verify_response(&m1, &mut s0, p.now).unwrap();
    let (m2, _s2) = send(&mut p, "m2");
    p.reboot_client();
    assert_eq!(p.client.phase(), KeyUpdatePhase::Responding);
    let (_orphan_response, _) = serve(&mut p, &m2); // the server switched
    // The client repeats R1|R2 under CTX_NEW, from a fresh sequence number.
    let (m2b, mut s2b) = send(&mut p, "m2b");
    assert_eq!(id_detail(&m2b), id_detail(&m2));
    let piv_a = decode_oscore_option(&m2).unwrap().partial_iv;
    let piv_b = decode_oscore_option(&m2b).unwrap().partial_iv;
    assert_ne!(piv_a, piv_b);
    let (m3, _) = serve(&mut p, &m2b);
    p.client.verify_response(&m3, &mut s2b, p.now).unwrap();
    assert!(p.agree());
    p.round_trip("after");
}

/// One request/response round of the sweep below: records every nonce,
/// reboots `who` after message `reboot_at` (counting from 0), tolerates
/// refusals. Returns the next message index.
fn sweep_round(
    p: &mut Pair,
    nonces: &mut Nonces,
    mut index: u32,
    reboot_at: u32,
    reboot_client: bool,
) -> u32 {
    let maybe_reboot = |p: &mut Pair, index: &mut u32| {
        if *index == reboot_at {
            if reboot_client {
                p.reboot_client();
            } else {
                p.reboot_server();
            }
        }
        *index += 1;
    };
    let client_salt = p.client.current().common().master_salt().to_vec();
    let (req, mut sent) = send(p, "r");
    // The context a message went out under, told apart by its 'id detail'
    // (CTX_1: base salt + R1; CTX_NEW of a responder: R1|R2).
    let req_ctx = match id_detail(&req) {
        Some(d) if sent.carries_r1() => [client_salt.clone(), d].concat(),
        Some(d) => d,
        None => client_salt,
    };
    nonces.record(&req_ctx, true, &req);
    let client_rebooted = reboot_client && index == reboot_at;
    maybe_reboot(p, &mut index);
    let server_salt = p.server.current().common().master_salt().to_vec();
    let Ok((inner, mut received)) = p.server.verify_request(&req, p.now) else {
        return index;
    };
    let resp =
        p.server.protect_response(&ok(&uri_path(&inner)), &mut received, ResponsePiv::Own, p.now).unwrap();
    let resp_ctx = match id_detail(&resp) {
        Some(d) if !received.carries_r1() => [server_salt, d].concat(),
        Some(d) => d,
        None => p.server.current().common().master_salt().to_vec(),
    };
    nonces.record(&resp_ctx, false, &resp);
    let client_rebooted = client_rebooted || (reboot_client && index == reboot_at);
    maybe_reboot(p, &mut index);
    // After a client reboot the request handle is gone: the response is dropped.
    if !client_rebooted {
        let _ = p.client.verify_response(&resp, &mut sent, p.now);
    }
    index
}

#[test]
fn reboot_after_any_message_never_reuses_a_nonce_and_the_update_completes() {
    for server_initiated in [false, true] {
        for reboot_client in [false, true] {
            for reboot_at in 0..8 {
                let mut p = Pair::new();
                let mut nonces = Nonces::default();
                let initial = p.client.current().common().master_salt().to_vec();
                let mut index = sweep_round(&mut p, &mut nonces, 0, reboot_at, reboot_client);
                if server_initiated {
                    p.server.start_key_update();
                } else {
                    p.client.start_key_update();
                }
                for _ in 0..4 {
                    index = sweep_round(&mut p, &mut nonces, index, reboot_at, reboot_client);
                }
                // A client initiator forgets its R1 on reboot: it asks again.
                if p.client.current().common().master_salt() == initial.as_slice()
                    && p.client.phase() == KeyUpdatePhase::Idle
                    && p.server.phase() != KeyUpdatePhase::Initiating
                {
                    if server_initiated {
                        p.server.start_key_update();
                    } else {
                        p.client.start_key_update();
                    }
                }
                for _ in 0..4 {
                    index = sweep_round(&mut p, &mut nonces, index, u32::MAX, reboot_client);
                }
                let case = format!(
                    "server_initiated {server_initiated}, reboot client {reboot_client} after message {reboot_at}"
                );
                assert!(p.agree(), "{case}");
                assert_ne!(p.client.current().common().master_salt(), initial.as_slice(), "{case}");
                assert_eq!(p.client.phase(), KeyUpdatePhase::Idle, "{case}");
                assert_eq!(p.server.phase(), KeyUpdatePhase::Idle, "{case}");
                p.round_trip("final");
            }
        }
    }
}

#[test]
fn both_peers_start_at_once() {
    // The server wants an update and the client's R1 request is the next
    // request: the server answers it as responder.
    let mut p = Pair::new();
    p.client.start_key_update();
    p.server.start_key_update();
    let (m1, mut s1) = send(&mut p, "m1");
    let (m2, _) = serve(&mut p, &m1);
    assert_eq!(id_detail(&m2).unwrap().len(), 16);
    p.client.verify_response(&m2, &mut s1, p.now).unwrap();
    p.round_trip("m3");
    assert!(p.agree());
    assert_eq!(p.server.phase(), KeyUpdatePhase::Idle);

    // The server's offer and the client's R1 request cross: the client's
    // exchange wins.
    let mut p = Pair::new();
    p.server.start_key_update();
    let (m0, mut s0) = send(&mut p, "m0");
    let (offer, _) = serve(&mut p, &m0); // in flight
    p.client.start_key_update();
    let (m1, mut s1) = send(&mut p, "m1"); // crosses the offer
    // The client receives the offer while initiating: delivered, not answered.
    assert_eq!(p.client.verify_response(&offer, &mut s0, p.now).unwrap().payload, b"m0");
    assert_eq!(p.client.phase(), KeyUpdatePhase::Initiating);
    // The server receives R1 while offering: it drops its offer and responds.
    let (m2, _) = serve(&mut p, &m1);
    assert_eq!(p.server.phase(), KeyUpdatePhase::Responding);
    p.client.verify_response(&m2, &mut s1, p.now).unwrap();
    p.round_trip("m3");
    assert!(p.agree());
    let (c, s) = p.drain_events();
    assert!(c.contains(&Event::KeyUpdateSuperseded));
    assert!(s.contains(&Event::KeyUpdateSuperseded));
    p.round_trip("after");
}

#[test]
fn retention_of_the_old_context() {
    let mut p = Pair::new();
    // A request sent under CTX_OLD that arrives late, after the switch.
    let (late, mut late_sent) = send(&mut p, "late");
    client_initiated(&mut p);
    assert!(p.server.has_retained() && p.client.has_retained());
    // The server verifies it under the retained CTX_OLD and answers under
    // CTX_NEW with its own Partial IV (key-limits-01 §3.4).
    let (inner, mut received) = p.server.verify_request(&late, p.now).unwrap();
    assert_eq!(uri_path(&inner), "late");
    let resp = p.server.protect_response(&ok("late"), &mut received, ResponsePiv::Auto, p.now).unwrap();
    assert!(decode_oscore_option(&resp).unwrap().partial_iv.is_some());
    assert_eq!(p.client.verify_response(&resp, &mut late_sent, p.now).unwrap().payload, b"late");

    // After the retention time CTX_OLD is gone on both sides.
    p.now += p.config.retention;
    assert_eq!(p.server.poll_timeout(), Some(p.now));
    p.server.handle_timeout(p.now);
    p.client.handle_timeout(p.now);
    assert!(!p.server.has_retained() && !p.client.has_retained());
    let (_, s) = p.drain_events();
    assert!(s.contains(&Event::OldContextDropped));
    assert!(p.server_disk.session().unwrap().retained.is_none());
    p.round_trip("after");

    // With retention 0, CTX_OLD is dropped at once.
    let mut p = Pair::with_config(Config { retention: 0, ..Config::default() });
    let (late, _) = send(&mut p, "late");
    client_initiated(&mut p);
    assert!(!p.server.has_retained() && !p.client.has_retained());
    assert!(p.server.verify_request(&late, p.now).is_err());
    p.round_trip("after");
}

#[test]
fn key_update_request_of_a_foreign_context_is_refused() {
    // A client of another context (other secret) cannot start an update.
    let mut p = Pair::new();
    let mut intruder = Pair::new();
    let forged_params =
        oscore_core::ContextParams::new(&[0x22; 16], b"", b"\x01").with_id_context(Some(b"\x37\xcb"));
    intruder.client = oscore_keyupdate::ClientEndpoint::open(
        common::updater(Config::default()),
        common::Durable::new().boxed(),
        forged_params,
    )
    .unwrap();
    intruder.client.start_key_update();
    let (m1, _) = send(&mut intruder, "evil");
    assert!(p.server.verify_request(&m1, p.now).is_err());
    assert_eq!(p.server.phase(), KeyUpdatePhase::Idle);
    p.round_trip("still fine");
}

#[test]
fn a_refused_response_never_changes_the_phase() {
    // While initiating, a duplicated (replayed) ordinary response of CTX_OLD
    // is refused and the exchange goes on.
    let mut p = Pair::new();
    let (r0, mut s0) = send(&mut p, "r0");
    let (resp0, _) = serve(&mut p, &r0);
    p.client.verify_response(&resp0, &mut s0, p.now).unwrap();
    p.client.start_key_update();
    let (m1, mut s1) = send(&mut p, "m1");
    assert_eq!(p.client.phase(), KeyUpdatePhase::Initiating);
    assert!(replay_err(&p.client.verify_response(&resp0, &mut s0, p.now).unwrap_err()));
    assert_eq!(p.client.phase(), KeyUpdatePhase::Initiating);
    // A forged one too.
    let mut forged = resp0.clone();
    forged.payload[0] ^= 1;
    let (_, mut s_x) = send(&mut p, "x");
    assert!(p.client.verify_response(&forged, &mut s_x, p.now).is_err());
    assert_eq!(p.client.phase(), KeyUpdatePhase::Initiating);
    let (m2, _) = serve(&mut p, &m1);
    p.client.verify_response(&m2, &mut s1, p.now).unwrap();
    p.round_trip("m3");
    assert!(p.agree());
}
