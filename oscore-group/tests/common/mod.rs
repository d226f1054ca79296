//! Shared helpers: vector loading and in-memory groups built from the
//! interop key sets in `test-vectors/groupcomm_interop.json`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use coap_lite::{CoapOption, MessageClass, Packet, RequestType, ResponseType};
use crypto_backends::RUSTCRYPTO;
use oscore_core::crypto::AlgorithmId;
use oscore_core::store::{MemoryStore, PersistedState};
use oscore_group::{
    Group, GroupParams, ReplaySync, RequestOutcome, ServerBinding, StaticKeys, gid_from_prefix_epoch,
};
use serde_json::Value;

pub fn load(name: &str) -> Value {
    let path = format!("{}/../test-vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

pub fn hex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).unwrap()
}

pub fn interop_group(name: &str) -> Value {
    load("groupcomm_interop.json")["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name)
        .unwrap_or_else(|| panic!("no group {name}"))
        .clone()
}

/// (private key if published, public key) of a member, in the encodings the
/// provider takes. Some key sets publish only the public key of a member.
pub fn member_keys(member: &Value) -> (Option<Vec<u8>>, Vec<u8>) {
    let opt = |v: &Value| v.as_str().map(|s| hex::decode(s).unwrap());
    if member["key_type"] == "P-256" {
        let mut public = vec![0x04];
        public.extend(hex(&member["p256_x"]));
        public.extend(hex(&member["p256_y"]));
        (opt(&member["p256_d"]), public)
    } else {
        (opt(&member["ed25519_seed"]), hex(&member["ed25519_public"]))
    }
}

pub fn member<'a>(group: &'a Value, id: &[u8]) -> &'a Value {
    group["members"].as_array().unwrap().iter().find(|m| hex(&m["sender_id"]) == id).unwrap()
}

pub fn sign_alg(group: &Value) -> AlgorithmId {
    AlgorithmId(i32::try_from(group["common"]["alg_countersign"].as_i64().unwrap()).unwrap())
}

pub fn resolver(group: &Value) -> StaticKeys {
    let mut keys = StaticKeys::new();
    for m in group["members"].as_array().unwrap() {
        keys.insert(&hex(&m["sender_id"]), &member_keys(m).1);
    }
    keys
}

pub fn params(group: &Value, sender: Option<&[u8]>) -> GroupParams {
    let c = &group["common"];
    let mut p = GroupParams::new(&hex(&c["master_secret"]), &hex(&c["id_context"]), sign_alg(group))
        .with_master_salt(&hex(&c["master_salt"]));
    if let Some(id) = sender {
        p = p.with_sender(id, &member_keys(member(group, id)).0.unwrap());
    }
    p
}

/// A member of the interop group `name`, resuming at sender sequence number `ssn`.
pub fn build(group: &Value, params: GroupParams, ssn: u64) -> Group {
    let store = MemoryStore::with_state(PersistedState { ssn_bound: ssn, ..Default::default() });
    Group::new(&RUSTCRYPTO, params, Box::new(resolver(group)), Box::new(store)).unwrap()
}

// In-memory groups with fresh keys: one client and three servers.

pub const ALGS: [AlgorithmId; 2] = [AlgorithmId::EDDSA, AlgorithmId::ES256];
pub const CLIENT: &[u8] = b"\xc0";
pub const SERVERS: [&[u8]; 3] = [b"\x01", b"\x02", b"\x03"];
pub const SECRET: &[u8] = b"group master secret";

/// A fresh key pair from the system RNG: an Ed25519 seed or a P-256 scalar.
pub fn keypair(alg: AlgorithmId) -> (Vec<u8>, Vec<u8>) {
    let sig = RUSTCRYPTO.signature(alg).unwrap();
    loop {
        let mut private = vec![0u8; 32];
        RUSTCRYPTO.random.fill(&mut private).unwrap();
        if let Ok(key) = sig.signing_key(&private) {
            return (private, key.public_key());
        }
    }
}

/// (Sender ID, (private key, public key)).
pub type MemberKeys = (Vec<u8>, (Vec<u8>, Vec<u8>));

pub struct Net {
    pub alg: AlgorithmId,
    pub keys: Vec<MemberKeys>,
    pub resolver: StaticKeys,
}

impl Net {
    pub fn new(alg: AlgorithmId) -> Self {
        let mut keys = Vec::new();
        let mut resolver = StaticKeys::new();
        for id in std::iter::once(CLIENT).chain(SERVERS) {
            let kp = keypair(alg);
            resolver.insert(id, &kp.1);
            keys.push((id.to_vec(), kp));
        }
        Self { alg, keys, resolver }
    }

    pub fn params(&self, id: &[u8], tweak: &dyn Fn(&mut GroupParams)) -> GroupParams {
        let private = &self.keys.iter().find(|(k, _)| k == id).unwrap().1.0;
        let mut p = GroupParams::new(SECRET, &gid_from_prefix_epoch(b"\xb1", 0, 2), self.alg)
            .with_sender(id, private);
        p.sync = ReplaySync::Baseline { deliver_first: true };
        tweak(&mut p);
        p
    }

    pub fn member(&self, id: &[u8], tweak: &dyn Fn(&mut GroupParams)) -> Group {
        Group::new(&RUSTCRYPTO, self.params(id, tweak), Box::new(self.resolver.clone()), MemoryStore::boxed())
            .unwrap()
    }

    pub fn all(&self, tweak: &dyn Fn(&mut GroupParams)) -> (Group, Vec<Group>) {
        (self.member(CLIENT, tweak), SERVERS.iter().map(|s| self.member(s, tweak)).collect())
    }
}

pub fn get(path: &str) -> Packet {
    let mut p = Packet::new();
    p.header.code = MessageClass::Request(RequestType::Get);
    p.set_token(vec![7, 7]);
    p.add_option(CoapOption::UriPath, path.as_bytes().to_vec());
    p
}

pub fn content(payload: &[u8]) -> Packet {
    let mut p = Packet::new();
    p.header.code = MessageClass::Response(ResponseType::Content);
    p.payload = payload.to_vec();
    p
}

pub fn deliver(outcome: RequestOutcome) -> (Packet, ServerBinding) {
    match outcome {
        RequestOutcome::Deliver { request, binding } => (request, binding),
        other => panic!("expected delivery, got {other:?}"),
    }
}
