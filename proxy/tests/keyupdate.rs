//! Key update in the endpoints and the binary (issue 6, "In the binary"):
//! a tiny `limit_q` makes client and server update their keys on their own
//! while traffic goes on, with in-memory and with redb state; `--key-update`
//! updates the keys of the binary client on request.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use coap_lite::RequestType;
use common::*;
use oscore_proxy::client::{ClientConfig, OscoreClient};
use oscore_proxy::coap::Endpoint;
use oscore_proxy::config;
use oscore_proxy::server::ServerConfig;
use oscore_proxy::transport::UdpTransport;

const BIN: &str = env!("CARGO_BIN_EXE_oscore-proxy");

/// The C.1 context with `extra` TOML lines, loaded as the binary would.
fn loaded(client: bool, state: Option<&Path>, extra: &str) -> config::LoadedContext {
    let text = format!("{}{extra}", c1_toml(client, state));
    config::derive_all(&config::parse(&text, Path::new(".")).unwrap()).unwrap().remove(0)
}

async fn fifty_requests_with_tiny_limit_q(state: Option<&Path>) {
    let tiny = "limit_q = 8\n";
    let sstate = state.map(|d| d.join("server"));
    let cstate = state.map(|d| d.join("client"));
    let srv =
        start_server_on(LOCALHOST, vec![loaded(false, sstate.as_deref(), tiny)], ServerConfig::default())
            .await;
    let udp = UdpTransport::bind(LOCALHOST.parse().unwrap()).await.unwrap();
    let endpoint = Endpoint::start(Arc::new(udp), fast_params(), None);
    let config = ClientConfig { timeout: Duration::from_secs(5), ..ClientConfig::default() };
    let client =
        OscoreClient::new(endpoint, srv.addr, loaded(true, cstate.as_deref(), tiny), config).unwrap();
    for i in 0..50 {
        let mut post = request(RequestType::Post, "echo");
        post.payload = format!("request {i}").into_bytes();
        let r = tokio::time::timeout(Duration::from_secs(10), client.request(post))
            .await
            .unwrap_or_else(|_| panic!("request {i} timed out"))
            .unwrap_or_else(|e| panic!("request {i} failed: {e}"));
        assert_eq!(r.payload, format!("request {i}").into_bytes());
        // No context ever goes past its limit.
        let ep = client.context();
        assert!(ep.current().sender().count_q() <= 8);
    }
    let client_updates = client.key_updates();
    let server_updates = srv.server.stats().key_updates.load(Ordering::Relaxed);
    // 50 requests with 8 per key: several updates on both sides.
    assert!(client_updates >= 5, "client updated {client_updates} times");
    assert!(server_updates >= 5, "server updated {server_updates} times");
    // Both ended on the same context, which is not the configured one.
    let salt = client.context().current().common().master_salt().to_vec();
    assert_eq!(srv.server.current_salts(), vec![salt.clone()]);
    assert_ne!(salt, c1_params().0.master_salt);
    assert_eq!(srv.server.stats().refused.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn tiny_limit_q_in_memory() {
    fifty_requests_with_tiny_limit_q(None).await;
}

#[tokio::test]
async fn tiny_limit_q_with_redb_state() {
    let dir = temp_dir("ku-redb");
    fifty_requests_with_tiny_limit_q(Some(&dir)).await;
    // The updated contexts were saved: a restarted client resumes the
    // current one (not the configured context) above every used number.
    let c = loaded(true, Some(&dir.join("client")), "limit_q = 8\n").open_client().unwrap();
    assert_ne!(c.current().common().master_salt(), c1_params().0.master_salt);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn config_keys_are_checked() {
    let base = c1_toml(true, None);
    let parse = |extra: &str| config::parse(&format!("{base}{extra}"), Path::new("."));
    let ok = parse("limit_q = 8\nlimit_v = 4\nexp = 2000000000\nlifetime = 3600\nkey_update_fraction = 0.5\nkey_update_retention = 10\n").unwrap();
    let ku = ok[0].key_update;
    assert_eq!(ku.config.limits.map(|l| (l.q, l.v)), Some((8, 5)));
    assert_eq!(ku.config.lifetime, Some(3600));
    assert_eq!(ku.config.retention, 10);
    assert_eq!(ku.auto.exp_margin, 1800);
    assert_eq!(ok[0].params.limits.exp, Some(2_000_000_000));
    // CCM_8 allows at most v = 2^10 (key-limits-01 §2.1.1).
    assert!(parse("limit_v = 4096\n").is_err());
    assert!(parse("key_update_fraction = 0\n").is_err());
    assert!(parse("key_update_fraction = 1.5\n").is_err());
    assert!(parse("lifetime = 0\n").is_err());
}

/// The child processes of one test; killed (by PID, through `Child`) on drop.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_server(config: &Path, log: &Path) -> (Server, String) {
    let mut child = Command::new(BIN)
        .args(["server", "--context", config.to_str().unwrap(), "--bind", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(20)).expect("server did not start");
    let addr = line.trim().strip_prefix("listening on ").expect("listening line").to_owned();
    (server, addr)
}

/// One run of the binary client; (success, stderr).
fn run_client(config: &Path, addr: &str, extra: &[&str]) -> (bool, String) {
    let out = Command::new(BIN)
        .args(["client", "--context", config.to_str().unwrap(), "--timeout", "5"])
        .args(extra)
        .arg(format!("coap://{addr}/hello"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success() || stdout.contains("Hello World!"), "{stdout} {stderr}");
    (out.status.success(), stderr)
}

#[test]
fn binary_key_update_flag() {
    let dir = temp_dir("ku-bin");
    let (sconf, cconf) = (dir.join("server.toml"), dir.join("client.toml"));
    std::fs::write(&sconf, c1_toml(false, Some(&dir.join("server-state")))).unwrap();
    std::fs::write(&cconf, c1_toml(true, Some(&dir.join("client-state")))).unwrap();
    let (server, addr) = spawn_server(&sconf, &dir.join("server.log"));
    let (ok, err) = run_client(&cconf, &addr, &[]);
    assert!(ok, "{err}");
    assert!(!err.contains("key update completed"), "{err}");
    let (ok, err) = run_client(&cconf, &addr, &["--key-update"]);
    assert!(ok, "{err}");
    assert!(err.contains("key update completed"), "{err}");
    // The next runs talk under the new context (the server switches on the first).
    for _ in 0..3 {
        let (ok, err) = run_client(&cconf, &addr, &[]);
        assert!(ok, "{err}");
    }
    let (ok, err) = run_client(&cconf, &addr, &["--key-update"]);
    assert!(ok && err.contains("key update completed"), "{err}");
    drop(server);
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap();
    assert!(log.matches("key update completed").count() >= 1, "{log}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn binary_tiny_limit_q_updates_on_its_own() {
    let dir = temp_dir("ku-bin-tiny");
    let (sconf, cconf) = (dir.join("server.toml"), dir.join("client.toml"));
    let tiny = "limit_q = 8\n";
    std::fs::write(&sconf, c1_toml(false, Some(&dir.join("server-state"))) + tiny).unwrap();
    std::fs::write(&cconf, c1_toml(true, Some(&dir.join("client-state"))) + tiny).unwrap();
    let (server, addr) = spawn_server(&sconf, &dir.join("server.log"));
    let mut client_updates = 0;
    for i in 0..20 {
        let (ok, err) = run_client(&cconf, &addr, &[]);
        assert!(ok, "run {i}: {err}");
        client_updates += err.matches("key update completed").count();
    }
    drop(server);
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap();
    let server_updates = log.matches("key update completed").count();
    assert!(
        client_updates >= 1 && server_updates >= 1,
        "client {client_updates}, server {server_updates}\n{log}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
