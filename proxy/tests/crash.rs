//! Crash safety: the `oscore-proxy` binary with a `state_dir` is killed with
//! SIGKILL at random points, 50 times, and restarted each time. The peer (this
//! test, on 127.0.0.1) checks that every Partial IV it saw from the child is
//! unique, i.e. no (key, nonce) pair was used twice, and that the child never
//! accepted a replayed request.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

mod common;

use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use coap_lite::{CoapOption, MessageClass, MessageType, Packet, RequestType, ResponseType};
use common::*;
use oscore_core::option::decode_partial_iv;
use oscore_core::protect::{decode_oscore_option, number};
use oscore_core::{RequestBinding, ResponsePiv, SecurityContext};
use tokio::io::AsyncBufReadExt;
use tokio::net::UdpSocket;
use tokio::process::Command;

const ROUNDS: usize = 50;
const BIN: &str = env!("CARGO_BIN_EXE_oscore-proxy");

fn random_below(n: u64) -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    u64::from_le_bytes(b) % n.max(1)
}

fn piv_of(p: &Packet) -> Option<u64> {
    decode_oscore_option(p).ok()?.partial_iv.as_deref().map(|v| decode_partial_iv(v).unwrap())
}

#[derive(Default)]
struct Seen {
    /// Partial IVs of the child's responses (its own nonces).
    server_pivs: HashSet<u64>,
    /// Requests the child served (2.xx), to be replayed later.
    accepted: Vec<Packet>,
    /// Replays the child served: must stay 0.
    replays_served: usize,
}

/// One request/response with the child; returns the verified response.
async fn exchange(
    sock: &UdpSocket,
    peer: std::net::SocketAddr,
    ctx: &Mutex<SecurityContext>,
    seen: &Mutex<Seen>,
    request: &Packet,
    mid: u16,
) -> Option<Packet> {
    let (protected, mut binding) = ctx.lock().unwrap().protect_request(request, 0).unwrap();
    sock.send_to(&con_bytes(protected.clone(), mid, &mid.to_be_bytes()), peer).await.unwrap();
    let mut buf = vec![0u8; 4096];
    loop {
        let (n, _) =
            tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf)).await.ok()?.ok()?;
        let reply = oscore_core::message::parse_udp(&buf[..n]).ok()?;
        if reply.get_token() != mid.to_be_bytes() {
            continue; // a late notification of an earlier registration
        }
        if let Some(piv) = piv_of(&reply) {
            assert!(seen.lock().unwrap().server_pivs.insert(piv), "the child reused its Partial IV {piv}");
        }
        let verified = ctx.lock().unwrap().verify_response(&reply, &mut binding, 0).ok()?;
        if matches!(u8::from(verified.header.code) >> 5, 2) {
            seen.lock().unwrap().accepted.push(protected);
        }
        return Some(verified);
    }
}

/// Traffic against one life of the child: registrations (whose first
/// notification carries the child's own Partial IV) and plain GETs, with the
/// Echo retry when the child challenges us.
async fn traffic(
    sock: Arc<UdpSocket>,
    peer: std::net::SocketAddr,
    ctx: Arc<Mutex<SecurityContext>>,
    seen: Arc<Mutex<Seen>>,
    mut mid: u16,
) {
    for i in 0.. {
        let mut req = request(RequestType::Get, if i % 2 == 0 { "observe" } else { "hello" });
        if i % 2 == 0 {
            req.add_option(CoapOption::Observe, vec![]);
        }
        mid = mid.wrapping_add(1);
        let Some(resp) = exchange(&sock, peer, &ctx, &seen, &req, mid).await else { return };
        if resp.header.code == MessageClass::Response(ResponseType::Unauthorized)
            && let Some(echo) = resp.get_first_option(CoapOption::from(number::ECHO))
        {
            req.add_option(CoapOption::from(number::ECHO), echo.clone());
            mid = mid.wrapping_add(1);
            if exchange(&sock, peer, &ctx, &seen, &req, mid).await.is_none() {
                return;
            }
        }
    }
}

