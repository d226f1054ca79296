//! Client and server endpoints on 127.0.0.1: each feature of issue 4.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use coap_lite::{CoapOption, MessageClass, MessageType, Packet, RequestType, ResponseType};
use common::*;
use oscore_core::option::{OscoreOption, decode_partial_iv};
use oscore_core::protect::decode_oscore_option;
use oscore_core::{ResponsePiv, SecurityContext};
use oscore_proxy::client::ClientError;
use oscore_proxy::demo::large_body;
use oscore_proxy::server::ServerConfig;
use tokio::net::UdpSocket;

const T: Duration = Duration::from_secs(5);

fn code(p: &Packet) -> MessageClass {
    p.header.code
}

async fn recv(sock: &UdpSocket) -> Packet {
    let mut buf = vec![0u8; 4096];
    let (n, _) = tokio::time::timeout(T, sock.recv_from(&mut buf)).await.expect("no reply").unwrap();
    oscore_core::message::parse_udp(&buf[..n]).unwrap()
}

#[tokio::test]
async fn hello_echo_large_and_uploads() {
    let srv = start_server(true).await;
    let c = client(srv.addr).await;
    let r = c.request(request(RequestType::Get, "hello")).await.unwrap();
    assert_eq!(code(&r), MessageClass::Response(ResponseType::Content));
    assert_eq!(r.payload, b"Hello World!");

    let mut post = request(RequestType::Post, "echo");
    post.payload = b"ping".to_vec();
    assert_eq!(c.request(post).await.unwrap().payload, b"ping");

    // Block2: 3000 bytes in blocks of 1024.
    let before = srv.server.stats().verifications.load(Ordering::Relaxed);
    let r = c.request(request(RequestType::Get, "large")).await.unwrap();
    assert_eq!(r.payload, large_body());
    assert!(r.get_first_option(CoapOption::Block2).is_none());
    assert_eq!(srv.server.stats().verifications.load(Ordering::Relaxed) - before, 3);

    // Block1: a 2 KiB upload, echoed back (Block2 for the response).
    let mut up = request(RequestType::Post, "echo");
    up.payload = (0..2048u32).map(|i| (i % 251) as u8).collect();
    let before = srv.server.stats().verifications.load(Ordering::Relaxed);
    let r = c.request(up.clone()).await.unwrap();
    assert_eq!(code(&r), MessageClass::Response(ResponseType::Changed));
    assert_eq!(r.payload, up.payload);
    assert_eq!(srv.server.stats().verifications.load(Ordering::Relaxed) - before, 3, "2 Block1 + 1 Block2");

    let r = c.request(request(RequestType::Get, "nothing")).await.unwrap();
    assert_eq!(code(&r), MessageClass::Response(ResponseType::NotFound));
}

#[tokio::test]
async fn block1_size_limit_is_enforced() {
    let (_, s) = c1_params();
    let config = ServerConfig { max_body: 4096, ..ServerConfig::default() };
    let srv = start_server_on(LOCALHOST, vec![loaded(&s, true)], config).await;
    let c = client(srv.addr).await;
    let mut up = request(RequestType::Post, "echo");
    up.payload = vec![b'x'; 10 * 1024];
    let r = c.request(up).await.unwrap();
    assert_eq!(code(&r), MessageClass::Response(ResponseType::RequestEntityTooLarge));
    assert_eq!(r.get_first_option(CoapOption::Size1), Some(&vec![0x10, 0x00]));
}

