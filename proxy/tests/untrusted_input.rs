//! Property tests of the server path for untrusted datagrams: random bytes and
//! mutated valid OSCORE requests never panic the endpoint, never reach the
//! application unless they verify, and never stop the server from serving a
//! genuine request afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use coap_lite::{MessageClass, RequestType};
use common::*;
use oscore_core::SecurityContext;
use oscore_proxy::coap::{IncomingRequest, RequestHandler};
use oscore_proxy::config::LoadedContext;
use oscore_proxy::demo::DemoApp;
use oscore_proxy::server::{OscoreServer, ServerConfig};
use proptest::prelude::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn server() -> std::sync::Arc<OscoreServer> {
    let (_, s) = c1_params();
    let ctx = LoadedContext::in_memory(s, true);
    OscoreServer::new(vec![ctx], std::sync::Arc::new(DemoApp::new()), ServerConfig::default()).unwrap()
}

fn valid_request() -> Vec<u8> {
    let (c, _) = c1_params();
    let mut ctx = SecurityContext::derive(provider(), &c).unwrap();
    let (p, _) = ctx.protect_request(&request(RequestType::Get, "hello"), 0).unwrap();
    con_bytes(p, 1, b"tk")
}

/// Parses like the endpoint does and hands the result to the OSCORE server.
fn feed(rt: &tokio::runtime::Runtime, srv: &OscoreServer, bytes: &[u8]) {
    if let Ok(packet) = oscore_core::message::parse_udp(bytes)
        && matches!(packet.header.code, MessageClass::Request(_))
    {
        let peer = "127.0.0.1:1".parse().unwrap();
        let _ = rt.block_on(srv.handle(IncomingRequest { peer, packet }));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_datagrams_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let rt = runtime();
        let srv = server();
        feed(&rt, &srv, &bytes);
        prop_assert_eq!(srv.stats().served.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn mutated_requests_never_reach_the_application(
        flips in proptest::collection::vec((any::<usize>(), 1u8..=255), 1..4),
        cut in proptest::option::of(any::<usize>()),
    ) {
        let rt = runtime();
        let srv = server();
        let mut bytes = valid_request();
        // The header (version, type, TKL, code, MID) and token are outside
        // the AEAD; skip them so that every mutation hits protected bytes.
        let start = 4 + 2;
        for (pos, x) in flips {
            let i = start + pos % (bytes.len() - start);
            bytes[i] ^= x;
        }
        if let Some(c) = cut {
            bytes.truncate(start + c % (bytes.len() - start));
        }
        feed(&rt, &srv, &bytes);
        prop_assert_eq!(srv.stats().served.load(Ordering::Relaxed), 0);
        // The genuine request is still served.
        feed(&rt, &srv, &valid_request());
        prop_assert_eq!(srv.stats().served.load(Ordering::Relaxed), 1);
    }
}

/// The same over real sockets: a burst of garbage, then a genuine request.
#[tokio::test]
async fn endpoint_survives_garbage() {
    let srv = start_server(true).await;
    let sock = tokio::net::UdpSocket::bind(LOCALHOST).await.unwrap();
    let mut state = 0x1234_5678u32;
    for len in 0..200usize {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state.to_le_bytes()[0]
            })
            .collect();
        sock.send_to(&bytes, srv.addr).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let c = client(srv.addr).await;
    assert_eq!(c.request(request(RequestType::Get, "hello")).await.unwrap().payload, b"Hello World!");
    assert!(srv.endpoint.stats().malformed > 0);
}