async fn spawn_server(config: &std::path::Path) -> (tokio::process::Child, std::net::SocketAddr) {
    let mut child = Command::new(BIN)
        .args(["server", "--context", config.to_str().unwrap(), "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(10), tokio::io::BufReader::new(stdout).read_line(&mut line))
        .await
        .expect("server did not start")
        .unwrap();
    let addr = line.trim().strip_prefix("listening on ").expect("listening line").parse().unwrap();
    (child, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_server_never_reuses_a_nonce_nor_accepts_a_replay() {
    let dir = temp_dir("crash-server");
    let config = dir.join("server.toml");
    std::fs::write(&config, c1_toml(false, Some(&dir.join("state")))).unwrap();
    let (cp, _) = c1_params();
    let ctx = Arc::new(Mutex::new(SecurityContext::derive(provider(), &cp).unwrap()));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let sock = Arc::new(UdpSocket::bind(LOCALHOST).await.unwrap());
    let mut mid: u16 = 0;
    for _round in 0..ROUNDS {
        let (mut child, addr) = spawn_server(&config).await;
        // A request the previous lives accepted must not be served again.
        let old = {
            let s = seen.lock().unwrap();
            (!s.accepted.is_empty())
                .then(|| s.accepted[usize::try_from(random_below(s.accepted.len() as u64)).unwrap()].clone())
        };
        if let Some(old) = old {
            mid = mid.wrapping_add(1);
            sock.send_to(&con_bytes(old.clone(), mid, b"old"), addr).await.unwrap();
            let mut buf = vec![0u8; 4096];
            let (n, _) = tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf))
                .await
                .unwrap()
                .unwrap();
            let reply = oscore_core::message::parse_udp(&buf[..n]).unwrap();
            if reply.get_option(CoapOption::Oscore).is_some() {
                // Protected: only an Echo challenge is acceptable (the child
                // lost nothing it needs, but it may not have saved a window yet).
                if let Some(piv) = piv_of(&reply) {
                    assert!(seen.lock().unwrap().server_pivs.insert(piv), "reused Partial IV {piv}");
                }
                let o = decode_oscore_option(&old).unwrap();
                let mut binding =
                    RequestBinding::new(o.kid.as_deref().unwrap(), o.partial_iv.as_deref().unwrap(), false);
                let inner = ctx.lock().unwrap().verify_response(&reply, &mut binding, 0).unwrap();
                if inner.header.code != MessageClass::Response(ResponseType::Unauthorized) {
                    seen.lock().unwrap().replays_served += 1;
                }
            } else {
                assert_eq!(reply.header.code, MessageClass::Response(ResponseType::Unauthorized));
            }
        }
        // Traffic, and SIGKILL at a random moment during it.
        let task = tokio::spawn(traffic(sock.clone(), addr, ctx.clone(), seen.clone(), mid));
        tokio::time::sleep(Duration::from_millis(random_below(150))).await;
        child.start_kill().unwrap(); // SIGKILL to the child's PID
        child.wait().await.unwrap();
        task.abort();
        let _ = task.await;
        mid = mid.wrapping_add(1000);
        // Drain replies that were on their way when the child died.
        let mut buf = vec![0u8; 4096];
        while let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_millis(20), sock.recv_from(&mut buf)).await
        {
            if let Ok(p) = oscore_core::message::parse_udp(&buf[..n])
                && let Some(piv) = piv_of(&p)
            {
                // A retransmitted notification repeats bytes and PIV; a new
                // message with a known PIV would be a reuse, but we cannot
                // tell them apart here, so only count distinct PIVs.
                seen.lock().unwrap().server_pivs.insert(piv);
            }
        }
    }
    let s = seen.lock().unwrap();
    assert_eq!(s.replays_served, 0, "the child served a replayed request");
    assert!(s.server_pivs.len() >= ROUNDS, "too little traffic: {} PIVs", s.server_pivs.len());
    assert!(!s.accepted.is_empty());
    eprintln!(
        "{} rounds, {} distinct child PIVs, {} accepted requests",
        ROUNDS,
        s.server_pivs.len(),
        s.accepted.len()
    );
    drop(s);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_client_never_reuses_a_nonce() {
    let dir = temp_dir("crash-client");
    let config = dir.join("client.toml");
    std::fs::write(&config, c1_toml(true, Some(&dir.join("state")))).unwrap();
    let (_, sp) = c1_params();
    let sock = Arc::new(UdpSocket::bind(LOCALHOST).await.unwrap());
    let addr = sock.local_addr().unwrap();
    // PIV → the request bytes (without the MID) first seen with it.
    let by_piv: Arc<Mutex<HashMap<u64, Vec<u8>>>> = Arc::default();
    let reuse: Arc<Mutex<Vec<u64>>> = Arc::default();
    let server = {
        let (sock, by_piv, reuse) = (sock.clone(), by_piv.clone(), reuse.clone());
        tokio::spawn(async move {
            let mut ctx = SecurityContext::derive(provider(), &sp).unwrap();
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, peer)) = sock.recv_from(&mut buf).await else { return };
                let Ok(req) = oscore_core::message::parse_udp(&buf[..n]) else { continue };
                let Some(piv) = piv_of(&req) else { continue };
                let mut body = req.clone();
                body.header.message_id = 0;
                let body = oscore_core::message::to_bytes(&body).unwrap();
                let first = by_piv.lock().unwrap().entry(piv).or_insert_with(|| body.clone()).clone();
                if first != body {
                    reuse.lock().unwrap().push(piv);
                }
                if let Ok((_, mut binding)) = ctx.verify_request(&req, 0) {
                    let mut resp = Packet::new();
                    resp.header.code = MessageClass::Response(ResponseType::Content);
                    resp.payload = b"ok".to_vec();
                    let mut p = ctx.protect_response(&resp, &mut binding, ResponsePiv::Auto, 0).unwrap();
                    p.header.set_type(MessageType::Acknowledgement);
                    p.header.message_id = req.header.message_id;
                    p.set_token(req.get_token().to_vec());
                    let _ = sock.send_to(&oscore_core::message::to_bytes(&p).unwrap(), peer).await;
                }
            }
        })
    };
    let uri = format!("coap://{addr}/hello");
    let mut completed = 0;
    for round in 0..ROUNDS {
        let seen_before = by_piv.lock().unwrap().len();
        let mut child = Command::new(BIN)
            .args(["client", "--context", config.to_str().unwrap(), "--timeout", "2", &uri])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        // Even rounds kill at a random moment after the start (often during
        // start-up or the first store write); odd rounds wait, bounded, until
        // this run's request reached the server, then kill at a random moment
        // (around the response and the next reservation). A loaded machine
        // then still produces traffic to check.
        let after_traffic = round % 2 == 1;
        let kill_at = async {
            if after_traffic {
                let start = std::time::Instant::now();
                while by_piv.lock().unwrap().len() == seen_before && start.elapsed() < Duration::from_secs(5)
                {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(random_below(50))).await;
        };
        tokio::select! {
            status = child.wait() => {
                if status.unwrap().success() { completed += 1; }
            }
            () = kill_at => {
                child.start_kill().unwrap(); // SIGKILL
                child.wait().await.unwrap();
            }
        }
    }
    server.abort();
    assert!(reuse.lock().unwrap().is_empty(), "Partial IVs reused: {:?}", reuse.lock().unwrap());
    let distinct = by_piv.lock().unwrap().len();
    assert!(distinct >= 5, "too little traffic: {distinct} requests");
    eprintln!(
        "{ROUNDS} rounds, {distinct} distinct request PIVs, {completed} runs completed before the kill"
    );
    let _ = std::fs::remove_dir_all(dir);
}
