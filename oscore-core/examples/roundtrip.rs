//! Derives the RFC 8613 Appendix C.1 client and server contexts, protects a
//! request and a response, verifies both and prints every message.
//!
//! `cargo run --release -p oscore-core --example roundtrip`

// serde_json indexing yields Null for a missing key; it never panics.
#![allow(clippy::indexing_slicing)]

use coap_lite::{CoapOption, MessageClass, MessageType, Packet, RequestType, ResponseType};
use crypto_backends::RUSTCRYPTO;
use oscore_core::message::to_bytes;
use oscore_core::store::{MemoryStore, PersistedState};
use oscore_core::{ContextParams, Error, ResponsePiv, SecurityContext};
use serde_json::Value;

/// The C.1 inputs, read from the vector file shipped with the repository.
const VECTORS: &str = include_str!("../../test-vectors/rfc8613_appendix_c.json");

fn params(vectors: &Value, section: &str) -> Result<ContextParams, Box<dyn std::error::Error>> {
    let entry = vectors["key_derivation"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["section"] == section))
        .ok_or("section missing from the vector file")?;
    let field = |name: &str| -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        Ok(hex::decode(entry["inputs"][name].as_str().ok_or("not a string")?)?)
    };
    Ok(ContextParams::new(&field("master_secret")?, &field("sender_id")?, &field("recipient_id")?)
        .with_master_salt(&field("master_salt")?))
}

fn show(label: &str, packet: &Packet) -> Result<(), Error> {
    println!("{label:<28} {}", hex::encode(to_bytes(packet)?));
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let vectors: Value = serde_json::from_str(VECTORS)?;
    // The C.4 request is sent with sender sequence number 20: resume there, as
    // a context restored from its store would.
    let resume_at_20 = MemoryStore::with_state(PersistedState { ssn_bound: 20, ..Default::default() });
    let mut client =
        SecurityContext::derive_with_store(&RUSTCRYPTO, &params(&vectors, "C.1.1")?, Box::new(resume_at_20))?;
    let mut server = SecurityContext::derive(&RUSTCRYPTO, &params(&vectors, "C.1.2")?)?;
    let expected = |section: &str, field: &str| -> String {
        let all = vectors["key_derivation"].as_array().into_iter().flatten();
        let all = all.chain(vectors["message_protection"].as_array().into_iter().flatten());
        all.filter(|e| e["section"] == section)
            .find_map(|e| e[field].as_str().or_else(|| e["outputs"][field].as_str()))
            .unwrap_or_default()
            .to_owned()
    };
    let mut all_match = true;
    let mut check = |label: &str, ok: bool| {
        println!("{label:<28} {ok}");
        all_match &= ok;
    };
    // Keys are secrets: compare them with the published values, never print them.
    check(
        "derived keys match C.1.1/2",
        hex::encode(client.sender().sender_key()) == expected("C.1.1", "sender_key")
            && hex::encode(server.sender().sender_key()) == expected("C.1.2", "sender_key"),
    );
    println!("common IV                    {}", hex::encode(client.common().common_iv()));

    let mut request = Packet::new();
    request.header.set_type(MessageType::Confirmable);
    request.header.code = MessageClass::Request(RequestType::Get);
    request.header.message_id = 0x5d1f;
    request.set_token(vec![0x00, 0x00, 0x39, 0x74]);
    request.add_option(CoapOption::UriHost, b"localhost".to_vec());
    request.add_option(CoapOption::UriPath, b"tv1".to_vec());
    show("request", &request)?;
    let (protected, mut client_binding) = client.protect_request(&request, 0)?;
    show("protected request", &protected)?;
    check(
        "  equals RFC 8613 C.4",
        hex::encode(to_bytes(&protected)?) == expected("C.4", "protected_coap_message"),
    );
    let (verified, mut server_binding) = server.verify_request(&protected, 0)?;
    show("verified request", &verified)?;
    assert_eq!(verified, request, "the server must recover the original request");

    let mut response = Packet::new();
    response.header.set_type(MessageType::Acknowledgement);
    response.header.code = MessageClass::Response(ResponseType::Content);
    response.header.message_id = 0x5d1f;
    response.set_token(vec![0x00, 0x00, 0x39, 0x74]);
    response.payload = b"Hello World!".to_vec();
    show("response", &response)?;
    let protected = server.protect_response(&response, &mut server_binding, ResponsePiv::Auto, 0)?;
    show("protected response", &protected)?;
    check(
        "  equals RFC 8613 C.7",
        hex::encode(to_bytes(&protected)?) == expected("C.7", "protected_coap_message"),
    );
    let verified = client.verify_response(&protected, &mut client_binding, 0)?;
    show("verified response", &verified)?;
    assert_eq!(verified, response, "the client must recover the original response");
    println!("payload                      {}", String::from_utf8_lossy(&verified.payload));
    if !all_match {
        return Err("output differs from RFC 8613 Appendix C".into());
    }
    Ok(())
}
