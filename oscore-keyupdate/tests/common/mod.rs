//! Shared test helpers: vector loading, messages, a durable in-memory
//! persistence that survives simulated reboots, and a two-endpoint harness
//! with a virtual clock.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use coap_lite::{CoapOption, MessageClass, Packet, RequestType, ResponseType};
use oscore_core::protect::decode_oscore_option;
use oscore_core::store::{PersistedState, Store, StoreError};
use oscore_core::{ContextParams, ResponsePiv};
use oscore_keyupdate::persistence::{Persistence, SessionState, StoreFactory};
use oscore_keyupdate::{ClientEndpoint, Config, KeyUpdater, ServerEndpoint};
use serde_json::Value;

pub const PROVIDER: &oscore_core::crypto::CryptoProvider = &crypto_backends::RUSTCRYPTO;

/// A vector file of `test-vectors/` (never retyped by hand).
pub fn load(name: &str) -> Value {
    let path = format!("{}/../test-vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

pub fn hex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("valid hex")
}

pub fn opt_hex(v: &Value) -> Option<Vec<u8>> {
    if v.is_null() { None } else { Some(hex(v)) }
}

/// The inputs of an RFC 8613 Appendix C derivation ("C.1.1", ...).
pub fn rfc8613_params(section: &str) -> ContextParams {
    let vectors = load("rfc8613_appendix_c.json");
    let e = vectors["key_derivation"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["section"] == section)
        .unwrap_or_else(|| panic!("no derivation {section}"))
        .clone();
    let i = &e["inputs"];
    ContextParams::new(&hex(&i["master_secret"]), &hex(&i["sender_id"]), &hex(&i["recipient_id"]))
        .with_master_salt(&hex(&i["master_salt"]))
        .with_id_context(opt_hex(&i["id_context"]).as_deref())
        .with_aead(oscore_core::crypto::AlgorithmId(i32::try_from(i["alg_aead"].as_i64().unwrap()).unwrap()))
}

pub fn get(path: &str) -> Packet {
    let mut p = Packet::new();
    p.header.code = MessageClass::Request(RequestType::Get);
    p.set_token(vec![1, 2]);
    p.add_option(CoapOption::UriPath, path.as_bytes().to_vec());
    p
}

pub fn content(payload: &str) -> Packet {
    let mut p = Packet::new();
    p.header.code = MessageClass::Response(ResponseType::Content);
    p.payload = payload.as_bytes().to_vec();
    p
}

pub fn id_detail(p: &Packet) -> Option<Vec<u8>> {
    decode_oscore_option(p).unwrap().id_detail
}

pub fn uri_path(p: &Packet) -> String {
    String::from_utf8(p.get_first_option(CoapOption::UriPath).cloned().unwrap_or_default()).unwrap()
}

/// Replaces the 'id detail' of an OSCORE message (to forge a wrong R1).
pub fn with_id_detail(p: &Packet, detail: Vec<u8>) -> Packet {
    let mut option = decode_oscore_option(p).unwrap();
    option.id_detail = Some(detail);
    let mut out = p.clone();
    out.clear_option(CoapOption::Oscore);
    out.add_option(CoapOption::Oscore, option.encode().unwrap());
    out
}

/// Durable in-memory persistence: survives dropping the endpoint (a reboot),
/// records every saved state.
#[derive(Clone, Default)]
pub struct Durable {
    inner: Arc<Mutex<DurableInner>>,
}

#[derive(Default)]
struct DurableInner {
    stores: HashMap<Vec<u8>, PersistedState>,
    session: Option<SessionState>,
    session_saves: u64,
}

impl Durable {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn boxed(&self) -> Box<dyn Persistence> {
        Box::new(self.clone())
    }
    pub fn session(&self) -> Option<SessionState> {
        self.inner.lock().unwrap().session.clone()
    }
    pub fn store_state(&self, salt: &[u8]) -> Option<PersistedState> {
        self.inner.lock().unwrap().stores.get(salt).copied()
    }
    pub fn session_saves(&self) -> u64 {
        self.inner.lock().unwrap().session_saves
    }
}

struct DurableStore {
    salt: Vec<u8>,
    inner: Arc<Mutex<DurableInner>>,
}

impl Store for DurableStore {
    fn load(&mut self) -> Result<Option<PersistedState>, StoreError> {
        Ok(self.inner.lock().unwrap().stores.get(&self.salt).copied())
    }
    fn save(&mut self, state: &PersistedState) -> Result<(), StoreError> {
        self.inner.lock().unwrap().stores.insert(self.salt.clone(), *state);
        Ok(())
    }
}

impl StoreFactory for Durable {
    fn context_store(&mut self, master_salt: &[u8]) -> Result<Box<dyn Store>, StoreError> {
        Ok(Box::new(DurableStore { salt: master_salt.to_vec(), inner: self.inner.clone() }))
    }
}

impl Persistence for Durable {
    fn load_session(&mut self) -> Result<Option<SessionState>, StoreError> {
        Ok(self.inner.lock().unwrap().session.clone())
    }
    fn save_session(&mut self, session: &SessionState) -> Result<(), StoreError> {
        let mut inner = self.inner.lock().unwrap();
        inner.session = Some(session.clone());
        inner.session_saves += 1;
        Ok(())
    }
}

pub const SECRET: [u8; 16] = [0x11; 16];

pub fn client_params() -> ContextParams {
    ContextParams::new(&SECRET, b"", b"\x01").with_id_context(Some(b"\x37\xcb"))
}

pub fn server_params() -> ContextParams {
    ContextParams::new(&SECRET, b"\x01", b"").with_id_context(Some(b"\x37\xcb"))
}

/// Two endpoints, their durable state and a virtual clock.
pub struct Pair {
    pub client: ClientEndpoint,
    pub server: ServerEndpoint,
    pub client_disk: Durable,
    pub server_disk: Durable,
    pub config: Config,
    pub server_config: Config,
    pub now: u64,
}

impl Pair {
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    pub fn with_config(config: Config) -> Self {
        Self::with_configs(config, config)
    }

    /// Different policies for the client and the server.
    pub fn with_configs(client_config: Config, server_config: Config) -> Self {
        let client_disk = Durable::new();
        let server_disk = Durable::new();
        let client =
            ClientEndpoint::open(updater(client_config), client_disk.boxed(), client_params()).unwrap();
        let server =
            ServerEndpoint::open(updater(server_config), server_disk.boxed(), server_params()).unwrap();
        Self {
            client,
            server,
            client_disk,
            server_disk,
            config: client_config,
            server_config,
            now: 1_700_000_000,
        }
    }

    pub fn reboot_client(&mut self) {
        self.client =
            ClientEndpoint::open(updater(self.config), self.client_disk.boxed(), client_params()).unwrap();
    }

    pub fn reboot_server(&mut self) {
        self.server =
            ServerEndpoint::open(updater(self.server_config), self.server_disk.boxed(), server_params())
                .unwrap();
    }

    /// One full request/response; panics if any step fails.
    pub fn round_trip(&mut self, path: &str) {
        let (req, mut sent) = self.client.protect_request(&get(path), self.now).unwrap();
        let (inner, mut received) = self.server.verify_request(&req, self.now).unwrap();
        assert_eq!(uri_path(&inner), path);
        let resp =
            self.server.protect_response(&content(path), &mut received, ResponsePiv::Auto, self.now).unwrap();
        let inner = self.client.verify_response(&resp, &mut sent, self.now).unwrap();
        assert_eq!(inner.payload, path.as_bytes());
    }

    /// Both sides use the same current context (same Master Salt and Secret).
    pub fn agree(&self) -> bool {
        let (c, s) = (self.client.current().common(), self.server.current().common());
        c.master_salt() == s.master_salt() && c.master_secret() == s.master_secret()
    }

    pub fn drain_events(&mut self) -> (Vec<oscore_keyupdate::Event>, Vec<oscore_keyupdate::Event>) {
        let mut c = Vec::new();
        while let Some(e) = self.client.poll_event() {
            c.push(e);
        }
        let mut s = Vec::new();
        while let Some(e) = self.server.poll_event() {
            s.push(e);
        }
        (c, s)
    }
}

pub fn updater(config: Config) -> KeyUpdater {
    KeyUpdater::new(&crypto_backends::RUSTCRYPTO).with_config(config).unwrap()
}
