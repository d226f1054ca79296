//! Contexts, messages and raw-primitive baselines for the benchmarks.
//!
//! Everything is deterministic: fixed keys, the RFC 8613 Appendix C.1
//! context, fixed messages, so instruction counts repeat exactly.

// A fixture that cannot be built (a vector file that does not parse, an
// algorithm the provider lacks, an operation that fails on valid input) means
// a broken build, not a run-time condition: stop with a message, as a test
// would.
#![allow(clippy::expect_used, clippy::panic)]

use coap_lite::{CoapOption, MessageClass, MessageType, Packet, RequestType, ResponseType};
use crypto_backends::RUSTCRYPTO;
use oscore_core::context::{KdfInfo, KdfType};
use oscore_core::cose::{ExternalAad, encode_aad};
use oscore_core::crypto::{
    Aead, AeadKey, AlgorithmId, CryptoError, CryptoProvider, CurveId, Hkdf, KeyAgreement, SigningKey,
    VerifyingKey,
};
use oscore_core::message::to_bytes;
use oscore_core::option::{MAX_PARTIAL_IV_LEN, OscoreOptionView, encode_partial_iv};
use oscore_core::protect::{prepare_request, prepare_response};
use oscore_core::store::{MemoryStore, PersistedState};
use oscore_core::{ContextParams, RequestBinding, ResponsePiv, SecurityContext};
use oscore_group::cose::{encode_algorithms, to_be_signed};
use oscore_group::pairwise::Agreement;
use oscore_group::{
    CountersignParams, Group, GroupParams, ReplaySync, RequestMode, RequestOutcome, SignatureChecker,
    StaticKeys, gid_from_prefix_epoch,
};
use oscore_keyupdate::exchange::{Client, Initiator, ReceivedR1, Server};
use oscore_keyupdate::update::hkdf_label;
use oscore_keyupdate::{
    EphemeralPersistence, Error as KeyUpdateError, HkdfKeyUpdate, KEY_UPDATE_LABEL, KeyUpdater, update_ctx,
};
use serde_json::Value;
use std::sync::OnceLock;

/// The time passed as `now` (no context here has an expiry).
pub const NOW: u64 = 0;

/// The five AEADs, with the names used in benchmark ids.
pub const AEADS: [(AlgorithmId, &str); 5] = [
    (AlgorithmId::AES_CCM_16_64_128, "AES-CCM-16-64-128"),
    (AlgorithmId::AES_CCM_16_128_128, "AES-CCM-16-128-128"),
    (AlgorithmId::A128GCM, "A128GCM"),
    (AlgorithmId::A256GCM, "A256GCM"),
    (AlgorithmId::CHACHA20_POLY1305, "ChaCha20-Poly1305"),
];

/// The two countersignature algorithms of Group OSCORE, with their names.
pub const SIGNATURES: [(AlgorithmId, &str); 2] =
    [(AlgorithmId::EDDSA, "Ed25519"), (AlgorithmId::ES256, "ES256")];

/// Payload sizes of the message benchmarks (bytes of CoAP payload).
pub const PAYLOAD_SIZES: [usize; 4] = [0, 64, 256, 1024];

/// Payload sizes in quick mode: the two sizes the targets name.
pub const QUICK_PAYLOAD_SIZES: [usize; 2] = [64, 1024];

/// Payload size of the group (signature mode) benchmarks.
pub const GROUP_PAYLOAD: usize = 64;

/// Quick mode (`cargo xtask bench --quick` sets `OSCORE_BENCH_QUICK=1`):
/// fewer payload sizes.
pub fn quick() -> bool {
    std::env::var_os("OSCORE_BENCH_QUICK").is_some_and(|v| v == "1")
}

/// The payload sizes of this run.
pub fn payload_sizes() -> &'static [usize] {
    if quick() { &QUICK_PAYLOAD_SIZES } else { &PAYLOAD_SIZES }
}

/// A crypto provider under test. Its benchmarks carry `suffix` on their
/// group names (`msg_A128GCM_ring`); RustCrypto, the default provider, has
/// none. Every measurement is compared with a baseline of the same provider.
#[derive(Clone, Copy)]
pub struct Provider {
    /// The name (`crypto_backends::provider_by_name`).
    pub name: &'static str,
    /// The group-name suffix.
    pub suffix: &'static str,
    /// The provider.
    pub provider: &'static CryptoProvider,
}

