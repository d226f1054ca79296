//! An in-memory group of one client and three servers, for an Ed25519 and an
//! ES256 group, with a virtual clock: every mode end to end, Observe across a
//! rekey, late responses within and after retention, dynamic Recipient
//! Contexts, the Appendix E methods, sequence-number exhaustion.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    clippy::cast_possible_truncation
)]

mod common;

use coap_lite::{CoapOption, MessageClass, Packet, ResponseType};
use common::{ALGS, CLIENT, Net, SERVERS, content, deliver, get, keypair};
use crypto_backends::RUSTCRYPTO;
use oscore_core::context::MAX_SSN;
use oscore_core::crypto::AlgorithmId;
use oscore_core::option::OscoreOption;
use oscore_core::store::{MemoryStore, PersistedState};
use oscore_core::{Error as CoreError, ReplayOutcome};
use oscore_group::{
    Group, GroupError, GroupRequest, ReplaySync, RequestMode, RequestOutcome, echo_value,
    gid_from_prefix_epoch,
};

fn option(p: &Packet) -> OscoreOption {
    OscoreOption::decode(p.get_first_option(CoapOption::Oscore).unwrap()).unwrap()
}

/// One group request, three responses, each verified and matched to its server.
fn round(
    client: &mut Group,
    servers: &mut [Group],
    mode: RequestMode,
    now: u64,
) -> (GroupRequest, Vec<Packet>) {
    let (protected, mut request) = client.protect_request(&get("temp"), mode, now).unwrap();
    let mut responses = Vec::new();
    for (i, server) in servers.iter_mut().enumerate() {
        let (original, mut binding) = deliver(server.verify_request(&protected, now).unwrap());
        assert_eq!(original, get("temp"));
        let response = server.protect_response(&content(&[i as u8; 3]), &mut binding, now).unwrap();
        let got = client.verify_response(&response, &mut request, now).unwrap();
        assert_eq!(got.kid, SERVERS[i]);
        assert_eq!(got.message.payload, vec![i as u8; 3]);
        responses.push(response);
    }
    (request, responses)
}

#[test]
fn signature_mode_one_client_three_servers() {
    for alg in ALGS {
        let net = Net::new(alg);
        let (mut client, mut servers) = net.all(&|_| {});
        let (mut request, responses) = round(&mut client, &mut servers, RequestMode::Group, 0);
        assert_eq!(request.responders().count(), 3);
        for r in &responses {
            assert!(!option(r).pairwise);
            // A second copy of a final response is a replay.
            assert!(matches!(
                client.verify_response(r, &mut request, 0),
                Err(GroupError::Core(CoreError::Replay(_)))
            ));
        }
        // Requests keep flowing; replays of the first are refused by every server.
        round(&mut client, &mut servers, RequestMode::Group, 1);
    }
}

#[test]
fn pairwise_mode_end_to_end() {
    for alg in ALGS {
        let net = Net::new(alg);
        let (mut client, mut servers) = net.all(&|_| {});
        let (protected, mut request) = client
            .protect_request(&get("p"), RequestMode::Pairwise { recipient: SERVERS[1].to_vec() }, 0)
            .unwrap();
        assert!(option(&protected).pairwise);
        // Only the intended member can open it.
        assert!(servers[0].verify_request(&protected, 0).is_err());
        assert!(!servers[0].has_recipient(CLIENT), "the context created for a failed message is removed");
        let (original, mut binding) = deliver(servers[1].verify_request(&protected, 0).unwrap());
        assert_eq!(original, get("p"));
        let response = servers[1].protect_response(&content(b"pw"), &mut binding, 0).unwrap();
        assert!(option(&response).pairwise);
        let got = client.verify_response(&response, &mut request, 0).unwrap();
        assert!(got.pairwise);
        assert_eq!(got.message.payload, b"pw");
    }
}

#[test]
fn optimized_mode_end_to_end() {
    for alg in ALGS {
        let net = Net::new(alg);
        let (mut client, mut servers) = net.all(&|p| p.optimized = true);
        let (protected, mut request) = client.protect_request(&get("o"), RequestMode::Group, 0).unwrap();
        // ref: §9.1.1: ciphertext without tag (8 bytes for CCM_8) ‖ signature
        let plain_len = 1 + 1 + 1; // code, Uri-Path option header, "o"
        assert_eq!(protected.payload.len(), plain_len + 64);
        for (i, server) in servers.iter_mut().enumerate() {
            let (_, mut binding) = deliver(server.verify_request(&protected, 0).unwrap());
            let response = server.protect_response(&content(b"opt"), &mut binding, 0).unwrap();
            assert!(option(&response).pairwise, "optimized responses use the pairwise key");
            assert_eq!(response.payload.len(), 1 + 1 + 3 + 8, "no signature in optimized responses");
            let got = client.verify_response(&response, &mut request, 0).unwrap();
            assert_eq!(got.kid, SERVERS[i]);
        }
    }
}

