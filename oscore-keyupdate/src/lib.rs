//! OSCORE key-usage limits and key update, as specified by
//! draft-hoeglund-core-oscore-key-limits-01 ("key-limits-01").
//!
//! - [`limits`]: the recommended (q, v, l) triple per AEAD algorithm, the
//!   Integrity and Confidentiality Advantages of draft-irtf-cfrg-aead-limits-02
//!   in log2 form, refusal of triples that are too weak, and the
//!   [`oscore_core::KeyLimits`] that enforce a triple (§2).
//! - [`update`]: `updateCtx()` (§3.2) with the TLS 1.3 `HkdfLabel`,
//!   [`KEY_UPDATE_LABEL`], and the [`KeyUpdateSource`] trait for its EDHOC
//!   branch.
//! - [`exchange`]: the client- and server-initiated exchange (§3.3) as
//!   typestates.
//! - [`endpoint`]: sans-IO client and server endpoints that run the exchange
//!   next to ordinary traffic and keep the old context for late messages
//!   (§3.4).
//! - [`autostart`]: when an endpoint starts a key update on its own, before a
//!   limit or 'exp' is reached (§2.4).
//! - [`persistence`]: one store per context and the saved session, so that no
//!   nonce is reused and no exchange is lost across a reboot.
//!
//! Like `oscore-core`, nothing here does I/O or reads a clock: time comes in
//! as `now` (seconds since the epoch), randomness from the crypto provider.
//!
//! ```
//! # fn main() -> Result<(), oscore_keyupdate::Error> {
//! use oscore_core::crypto::AlgorithmId;
//! use oscore_keyupdate::limits::{self, UsageLimits};
//!
//! // The recommended limits of key-limits-01 for the default AEAD (CCM_8) ...
//! let triple = UsageLimits::recommended(AlgorithmId::AES_CCM_16_64_128)?;
//! assert_eq!((triple.q, triple.v, triple.l), (1 << 20, 1 << 10, 1 << 8));
//! let adv = limits::check(AlgorithmId::AES_CCM_16_64_128, &triple)?;
//! assert_eq!(adv.integrity_log2.round(), -54.0);
//! // ... and a triple the draft forbids.
//! assert!(limits::check(AlgorithmId::AES_CCM_16_64_128, &UsageLimits::new(1 << 20, 1 << 20, 1 << 8)).is_err());
//! # Ok(()) }
//! ```
#![no_std]

extern crate alloc;

pub mod autostart;
pub mod endpoint;
pub mod error;
pub mod exchange;
pub mod limits;
pub mod persistence;
pub mod update;

pub use autostart::AutoStart;
pub use endpoint::{ClientEndpoint, Event, KeyUpdatePhase, ReceivedRequest, SentRequest, ServerEndpoint};
pub use error::Error;
pub use exchange::{Completed, Config, Initiator, KeyUpdater, ReceivedR1, Rejected, Responder};
pub use limits::UsageLimits;
pub use persistence::{EphemeralPersistence, Persistence, SessionState, StoreFactory};
pub use update::{HkdfKeyUpdate, KEY_UPDATE_LABEL, KeyUpdateSource, update_ctx};

/// The README example, run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
