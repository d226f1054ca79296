//! The JSON test vectors of `test-vectors/`, embedded at compile time and
//! parsed with serde. Byte strings are lowercase hex (see `SCHEMA.md`).

use serde::{Deserialize, Deserializer};

macro_rules! vector_file {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../test-vectors/", $name))
    };
}

fn parse<T: for<'de> Deserialize<'de>>(name: &str, text: &str) -> T {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("test-vectors/{name}: {e}"))
}

/// A hex string as bytes.
fn hex_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let s = String::deserialize(d)?;
    hex::decode(&s).map_err(serde::de::Error::custom)
}

/// A hex string or `null`.
fn opt_hex_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
    Option::<String>::deserialize(d)?.map(|s| hex::decode(&s).map_err(serde::de::Error::custom)).transpose()
}

// ---------------------------------------------------------------- algorithms.json

#[derive(Deserialize)]
pub struct Algorithms {
    pub aead: Vec<AeadAlgorithm>,
    pub hkdf: Vec<HkdfAlgorithm>,
    pub signature: Vec<SignatureAlgorithm>,
    pub key_agreement_curves: Vec<AgreementCurve>,
}

#[derive(Deserialize)]
pub struct AeadAlgorithm {
    pub name: String,
    pub cose_alg: i32,
    pub key_length: usize,
    pub nonce_length: usize,
    pub tag_length: usize,
}

#[derive(Deserialize)]
pub struct HkdfAlgorithm {
    pub cose_alg: i32,
    pub hash_length: usize,
}

#[derive(Deserialize)]
pub struct SignatureAlgorithm {
    pub cose_alg: i32,
    pub crv: i32,
    pub signature_length: usize,
}

#[derive(Deserialize)]
pub struct AgreementCurve {
    pub crv: i32,
    pub shared_secret_length: usize,
}

pub fn algorithms() -> Algorithms {
    parse("algorithms.json", vector_file!("algorithms.json"))
}

// ---------------------------------------------------------------- hkdf_rfc5869.json

#[derive(Deserialize)]
pub struct HkdfFile {
    pub cases: Vec<HkdfCase>,
}

#[derive(Deserialize)]
pub struct HkdfCase {
    pub test_case: u32,
    #[serde(deserialize_with = "hex_bytes")]
    pub ikm: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    pub salt: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    pub info: Vec<u8>,
    pub l: usize,
    #[serde(deserialize_with = "hex_bytes")]
    pub prk: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    pub okm: Vec<u8>,
}

pub fn hkdf_rfc5869() -> HkdfFile {
    parse("hkdf_rfc5869.json", vector_file!("hkdf_rfc5869.json"))
}

// ---------------------------------------------------------------- ed25519_x25519.json

#[derive(Deserialize)]
pub struct EdX {
    pub rfc8032_ed25519: Vec<Ed25519Case>,
    pub rfc7748_x25519: X25519Case,
}

#[derive(Deserialize)]
pub struct Ed25519Case {
    pub name: String,
    #[serde(deserialize_with = "hex_bytes")]
    pub secret_key: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    pub public_key: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    pub message: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    pub signature: Vec<u8>,
}

#[derive(Deserialize)]
pub struct X25519Case {
    #[serde(deserialize_with = "hex_bytes")]
    pub alice_private: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    pub alice_public: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    pub bob_private: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    pub bob_public: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    pub shared_secret: Vec<u8>,
}

pub fn ed25519_x25519() -> EdX {
    parse("ed25519_x25519.json", vector_file!("ed25519_x25519.json"))
}

// ---------------------------------------------------------------- rfc8613_appendix_c.json

#[derive(Deserialize)]
pub struct Rfc8613 {
    pub message_protection: Vec<MessageProtection>,
}

#[derive(Deserialize)]
pub struct MessageProtection {
    pub section: String,
    pub common_context: CommonContext,
    pub derived: Derived,
}

#[derive(Deserialize)]
pub struct CommonContext {
    pub alg_aead: i32,
}

#[derive(Deserialize)]
pub struct Derived {
    #[serde(deserialize_with = "hex_bytes")]
    pub encryption_key: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    pub nonce: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    pub aad: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    pub plaintext: Vec<u8>,
    /// Ciphertext ‖ tag.
    #[serde(deserialize_with = "hex_bytes")]
    pub ciphertext: Vec<u8>,
}

pub fn rfc8613_appendix_c() -> Rfc8613 {
    parse("rfc8613_appendix_c.json", vector_file!("rfc8613_appendix_c.json"))
}

// ---------------------------------------------------------------- groupcomm_interop.json