impl PartialEq for Provider {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Provider {}

impl core::fmt::Debug for Provider {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name)
    }
}

impl Provider {
    /// The provider offers AEAD `alg`.
    pub fn offers_aead(&self, alg: AlgorithmId) -> bool {
        self.provider.aead(alg).is_some()
    }

    /// The AEAD of the group, pairwise and key-update fixtures:
    /// AES-CCM-16-64-128 (the OSCORE default), or the first of [`AEADS`] the
    /// provider offers (A128GCM for `ring`, which has no AES-CCM).
    pub fn default_aead(&self) -> AlgorithmId {
        AEADS.iter().map(|(a, _)| *a).find(|a| self.offers_aead(*a)).unwrap_or(AlgorithmId::AES_CCM_16_64_128)
    }
}

/// RustCrypto (`crypto_backends::RUSTCRYPTO`), the default provider.
pub const RUSTCRYPTO_PROVIDER: Provider = Provider { name: "rustcrypto", suffix: "", provider: &RUSTCRYPTO };

/// `ring` (`crypto_backends::RING`): AES-GCM, ChaCha20/Poly1305, HKDF,
/// Ed25519, ES256; no AES-CCM; key agreement from RustCrypto.
#[cfg(feature = "ring")]
pub const RING_PROVIDER: Provider =
    Provider { name: "ring", suffix: "_ring", provider: &crypto_backends::RING };

/// The providers of this build (`ring` with the `ring` feature, which
/// `cargo xtask bench` turns on).
pub fn providers() -> &'static [Provider] {
    #[cfg(feature = "ring")]
    {
        &[RUSTCRYPTO_PROVIDER, RING_PROVIDER]
    }
    #[cfg(not(feature = "ring"))]
    {
        &[RUSTCRYPTO_PROVIDER]
    }
}

/// The first sender sequence number of every sending context: 2^16, so every
/// Partial IV the benchmarks produce is 3 bytes long (up to 2^24 messages
/// per context), like [`BASELINE_PIV`] in the AAD of the raw baselines.
pub const FIRST_SSN: u64 = 1 << 16;

/// The request Partial IV used in the AAD of the raw baselines (3 bytes, as
/// every Partial IV the measured contexts produce).
pub const BASELINE_PIV: [u8; 3] = [0x01, 0x00, 0x00];

/// The Appendix C vectors, shipped with the repository.
const VECTORS: &str = include_str!("../../test-vectors/rfc8613_appendix_c.json");

/// The RFC 8613 C.1 parameters (`"C.1.1"` client, `"C.1.2"` server) with the
/// AEAD replaced by `aead` (the Master Secret and Salt are the same; key and
/// IV lengths follow the AEAD).
pub fn c1_params(section: &str, aead: AlgorithmId) -> ContextParams {
    static PARSED: OnceLock<Value> = OnceLock::new();
    let vectors =
        PARSED.get_or_init(|| serde_json::from_str(VECTORS).expect("rfc8613_appendix_c.json parses"));
    let entry = vectors
        .get("key_derivation")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find(|e| e.get("section").and_then(Value::as_str) == Some(section)))
        .unwrap_or_else(|| panic!("section {section} missing from rfc8613_appendix_c.json"));
    let field = |name: &str| -> Vec<u8> {
        let text = entry.get("inputs").and_then(|i| i.get(name)).and_then(Value::as_str).unwrap_or_default();
        hex::decode(text).expect("hex in the vector file")
    };
    ContextParams::new(&field("master_secret"), &field("sender_id"), &field("recipient_id"))
        .with_master_salt(&field("master_salt"))
        .with_aead(aead)
}

/// A store that resumes at [`FIRST_SSN`].
fn store_at_first_ssn() -> Box<MemoryStore> {
    Box::new(MemoryStore::with_state(PersistedState { ssn_bound: FIRST_SSN, ..Default::default() }))
}

/// Client (C.1.1) and server (C.1.2) contexts for `aead`, after one warm-up
/// request/response exchange.
pub fn pair(provider: Provider, aead: AlgorithmId) -> (SecurityContext, SecurityContext) {
    let derive = |section| {
        SecurityContext::derive_with_store(provider.provider, &c1_params(section, aead), store_at_first_ssn())
            .expect("C.1 context derives")
    };
    let (mut client, mut server) = (derive("C.1.1"), derive("C.1.2"));
    let (protected, mut client_binding) =
        client.protect_request(&request(64), NOW).expect("warm-up request protects");
    let (_, mut server_binding) = server.verify_request(&protected, NOW).expect("warm-up request verifies");
    let protected = server
        .protect_response(&response(64), &mut server_binding, ResponsePiv::Auto, NOW)
        .expect("warm-up response protects");
    client.verify_response(&protected, &mut client_binding, NOW).expect("warm-up response verifies");
    (client, server)
}

