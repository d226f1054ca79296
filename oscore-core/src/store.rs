//! Persistence of the mutable part of a security context.
//!
//! A nonce must never be used twice with the same key, even across a crash.
//! The context therefore writes *bounds* ahead of use (RFC 8613 App. B.1.1):
//! before it uses sender sequence number `s` it makes sure the store holds a
//! bound `> s`; after a restart it resumes from the stored bound, skipping at
//! most `K` numbers. The key-usage counters of key-limits-01 are persisted the
//! same way (resuming from the bound over-counts, which is the safe side), and
//! the replay window is persisted after every accepted message so that no old
//! message is accepted after a restart.

use alloc::boxed::Box;
use core::fmt;

use crate::context::MAX_SSN;
use crate::error::Error;
use crate::replay::ReplayState;

/// The default persistence step `K` of RFC 8613 App. B.1.1.
pub const DEFAULT_PERSIST_STEP: u64 = 64;

/// What a store keeps for one security context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PersistedState {
    /// No sender sequence number `>= ssn_bound` has been used.
    pub ssn_bound: u64,
    /// `count_q` has not exceeded this value.
    pub count_q_bound: u64,
    /// `count_v` has not exceeded this value.
    pub count_v_bound: u64,
    /// The replay window, if it was ever saved.
    pub replay: Option<ReplayState>,
}

/// Takes the next sender sequence number from `next`, persisting the bound
/// ahead: before a number at or above `persisted.ssn_bound` is handed out, the
/// bound is raised to `number + step` and made durable in `store`, so a
/// restart resumes above every number ever used (RFC 8613 App. B.1.1).
///
/// # Errors
/// [`Error::SequenceNumberExhausted`] past 2^40 − 1 (RFC 8613 §7.2.1; never
/// wraps), [`Error::Store`] if the bound cannot be saved (nothing is taken).
// ref: RFC 8613 App. B.1.1, §7.2.1; groupcomm-08 §2.5
pub fn take_sequence_number(
    next: &mut u64,
    persisted: &mut PersistedState,
    step: u64,
    store: &mut dyn Store,
) -> Result<u64, Error> {
    let ssn = *next;
    if ssn > MAX_SSN {
        return Err(Error::SequenceNumberExhausted);
    }
    if ssn >= persisted.ssn_bound {
        let mut state = *persisted;
        state.ssn_bound = ssn.saturating_add(step.max(1)).min(MAX_SSN + 1);
        store.save(&state)?;
        *persisted = state;
    }
    *next = ssn + 1;
    Ok(ssn)
}

/// A store failed to read or durably write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreError(pub &'static str);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl core::error::Error for StoreError {}

/// Durable storage for one security context.
///
/// `save` must not return `Ok` before the state is durable: the context sends
/// a message under a sequence number only after `save` of a bound above it
/// returned.
pub trait Store: Send {
    /// The last saved state, or `None` for a context never saved.
    ///
    /// # Errors
    /// The backing storage cannot be read.
    fn load(&mut self) -> Result<Option<PersistedState>, StoreError>;
    /// Saves `state` durably, replacing the previous one.
    ///
    /// # Errors
    /// The state could not be made durable; the caller must not proceed.
    fn save(&mut self, state: &PersistedState) -> Result<(), StoreError>;
}

/// A store in memory: survives nothing, for tests and for contexts whose
/// loss on reboot is handled otherwise (e.g. re-keying at every boot).
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    state: Option<PersistedState>,
    /// Number of successful `save` calls, for tests and statistics.
    pub saves: u64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `state`, as if a previous run had saved it (e.g. to
    /// resume at a given sender sequence number).
    pub fn with_state(state: PersistedState) -> Self {
        Self { state: Some(state), saves: 0 }
    }

    /// The last saved state.
    pub fn state(&self) -> Option<PersistedState> {
        self.state
    }

    /// A boxed empty store.
    pub fn boxed() -> Box<dyn Store> {
        Box::new(Self::new())
    }
}

impl Store for MemoryStore {
    fn load(&mut self) -> Result<Option<PersistedState>, StoreError> {
        Ok(self.state)
    }

    fn save(&mut self, state: &PersistedState) -> Result<(), StoreError> {
        self.state = Some(*state);
        self.saves = self.saves.saturating_add(1);
        Ok(())
    }
}