#[derive(Deserialize)]
pub struct Interop {
    pub groups: Vec<Group>,
    pub messages_09_format_verified: Vec<GroupMessage>,
    pub derived_08_messages: Vec<GroupMessage>,
}

impl Interop {
    /// The group called `name`.
    pub fn group(&self, name: &str) -> &Group {
        self.groups.iter().find(|g| g.name == name).unwrap_or_else(|| panic!("no group {name}"))
    }

    /// Every message, published (-09 format) and derived (-08).
    pub fn messages(&self) -> impl Iterator<Item = &GroupMessage> {
        self.messages_09_format_verified.iter().chain(&self.derived_08_messages)
    }
}

#[derive(Deserialize)]
pub struct Group {
    pub name: String,
    pub common: GroupCommon,
    pub members: Vec<Member>,
    pub shared_secrets: Vec<SharedSecret>,
}

impl Group {
    /// The member with Sender ID `id`.
    pub fn member(&self, id: &[u8]) -> &Member {
        self.members
            .iter()
            .find(|m| m.sender_id == id)
            .unwrap_or_else(|| panic!("{}: no member {}", self.name, hex::encode(id)))
    }
}

#[derive(Deserialize)]
pub struct GroupCommon {
    pub alg_countersign: i32,
}

#[derive(Deserialize)]
pub struct Member {
    #[serde(deserialize_with = "hex_bytes")]
    pub sender_id: Vec<u8>,
    pub key_type: String,
    #[serde(default, deserialize_with = "opt_hex_bytes")]
    pub p256_d: Option<Vec<u8>>,
    #[serde(default, deserialize_with = "opt_hex_bytes")]
    pub p256_x: Option<Vec<u8>>,
    #[serde(default, deserialize_with = "opt_hex_bytes")]
    pub p256_y: Option<Vec<u8>>,
    #[serde(default, deserialize_with = "opt_hex_bytes")]
    pub ed25519_seed: Option<Vec<u8>>,
    #[serde(default, deserialize_with = "opt_hex_bytes")]
    pub ed25519_public: Option<Vec<u8>>,
    #[serde(default, deserialize_with = "opt_hex_bytes")]
    pub x25519_private: Option<Vec<u8>>,
    #[serde(default, deserialize_with = "opt_hex_bytes")]
    pub x25519_public: Option<Vec<u8>>,
}

impl Member {
    /// The SEC1 uncompressed P-256 public key `04 ‖ x ‖ y`.
    pub fn p256_uncompressed(&self) -> Vec<u8> {
        let (x, y) = (self.p256_x.as_ref().unwrap(), self.p256_y.as_ref().unwrap());
        [&[0x04][..], x, y].concat()
    }

    /// The SEC1 compressed P-256 public key `02/03 ‖ x` (parity of y).
    pub fn p256_compressed(&self) -> Vec<u8> {
        let (x, y) = (self.p256_x.as_ref().unwrap(), self.p256_y.as_ref().unwrap());
        let prefix = 0x02 | (y.last().unwrap() & 1);
        [&[prefix][..], x].concat()
    }
}

#[derive(Deserialize)]
pub struct SharedSecret {
    #[serde(deserialize_with = "hex_bytes")]
    pub a: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    pub b: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    pub shared_secret: Vec<u8>,
}

#[derive(Deserialize)]
pub struct GroupMessage {
    pub name: String,
    pub group: String,
    #[serde(deserialize_with = "hex_bytes")]
    pub sender_id: Vec<u8>,
    /// `[alg_aead, alg_countersign, …]`.
    pub algorithms: Vec<serde_json::Value>,
    #[serde(deserialize_with = "hex_bytes")]
    pub aead_key: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    pub nonce: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    pub enc_structure: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    pub plaintext: Vec<u8>,
    /// Ciphertext ‖ tag.
    #[serde(deserialize_with = "hex_bytes")]
    pub ciphertext: Vec<u8>,
    #[serde(default, deserialize_with = "opt_hex_bytes")]
    pub to_be_signed: Option<Vec<u8>>,
    #[serde(default, deserialize_with = "opt_hex_bytes")]
    pub signature: Option<Vec<u8>>,
}

impl GroupMessage {
    fn algorithm(&self, index: usize) -> i32 {
        let value = self.algorithms[index].as_i64().unwrap();
        i32::try_from(value).unwrap()
    }

    /// The AEAD algorithm (first element of `algorithms`).
    pub fn alg_aead(&self) -> i32 {
        self.algorithm(0)
    }

    /// The countersignature algorithm (second element of `algorithms`).
    pub fn alg_countersign(&self) -> i32 {
        self.algorithm(1)
    }
}

pub fn groupcomm_interop() -> Interop {
    parse("groupcomm_interop.json", vector_file!("groupcomm_interop.json"))
}
