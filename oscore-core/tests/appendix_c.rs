//! RFC 8613 Appendix C: every derivation (C.1–C.3) and every protected message
//! (C.4–C.8), both directions, loaded from `test-vectors/rfc8613_appendix_c.json`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{hex, load, opt_hex};
use crypto_backends::RUSTCRYPTO;
use oscore_core::context::{KdfInfo, KdfType, build_nonce, derive_keys};
use oscore_core::cose::{ExternalAad, StackAad, encode_aad, encode_external_aad};
use oscore_core::crypto::AlgorithmId;
use oscore_core::message::{parse_udp, to_bytes};
use oscore_core::option::OscoreOption;
use oscore_core::store::{MemoryStore, PersistedState};
use oscore_core::{ContextParams, RequestBinding, ResponsePiv, SecurityContext};
use serde_json::Value;

fn params(entry: &Value) -> ContextParams {
    let i = &entry["inputs"];
    ContextParams::new(&hex(&i["master_secret"]), &hex(&i["sender_id"]), &hex(&i["recipient_id"]))
        .with_master_salt(&hex(&i["master_salt"]))
        .with_id_context(opt_hex(&i["id_context"]).as_deref())
        .with_aead(AlgorithmId(i32::try_from(i["alg_aead"].as_i64().unwrap()).unwrap()))
}

fn derivation(section: &str) -> Value {
    load("rfc8613_appendix_c.json")["key_derivation"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["section"] == section)
        .unwrap_or_else(|| panic!("no derivation {section}"))
        .clone()
}

/// The other endpoint of a C.x.1 / C.x.2 pair.
fn peer_section(section: &str) -> String {
    let (base, last) = section.rsplit_once('.').unwrap();
    format!("{base}.{}", if last == "1" { "2" } else { "1" })
}

/// A context resuming at sender sequence number `ssn` (as after a restart).
fn context_at(section: &str, ssn: u64) -> SecurityContext {
    let store = MemoryStore::with_state(PersistedState { ssn_bound: ssn, ..Default::default() });
    SecurityContext::derive_with_store(&RUSTCRYPTO, &params(&derivation(section)), Box::new(store)).unwrap()
}

#[test]
fn c1_to_c3_key_derivation() {
    let vectors = load("rfc8613_appendix_c.json");
    let entries = vectors["key_derivation"].as_array().unwrap();
    assert_eq!(entries.len(), 6);
    for e in entries {
        let section = e["section"].as_str().unwrap();
        let p = params(e);
        let keys = derive_keys(&RUSTCRYPTO, &p).unwrap();
        let out = &e["outputs"];
        assert_eq!(*keys.sender_key, hex(&out["sender_key"]), "{section} sender key");
        assert_eq!(*keys.recipient_key, hex(&out["recipient_key"]), "{section} recipient key");
        assert_eq!(keys.common_iv, hex(&out["common_iv"]), "{section} common IV");

        for (field, id, kind, len) in [
            ("sender_key", &p.sender_id, KdfType::Key, 16),
            ("recipient_key", &p.recipient_id, KdfType::Key, 16),
            ("common_iv", &Vec::new(), KdfType::Iv, 13),
        ] {
            let mut info = Vec::new();
            KdfInfo { id, id_context: p.id_context.as_deref(), alg_aead: p.aead, kind, len }
                .encode_into(&mut info);
            assert_eq!(info, hex(&e["info"][field]), "{section} info {field}");
        }

        let mut nonce = [0u8; 13];
        build_nonce(&keys.common_iv, &p.sender_id, &[0], &mut nonce).unwrap();
        assert_eq!(nonce.to_vec(), hex(&out["sender_nonce_piv_0"]), "{section} sender nonce");
        build_nonce(&keys.common_iv, &p.recipient_id, &[0], &mut nonce).unwrap();
        assert_eq!(nonce.to_vec(), hex(&out["recipient_nonce_piv_0"]), "{section} recipient nonce");
    }
}

#[test]
fn c4_to_c8_intermediate_values() {
    let vectors = load("rfc8613_appendix_c.json");
    for m in vectors["message_protection"].as_array().unwrap() {
        let section = m["section"].as_str().unwrap();
        let d = &m["derived"];
        let (request_kid, request_piv) = if m["message_type"] == "request" {
            (hex(&d["kid"]), hex(&d["partial_iv"]))
        } else {
            let b = &m["request_binding_not_verbatim"];
            (hex(&b["request_kid"]), hex(&b["request_piv"]))
        };
        let ext = ExternalAad {
            alg_aead: AlgorithmId(10),
            request_kid: &request_kid,
            request_piv: &request_piv,
            options: &[],
        };
        let mut array = Vec::new();
        encode_external_aad(&ext, &mut array);
        assert_eq!(array, hex(&d["aad_array"]), "{section} external_aad");
        let (mut scratch, mut aad) = (Vec::new(), Vec::new());
        encode_aad(&ext, &mut scratch, &mut aad);
        assert_eq!(aad, hex(&d["aad"]), "{section} Enc_structure");
        assert_eq!(&*StackAad::encode(&ext).unwrap(), hex(&d["aad"]).as_slice(), "{section} stack AAD");

        let option = OscoreOption {
            partial_iv: opt_hex(&d["partial_iv"]),
            kid: opt_hex(&d["kid"]),
            kid_context: opt_hex(&d["kid_context"]),
            ..Default::default()
        };
        assert_eq!(option.encode().unwrap(), hex(&d["oscore_option_value"]), "{section} option");
        assert_eq!(
            OscoreOption::decode(&hex(&d["oscore_option_value"])).unwrap(),
            option,
            "{section} option decode"
        );
    }
}

