//! Rough figures on loopback: request latency with in-memory and redb state,
//! a 3000-byte Block2 transfer, and the cost of one durable redb save.
//!
//! `cargo run --release -p oscore-proxy --example measure`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use coap_lite::{CoapOption, MessageClass, Packet, RequestType};
use oscore_core::ContextParams;
use oscore_core::store::{PersistedState, Store};
use oscore_proxy::client::{ClientConfig, OscoreClient};
use oscore_proxy::coap::{Endpoint, TransmissionParams};
use oscore_proxy::config::{LoadedContext, derive_all, parse};
use oscore_proxy::demo::DemoApp;
use oscore_proxy::server::{OscoreServer, ServerConfig};
use oscore_proxy::store::{RedbStore, StateDb};
use oscore_proxy::transport::UdpTransport;

const SECRET: &str = "0102030405060708090a0b0c0d0e0f10";

fn get(path: &str) -> Packet {
    let mut p = Packet::new();
    p.header.code = MessageClass::Request(RequestType::Get);
    p.add_option(CoapOption::UriPath, path.as_bytes().to_vec());
    p
}

fn contexts(role_server: bool, state: Option<&std::path::Path>) -> Vec<LoadedContext> {
    let (s, r) = if role_server { ("01", "") } else { ("", "01") };
    let mut toml =
        format!("[context]\nmaster_secret=\"{SECRET}\"\nsender_id=\"{s}\"\nrecipient_id=\"{r}\"\n");
    if let Some(d) = state {
        toml.push_str(&format!("state_dir = {:?}\n", d.display().to_string()));
    }
    let mut loaded = derive_all(&parse(&toml, std::path::Path::new(".")).unwrap()).unwrap();
    for l in &mut loaded {
        l.replay_window_known = true;
    }
    loaded
}

async fn run(label: &str, server_state: Option<&std::path::Path>, n: u32) {
    let srv =
        OscoreServer::new(contexts(true, server_state), Arc::new(DemoApp::new()), ServerConfig::default())
            .unwrap();
    let udp = UdpTransport::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let ep = Endpoint::start(Arc::new(udp), TransmissionParams::default(), Some(srv.clone()));
    srv.attach(&ep);
    let addr = ep.local_addr().unwrap();
    let cudp = UdpTransport::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let cep = Endpoint::start(Arc::new(cudp), TransmissionParams::default(), None);
    let ctx = contexts(false, None).pop().unwrap();
    let client = OscoreClient::new(cep, addr, ctx, ClientConfig::default()).unwrap();
    for _ in 0..20 {
        client.request(get("hello")).await.unwrap();
    }
    let started = Instant::now();
    for _ in 0..n {
        client.request(get("hello")).await.unwrap();
    }
    let per = started.elapsed() / n;
    println!(
        "{label}: GET /hello {per:?} per request ({:.0} requests/s, sequential)",
        1.0 / per.as_secs_f64()
    );
    let started = Instant::now();
    for _ in 0..n / 10 {
        let r = client.request(get("large")).await.unwrap();
        assert_eq!(r.payload.len(), 3000);
    }
    println!("{label}: GET /large (3 blocks) {:?} per transfer", started.elapsed() / (n / 10));
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = std::env::temp_dir().join(format!("oscore-measure-{}", std::process::id()));
    run("in-memory server state", None, 2000).await;
    run("redb server state (fsync per accepted request)", Some(&dir.join("srv")), 500).await;

    let db = Arc::new(StateDb::open(&dir.join("raw")).unwrap());
    let mut store = RedbStore::new(db, &ContextParams::new(&[1; 16], b"", b"\x01"));
    let n = 300u32;
    let started = Instant::now();
    for i in 0..u64::from(n) {
        store.save(&PersistedState { ssn_bound: i, ..PersistedState::default() }).unwrap();
    }
    let per: Duration = started.elapsed() / n;
    println!("redb durable save: {per:?} each");
    let _ = std::fs::remove_dir_all(dir);
}
