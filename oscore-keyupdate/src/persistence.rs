//! What a key-updating endpoint keeps across a reboot.
//!
//! Two things must survive for the exchange of key-limits-01 §3.3 to be
//! "robust against a peer rebooting" and to "avoid the reuse of AEAD (nonce,
//! key) pairs" (§3):
//!
//! 1. **One [`Store`] per security context.** Every context the exchange
//!    establishes starts its sender sequence number at 0 (it has new keys)
//!    and persists it ahead of use (RFC 8613 App. B.1.1) in its own store.
//!    [`StoreFactory::context_store`] hands out that store, keyed by the
//!    context's Master Salt: a context made by `updateCtx()` has the Master
//!    Salt N = R1|R2, fresh randomness of both peers, so the key never
//!    repeats, and after a reboot the same salt finds the same store again.
//!    The temporary CTX_1 gets no store: it takes its sequence numbers from
//!    the context it was derived from (see [`crate::exchange`]).
//! 2. **The [`SessionState`]**: which contexts the endpoint holds (current,
//!    pending, retained) and, for a server that offered R1, that R1. It is
//!    saved before any message that depends on it is sent.
//!
//! Stores are requested for candidate contexts that may never be used (a
//! forged key-update message is only found out after its context was
//! derived); a durable implementation should create its record on the first
//! `save`, not on `load`.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use oscore_core::ContextParams;
use oscore_core::store::{MemoryStore, Store, StoreError};

/// Hands out the store of each security context.
pub trait StoreFactory: Send {
    /// The store of the context whose Master Salt is `master_salt`; a store
    /// that was never saved loads as `None`.
    ///
    /// # Errors
    /// The backing storage is unavailable.
    fn context_store(&mut self, master_salt: &[u8]) -> Result<Box<dyn Store>, StoreError>;
}

/// Everything an endpoint keeps across a reboot.
pub trait Persistence: StoreFactory {
    /// The last saved session, `None` if none was ever saved.
    ///
    /// # Errors
    /// The backing storage cannot be read.
    fn load_session(&mut self) -> Result<Option<SessionState>, StoreError>;
    /// Saves `session` durably, replacing the previous one. Must not return
    /// `Ok` before the state is durable.
    ///
    /// # Errors
    /// The state could not be made durable; the endpoint then sends nothing
    /// that depends on it.
    fn save_session(&mut self, session: &SessionState) -> Result<(), StoreError>;
}

/// The contexts an endpoint holds, as parameters (the mutable state of each
/// lives in its store). Holds Master Secrets: store it as a secret.
#[derive(Clone)]
pub struct SessionState {
    /// The context in use for outgoing messages.
    pub current: ContextParams,
    /// CTX_NEW of a responder that sent its R1|R2 and awaits the first
    /// message under it (key-limits-01 §3.3).
    pub pending: Option<ContextParams>,
    /// For a server responder: the highest CTX_OLD sequence number of an R1
    /// request it answered (a later ordinary request shows the client gave
    /// that exchange up).
    pub pending_r1_seq: Option<u64>,
    /// The old context kept for incoming messages until the time given
    /// (key-limits-01 §3.4).
    pub retained: Option<(ContextParams, u64)>,
    /// The R1 a server offered (server-initiated flow) and how many messages
    /// were protected under its CTX_1.
    pub offered_r1: Option<(Vec<u8>, u64)>,
}

impl fmt::Debug for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // ContextParams redacts its Master Secret.
        f.debug_struct("SessionState")
            .field("current", &self.current)
            .field("pending", &self.pending)
            .field("pending_r1_seq", &self.pending_r1_seq)
            .field("retained", &self.retained)
            .field("offered_r1", &self.offered_r1.as_ref().map(|(r1, n)| (r1.len(), n)))
            .finish()
    }
}

/// Persistence that survives nothing: a fresh [`MemoryStore`] for every
/// context, sessions not kept. For tests and for endpoints that establish a
/// brand-new context (e.g. with EDHOC) after every reboot.
#[derive(Debug, Default, Clone, Copy)]
pub struct EphemeralPersistence;

impl StoreFactory for EphemeralPersistence {
    fn context_store(&mut self, _master_salt: &[u8]) -> Result<Box<dyn Store>, StoreError> {
        Ok(MemoryStore::boxed())
    }
}

impl Persistence for EphemeralPersistence {
    fn load_session(&mut self) -> Result<Option<SessionState>, StoreError> {
        Ok(None)
    }

    fn save_session(&mut self, _session: &SessionState) -> Result<(), StoreError> {
        Ok(())
    }
}