/// One request of Appendix C (C.4–C.6) with its fields read.
struct RequestVector {
    m: Value,
    section: String,
    from: String,
    ssn: u64,
    unprotected: Vec<u8>,
    protected: Vec<u8>,
}

fn request_vectors() -> Vec<RequestVector> {
    let vectors = load("rfc8613_appendix_c.json");
    vectors["message_protection"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["message_type"] == "request")
        .map(|m| RequestVector {
            section: m["section"].as_str().unwrap().to_owned(),
            from: m["security_context_from"].as_str().unwrap().to_owned(),
            ssn: m["sender_context"]["sender_sequence_number"].as_u64().unwrap(),
            unprotected: hex(&m["unprotected_coap_message"]),
            protected: hex(&m["protected_coap_message"]),
            m: m.clone(),
        })
        .collect()
}

#[test]
fn c4_c5_c6_requests_protect_and_verify() {
    let mut n = 0;
    for RequestVector { m, section, from, ssn, unprotected, protected } in request_vectors() {
        let (section, from) = (section.as_str(), from.as_str());

        let mut client = context_at(from, ssn);
        let (packet, binding) = client.protect_request(&parse_udp(&unprotected).unwrap(), 0).unwrap();
        assert_eq!(hex::encode(to_bytes(&packet).unwrap()), hex::encode(&protected), "{section} protect");
        assert_eq!(binding.partial_iv(), hex(&m["derived"]["partial_iv"]));
        assert_eq!(client.sender().sequence_number(), ssn + 1);

        let mut server = context_at(&peer_section(from), 0);
        let (original, server_binding) = server.verify_request(&parse_udp(&protected).unwrap(), 0).unwrap();
        assert_eq!(hex::encode(to_bytes(&original).unwrap()), hex::encode(&unprotected), "{section} verify");
        assert_eq!(server_binding.kid(), binding.kid());
        // The same message again is a replay.
        assert!(server.verify_request(&parse_udp(&protected).unwrap(), 0).is_err());
        n += 1;
    }
    assert_eq!(n, 3);
}

/// The client's binding for the C.4 request, and the server's.
fn c4_bindings() -> (SecurityContext, RequestBinding, SecurityContext, RequestBinding) {
    let vectors = load("rfc8613_appendix_c.json");
    let c4 = vectors["message_protection"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["section"] == "C.4")
        .unwrap()
        .clone();
    let mut client = context_at("C.1.1", 20);
    let (protected, client_binding) =
        client.protect_request(&parse_udp(&hex(&c4["unprotected_coap_message"])).unwrap(), 0).unwrap();
    let mut server = context_at("C.1.2", 0);
    let (_, server_binding) = server.verify_request(&protected, 0).unwrap();
    (client, client_binding, server, server_binding)
}

#[test]
fn c7_c8_responses_protect_and_verify() {
    let vectors = load("rfc8613_appendix_c.json");
    for section in ["C.7", "C.8"] {
        let m = vectors["message_protection"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["section"] == section)
            .unwrap();
        assert_eq!(m["request_binding_not_verbatim"]["request_section"], "C.4");
        let unprotected = hex(&m["unprotected_coap_message"]);
        let protected = hex(&m["protected_coap_message"]);
        let mode = if m["derived"]["partial_iv"].is_null() { ResponsePiv::Auto } else { ResponsePiv::Own };

        let (mut client, mut client_binding, mut server, mut server_binding) = c4_bindings();
        assert_eq!(client_binding.kid(), hex(&m["request_binding_not_verbatim"]["request_kid"]));
        assert_eq!(client_binding.partial_iv(), hex(&m["request_binding_not_verbatim"]["request_piv"]));
        let packet =
            server.protect_response(&parse_udp(&unprotected).unwrap(), &mut server_binding, mode, 0).unwrap();
        assert_eq!(hex::encode(to_bytes(&packet).unwrap()), hex::encode(&protected), "{section} protect");

        let original =
            client.verify_response(&parse_udp(&protected).unwrap(), &mut client_binding, 0).unwrap();
        assert_eq!(hex::encode(to_bytes(&original).unwrap()), hex::encode(&unprotected), "{section} verify");
        // A second response to the same (non-Observe) request is refused.
        assert!(client.verify_response(&parse_udp(&protected).unwrap(), &mut client_binding, 0).is_err());
    }
}