#[test]
fn observe_across_a_rekey() {
    for alg in ALGS {
        let net = Net::new(alg);
        let (mut client, mut servers) = net.all(&|p| p.retention = 30);
        let server = &mut servers[0];
        let mut register = get("obs");
        register.set_observe_value(0);
        let (protected, mut request) = client.protect_request(&register, RequestMode::Group, 0).unwrap();
        let (_, mut binding) = deliver(server.verify_request(&protected, 0).unwrap());
        assert!(binding.is_observe());
        let mut note = content(b"1");
        note.set_observe_value(1);
        let n1 = server.protect_response(&note, &mut binding, 1).unwrap();
        assert!(option(&n1).partial_iv.is_some());
        assert_eq!(client.verify_response(&n1, &mut request, 1).unwrap().message.payload, b"1");

        // The Group Manager rekeys: new Gid (epoch 1), new Master Secret.
        let new_gid = gid_from_prefix_epoch(b"\xb1", 1, 2);
        for m in std::iter::once(&mut client).chain(servers.iter_mut()) {
            m.rekey(&new_gid, b"new secret", b"", MemoryStore::boxed(), 10).unwrap();
        }
        let server = &mut servers[0];
        let mut note = content(b"2");
        note.set_observe_value(2);
        let n2 = server.protect_response(&note, &mut binding, 11).unwrap();
        let o = option(&n2);
        assert_eq!(
            o.kid_context.as_deref(),
            Some(new_gid.as_slice()),
            "first notification after rekey names the new Gid"
        );
        assert!(o.partial_iv.is_some());
        let got = client.verify_response(&n2, &mut request, 11).unwrap();
        assert_eq!(got.message.payload, b"2");
        assert_eq!(request.kid(), CLIENT, "request_kid is kept for the observation");
        // Ordering still holds across the rekey: the old notification is stale.
        assert!(client.verify_response(&n1, &mut request, 12).is_err());
    }
}

#[test]
fn late_response_within_and_after_retention() {
    for alg in ALGS {
        let net = Net::new(alg);
        let (mut client, mut servers) = net.all(&|p| p.retention = 30);
        let (protected, mut request) = client.protect_request(&get("late"), RequestMode::Group, 0).unwrap();
        let mut bindings: Vec<_> =
            servers.iter_mut().map(|s| deliver(s.verify_request(&protected, 0).unwrap()).1).collect();
        // Servers answer under the old context, but the client has rekeyed.
        let late: Vec<_> = servers
            .iter_mut()
            .zip(bindings.iter_mut())
            .map(|(s, b)| s.protect_response(&content(b"late"), b, 1).unwrap())
            .collect();
        client.rekey(b"\xb1\x00\x01", b"new secret", b"", MemoryStore::boxed(), 5).unwrap();
        // Within retention (5 + 30): accepted with the retained context.
        client.verify_response(&late[0], &mut request, 20).unwrap();
        // After retention: the old context is gone.
        assert!(client.verify_response(&late[1], &mut request, 35).is_err());
        // A server that has rekeyed too answers with its own PIV and the new Gid.
        servers[2].rekey(b"\xb1\x00\x01", b"new secret", b"", MemoryStore::boxed(), 5).unwrap();
        let fresh = servers[2].protect_response(&content(b"new"), &mut bindings[2], 36).unwrap();
        assert!(option(&fresh).partial_iv.is_some());
        assert_eq!(client.verify_response(&fresh, &mut request, 36).unwrap().message.payload, b"new");
        // Requests under the old Gid are not accepted after a rekey.
        let mut stale_server = net.member(SERVERS[0], &|_| {});
        stale_server.rekey(b"\xb1\x00\x01", b"new secret", b"", MemoryStore::boxed(), 5).unwrap();
        assert_eq!(stale_server.verify_request(&protected, 6).unwrap_err(), GroupError::UnknownGroup);
    }
}

