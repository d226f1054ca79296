//! `SecurityContext::synchronise_replay_window` (RFC 8613 App. B.1.2).

use coap_lite::{CoapOption, MessageClass, Packet, RequestType};
use oscore_core::store::MemoryStore;
use oscore_core::{ContextParams, Error, SecurityContext};

fn get() -> Packet {
    let mut p = Packet::new();
    p.header.code = MessageClass::Request(RequestType::Get);
    p.add_option(CoapOption::UriPath, b"x".to_vec());
    p
}

#[test]
fn synchronised_window_refuses_everything_up_to_the_echo_request() {
    let provider = &crypto_backends::RUSTCRYPTO;
    let mut client = SecurityContext::derive(provider, &ContextParams::new(&[7; 16], b"", b"\x01")).unwrap();
    let old: Vec<Packet> = (0..5).map(|_| client.protect_request(&get(), 0).unwrap().0).collect();
    // A server that lost its window: a fresh store.
    let store = MemoryStore::new();
    let mut server = SecurityContext::derive_with_store(
        provider,
        &ContextParams::new(&[7; 16], b"\x01", b""),
        Box::new(store),
    )
    .unwrap();
    let (echoed, _) = client.protect_request(&get(), 0).unwrap();
    server.verify_request(&echoed, 0).unwrap();
    server.synchronise_replay_window(5).unwrap();
    for p in &old {
        assert!(matches!(server.verify_request(p, 0), Err(Error::Replay(_))));
    }
    assert!(matches!(server.verify_request(&echoed, 0), Err(Error::Replay(_))));
    let (next, _) = client.protect_request(&get(), 0).unwrap();
    server.verify_request(&next, 0).unwrap();
    assert_eq!(server.recipient().replay_window().highest(), Some(6));
}