#[test]
fn request_nonce_is_used_for_one_response_only() {
    let vectors = load("rfc8613_appendix_c.json");
    let c7 =
        vectors["message_protection"].as_array().unwrap().iter().find(|m| m["section"] == "C.7").unwrap();
    let (_, _, mut server, mut binding) = c4_bindings();
    let response = parse_udp(&hex(&c7["unprotected_coap_message"])).unwrap();
    let first = server.protect_response(&response, &mut binding, ResponsePiv::Auto, 0).unwrap();
    let second = server.protect_response(&response, &mut binding, ResponsePiv::Auto, 0).unwrap();
    assert_eq!(hex::encode(to_bytes(&first).unwrap()), hex::encode(hex(&c7["protected_coap_message"])));
    assert_ne!(first.payload, second.payload);
    let opt = OscoreOption::decode(second.get_first_option(coap_lite::CoapOption::Oscore).unwrap()).unwrap();
    assert!(opt.partial_iv.is_some(), "the second response must carry its own Partial IV");
}

/// The byte-level API gives the same bytes as Appendix C, both ways, and
/// verification in place reads the original request without copying.
#[test]
fn c4_c5_c6_requests_through_the_byte_and_in_place_apis() {
    let mut n = 0;
    for RequestVector { m, section, from, ssn, unprotected, protected } in request_vectors() {
        let (section, from) = (section.as_str(), from.as_str());

        let mut client = context_at(from, ssn);
        // Appends after what the buffer already holds.
        let mut out = b"prefix".to_vec();
        let binding = client.protect_request_bytes(&unprotected, &mut out, 0).unwrap();
        assert_eq!(hex::encode(&out[6..]), hex::encode(&protected), "{section} protect_request_bytes");
        assert_eq!(binding.partial_iv(), hex(&m["derived"]["partial_iv"]));

        let mut server = context_at(&peer_section(from), 0);
        let mut received = protected.clone();
        let mut out = Vec::new();
        let server_binding = server.verify_request_bytes(&mut received, &mut out, 0).unwrap();
        assert_eq!(hex::encode(&out), hex::encode(&unprotected), "{section} verify_request_bytes");
        assert_eq!(server_binding.kid(), binding.kid());
        assert!(received.iter().all(|&b| b == 0), "{section}: the receive buffer is wiped");

        let mut server = context_at(&peer_section(from), 0);
        let mut received = protected.clone();
        let (message, _) = server.verify_request_in_place(&mut received, 0).unwrap();
        let original = parse_udp(&unprotected).unwrap();
        assert_eq!(message.code(), u8::from(original.header.code));
        assert_eq!(message.token(), original.get_token());
        assert_eq!(message.message_id(), original.header.message_id);
        assert_eq!(message.payload(), original.payload.as_slice());
        let options: Vec<(u16, Vec<u8>)> = message.options().map(|(n, v)| (n, v.to_vec())).collect();
        let expected: Vec<(u16, Vec<u8>)> =
            original.options().flat_map(|(&n, vs)| vs.iter().map(move |v| (n, v.clone()))).collect();
        assert_eq!(options, expected, "{section} options in place");
        let mut written = Vec::new();
        message.write_to(&mut written).unwrap();
        assert_eq!(hex::encode(&written), hex::encode(&unprotected), "{section} write_to");
        n += 1;
    }
    assert_eq!(n, 3);
}

#[test]
fn c7_c8_responses_through_the_byte_and_in_place_apis() {
    let vectors = load("rfc8613_appendix_c.json");
    for section in ["C.7", "C.8"] {
        let m = vectors["message_protection"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["section"] == section)
            .unwrap();
        let unprotected = hex(&m["unprotected_coap_message"]);
        let protected = hex(&m["protected_coap_message"]);
        let mode = if m["derived"]["partial_iv"].is_null() { ResponsePiv::Auto } else { ResponsePiv::Own };

        let (mut client, mut client_binding, mut server, mut server_binding) = c4_bindings();
        let mut out = Vec::new();
        server.protect_response_bytes(&unprotected, &mut server_binding, mode, &mut out, 0).unwrap();
        assert_eq!(hex::encode(&out), hex::encode(&protected), "{section} protect_response_bytes");

        let mut received = protected.clone();
        let mut out = Vec::new();
        client.verify_response_bytes(&mut received, &mut client_binding, &mut out, 0).unwrap();
        assert_eq!(hex::encode(&out), hex::encode(&unprotected), "{section} verify_response_bytes");
        // A second response to the same (non-Observe) request is refused, and
        // nothing is appended.
        let mut received = protected.clone();
        let before = out.len();
        assert!(client.verify_response_bytes(&mut received, &mut client_binding, &mut out, 0).is_err());
        assert_eq!(out.len(), before);

        let (mut client, mut client_binding, _, _) = c4_bindings();
        let mut received = protected.clone();
        let message = client.verify_response_in_place(&mut received, &mut client_binding, 0).unwrap();
        let mut written = Vec::new();
        message.write_to(&mut written).unwrap();
        assert_eq!(hex::encode(&written), hex::encode(&unprotected), "{section} in place");
        assert!(client_binding.is_completed());
    }
}