/// The Sender ID of the C.1 client (the `request_kid` of every exchange).
pub fn client_kid() -> &'static [u8] {
    static KID: OnceLock<Vec<u8>> = OnceLock::new();
    KID.get_or_init(|| c1_params("C.1.1", AlgorithmId::AES_CCM_16_64_128).sender_id)
}

/// The payload byte of every benchmark message.
const PAYLOAD_BYTE: u8 = 0xa5;

/// The request of RFC 8613 C.4 (CON, MID 0x5d1f, token 00003974,
/// Uri-Host "localhost", Uri-Path "tv1"; GET) with `payload_len` payload
/// bytes; with a payload the code is POST. `request(0)` is exactly C.4.
pub fn request(payload_len: usize) -> Packet {
    let mut p = Packet::new();
    p.header.set_type(MessageType::Confirmable);
    p.header.code =
        MessageClass::Request(if payload_len == 0 { RequestType::Get } else { RequestType::Post });
    p.header.message_id = 0x5d1f;
    p.set_token(vec![0x00, 0x00, 0x39, 0x74]);
    p.add_option(CoapOption::UriHost, b"localhost".to_vec());
    p.add_option(CoapOption::UriPath, b"tv1".to_vec());
    p.payload = vec![PAYLOAD_BYTE; payload_len];
    p
}

/// A 2.05 (Content) response (ACK, MID 0x5d1f, token 00003974) with
/// `payload_len` payload bytes.
pub fn response(payload_len: usize) -> Packet {
    let mut p = Packet::new();
    p.header.set_type(MessageType::Acknowledgement);
    p.header.code = MessageClass::Response(ResponseType::Content);
    p.header.message_id = 0x5d1f;
    p.set_token(vec![0x00, 0x00, 0x39, 0x74]);
    p.payload = vec![PAYLOAD_BYTE; payload_len];
    p
}

/// [`request`] as CoAP-over-UDP bytes.
pub fn request_bytes(payload_len: usize) -> Vec<u8> {
    to_bytes(&request(payload_len)).expect("request serialises")
}

/// [`response`] as CoAP-over-UDP bytes.
pub fn response_bytes(payload_len: usize) -> Vec<u8> {
    to_bytes(&response(payload_len)).expect("response serialises")
}

/// A fresh protected request (bytes) from `client`, for a verification
/// benchmark.
pub fn protected_request_bytes(client: &mut SecurityContext, request: &[u8]) -> Vec<u8> {
    let mut protected = Vec::with_capacity(request.len() + oscore_core::protect::PROTECT_OVERHEAD);
    client.protect_request_bytes(request, &mut protected, NOW).expect("request protects");
    protected
}

/// A protected response (bytes) from `server` to the client's request with
/// sequence number `seq`, and the client's binding for it, for a response
/// verification benchmark.
pub fn protected_response_bytes(
    server: &mut SecurityContext,
    response: &[u8],
    seq: u64,
) -> (Vec<u8>, RequestBinding) {
    let mut protected = Vec::with_capacity(response.len() + oscore_core::protect::PROTECT_OVERHEAD);
    server
        .protect_response_bytes(response, &mut request_binding(seq), ResponsePiv::Auto, &mut protected, NOW)
        .expect("response protects");
    (protected, request_binding(seq))
}

/// The OSCORE plaintext length of [`request`] (code, Inner options, payload
/// marker, payload), as the protection code computes it.
pub fn request_plaintext_len(payload_len: usize) -> usize {
    prepare_request(&request(payload_len)).expect("request prepares").plaintext.len()
}

/// The OSCORE plaintext length of [`response`].
pub fn response_plaintext_len(payload_len: usize) -> usize {
    prepare_response(&response(payload_len), false).expect("response prepares").plaintext.len()
}

