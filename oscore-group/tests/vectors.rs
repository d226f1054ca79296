//! groupcomm-08 vectors: §5.1 compressed examples, the algorithms element and
//! both external_aad variants, key derivation, shared secrets and pairwise keys
//! of the interop key sets, and the five -08 messages derived by the
//! independent Python reference (`test-vectors/tools/build_group_vectors.py`):
//! protected byte for byte and verified by the peer.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

mod common;

use coap_lite::{CoapOption, MessageClass, Packet, RequestType, ResponseType};
use common::{build, hex, interop_group, load, member, member_keys, params, sign_alg};
use crypto_backends::RUSTCRYPTO;
use oscore_core::context::{KdfInfo, KdfType};
use oscore_core::crypto::{AlgorithmId, CurveId};
use oscore_core::option::OscoreOption;
use oscore_group::cose::{encode_algorithms, encode_external_aad};
use oscore_group::pairwise::{Agreement, derive_pairwise_key};
use oscore_group::{CountersignParams, ReplaySync, RequestMode, RequestOutcome};
use serde_json::Value;

#[test]
fn section_5_1_compressed_examples() {
    let v = load("groupcomm08_examples.json");
    for ex in v["examples"].as_array().unwrap() {
        let opt = |k: &str| ex[k].as_str().map(|s| hex::decode(s).unwrap());
        let option = OscoreOption {
            partial_iv: opt("partial_iv"),
            kid_context: opt("kid_context"),
            kid: opt("kid"),
            ..Default::default()
        };
        let encoded = option.encode().unwrap();
        assert_eq!(encoded, hex(&ex["option_value"]), "{}", ex["name"]);
        assert_eq!(encoded[0], hex(&ex["flag_byte"])[0]);
        assert_eq!(OscoreOption::decode(&encoded).unwrap(), option);
        // Payload layout: ciphertext ‖ 64-byte countersignature.
        assert_eq!(
            usize::try_from(ex["payload_len"].as_u64().unwrap()).unwrap(),
            hex(&ex["ciphertext"]).len() + 64
        );
    }
}

#[test]
fn algorithms_element_and_external_aad() {
    let v = load("groupcomm08_examples.json");
    for case in v["external_aad_algorithms"]["cases"].as_array().unwrap() {
        let alg = AlgorithmId(i32::try_from(case["alg_countersign"].as_i64().unwrap()).unwrap());
        let params = CountersignParams::for_algorithm(alg).unwrap();
        let algorithms = encode_algorithms(AlgorithmId::AES_CCM_16_64_128, alg, &params);
        assert_eq!(algorithms, hex(&case["algorithms_cbor"]));
        for applied in case["applied_to_5_1_request"].as_array().unwrap() {
            let oscore_option = applied["oscore_option"].as_str().map(|s| hex::decode(s).unwrap());
            let mut out = Vec::new();
            encode_external_aad(
                &algorithms,
                &hex(&applied["request_kid"]),
                &hex(&applied["request_piv"]),
                &hex(&applied["options"]),
                oscore_option.as_deref(),
                &mut out,
            );
            assert_eq!(out, hex(&applied["aad_array_cbor"]), "{} {}", case["name"], applied["kind"]);
        }
    }
}

