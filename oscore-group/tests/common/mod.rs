//! Shared helpers: vector loading and in-memory groups built from the
//! interop key sets in `test-vectors/groupcomm_interop.json`.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crypto_backends::RUSTCRYPTO;
use oscore_core::crypto::AlgorithmId;
use oscore_core::store::{MemoryStore, PersistedState};
use oscore_group::{Group, GroupParams, StaticKeys};
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
    group["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| hex(&m["sender_id"]) == id)
        .unwrap()
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
    let store = MemoryStore::with_state(PersistedState {
        ssn_bound: ssn,
        ..Default::default()
    });
    Group::new(&RUSTCRYPTO, params, Box::new(resolver(group)), Box::new(store)).unwrap()
}
