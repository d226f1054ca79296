//! Group OSCORE exactly as draft-ietf-core-oscore-groupcomm-08: the group
//! security context, signature mode (§7), pairwise mode (Appendix G),
//! optimized mode (§9), pairwise keys (§3), dynamic Recipient Contexts,
//! replay synchronisation (Appendix E), rekeying with retention (§2.4,
//! §10.4) and a [`SignatureChecker`] for non-members (§2.3).
//!
//! Sans-IO like `oscore-core`: time is an argument, crypto comes from a
//! [`CryptoProvider`](oscore_core::crypto::CryptoProvider).
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