/// The AEAD additional data of an OSCORE message (the `Enc_structure` over
/// `external_aad`), as the protection code builds it.
pub fn oscore_aad(aead: AlgorithmId, request_kid: &[u8], request_piv: &[u8]) -> Vec<u8> {
    let mut scratch = Vec::new();
    let mut out = Vec::new();
    encode_aad(
        &ExternalAad { alg_aead: aead, request_kid, request_piv, options: &[] },
        &mut scratch,
        &mut out,
    );
    out
}

/// The Partial IV of sender sequence number `seq`.
pub fn partial_iv(seq: u64) -> Vec<u8> {
    let mut buf = [0u8; MAX_PARTIAL_IV_LEN];
    let len = encode_partial_iv(seq, &mut buf);
    buf.get(..len).unwrap_or_default().to_vec()
}

/// A request binding as the server holds it after verifying the client's
/// request with sequence number `seq` (for response benchmarks, whose
/// request is not part of the measurement).
pub fn request_binding(seq: u64) -> RequestBinding {
    RequestBinding::new(client_kid(), &partial_iv(seq), false)
}

/// The raw AEAD baseline: one prepared key, a fixed nonce, AAD and plaintext
/// of given sizes, working in place on preallocated buffers (no allocation).
pub struct RawAead {
    key: Box<dyn AeadKey>,
    nonce: Vec<u8>,
    aad: Vec<u8>,
    buf: Vec<u8>,
    tag: Vec<u8>,
    sealed: Vec<u8>,
    sealed_tag: Vec<u8>,
}

impl RawAead {
    /// A baseline for `aead` with a plaintext of `plaintext_len` bytes and
    /// the given AAD.
    pub fn new(provider: Provider, aead: AlgorithmId, plaintext_len: usize, aad: Vec<u8>) -> Self {
        let alg = provider.provider.aead(aead).expect("provider offers the AEAD");
        let key = alg.prepare(&vec![0x42; alg.key_len()]).expect("key prepares");
        let nonce = vec![0x24; alg.nonce_len()];
        let mut sealed = vec![PAYLOAD_BYTE; plaintext_len];
        let mut sealed_tag = vec![0; alg.tag_len()];
        key.seal_detached(&nonce, &aad, &mut sealed, &mut sealed_tag).expect("raw seal");
        let raw = Self {
            key,
            nonce,
            aad,
            buf: vec![PAYLOAD_BYTE; plaintext_len],
            tag: vec![0; alg.tag_len()],
            sealed,
            sealed_tag,
        };
        let mut check = raw.sealed.clone();
        raw.key.open_detached(&raw.nonce, &raw.aad, &mut check, &raw.sealed_tag).expect("raw open");
        raw
    }

    /// The baseline for [`request`] of `payload_len` bytes under `aead`.
    pub fn for_request(provider: Provider, aead: AlgorithmId, payload_len: usize) -> Self {
        let aad = oscore_aad(aead, client_kid(), &BASELINE_PIV);
        Self::new(provider, aead, request_plaintext_len(payload_len), aad)
    }

    /// The baseline for [`response`] of `payload_len` bytes under `aead` (the
    /// AAD holds the request's kid and Partial IV, RFC 8613 §5.4).
    pub fn for_response(provider: Provider, aead: AlgorithmId, payload_len: usize) -> Self {
        let aad = oscore_aad(aead, client_kid(), &BASELINE_PIV);
        Self::new(provider, aead, response_plaintext_len(payload_len), aad)
    }

    /// Plaintext length in bytes.
    pub fn plaintext_len(&self) -> usize {
        self.buf.len()
    }

    /// AAD length in bytes.
    pub fn aad_len(&self) -> usize {
        self.aad.len()
    }

    /// Encrypts the buffer in place (it holds ciphertext afterwards; the cost
    /// of encrypting does not depend on the bytes).
    ///
    /// # Errors
    /// As the AEAD.
    #[inline]
    pub fn seal(&mut self) -> Result<(), CryptoError> {
        self.key.seal_detached(&self.nonce, &self.aad, &mut self.buf, &mut self.tag)
    }

    /// Copies a valid ciphertext into the working buffer and decrypts it in
    /// place (the copy is what any in-place decryption of a received message
    /// needs: 0–1 KiB of memcpy beside the AEAD).
    ///
    /// # Errors
    /// As the AEAD (never for the stored ciphertext).
    #[inline]
    pub fn open(&mut self) -> Result<(), CryptoError> {
        self.buf.copy_from_slice(&self.sealed);
        self.key.open_detached(&self.nonce, &self.aad, &mut self.buf, &self.sealed_tag)
    }