#[test]
fn interop_key_derivation() {
    let v = load("groupcomm_interop.json");
    let provider = &RUSTCRYPTO;
    let hkdf = provider.hkdf(AlgorithmId::HKDF_SHA256).unwrap();
    let mut checked = 0;
    for g in v["groups"].as_array().unwrap() {
        let c = &g["common"];
        let derive = |id: &[u8], kind, len| {
            KdfInfo { id, id_context: Some(&hex(&c["id_context"])), alg_aead: AlgorithmId(10), kind, len }
                .derive(hkdf, &hex(&c["master_salt"]), &hex(&c["master_secret"]))
                .unwrap()
                .to_vec()
        };
        assert_eq!(derive(&[], KdfType::Iv, 13), hex(&c["common_iv"]), "{}", g["name"]);
        for m in g["members"].as_array().unwrap() {
            assert_eq!(
                derive(&hex(&m["sender_id"]), KdfType::Key, 16),
                hex(&m["sender_key"]),
                "{}",
                g["name"]
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked} sender keys");
}

/// The agreement of member `id`, if its private key is published.
fn agreement_for(g: &Value, id: &[u8]) -> Option<Agreement> {
    let (curve, ka) = if sign_alg(g) == AlgorithmId::EDDSA {
        (CurveId::ED25519, RUSTCRYPTO.key_agreement(CurveId::X25519).unwrap())
    } else {
        (CurveId::P256, RUSTCRYPTO.key_agreement(CurveId::P256).unwrap())
    };
    Some(Agreement::new(ka, curve, &member_keys(member(g, id)).0?, 8).unwrap())
}

/// The shared secret of a and b, computed from every side that has a private
/// key; both sides must agree.
fn shared(g: &Value, a: &[u8], b: &[u8]) -> Vec<u8> {
    let ab = agreement_for(g, a).map(|mut x| x.shared_secret(&member_keys(member(g, b)).1).unwrap().to_vec());
    let ba = agreement_for(g, b).map(|mut x| x.shared_secret(&member_keys(member(g, a)).1).unwrap().to_vec());
    if let (Some(ab), Some(ba)) = (&ab, &ba) {
        assert_eq!(ab, ba, "both directions agree");
    }
    ab.or(ba).expect("at least one private key")
}

#[test]
fn interop_shared_secrets_and_pairwise_keys() {
    let v = load("groupcomm_interop.json");
    let hkdf = RUSTCRYPTO.hkdf(AlgorithmId::HKDF_SHA256).unwrap();
    let (mut secrets, mut keys) = (0, 0);
    for g in v["groups"].as_array().unwrap() {
        for s in g["shared_secrets"].as_array().into_iter().flatten() {
            let (a, b) = (hex(&s["a"]), hex(&s["b"]));
            assert_eq!(shared(g, &a, &b), hex(&s["shared_secret"]), "{}", g["name"]);
            secrets += 1;
        }
        for p in g["pairwise_keys"].as_array().into_iter().flatten() {
            let (sender, recipient) = (hex(&p["sender"]), hex(&p["recipient"]));
            let shared = shared(g, &sender, &recipient);
            assert_eq!(shared, hex(&p["ikm_shared_secret"]));
            let key = derive_pairwise_key(
                hkdf,
                AlgorithmId(10),
                16,
                &hex(&p["salt_sender_key"]),
                &shared,
                &sender,
                &hex(&g["common"]["id_context"]),
            )
            .unwrap();
            assert_eq!(*key, hex(&p["pairwise_key"]), "{} {}→{}", g["name"], p["sender"], p["recipient"]);
            if let Some(swapped) = p["swapped_salt_ikm_value"].as_str() {
                assert_ne!(hex::encode(&*key), swapped, "salt and IKM must not be swapped");
            }
            keys += 1;
        }
    }
    assert!(secrets >= 15 && keys >= 30, "{secrets} secrets, {keys} pairwise keys");
}

fn derived(name: &str) -> Value {
    load("groupcomm_interop.json")["derived_08_messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap()
        .clone()
}

/// The original request of the derived messages: its plaintext is the Code
/// and options of a GET /test.
fn get_test() -> Packet {
    let mut p = Packet::new();
    p.header.code = MessageClass::Request(RequestType::Get);
    p.add_option(CoapOption::UriPath, b"test".to_vec());
    p
}

fn ok_response() -> Packet {
    let mut p = Packet::new();
    p.header.code = MessageClass::Response(ResponseType::Content);
    p.payload = b"ok".to_vec();
    p
}

fn oscore_value(p: &Packet) -> Vec<u8> {
    p.get_first_option(CoapOption::Oscore).unwrap().clone()
}

#[test]
fn derived_08_signature_mode_request_and_response() {
    let g = interop_group("h108_rikard_test2_ed25519");
    let req_v = derived("derived08_signature_mode_request_0a");
    let resp_v = derived("derived08_signature_mode_response_52");
    assert_eq!(hex(&req_v["plaintext"])[0], 0x01);

    let mut client = build(&g, params(&g, Some(&hex(&req_v["sender_id"]))), 5);
    let (protected, mut request) = client.protect_request(&get_test(), RequestMode::Group, 0).unwrap();
    assert_eq!(oscore_value(&protected), hex(&req_v["oscore_option"]));
    assert_eq!(protected.payload, hex(&req_v["payload"]), "signature-mode request payload");

    let mut sp = params(&g, Some(&hex(&resp_v["sender_id"])));
    sp.sync = ReplaySync::Baseline { deliver_first: true };
    let mut server = build(&g, sp, 0);
    let RequestOutcome::Deliver { request: original, mut binding } =
        server.verify_request(&protected, 0).unwrap()
    else {
        panic!("not delivered")
    };
    assert_eq!(original, get_test());
    let response = server.protect_response(&ok_response(), &mut binding, 0).unwrap();
    assert_eq!(oscore_value(&response), hex(&resp_v["oscore_option"]));
    assert_eq!(response.payload, hex(&resp_v["payload"]), "signature-mode response payload");

    let got = client.verify_response(&response, &mut request, 0).unwrap();
    assert_eq!(got.message, ok_response());
    assert_eq!(got.kid, hex(&resp_v["sender_id"]));
}

#[test]
fn derived_08_optimized_response() {
    let g = interop_group("h108_rikard_test2_ed25519");
    let req_v = derived("derived08_signature_mode_request_0a");
    let resp_v = derived("derived08_optimized_response_51");
    let mut client = build(&g, params(&g, Some(&hex(&req_v["sender_id"]))), 5);
    let (protected, mut request) = client.protect_request(&get_test(), RequestMode::Group, 0).unwrap();
    let mut sp = params(&g, Some(&hex(&resp_v["sender_id"])));
    sp.sync = ReplaySync::Baseline { deliver_first: true };
    let mut server = build(&g, sp, 0);
    let RequestOutcome::Deliver { mut binding, .. } = server.verify_request(&protected, 0).unwrap() else {
        panic!("not delivered")
    };
    binding.respond_pairwise();
    let response = server.protect_response(&ok_response(), &mut binding, 0).unwrap();
    assert_eq!(oscore_value(&response), hex(&resp_v["oscore_option"]), "flag 0x28: Pairwise Flag + kid");
    assert_eq!(response.payload, hex(&resp_v["payload"]), "optimized response payload");
    let got = client.verify_response(&response, &mut request, 0).unwrap();
    assert!(got.pairwise);
    assert_eq!(got.message, ok_response());
}

#[test]
fn derived_08_pairwise_mode_request() {
    let g = interop_group("h108_rikard_test2_ed25519");
    let v = derived("derived08_pairwise_mode_request_0a_to_52");
    let peer = hex(&v["peer_id"]);
    let mut client = build(&g, params(&g, Some(&hex(&v["sender_id"]))), 6);
    let (protected, _) =
        client.protect_request(&get_test(), RequestMode::Pairwise { recipient: peer.clone() }, 0).unwrap();
    assert_eq!(oscore_value(&protected), hex(&v["oscore_option"]));
    assert_eq!(protected.payload, hex(&v["payload"]), "pairwise request payload");
    let mut sp = params(&g, Some(&peer));
    sp.sync = ReplaySync::Baseline { deliver_first: true };
    let mut server = build(&g, sp, 0);
    let RequestOutcome::Deliver { request, binding } = server.verify_request(&protected, 0).unwrap() else {
        panic!("not delivered")
    };
    assert_eq!(request, get_test());
    assert!(binding.is_pairwise());
}

#[test]
fn derived_08_optimized_request() {
    let g = interop_group("h108_rikard_test2_ed25519");
    let v = derived("derived08_optimized_request_0a");
    assert_eq!(v["optimized_request"], true);
    let mut cp = params(&g, Some(&hex(&v["sender_id"])));
    cp.optimized = true;
    let mut client = build(&g, cp, 7);
    let (protected, _) = client.protect_request(&get_test(), RequestMode::Group, 0).unwrap();
    assert_eq!(oscore_value(&protected), hex(&v["oscore_option"]));
    assert_eq!(protected.payload, hex(&v["payload"]), "optimized request payload");
    let mut sp = params(&g, Some(&hex::decode("52").unwrap()));
    sp.optimized = true;
    sp.sync = ReplaySync::Baseline { deliver_first: true };
    let mut server = build(&g, sp, 0);
    let RequestOutcome::Deliver { request, .. } = server.verify_request(&protected, 0).unwrap() else {
        panic!("not delivered")
    };
    assert_eq!(request, get_test());
}

/// The three Hackathon-108 messages are -09: their flag 0x20 is the -09 Group
/// Flag, which in -08 means "pairwise". An -08 checker must not take them for
/// signature-mode messages; with the flag cleared their signatures still fail,
/// because -09 signs other algorithm parameters. An -08 member that is the
/// addressee treats them as pairwise requests and cannot decrypt them.
#[test]
fn messages_09_are_not_accepted_as_08() {
    let v = load("groupcomm_interop.json");
    for m in v["messages_09_format_verified"].as_array().unwrap() {
        let g = interop_group(m["group"].as_str().unwrap());
        let msg = oscore_core::message::parse_udp(&hex(&m["coap_message"])).unwrap();
        assert_eq!(m["flag_0x20"], true);
        let mut checker = oscore_group::SignatureChecker::new(
            &RUSTCRYPTO,
            AlgorithmId::AES_CCM_16_64_128,
            sign_alg(&g),
            &CountersignParams::for_algorithm(sign_alg(&g)).unwrap(),
            false,
            Box::new(common::resolver(&g)),
        )
        .unwrap();
        assert_eq!(
            checker.check_request(&msg).unwrap_err(),
            oscore_group::CheckError::PairwiseMode,
            "{}",
            m["name"]
        );
        let mut cleared = msg.clone();
        let mut value = oscore_value(&msg);
        value[0] &= !0x20;
        cleared.clear_option(CoapOption::Oscore);
        cleared.add_option(CoapOption::Oscore, value);
        assert_eq!(checker.check_request(&cleared).unwrap_err(), oscore_group::CheckError::BadSignature);
    }
}
