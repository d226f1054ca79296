//! Helpers shared by the integration tests: RFC 8613 C.1 contexts loaded from
//! the vector file, fast transmission parameters, servers and clients on
//! 127.0.0.1, and a transport that loses or duplicates datagrams.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use coap_lite::{CoapOption, MessageClass, MessageType, Packet, RequestType};
use oscore_core::ContextParams;
use oscore_proxy::client::{ClientConfig, OscoreClient};
use oscore_proxy::coap::{Endpoint, TransmissionParams};
use oscore_proxy::config::LoadedContext;
use oscore_proxy::demo::DemoApp;
use oscore_proxy::server::{OscoreServer, ServerConfig};
use oscore_proxy::transport::{Transport, UdpTransport};

pub const LOCALHOST: &str = "127.0.0.1:0";

/// RFC8613_C1_CLIENT / RFC8613_C1_SERVER parameters from the vector file.
pub fn c1_params() -> (ContextParams, ContextParams) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../test-vectors/rfc8613_appendix_c.json");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let find = |section: &str| {
        let e = doc["key_derivation"].as_array().unwrap().iter().find(|e| e["section"] == section).unwrap();
        let i = &e["inputs"];
        let h = |k: &str| hex::decode(i[k].as_str().unwrap()).unwrap();
        let mut p = ContextParams::new(&h("master_secret"), &h("sender_id"), &h("recipient_id"))
            .with_master_salt(&h("master_salt"));
        if let Some(ctx) = i["id_context"].as_str() {
            p = p.with_id_context(Some(&hex::decode(ctx).unwrap()));
        }
        p
    };
    (find("C.1.1"), find("C.1.2"))
}

/// The C.1 material written as the TOML of DESIGN.md (hex from the vector file).
pub fn c1_toml(client: bool, state_dir: Option<&std::path::Path>) -> String {
    let (c, s) = c1_params();
    let p = if client { c } else { s };
    let mut t = format!(
        "[context]\nmaster_secret = \"{}\"\nmaster_salt = \"{}\"\nsender_id = \"{}\"\nrecipient_id = \"{}\"\n",
        hex::encode(&*p.master_secret),
        hex::encode(&p.master_salt),
        hex::encode(&p.sender_id),
        hex::encode(&p.recipient_id)
    );
    if let Some(d) = state_dir {
        t.push_str(&format!("state_dir = {:?}\n", d.display().to_string()));
    }
    t
}

pub fn provider() -> &'static oscore_core::crypto::CryptoProvider {
    &crypto_backends::RUSTCRYPTO
}

pub fn fast_params() -> TransmissionParams {
    TransmissionParams {
        ack_timeout: Duration::from_millis(150),
        separate_response_after: Duration::from_millis(300),
        ..TransmissionParams::default()
    }
}

pub fn loaded(params: &ContextParams, known: bool) -> LoadedContext {
    LoadedContext::in_memory(params.clone(), known)
}

pub struct TestServer {
    pub server: Arc<OscoreServer>,
    pub app: Arc<DemoApp>,
    pub endpoint: Endpoint,
    pub addr: SocketAddr,
}

pub async fn start_server_on(bind: &str, contexts: Vec<LoadedContext>, config: ServerConfig) -> TestServer {
    let app = Arc::new(DemoApp::new());
    let server = OscoreServer::new(contexts, app.clone(), config).unwrap();
    let udp = UdpTransport::bind(bind.parse().unwrap()).await.unwrap();
    let endpoint = Endpoint::start(Arc::new(udp), fast_params(), Some(server.clone()));
    server.attach(&endpoint);
    let addr = endpoint.local_addr().unwrap();
    TestServer { server, app, endpoint, addr }
}

pub async fn start_server(known: bool) -> TestServer {
    let (_, s) = c1_params();
    start_server_on(LOCALHOST, vec![loaded(&s, known)], ServerConfig::default()).await
}

pub async fn client_with(peer: SocketAddr, transport: Arc<dyn Transport>) -> OscoreClient {
    let (c, _) = c1_params();
    let endpoint = Endpoint::start(transport, fast_params(), None);
    OscoreClient::new(
        endpoint,
        peer,
        LoadedContext::in_memory(c, true),
        ClientConfig { timeout: Duration::from_secs(5), ..ClientConfig::default() },
    )
    .unwrap()
}

pub async fn client(peer: SocketAddr) -> OscoreClient {
    client_with(peer, Arc::new(UdpTransport::bind(LOCALHOST.parse().unwrap()).await.unwrap())).await
}

pub fn request(method: RequestType, path: &str) -> Packet {
    let mut p = Packet::new();
    p.header.code = MessageClass::Request(method);
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        p.add_option(CoapOption::UriPath, seg.as_bytes().to_vec());
    }
    p
}

/// A CON datagram for a protected request, with this MID and token.
pub fn con_bytes(mut protected: Packet, mid: u16, token: &[u8]) -> Vec<u8> {
    protected.header.set_type(MessageType::Confirmable);
    protected.header.message_id = mid;
    protected.set_token(token.to_vec());
    oscore_core::message::to_bytes(&protected).unwrap()
}

/// Wraps a UDP transport: drops the sends whose index (0-based) is in
/// `drop`, and sends twice those in `duplicate`.
pub struct Faulty {
    pub inner: UdpTransport,
    pub drop: Vec<usize>,
    pub duplicate: Vec<usize>,
    pub sent: AtomicUsize,
    pub log: Mutex<Vec<Vec<u8>>>,
}

impl Faulty {
    pub async fn new(drop: Vec<usize>, duplicate: Vec<usize>) -> Self {
        Self {
            inner: UdpTransport::bind(LOCALHOST.parse().unwrap()).await.unwrap(),
            drop,
            duplicate,
            sent: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
        }
    }
}

#[async_trait]
impl Transport for Faulty {
    async fn send_to(&self, datagram: &[u8], peer: SocketAddr) -> std::io::Result<()> {
        let n = self.sent.fetch_add(1, Ordering::SeqCst);
        self.log.lock().unwrap().push(datagram.to_vec());
        if self.drop.contains(&n) {
            return Ok(());
        }
        self.inner.send_to(datagram, peer).await?;
        if self.duplicate.contains(&n) {
            self.inner.send_to(datagram, peer).await?;
        }
        Ok(())
    }

    async fn recv_from(&self, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
        self.inner.recv_from(buf).await
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    let d = std::env::temp_dir().join(format!("oscore-proxy-test-{name}-{}", hex::encode(b)));
    std::fs::create_dir_all(&d).unwrap();
    d
}