    /// Encrypts then decrypts the buffer in place (no copy needed).
    ///
    /// # Errors
    /// As the AEAD.
    #[inline]
    pub fn seal_open(&mut self) -> Result<(), CryptoError> {
        self.key.seal_detached(&self.nonce, &self.aad, &mut self.buf, &mut self.tag)?;
        self.key.open_detached(&self.nonce, &self.aad, &mut self.buf, &self.tag)
    }
}

/// The raw baseline of context derivation: the three HKDF calls of RFC 8613
/// §3.2.1 with their `info` already encoded, and the two AEAD key schedules.
pub struct RawDerivation {
    hkdf: &'static dyn Hkdf,
    aead: &'static dyn Aead,
    salt: Vec<u8>,
    secret: Vec<u8>,
    infos: [(Vec<u8>, usize); 3],
}

impl RawDerivation {
    /// The baseline for the C.1 client context under `aead`.
    pub fn new(provider: Provider, aead: AlgorithmId) -> Self {
        let params = c1_params("C.1.1", aead);
        let alg = provider.provider.aead(aead).expect("provider offers the AEAD");
        let info = |id: &[u8], kind, len| {
            let mut out = Vec::new();
            KdfInfo { id, id_context: None, alg_aead: aead, kind, len }.encode_into(&mut out);
            (out, len)
        };
        Self {
            hkdf: provider.provider.hkdf(AlgorithmId::HKDF_SHA256).expect("provider offers HKDF-SHA-256"),
            aead: alg,
            infos: [
                info(&params.sender_id, KdfType::Key, alg.key_len()),
                info(&params.recipient_id, KdfType::Key, alg.key_len()),
                info(&[], KdfType::Iv, alg.nonce_len()),
            ],
            salt: params.master_salt.clone(),
            secret: params.master_secret.to_vec(),
        }
    }

    /// Three HKDF derivations into stack buffers.
    ///
    /// # Errors
    /// As the HKDF.
    #[inline]
    pub fn hkdf3(&self) -> Result<[[u8; 32]; 3], CryptoError> {
        let mut out = [[0u8; 32]; 3];
        for ((info, len), okm) in self.infos.iter().zip(out.iter_mut()) {
            let okm = okm.get_mut(..*len).ok_or(CryptoError)?;
            self.hkdf.derive(&self.salt, &self.secret, info, okm)?;
        }
        Ok(out)
    }

    /// [`Self::hkdf3`] and the two AEAD key schedules.
    ///
    /// # Errors
    /// As the HKDF and the AEAD.
    #[inline]
    pub fn hkdf3_prepare2(&self) -> Result<[Box<dyn AeadKey>; 2], CryptoError> {
        let keys = self.hkdf3()?;
        let len = self.aead.key_len();
        let [sender, recipient, _] = keys;
        Ok([
            self.aead.prepare(sender.get(..len).ok_or(CryptoError)?)?,
            self.aead.prepare(recipient.get(..len).ok_or(CryptoError)?)?,
        ])
    }
}

/// The Sender ID of the group client.
pub const GROUP_CLIENT: &[u8] = b"\xc0";
/// The Sender ID of the group server.
pub const GROUP_SERVER: &[u8] = b"\x01";

/// A fixed private key per member: an Ed25519 seed or a P-256 scalar (both
/// valid for any byte below 0xff repeated).
fn private_key(member: &[u8]) -> Vec<u8> {
    vec![if member == GROUP_CLIENT { 0x11 } else { 0x22 }; 32]
}

/// The group's Gid.
pub fn gid() -> Vec<u8> {
    gid_from_prefix_epoch(b"\xb1", 0, 2)
}

/// A group client, a group server and a non-member checker in signature
/// mode, with the raw signature baselines over the bytes a protected
/// request signs.
pub struct GroupFixture {
    /// The signature algorithm.
    pub alg: AlgorithmId,
    /// The member that sends requests (Sender ID [`GROUP_CLIENT`]).
    pub client: Group,
    /// The member that verifies them (Sender ID [`GROUP_SERVER`]).
    pub server: Group,
    /// A non-member checker with the members' public keys (key cache warm).
    pub checker: SignatureChecker,
    /// The request that is protected ([`request`] with the group payload).
    pub request: Packet,
    /// One protected request (for the checker, which keeps no replay state).
    pub protected: Packet,
    /// The client's signing key (raw sign baseline).
    pub signing_key: Box<dyn SigningKey>,
    /// The client's verifying key (raw verify baseline).
    pub verifying_key: Box<dyn VerifyingKey>,
    /// The bytes the countersignature of `protected` covers.
    pub to_be_signed: Vec<u8>,
    /// The countersignature of `protected`.
    pub signature: Vec<u8>,
}

