//! Group OSCORE exactly as draft-ietf-core-oscore-groupcomm-08: the group
//! security context, signature mode (§7), pairwise mode (Appendix G),
//! optimized mode (§9), pairwise keys (§3), dynamic Recipient Contexts,
//! replay synchronisation (Appendix E), rekeying with retention (§2.4,
//! §10.4) and a [`SignatureChecker`] for non-members (§2.3).
//!
//! Sans-IO like `oscore-core`: time is an argument, crypto comes from a
//! [`CryptoProvider`](oscore_core::crypto::CryptoProvider).
//!
//! ```
//! # fn main() -> Result<(), oscore_group::GroupError> {
//! use coap_lite::{MessageClass, Packet, RequestType, ResponseType};
//! use oscore_core::crypto::AlgorithmId;
//! use oscore_core::store::MemoryStore;
//! use oscore_group::{Group, GroupParams, RequestMode, RequestOutcome, StaticKeys, ReplaySync};
//! let provider = &crypto_backends::RUSTCRYPTO;
//! // Two members with Ed25519 keys (RFC 8032 §7.1 TEST 1 and TEST 2 seeds).
//! let (seed_c, seed_s) = ([0x9d; 32], [0x4c; 32]);
//! let sig = provider.signature(AlgorithmId::EDDSA).unwrap();
//! let mut keys = StaticKeys::new();
//! keys.insert(b"\xc0", &sig.signing_key(&seed_c)?.public_key());
//! keys.insert(b"\x01", &sig.signing_key(&seed_s)?.public_key());
//! let params = |id: &[u8], seed: &[u8]| {
//!     let mut p = GroupParams::new(b"master secret", b"\xb1\x00\x00", AlgorithmId::EDDSA).with_sender(id, seed);
//!     p.sync = ReplaySync::Baseline { deliver_first: true };
//!     p
//! };
//! let mut client = Group::new(provider, params(b"\xc0", &seed_c), Box::new(keys.clone()), MemoryStore::boxed())?;
//! let mut server = Group::new(provider, params(b"\x01", &seed_s), Box::new(keys), MemoryStore::boxed())?;
//!
//! let mut request = Packet::new();
//! request.header.code = MessageClass::Request(RequestType::Get);
//! let (protected, mut sent) = client.protect_request(&request, RequestMode::Group, 0)?;
//! let RequestOutcome::Deliver { mut binding, .. } = server.verify_request(&protected, 0)? else { unreachable!() };
//! let mut response = Packet::new();
//! response.header.code = MessageClass::Response(ResponseType::Content);
//! response.payload = b"on".to_vec();
//! let protected = server.protect_response(&response, &mut binding, 0)?;
//! let answer = client.verify_response(&protected, &mut sent, 0)?;
//! assert_eq!((answer.kid.as_slice(), answer.message.payload.as_slice()), (&b"\x01"[..], &b"on"[..]));
//! # Ok(()) }
//! ```
//!
//! # Decisions where -08 is ambiguous
//! (See also `test-vectors/GROUP_NOTES.md`; each is marked `// ref:` at the code.)
//! - **CounterSignature0** signs the 5-element `Sig_structure`
//!   `["CounterSignature0", h'', h'', external_aad_sign, ciphertext]`
//!   ([`cose::encode_sig_structure`]); the signature (64 bytes, R‖S for
//!   both Ed25519 and ES256) is appended to the ciphertext in the payload.
//! - **algorithms array**: `[alg_aead, alg_countersign, par_countersign,
//!   par_countersign_key]` = `[10, -8, 6, [1, 6]]` for Ed25519 and
//!   `[10, -7, 1, [2, 1]]` for ES256 (§11.1/§11.2 tables read literally).
//! - **Pairwise keys**: `HKDF(salt = Sender Key of the sending member, IKM =
//!   ECDH shared secret, info = [sender's ID, Gid, alg_aead, "Key", L])`;
//!   Ed25519 keys are mapped to X25519; no pairwise IV.
//! - **Flag 0x20** is the -08 *Pairwise Flag*: 1 only for pairwise-keyed
//!   messages (pairwise requests, optimized and pairwise responses).
//! - **Optimized requests** carry `ciphertext without tag ‖ signature`; the
//!   signature covers the full ciphertext. The receiver recovers plaintext
//!   and tag by re-encrypting (valid for the CTR-based AEADs CCM, GCM and
//!   ChaCha20/Poly1305, the only ones optimized mode accepts). Whether a
//!   group uses optimized mode is a group setting: the flag byte cannot tell.
//! - **Late messages after a rekey**: requests are accepted only under the
//!   newest context (§10.4.1 "a recipient server would better ... discard");
//!   responses are tried with the named or the request's context, then with
//!   the other one while the old context is retained.
//! - **Baseline synchronisation** (App. E.2) does not deliver the request
//!   that initialises a new client's window unless `deliver_first` is set.
//! - **Persistence**: the sender sequence number is written ahead through a
//!   `Store` (RFC 8613 App. B.1.1); replay windows are not persisted: after a
//!   restart every client is unsynchronised and goes through the group's
//!   Appendix E method again (§6.1 names a reboot as exactly that case).
//! - **Key-usage limits** of key-limits-01 are not applied to group contexts.
#![no_std]

extern crate alloc;

pub mod checker;
pub mod context;
pub mod cose;
pub mod error;
pub mod group;
pub mod pairwise;
pub mod resolver;

pub use checker::{CheckError, Checked, SignatureChecker};
pub use context::{GroupParams, ReplaySync};
pub use cose::CountersignParams;
pub use error::GroupError;
pub use group::{
    Group, GroupRequest, GroupResponse, RequestMode, RequestOutcome, ServerBinding, echo_value,
    gid_from_prefix_epoch,
};
pub use resolver::{KeyResolver, StaticKeys};