#[tokio::test]
async fn lost_con_is_retransmitted() {
    let srv = start_server(true).await;
    // The client's first datagram is lost.
    let faulty = Arc::new(Faulty::new(vec![0], vec![]).await);
    let c = client_with(srv.addr, faulty.clone()).await;
    let r = c.request(request(RequestType::Get, "hello")).await.unwrap();
    assert_eq!(r.payload, b"Hello World!");
    let log = faulty.log.lock().unwrap().clone();
    assert_eq!(log.len(), 2, "one loss, one retransmission");
    assert_eq!(log[0], log[1], "a retransmission repeats the same bytes (same MID and PIV)");
    assert_eq!(srv.server.stats().verifications.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn retransmission_gives_up_after_max_retransmit() {
    // Nobody listens on this socket's address once it is dropped.
    let silent = UdpSocket::bind(LOCALHOST).await.unwrap();
    let peer = silent.local_addr().unwrap();
    let faulty = Arc::new(Faulty::new((0..100).collect(), vec![]).await);
    let c = client_with(peer, faulty.clone()).await;
    let started = std::time::Instant::now();
    let err = c.request(request(RequestType::Get, "hello")).await.unwrap_err();
    assert_eq!(err, ClientError::Coap(oscore_proxy::coap::CoapError::Timeout));
    // 1 + MAX_RETRANSMIT (4) transmissions, over ≥ (1+2+4+8+16) × ACK_TIMEOUT.
    assert_eq!(faulty.sent.load(Ordering::SeqCst), 5);
    assert!(started.elapsed() >= Duration::from_millis(150 * 31));
}

#[tokio::test]
async fn duplicated_request_is_answered_from_the_cache() {
    let srv = start_server(true).await;
    let (c, _) = c1_params();
    let mut ctx = SecurityContext::derive(provider(), &c).unwrap();
    let (protected, _) = ctx.protect_request(&request(RequestType::Get, "hello"), 0).unwrap();
    let bytes = con_bytes(protected, 0x1234, b"tok");
    let sock = UdpSocket::bind(LOCALHOST).await.unwrap();
    sock.send_to(&bytes, srv.addr).await.unwrap();
    let first = recv(&sock).await;
    sock.send_to(&bytes, srv.addr).await.unwrap();
    let second = recv(&sock).await;
    assert_eq!(first, second);
    assert_eq!(first.header.get_type(), MessageType::Acknowledgement);
    assert_eq!(first.header.message_id, 0x1234);
    assert_eq!(srv.server.stats().verifications.load(Ordering::Relaxed), 1, "no second verification");
    assert_eq!(srv.endpoint.stats().duplicates, 1);
}

#[tokio::test]
async fn errors_follow_rfc8613_section_8() {
    let srv = start_server(true).await;
    let sock = UdpSocket::bind(LOCALHOST).await.unwrap();
    let (c, _) = c1_params();
    let mut ctx = SecurityContext::derive(provider(), &c).unwrap();

    // Replay: a second copy with another MID passes deduplication, not OSCORE.
    let (protected, _) = ctx.protect_request(&request(RequestType::Get, "hello"), 0).unwrap();
    sock.send_to(&con_bytes(protected.clone(), 1, b"a"), srv.addr).await.unwrap();
    let r = recv(&sock).await;
    assert_eq!(
        code(&r),
        MessageClass::Response(ResponseType::Changed),
        "the outer code of a protected response"
    );
    assert!(r.get_option(CoapOption::Oscore).is_some());
    sock.send_to(&con_bytes(protected.clone(), 2, b"a"), srv.addr).await.unwrap();
    let r = recv(&sock).await;
    assert_eq!(code(&r), MessageClass::Response(ResponseType::Unauthorized));
    assert_eq!(r.payload, b"Replay detected");
    assert!(r.get_option(CoapOption::Oscore).is_none(), "error responses are unprotected");

    // Decryption failure: a flipped ciphertext bit (fresh Partial IV).
    let (mut bad, _) = ctx.protect_request(&request(RequestType::Get, "hello"), 0).unwrap();
    bad.payload[0] ^= 1;
    sock.send_to(&con_bytes(bad, 3, b"b"), srv.addr).await.unwrap();
    let r = recv(&sock).await;
    assert_eq!(code(&r), MessageClass::Response(ResponseType::BadRequest));
    assert_eq!(r.payload, b"Decryption failed");

    // Unknown kid.
    let mut other = protected.clone();
    let mut opt = decode_oscore_option(&other).unwrap();
    opt.kid = Some(vec![0x42]);
    other.clear_option(CoapOption::Oscore);
    other.add_option(CoapOption::Oscore, opt.encode().unwrap());
    sock.send_to(&con_bytes(other, 4, b"c"), srv.addr).await.unwrap();
    let r = recv(&sock).await;
    assert_eq!(code(&r), MessageClass::Response(ResponseType::Unauthorized));
    assert_eq!(r.payload, b"Security context not found");

    // Malformed option (reserved flag bit).
    let mut malformed = protected.clone();
    malformed.clear_option(CoapOption::Oscore);
    malformed.add_option(CoapOption::Oscore, vec![0x89, 0x00]);
    sock.send_to(&con_bytes(malformed, 5, b"d"), srv.addr).await.unwrap();
    let r = recv(&sock).await;
    assert_eq!(code(&r), MessageClass::Response(ResponseType::BadOption));

    // No OSCORE at all.
    sock.send_to(&con_bytes(request(RequestType::Get, "hello"), 6, b"e"), srv.addr).await.unwrap();
    assert_eq!(code(&recv(&sock).await), MessageClass::Response(ResponseType::Unauthorized));

    // Garbage CON header: RST.
    sock.send_to(&[0x40, 0x01, 0x00, 0x07, 0xff], srv.addr).await.unwrap();
    let r = recv(&sock).await;
    assert_eq!(r.header.get_type(), MessageType::Reset);
    assert_eq!(r.header.message_id, 7);
    assert_eq!(srv.server.stats().served.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn many_contexts_are_looked_up_by_kid_and_kid_context() {
    let (c, s) = c1_params();
    // A second client: Sender ID 02, and a third with an ID Context.
    let c2 = oscore_core::ContextParams::new(&[9; 16], b"\x02", b"\x01");
    let s2 = oscore_core::ContextParams::new(&[9; 16], b"\x01", b"\x02");
    let c3 = oscore_core::ContextParams::new(&[8; 16], b"", b"\x01").with_id_context(Some(b"\xab"));
    let s3 = oscore_core::ContextParams::new(&[8; 16], b"\x01", b"").with_id_context(Some(b"\xab"));
    let srv = start_server_on(
        LOCALHOST,
        vec![loaded(&s, true), loaded(&s2, true), loaded(&s3, true)],
        ServerConfig::default(),
    )
    .await;
    for params in [c, c2, c3] {
        let endpoint = oscore_proxy::coap::Endpoint::start(
            Arc::new(oscore_proxy::transport::UdpTransport::bind(LOCALHOST.parse().unwrap()).await.unwrap()),
            fast_params(),
            None,
        );
        let ctx = oscore_proxy::config::LoadedContext::in_memory(params, true);
        let cl =
            oscore_proxy::client::OscoreClient::new(endpoint, srv.addr, ctx, Default::default()).unwrap();
        let r = cl.request(request(RequestType::Get, "hello")).await.unwrap();
        assert_eq!(r.payload, b"Hello World!");
    }
    assert_eq!(srv.server.stats().served.load(Ordering::Relaxed), 3);
}

#[tokio::test]
async fn separate_response_when_the_handler_is_slow() {
    use async_trait::async_trait;
    use oscore_proxy::coap::{Endpoint, IncomingRequest, RequestHandler};
    struct Slow;
    #[async_trait]
    impl RequestHandler for Slow {
        async fn handle(&self, r: IncomingRequest) -> Option<Packet> {
            tokio::time::sleep(Duration::from_millis(600)).await;
            let mut p = Packet::new();
            p.header.code = MessageClass::Response(ResponseType::Content);
            p.payload = r.packet.payload;
            Some(p)
        }
    }
    let udp = oscore_proxy::transport::UdpTransport::bind(LOCALHOST.parse().unwrap()).await.unwrap();
    let server = Endpoint::start(Arc::new(udp), fast_params(), Some(Arc::new(Slow)));
    let sock = UdpSocket::bind(LOCALHOST).await.unwrap();
    let mut req = request(RequestType::Post, "x");
    req.payload = b"late".to_vec();
    sock.send_to(&con_bytes(req, 77, b"t"), server.local_addr().unwrap()).await.unwrap();
    let ack = recv(&sock).await;
    assert_eq!((ack.header.get_type(), ack.header.code), (MessageType::Acknowledgement, MessageClass::Empty));
    assert_eq!(ack.header.message_id, 77);
    let resp = recv(&sock).await;
    assert_eq!(resp.header.get_type(), MessageType::Confirmable);
    assert_eq!(resp.get_token(), b"t");
    assert_eq!(resp.payload, b"late");
    // Without our ACK the separate response is retransmitted.
    let again = recv(&sock).await;
    assert_eq!(again.header.message_id, resp.header.message_id);
    let mut ack = Packet::new();
    ack.header.set_type(MessageType::Acknowledgement);
    ack.header.message_id = resp.header.message_id;
    sock.send_to(&ack.to_bytes().unwrap(), server.local_addr().unwrap()).await.unwrap();
}

#[tokio::test]
async fn observe_register_notify_cancel() {
    let srv = start_server(true).await;
    let c = client(srv.addr).await;
    let (first, mut obs) = c.observe(request(RequestType::Get, "observe")).await.unwrap();
    assert_eq!(first.payload, b"0");
    assert!(obs.is_active());
    assert_eq!(srv.server.observer_count(), 1);
    for expected in [b"1", b"2"] {
        srv.app.tick();
        srv.server.notify("observe").await;
        let n = obs.next(T).await.unwrap();
        assert_eq!(n.payload, expected);
        assert!(n.get_option(CoapOption::Observe).is_some());
    }
    // Re-registration on the same token: still one observer, and the
    // notifications keep coming under the new registration.
    let again = obs.reregister().await.unwrap();
    assert!(again.get_first_option(CoapOption::Observe).is_some());
    assert_eq!(srv.server.observer_count(), 1);
    srv.app.tick();
    srv.server.notify("observe").await;
    assert_eq!(obs.next(T).await.unwrap().payload, b"3");
    let last = obs.cancel().await.unwrap();
    assert!(last.get_option(CoapOption::Observe).is_none());
    assert_eq!(srv.server.observer_count(), 0);
}

#[tokio::test]
async fn forgotten_observation_is_reset_and_removed() {
    let srv = start_server(true).await;
    let c = client(srv.addr).await;
    let (_, obs) = c.observe(request(RequestType::Get, "observe")).await.unwrap();
    assert_eq!(srv.server.observer_count(), 1);
    drop(obs); // the client forgets the token: the next notification gets RST
    srv.app.tick();
    srv.server.notify("observe").await;
    for _ in 0..50 {
        if srv.server.observer_count() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(srv.server.observer_count(), 0);
}

#[tokio::test]
async fn reregistration_with_the_same_token_replaces_the_observer() {
    let srv = start_server(true).await;
    let (c, _) = c1_params();
    let mut ctx = SecurityContext::derive(provider(), &c).unwrap();
    let sock = UdpSocket::bind(LOCALHOST).await.unwrap();
    for mid in [10, 11] {
        let mut reg = request(RequestType::Get, "observe");
        reg.add_option(CoapOption::Observe, vec![]);
        reg.set_token(b"obs".to_vec());
        let (protected, mut binding) = ctx.protect_request(&reg, 0).unwrap();
        sock.send_to(&con_bytes(protected, mid, b"obs"), srv.addr).await.unwrap();
        let r = recv(&sock).await;
        let n = ctx.verify_response(&r, &mut binding, 0).unwrap();
        assert!(n.get_option(CoapOption::Observe).is_some());
    }
    assert_eq!(srv.server.observer_count(), 1);
}

/// A test-side server made of a UDP socket and an oscore-core context: sends
/// notifications out of order and checks that the client orders them by
/// Partial IV.
#[tokio::test]
async fn notifications_out_of_order_are_ordered_by_partial_iv() {
    let (_, s) = c1_params();
    let mut sctx = SecurityContext::derive(provider(), &s).unwrap();
    let sock = UdpSocket::bind(LOCALHOST).await.unwrap();
    let addr = sock.local_addr().unwrap();
    let c = client(addr).await;
    let observe = tokio::spawn(async move {
        let (first, mut obs) = c.observe(request(RequestType::Get, "observe")).await.unwrap();
        let mut seen = vec![first.payload];
        for _ in 0..2 {
            seen.push(obs.next(T).await.unwrap().payload);
        }
        (seen, obs.stale_dropped)
    });
    let mut buf = vec![0u8; 2048];
    let (n, peer) = sock.recv_from(&mut buf).await.unwrap();
    let reg = oscore_core::message::parse_udp(&buf[..n]).unwrap();
    let (_, mut binding) = sctx.verify_request(&reg, 0).unwrap();
    let notification =
        |ctx: &mut SecurityContext, binding: &mut oscore_core::RequestBinding, body: &[u8], obs: u8| {
            let mut p = Packet::new();
            p.header.code = MessageClass::Response(ResponseType::Content);
            p.add_option(CoapOption::Observe, vec![obs]);
            p.payload = body.to_vec();
            let mut prot = ctx.protect_response(&p, binding, ResponsePiv::Auto, 0).unwrap();
            prot.header.set_type(MessageType::NonConfirmable);
            prot.set_token(reg.get_token().to_vec());
            prot
        };
    let n1 = notification(&mut sctx, &mut binding, b"first", 1);
    let n2 = notification(&mut sctx, &mut binding, b"older", 2);
    let n3 = notification(&mut sctx, &mut binding, b"newest", 3);
    let piv = |p: &Packet| decode_partial_iv(decode_oscore_option(p).unwrap().partial_iv.as_deref().unwrap());
    assert!(piv(&n1).unwrap() < piv(&n2).unwrap() && piv(&n2).unwrap() < piv(&n3).unwrap());
    // The piggybacked first response, then n3 before n2, then a duplicate of n3.
    let mut first = n1.clone();
    first.header.set_type(MessageType::Acknowledgement);
    first.header.message_id = reg.header.message_id;
    for (p, mid) in [(first, None), (n3.clone(), Some(100)), (n2, Some(101))] {
        let mut p = p;
        if let Some(mid) = mid {
            p.header.message_id = mid;
        }
        sock.send_to(&oscore_core::message::to_bytes(&p).unwrap(), peer).await.unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let mut dup = n3;
    dup.header.message_id = 102;
    sock.send_to(&oscore_core::message::to_bytes(&dup).unwrap(), peer).await.unwrap();
    // The stale n2 is dropped; a later fresh one arrives as the third.
    let n4 = notification(&mut sctx, &mut binding, b"after", 4);
    let mut n4 = n4;
    n4.header.message_id = 103;
    tokio::time::sleep(Duration::from_millis(30)).await;
    sock.send_to(&oscore_core::message::to_bytes(&n4).unwrap(), peer).await.unwrap();
    let (seen, stale) = tokio::time::timeout(T, observe).await.unwrap().unwrap();
    assert_eq!(seen, vec![b"first".to_vec(), b"newest".to_vec(), b"after".to_vec()]);
    assert_eq!(stale, 2, "the older notification and the duplicate");
}

#[tokio::test]
async fn echo_recovery_after_a_restart_without_replay_state() {
    // First life: the window is known; capture a request for a later replay.
    let first = start_server(true).await;
    let addr = first.addr;
    let c = client(addr).await;
    assert_eq!(c.request(request(RequestType::Get, "hello")).await.unwrap().payload, b"Hello World!");
    let (cp, _) = c1_params();
    let mut old_ctx = SecurityContext::derive(provider(), &cp).unwrap();
    let (old, _) = old_ctx.protect_request(&request(RequestType::Get, "hello"), 0).unwrap();
    drop(first);
    tokio::time::sleep(Duration::from_millis(50)).await;

    // Second life on the same address, with an empty, *unknown* window.
    let (_, s) = c1_params();
    let second = start_server_on(&addr.to_string(), vec![loaded(&s, false)], ServerConfig::default()).await;
    let sock = UdpSocket::bind(LOCALHOST).await.unwrap();
    // The old request (PIV 0, already used) is not served: 4.01 with Echo.
    sock.send_to(&con_bytes(old.clone(), 500, b"x"), addr).await.unwrap();
    let r = recv(&sock).await;
    assert!(r.get_option(CoapOption::Oscore).is_some(), "the Echo challenge is protected");
    let opt: OscoreOption = decode_oscore_option(&r).unwrap();
    assert!(opt.partial_iv.is_some(), "App. B.1.2: the 4.01 carries the server's own Partial IV");
    assert_eq!(second.server.stats().served.load(Ordering::Relaxed), 0);

    // The real client transparently answers the challenge and succeeds.
    assert_eq!(c.request(request(RequestType::Get, "hello")).await.unwrap().payload, b"Hello World!");
    assert!(second.server.stats().echo_challenges.load(Ordering::Relaxed) >= 2);
    assert_eq!(second.server.stats().served.load(Ordering::Relaxed), 1);
    // Now the window is re-established: the old request is a replay.
    sock.send_to(&con_bytes(old, 501, b"y"), addr).await.unwrap();
    let r = recv(&sock).await;
    assert_eq!(code(&r), MessageClass::Response(ResponseType::Unauthorized));
    assert_eq!(r.payload, b"Replay detected");
    // Later requests go through without a challenge.
    let challenges = second.server.stats().echo_challenges.load(Ordering::Relaxed);
    c.request(request(RequestType::Get, "hello")).await.unwrap();
    assert_eq!(second.server.stats().echo_challenges.load(Ordering::Relaxed), challenges);
}

#[tokio::test]
async fn redb_state_survives_a_restart() {
    use oscore_proxy::config;
    let dir = temp_dir("redb");
    let path = dir.join("client.toml");
    std::fs::write(&path, c1_toml(true, Some(&dir.join("state")))).unwrap();
    let cfg = config::load(&path).unwrap();
    let mut protected = Vec::new();
    {
        let loaded = config::derive_all(&cfg).unwrap().remove(0);
        assert!(!loaded.replay_window_known);
        let mut c = loaded.open_client().unwrap();
        for _ in 0..3 {
            protected.push(c.protect_request(&request(RequestType::Get, "x"), 0).unwrap().0);
        }
    }
    let mut c = config::derive_all(&cfg).unwrap().remove(0).open_client().unwrap();
    let (next, _) = c.protect_request(&request(RequestType::Get, "x"), 0).unwrap();
    let piv = |p: &Packet| {
        decode_partial_iv(decode_oscore_option(p).unwrap().partial_iv.as_deref().unwrap()).unwrap()
    };
    assert!(protected.iter().all(|p| piv(p) < piv(&next)), "resumes above every used sequence number");
    assert_eq!(piv(&next), 64, "skips to the persisted bound K = 64");
    // A server whose window is persisted refuses the old requests after a restart.
    let spath = dir.join("server.toml");
    std::fs::write(&spath, c1_toml(false, Some(&dir.join("server-state")))).unwrap();
    let scfg = config::load(&spath).unwrap();
    {
        let mut s = config::derive_all(&scfg).unwrap().remove(0).open_server().unwrap();
        s.verify_request(&protected[1], 0).unwrap();
    }
    let s = config::derive_all(&scfg).unwrap().remove(0);
    assert!(s.replay_window_known);
    let mut s = s.open_server().unwrap();
    assert!(s.verify_request(&protected[1], 0).is_err());
    s.verify_request(&protected[2], 0).unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn in_flight_exchanges_are_bounded() {
    let endpoint = oscore_proxy::coap::Endpoint::start(
        Arc::new(oscore_proxy::transport::UdpTransport::bind(LOCALHOST.parse().unwrap()).await.unwrap()),
        oscore_proxy::coap::TransmissionParams { max_exchanges: 4, ..fast_params() },
        None,
    );
    let peer = "127.0.0.1:9".parse().unwrap();
    let open: Vec<_> = (0..4).map(|_| endpoint.open_exchange(peer).unwrap()).collect();
    assert_eq!(endpoint.open_exchange(peer).unwrap_err(), oscore_proxy::coap::CoapError::TooManyExchanges);
    drop(open);
    assert!(endpoint.open_exchange(peer).is_ok());
}