/// Group parameters of a member.
fn group_params(provider: Provider, alg: AlgorithmId, member: &[u8]) -> GroupParams {
    let mut p =
        GroupParams::new(b"group master secret", &gid(), alg).with_sender(member, &private_key(member));
    p.aead = provider.default_aead();
    // Deliver the request that synchronises a new client's window (App. E.2).
    p.sync = ReplaySync::Baseline { deliver_first: true };
    p
}

/// The members' public keys.
fn group_resolver(provider: Provider, alg: AlgorithmId) -> StaticKeys {
    let sig = provider.provider.signature(alg).expect("provider offers the signature algorithm");
    let mut keys = StaticKeys::new();
    for member in [GROUP_CLIENT, GROUP_SERVER] {
        keys.insert(member, &sig.signing_key(&private_key(member)).expect("key").public_key());
    }
    keys
}

impl GroupFixture {
    /// The fixture for `alg` with a request payload of `payload_len` bytes,
    /// after a warm-up request the server verified and the checker passed.
    pub fn new(provider: Provider, alg: AlgorithmId, payload_len: usize) -> Self {
        let member = |id: &[u8]| {
            let resolver = Box::new(group_resolver(provider, alg));
            Group::new(provider.provider, group_params(provider, alg, id), resolver, store_at_first_ssn())
                .expect("group member joins")
        };
        let (mut client, mut server) = (member(GROUP_CLIENT), member(GROUP_SERVER));
        let request = request(payload_len);
        let (protected, _) =
            client.protect_request(&request, RequestMode::Group, NOW).expect("group request protects");
        match server.verify_request(&protected, NOW).expect("group request verifies") {
            RequestOutcome::Deliver { .. } => {}
            other => panic!("group request not delivered: {other:?}"),
        }
        let aead = provider.default_aead();
        let params = CountersignParams::for_algorithm(alg).expect("countersign parameters");
        let resolver = Box::new(group_resolver(provider, alg));
        let mut checker = SignatureChecker::new(provider.provider, aead, alg, &params, false, resolver)
            .expect("checker builds");
        checker.check_request(&protected).expect("checker passes the request");

        let sig = provider.provider.signature(alg).expect("provider offers the signature algorithm");
        let signing_key = sig.signing_key(&private_key(GROUP_CLIENT)).expect("signing key");
        let verifying_key = sig.verifying_key(&signing_key.public_key()).expect("verifying key");
        let option = protected.get_first_option(CoapOption::Oscore).expect("OSCORE option").clone();
        let view = OscoreOptionView::decode(&option).expect("OSCORE option decodes");
        let split = protected.payload.len() - sig.signature_len();
        let (ciphertext, signature) = protected.payload.split_at(split);
        let (mut scratch, mut to_be_signed_bytes) = (Vec::new(), Vec::new());
        to_be_signed(
            &encode_algorithms(aead, alg, &params),
            view.kid.unwrap_or_default(),
            view.partial_iv.unwrap_or_default(),
            &option,
            ciphertext,
            &mut scratch,
            &mut to_be_signed_bytes,
        );
        // The raw baselines work on exactly the bytes the group code signs.
        verifying_key.verify(&to_be_signed_bytes, signature).expect("raw verify of the group signature");
        let signature = signature.to_vec();
        Self {
            alg,
            client,
            server,
            checker,
            request,
            protected,
            signing_key,
            verifying_key,
            to_be_signed: to_be_signed_bytes,
            signature,
        }
    }
}

/// Pairwise-key derivation (groupcomm-08 §3) as a member runs it, beside the
/// raw ECDH and HKDF it is made of.
pub struct PairwiseFixture {
    /// Our half of the agreement, with its shared-secret cache.
    pub agreement: Agreement,
    /// The peer's signature public key (what the cache is keyed by).
    pub peer_public: Vec<u8>,
    hkdf: &'static dyn Hkdf,
    ka: &'static dyn KeyAgreement,
    aead: AlgorithmId,
    key_len: usize,
    sender_key: Vec<u8>,
    private_mapped: Vec<u8>,
    peer_mapped: Vec<u8>,
    info: Vec<u8>,
    gid: Vec<u8>,
}

