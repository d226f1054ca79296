//! The non-member SignatureChecker, and the tamper sweep: every single-bit
//! flip of the OSCORE option, the ciphertext and the signature of a
//! signature-mode request and response is rejected by the members and by the
//! checker, with the members' state unchanged.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    clippy::cast_possible_truncation
)]

mod common;

use coap_lite::{CoapOption, Packet};
use common::{ALGS, CLIENT, Net, SERVERS, content, deliver, get, keypair};
use crypto_backends::RUSTCRYPTO;
use oscore_core::crypto::AlgorithmId;
use oscore_group::{CheckError, CountersignParams, RequestMode, SignatureChecker, StaticKeys};

fn checker(net: &Net, resolver: StaticKeys, optimized: bool) -> SignatureChecker {
    SignatureChecker::new(
        &RUSTCRYPTO,
        AlgorithmId::AES_CCM_16_64_128,
        net.alg,
        &CountersignParams::for_algorithm(net.alg).unwrap(),
        optimized,
        Box::new(resolver),
    )
    .unwrap()
}

/// Every message obtained by flipping one bit of the OSCORE option value or
/// of the payload.
fn flips(msg: &Packet) -> Vec<Packet> {
    let option = msg.get_first_option(CoapOption::Oscore).unwrap().clone();
    let mut out = Vec::new();
    for bit in 0..option.len() * 8 {
        let mut o = option.clone();
        o[bit / 8] ^= 1 << (bit % 8);
        let mut m = msg.clone();
        m.clear_option(CoapOption::Oscore);
        m.add_option(CoapOption::Oscore, o);
        out.push(m);
    }
    for bit in 0..msg.payload.len() * 8 {
        let mut m = msg.clone();
        m.payload[bit / 8] ^= 1 << (bit % 8);
        out.push(m);
    }
    out
}

#[test]
fn checker_accepts_genuine_messages() {
    for alg in ALGS {
        let net = Net::new(alg);
        let (mut client, mut servers) = net.all(&|_| {});
        let mut checker = checker(&net, net.resolver.clone(), false);
        for round in 0..3u64 {
            let (req, mut request) = client.protect_request(&get("c"), RequestMode::Group, round).unwrap();
            let checked = checker.check_request(&req).unwrap();
            assert_eq!(checked.kid, CLIENT);
            assert_eq!(checked.gid, client.gid());
            let piv = checked.partial_iv.unwrap();
            for server in &mut servers {
                let (_, mut b) = deliver(server.verify_request(&req, round).unwrap());
                let resp = server.protect_response(&content(b"r"), &mut b, round).unwrap();
                let ok = checker.check_response(&resp, &checked.gid, &checked.kid, &piv).unwrap();
                assert_eq!(ok.kid, server.params().sender_id.clone().unwrap());
                client.verify_response(&resp, &mut request, round).unwrap();
            }
        }
    }
}

#[test]
fn checker_rejects_wrong_key_unknown_kid_and_uncheckable_modes() {
    for alg in ALGS {
        let net = Net::new(alg);
        let (mut client, mut servers) = net.all(&|_| {});
        let (req, _) = client.protect_request(&get("c"), RequestMode::Group, 0).unwrap();

        let mut wrong = net.resolver.clone();
        wrong.insert(CLIENT, &keypair(alg).1);
        assert_eq!(checker(&net, wrong, false).check_request(&req).unwrap_err(), CheckError::BadSignature);

        let mut missing = net.resolver.clone();
        missing.remove(CLIENT);
        assert_eq!(checker(&net, missing, false).check_request(&req).unwrap_err(), CheckError::UnknownSender);

        let mut c = checker(&net, net.resolver.clone(), false);
        let (pw, mut pw_request) = client
            .protect_request(&get("p"), RequestMode::Pairwise { recipient: SERVERS[0].to_vec() }, 0)
            .unwrap();
        assert_eq!(c.check_request(&pw).unwrap_err(), CheckError::PairwiseMode);
        let (_, mut b) = deliver(servers[0].verify_request(&pw, 0).unwrap());
        let pw_resp = servers[0].protect_response(&content(b"x"), &mut b, 0).unwrap();
        assert_eq!(
            c.check_response(&pw_resp, client.gid(), CLIENT, pw_request.partial_iv()).unwrap_err(),
            CheckError::PairwiseMode
        );
        client.verify_response(&pw_resp, &mut pw_request, 0).unwrap();

        assert_eq!(c.check_request(&get("plain")).unwrap_err(), CheckError::NotOscore);
        let mut optimized = checker(&net, net.resolver.clone(), true);
        assert_eq!(optimized.check_request(&req).unwrap_err(), CheckError::OptimizedMode);
    }
}

#[test]
fn every_bit_flip_is_rejected_by_members_and_checker() {
    for alg in ALGS {
        let net = Net::new(alg);
        let (mut client, mut servers) = net.all(&|_| {});
        let mut checker = checker(&net, net.resolver.clone(), false);
        // Synchronise the server first so that replay state exists to protect.
        let (warmup, _) = client.protect_request(&get("w"), RequestMode::Group, 0).unwrap();
        deliver(servers[0].verify_request(&warmup, 0).unwrap());

        let (req, mut request) = client.protect_request(&get("tamper me"), RequestMode::Group, 0).unwrap();
        let window = servers[0].replay_window(CLIENT).cloned();
        let ssn = servers[0].sequence_number();
        let mut n = 0;
        for forged in flips(&req) {
            assert!(servers[0].verify_request(&forged, 0).is_err(), "member accepted a flipped request");
            assert!(checker.check_request(&forged).is_err(), "checker accepted a flipped request");
            assert_eq!(servers[0].replay_window(CLIENT).cloned(), window, "window moved");
            assert_eq!(servers[0].sequence_number(), ssn);
            n += 1;
        }
        assert!(n > 8 * (64 + 8), "{n} flips");
        // The genuine request still verifies: nothing moved.
        let (_, mut binding) = deliver(servers[0].verify_request(&req, 0).unwrap());
        let resp = servers[0].protect_response(&content(b"answer"), &mut binding, 0).unwrap();
        let piv = request.partial_iv().to_vec();
        for forged in flips(&resp) {
            assert!(
                client.verify_response(&forged, &mut request, 0).is_err(),
                "client accepted a flipped response"
            );
            assert!(checker.check_response(&forged, client.gid(), CLIENT, &piv).is_err());
        }
        client.verify_response(&resp, &mut request, 0).unwrap();
    }
}