#[test]
fn dynamic_recipients_are_created_bounded_and_removed_on_failure() {
    let alg = AlgorithmId::EDDSA;
    let net = Net::new(alg);
    let mut server = net.member(SERVERS[0], &|p| p.max_recipients = 2);
    assert_eq!(server.recipient_count(), 0);
    // A forged request from a known kid: the context is created for it, then removed.
    let mut client = net.member(CLIENT, &|_| {});
    let (mut forged, _) = client.protect_request(&get("x"), RequestMode::Group, 0).unwrap();
    let last = forged.payload.len() - 1;
    forged.payload[last] ^= 0x80;
    assert_eq!(server.verify_request(&forged, 0).unwrap_err(), GroupError::BadSignature);
    assert!(!server.has_recipient(CLIENT));
    // An unknown kid (no public key anywhere) is dropped.
    let stranger_keys = keypair(alg);
    let mut p = net.params(CLIENT, &|_| {});
    p.sender_id = Some(b"\x77".to_vec());
    p.private_key = Some(stranger_keys.0.clone().into());
    let mut stranger =
        Group::new(&RUSTCRYPTO, p, Box::new(net.resolver.clone()), MemoryStore::boxed()).unwrap();
    let (msg, _) = stranger.protect_request(&get("x"), RequestMode::Group, 0).unwrap();
    assert_eq!(server.verify_request(&msg, 0).unwrap_err(), GroupError::UnknownSender);
    // Three genuine senders, at most two contexts: least recently used evicted.
    for id in [CLIENT, SERVERS[1], SERVERS[2]] {
        let mut m = net.member(id, &|_| {});
        let (msg, _) = m.protect_request(&get("x"), RequestMode::Group, 0).unwrap();
        deliver(server.verify_request(&msg, 0).unwrap());
        assert!(server.has_recipient(id));
        assert!(server.recipient_count() <= 2);
    }
    assert!(!server.has_recipient(CLIENT), "the least recently used context was evicted");
}

#[test]
fn appendix_e_best_effort() {
    let net = Net::new(AlgorithmId::EDDSA);
    let (mut client, mut servers) = net.all(&|p| p.sync = ReplaySync::BestEffort);
    let (req, mut request) = client.protect_request(&get("be"), RequestMode::Group, 0).unwrap();
    let (_, mut binding) = deliver(servers[0].verify_request(&req, 0).unwrap());
    let response = servers[0].protect_response(&content(b""), &mut binding, 0).unwrap();
    // ref: App. E.1: responses carry the server's own Partial IV
    assert!(option(&response).partial_iv.is_some());
    client.verify_response(&response, &mut request, 0).unwrap();
    assert!(matches!(servers[0].verify_request(&req, 0), Err(GroupError::Core(CoreError::Replay(_)))));
}

#[test]
fn appendix_e_baseline() {
    let net = Net::new(AlgorithmId::ES256);
    let (mut client, mut servers) = net.all(&|p| p.sync = ReplaySync::Baseline { deliver_first: false });
    let (first, _) = client.protect_request(&get("b1"), RequestMode::Group, 0).unwrap();
    let (second, _) = client.protect_request(&get("b2"), RequestMode::Group, 0).unwrap();
    // The first request from an unknown client only sets the window.
    assert!(matches!(servers[0].verify_request(&first, 0).unwrap(), RequestOutcome::Synchronized));
    assert_eq!(servers[0].replay_window(CLIENT).unwrap().highest(), Some(0));
    assert_eq!(
        servers[0].verify_request(&first, 0).unwrap_err(),
        GroupError::Core(CoreError::Replay(ReplayOutcome::Replayed))
    );
    let (got, _) = deliver(servers[0].verify_request(&second, 0).unwrap());
    assert_eq!(got, get("b2"));
}

#[test]
fn appendix_e_echo_challenge() {
    for alg in ALGS {
        let net = Net::new(alg);
        let (mut client, mut servers) = net.all(&|p| p.sync = ReplaySync::EchoChallenge);
        let (first, mut request) = client.protect_request(&get("e"), RequestMode::Group, 0).unwrap();
        let RequestOutcome::Challenge { response } = servers[0].verify_request(&first, 0).unwrap() else {
            panic!("expected a challenge")
        };
        assert!(
            servers[0].replay_window(CLIENT).unwrap().highest().is_none(),
            "window not set by the challenge"
        );
        let challenge = client.verify_response(&response, &mut request, 0).unwrap();
        assert_eq!(challenge.message.header.code, MessageClass::Response(ResponseType::Unauthorized));
        assert!(challenge.message.payload.is_empty());
        let echo = echo_value(&challenge.message).unwrap().to_vec();
        assert_eq!(echo.len(), oscore_group::group::ECHO_LEN);
        // A wrong Echo is challenged again.
        let mut wrong = get("e");
        wrong.add_option(CoapOption::from(252), vec![0; 8]);
        let (msg, _) = client.protect_request(&wrong, RequestMode::Group, 1).unwrap();
        assert!(matches!(servers[0].verify_request(&msg, 1).unwrap(), RequestOutcome::Challenge { .. }));
        // Each challenge replaces the value; the client answers the latest one.
        let (again, mut request2) = client.protect_request(&get("e2"), RequestMode::Group, 2).unwrap();
        let RequestOutcome::Challenge { response } = servers[0].verify_request(&again, 2).unwrap() else {
            panic!("still unsynchronised")
        };
        let echo = echo_value(&client.verify_response(&response, &mut request2, 2).unwrap().message)
            .unwrap()
            .to_vec();
        let mut echoed = get("e2");
        echoed.add_option(CoapOption::from(252), echo);
        // The repeated request echoes the value, in pairwise mode (E.3, §10.7).
        let (msg, _) = client
            .protect_request(&echoed, RequestMode::Pairwise { recipient: SERVERS[0].to_vec() }, 3)
            .unwrap();
        let (got, _) = deliver(servers[0].verify_request(&msg, 3).unwrap());
        assert_eq!(got.get_first_option(CoapOption::UriPath), Some(&b"e2".to_vec()));
        // Now synchronised: the first request is too old or replayed.
        assert!(matches!(servers[0].verify_request(&first, 4), Err(GroupError::Core(CoreError::Replay(_)))));
        let (next, _) = client.protect_request(&get("n"), RequestMode::Group, 5).unwrap();
        deliver(servers[0].verify_request(&next, 5).unwrap());
    }
}