impl PairwiseFixture {
    /// The fixture for signature algorithm `alg`, cache warm.
    pub fn new(provider: Provider, alg: AlgorithmId) -> Self {
        let sig = provider.provider.signature(alg).expect("provider offers the signature algorithm");
        let curve = if sig.curve() == CurveId::ED25519 { CurveId::X25519 } else { CurveId::P256 };
        let ka = provider.provider.key_agreement(curve).expect("provider offers the key agreement");
        let own = private_key(GROUP_CLIENT);
        let peer_public = sig.signing_key(&private_key(GROUP_SERVER)).expect("key").public_key();
        let mut agreement = Agreement::new(ka, sig.curve(), &own, 16).expect("agreement");
        agreement.shared_secret(&peer_public).expect("shared secret");
        let aead = provider.default_aead();
        let key_len = provider.provider.aead(aead).expect("AEAD").key_len();
        let mut info = Vec::new();
        KdfInfo {
            id: GROUP_CLIENT,
            id_context: Some(&gid()),
            alg_aead: aead,
            kind: KdfType::Key,
            len: key_len,
        }
        .encode_into(&mut info);
        Self {
            agreement,
            hkdf: provider.provider.hkdf(AlgorithmId::HKDF_SHA256).expect("HKDF"),
            ka,
            aead,
            key_len,
            // Any 16 bytes: the cost of HKDF does not depend on the salt's value.
            sender_key: vec![0x5a; key_len],
            private_mapped: ka
                .private_from_signature_key(sig.curve(), &own)
                .expect("mapped private")
                .to_vec(),
            peer_mapped: ka.public_from_signature_key(sig.curve(), &peer_public).expect("mapped public"),
            peer_public,
            info,
            gid: gid(),
        }
    }

    /// The AEAD the pairwise key is for.
    pub fn aead(&self) -> AlgorithmId {
        self.aead
    }

    /// The key length.
    pub fn key_len(&self) -> usize {
        self.key_len
    }

    /// The salt (the sending member's Sender Key).
    pub fn sender_key(&self) -> &[u8] {
        &self.sender_key
    }

    /// The group's Gid.
    pub fn gid(&self) -> &[u8] {
        &self.gid
    }

    /// The HKDF.
    pub fn hkdf(&self) -> &'static dyn Hkdf {
        self.hkdf
    }

    /// Raw ECDH with both keys already in the agreement encoding, then HKDF
    /// with the `info` already encoded, into a stack buffer.
    ///
    /// # Errors
    /// As the primitives.
    #[inline]
    pub fn raw_ecdh_hkdf(&self) -> Result<[u8; 32], CryptoError> {
        let shared = self.ka.agree(&self.private_mapped, &self.peer_mapped)?;
        self.raw_hkdf_with(&shared)
    }

    /// Raw HKDF with a fixed 32-byte IKM (a shared secret's length).
    ///
    /// # Errors
    /// As the HKDF.
    #[inline]
    pub fn raw_hkdf(&self) -> Result<[u8; 32], CryptoError> {
        self.raw_hkdf_with(&[0x33; 32])
    }

    fn raw_hkdf_with(&self, ikm: &[u8]) -> Result<[u8; 32], CryptoError> {
        let mut okm = [0u8; 32];
        self.hkdf.derive(
            &self.sender_key,
            ikm,
            &self.info,
            okm.get_mut(..self.key_len).ok_or(CryptoError)?,
        )?;
        Ok(okm)
    }
}

/// The key update of key-limits-01: `updateCtx()` (§3.2) and the
/// client-initiated exchange (§3.3, Figure 5) between two C.1 contexts,
/// beside the raw primitives they are made of.
pub struct KeyUpdateFixture {
    provider: Provider,
    updater: KeyUpdater,
    client: SecurityContext,
    server: SecurityContext,
    request: Packet,
    response: Packet,
    /// CTX_IN of `updateCtx()` (the C.1 client parameters).
    pub params: ContextParams,
    /// N = R1 | R2 (16 bytes).
    pub n: Vec<u8>,
    hkdf: &'static dyn Hkdf,
    prk: Vec<u8>,
    label: Vec<u8>,
    secret_len: usize,
    derivation: RawDerivation,
    message: RawAead,
}