#[test]
fn partial_iv_exhaustion_stops_sending() {
    let net = Net::new(AlgorithmId::EDDSA);
    let store = MemoryStore::with_state(PersistedState { ssn_bound: MAX_SSN, ..Default::default() });
    let mut client =
        Group::new(&RUSTCRYPTO, net.params(CLIENT, &|_| {}), Box::new(net.resolver.clone()), Box::new(store))
            .unwrap();
    let (last, _) = client.protect_request(&get("x"), RequestMode::Group, 0).unwrap();
    assert_eq!(option(&last).partial_iv, Some(vec![0xff; 5]));
    for _ in 0..2 {
        assert_eq!(
            client.protect_request(&get("x"), RequestMode::Group, 0).unwrap_err(),
            GroupError::Core(CoreError::SequenceNumberExhausted)
        );
    }
    // A rekey (new Sender Context) lets it send again.
    client.rekey(b"\xb1\x00\x01", b"s2", b"", MemoryStore::boxed(), 1).unwrap();
    client.protect_request(&get("x"), RequestMode::Group, 1).unwrap();
}

#[test]
fn silent_server_verifies_but_never_sends() {
    let net = Net::new(AlgorithmId::EDDSA);
    let mut p = net.params(SERVERS[0], &|_| {});
    p.sender_id = None;
    p.private_key = None;
    let mut silent =
        Group::new(&RUSTCRYPTO, p, Box::new(net.resolver.clone()), MemoryStore::boxed()).unwrap();
    let mut client = net.member(CLIENT, &|_| {});
    let (msg, _) = client.protect_request(&get("s"), RequestMode::Group, 0).unwrap();
    let (_, mut binding) = deliver(silent.verify_request(&msg, 0).unwrap());
    assert_eq!(
        silent.protect_response(&content(b""), &mut binding, 0).unwrap_err(),
        GroupError::SilentServer
    );
    assert_eq!(
        silent.protect_request(&get("s"), RequestMode::Group, 0).unwrap_err(),
        GroupError::SilentServer
    );
    // Pairwise messages cannot be processed without a private key.
    let (pw, _) = client
        .protect_request(&get("s"), RequestMode::Pairwise { recipient: SERVERS[0].to_vec() }, 0)
        .unwrap();
    assert_eq!(silent.verify_request(&pw, 0).unwrap_err(), GroupError::PairwiseUnsupported);
}

#[test]
fn pairwise_flag_when_unsupported_and_own_sender_id() {
    let net = Net::new(AlgorithmId::EDDSA);
    let mut client = net.member(CLIENT, &|_| {});
    let mut server = net.member(SERVERS[0], &|p| p.pairwise = false);
    let (pw, _) = client
        .protect_request(&get("s"), RequestMode::Pairwise { recipient: SERVERS[0].to_vec() }, 0)
        .unwrap();
    let err = server.verify_request(&pw, 0).unwrap_err();
    assert_eq!(err, GroupError::PairwiseUnsupported);
    assert_eq!(err.response_code(false), None);
    assert_eq!(err.response_code(true), Some(oscore_core::CoapCode::BAD_OPTION));
    // A request that claims the receiver's own Sender ID.
    let mut twin = net.member(SERVERS[0], &|_| {});
    let (mine, _) = twin.protect_request(&get("s"), RequestMode::Group, 0).unwrap();
    assert_eq!(server.verify_request(&mine, 0).unwrap_err(), GroupError::OwnSenderId);
}