impl KeyUpdateFixture {
    /// The fixture for `provider` with its [`Provider::default_aead`].
    pub fn new(provider: Provider) -> Self {
        let aead = provider.default_aead();
        let (client, server) = pair(provider, aead);
        let params = client.params();
        let hkdf = provider.provider.hkdf(params.hkdf).expect("provider offers the HKDF");
        let n = (0u8..16).collect::<Vec<u8>>();
        let secret_len = params.master_secret.len();
        let mut prk = params.master_secret.to_vec();
        prk.resize(prk.len().max(hkdf.hash_len()), 0);
        let label = hkdf_label(secret_len, KEY_UPDATE_LABEL, &n).expect("HkdfLabel encodes");
        let mut fx = Self {
            provider,
            updater: KeyUpdater::new(provider.provider),
            client,
            server,
            request: request(0),
            response: response(0),
            params,
            n,
            hkdf,
            prk,
            label,
            secret_len,
            derivation: RawDerivation::new(provider, aead),
            message: RawAead::for_request(provider, aead, 0),
        };
        fx.exchange().expect("warm-up key-update exchange");
        fx
    }

    /// `updateCtx(N, CTX_IN)` with the HKDF key-update source.
    ///
    /// # Errors
    /// As `update_ctx`.
    #[inline]
    pub fn update_ctx(&self) -> Result<ContextParams, KeyUpdateError> {
        update_ctx(self.provider.provider, &HkdfKeyUpdate, &self.n, &self.params)
    }

    /// Raw HKDF-Expand of the new Master Secret, `HkdfLabel` already encoded.
    ///
    /// # Errors
    /// As the HKDF.
    #[inline]
    pub fn raw_hkdf_expand(&self) -> Result<[u8; 32], CryptoError> {
        let mut okm = [0u8; 32];
        self.hkdf.expand(&self.prk, &self.label, okm.get_mut(..self.secret_len).ok_or(CryptoError)?)?;
        Ok(okm)
    }

    /// One client-initiated key-update exchange (Figure 5 of key-limits-01):
    /// request under CTX_1 with R1, response under CTX_NEW with R1|R2, then a
    /// request and a response under CTX_NEW that confirm it. Both sides keep
    /// their CTX_OLD for the next exchange.
    ///
    /// # Errors
    /// A step failed (with its name).
    pub fn exchange(&mut self) -> Result<(), String> {
        let u = &self.updater;
        let (init, m1, mut c_binding) = Initiator::<Client>::start(u, &mut self.client, &self.request, NOW)
            .map_err(|e| format!("client start: {e:?}"))?;
        let (received, _, mut s_binding) = ReceivedR1::<Server>::verify(u, &mut self.server, &m1, NOW)
            .map_err(|e| format!("server verify R1: {e:?}"))?;
        let (responder, m2) = received
            .respond(u, &mut EphemeralPersistence, &self.response, &mut s_binding, NOW)
            .map_err(|e| format!("server respond: {e:?}"))?;
        let (completed, _) = init
            .finish(u, &mut self.client, &mut EphemeralPersistence, &m2, &mut c_binding, NOW)
            .map_err(|_| "client finish rejected".to_owned())?;
        let mut c_new = completed.into_context();
        let (m3, mut c_binding) =
            c_new.protect_request(&self.request, NOW).map_err(|e| format!("m3: {e:?}"))?;
        let (completed, _, mut s_binding) =
            responder.verify_request(&m3, NOW).map_err(|_| "server confirmation rejected".to_owned())?;
        let mut s_new = completed.into_context();
        let r3 = s_new
            .protect_response(&self.response, &mut s_binding, ResponsePiv::Auto, NOW)
            .map_err(|e| format!("r3: {e:?}"))?;
        c_new.verify_response(&r3, &mut c_binding, NOW).map_err(|e| format!("verify r3: {e:?}"))?;
        Ok(())
    }

    /// The primitives of one exchange: four `updateCtx()` HKDF-Expands and
    /// four context derivations (CTX_1 and CTX_NEW on each side), and four
    /// messages sealed and opened.
    ///
    /// # Errors
    /// As the primitives.
    pub fn raw_exchange(&mut self) -> Result<(), CryptoError> {
        for _ in 0..4 {
            self.raw_hkdf_expand()?;
            self.derivation.hkdf3_prepare2()?;
            self.message.seal_open()?;
        }
        Ok(())
    }
}
