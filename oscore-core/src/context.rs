//! The OSCORE security context (RFC 8613 §3): parameters, derivation, nonce
//! construction, and the mutable sender/recipient state with its persistence
//! and key-usage counters (key-limits-01 §2.2).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use minicbor::Encoder;
use zeroize::Zeroizing;

use crate::crypto::{Aead, AeadKey, AlgorithmId, CryptoProvider, Hkdf};
use crate::error::Error;
use crate::replay::{DEFAULT_WINDOW_SIZE, ReplayState, ReplayWindow};
use crate::store::{DEFAULT_PERSIST_STEP, MemoryStore, PersistedState, Store};

/// The largest sender sequence number: 2^40 − 1.
// ref: RFC 8613 §7.2.1 (the Partial IV is at most 5 bytes)
pub const MAX_SSN: u64 = (1 << 40) - 1;

/// Key-usage limits of one context (key-limits-01 §2.2). `u64::MAX` and
/// `None` mean "no limit"; the key-update crate supplies the recommended
/// values per algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyLimits {
    /// The highest value `count_q` may reach (encryptions with the Sender Key).
    pub limit_q: u64,
    /// `count_v` (failed decryptions with the Recipient Key) may not exceed this.
    pub limit_v: u64,
    /// Expiration time, seconds since 1970-01-01T00:00:00Z, ignoring leap seconds.
    pub exp: Option<u64>,
}

impl Default for KeyLimits {
    fn default() -> Self {
        Self { limit_q: u64::MAX, limit_v: u64::MAX, exp: None }
    }
}

/// Everything needed to derive a security context (RFC 8613 §3.2), plus
/// local policy.
#[derive(Clone)]
pub struct ContextParams {
    /// The Master Secret.
    pub master_secret: Zeroizing<Vec<u8>>,
    /// The Master Salt (default empty).
    pub master_salt: Vec<u8>,
    /// Our Sender ID.
    pub sender_id: Vec<u8>,
    /// The peer's Sender ID (our Recipient ID).
    pub recipient_id: Vec<u8>,
    /// The ID Context, if any.
    pub id_context: Option<Vec<u8>>,
    /// The AEAD algorithm (default AES-CCM-16-64-128).
    pub aead: AlgorithmId,
    /// The HKDF algorithm (default HKDF-SHA-256).
    pub hkdf: AlgorithmId,
    /// The replay window size (default 32).
    pub replay_window: u32,
    /// The persistence step K of RFC 8613 App. B.1.1 (default 64).
    pub persist_step: u64,
    /// Key-usage limits.
    pub limits: KeyLimits,
}

impl ContextParams {
    /// Parameters with the RFC 8613 defaults for everything not given.
    pub fn new(master_secret: &[u8], sender_id: &[u8], recipient_id: &[u8]) -> Self {
        Self {
            master_secret: Zeroizing::new(master_secret.to_vec()),
            master_salt: Vec::new(),
            sender_id: sender_id.to_vec(),
            recipient_id: recipient_id.to_vec(),
            id_context: None,
            aead: AlgorithmId::AES_CCM_16_64_128,
            hkdf: AlgorithmId::HKDF_SHA256,
            replay_window: DEFAULT_WINDOW_SIZE,
            persist_step: DEFAULT_PERSIST_STEP,
            limits: KeyLimits::default(),
        }
    }

    /// Sets the Master Salt.
    pub fn with_master_salt(mut self, salt: &[u8]) -> Self {
        self.master_salt = salt.to_vec();
        self
    }

    /// Sets the ID Context.
    pub fn with_id_context(mut self, id_context: Option<&[u8]>) -> Self {
        self.id_context = id_context.map(<[u8]>::to_vec);
        self
    }

    /// Sets the AEAD algorithm.
    pub fn with_aead(mut self, alg: AlgorithmId) -> Self {
        self.aead = alg;
        self
    }

    /// Sets the key-usage limits.
    pub fn with_limits(mut self, limits: KeyLimits) -> Self {
        self.limits = limits;
        self
    }
}

impl fmt::Debug for ContextParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextParams")
            .field("master_secret", &"<redacted>")
            .field("master_salt", &Hex(&self.master_salt))
            .field("sender_id", &Hex(&self.sender_id))
            .field("recipient_id", &Hex(&self.recipient_id))
            .field("id_context", &self.id_context.as_deref().map(Hex))
            .field("aead", &self.aead)
            .field("hkdf", &self.hkdf)
            .field("replay_window", &self.replay_window)
            .field("persist_step", &self.persist_step)
            .field("limits", &self.limits)
            .finish()
    }
}

/// Lowercase hex in `Debug` output (for identifiers, never for secrets).
pub(crate) struct Hex<'a>(pub &'a [u8]);

impl fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("h'")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        f.write_str("'")
    }
}

/// The `type` of an RFC 8613 §3.2.1 derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KdfType {
    /// A Sender or Recipient Key.
    Key,
    /// The Common IV.
    Iv,
}

impl KdfType {
    fn as_str(self) -> &'static str {
        match self {
            KdfType::Key => "Key",
            KdfType::Iv => "IV",
        }
    }
}

/// The `info` of an RFC 8613 §3.2.1 derivation.
#[derive(Debug, Clone, Copy)]
pub struct KdfInfo<'a> {
    /// The Sender ID (for a key) or the empty string (for the Common IV).
    pub id: &'a [u8],
    /// The ID Context, `None` encoded as CBOR nil.
    pub id_context: Option<&'a [u8]>,
    /// The AEAD algorithm of the context.
    pub alg_aead: AlgorithmId,
    /// "Key" or "IV".
    pub kind: KdfType,
    /// The output length in bytes.
    pub len: usize,
}

impl KdfInfo<'_> {
    /// Appends the CBOR `info` array to `out`.
    // ref: RFC 8613 §3.2.1: info = [ id : bstr, id_context : bstr / nil,
    //                                alg_aead : int / tstr, type : tstr, L : uint ]
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let mut e = Encoder::new(out);
        let r = e
            .array(5)
            .and_then(|e| e.bytes(self.id))
            .and_then(|e| match self.id_context {
                Some(c) => e.bytes(c),
                None => e.null(),
            })
            .and_then(|e| e.i32(self.alg_aead.0))
            .and_then(|e| e.str(self.kind.as_str()))
            .and_then(|e| e.u64(self.len as u64));
        // Writing to a Vec is infallible (its Write::Error is Infallible).
        let _ = r;
    }

    /// HKDF(salt, IKM, info, L).
    ///
    /// Also the derivation of Group OSCORE pairwise keys (groupcomm-08 §3),
    /// which uses another salt and IKM.
    ///
    /// # Errors
    /// [`Error::Crypto`] if the HKDF refuses the length.
    pub fn derive(&self, hkdf: &dyn Hkdf, salt: &[u8], ikm: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        let mut info = Vec::with_capacity(32 + self.id.len() + self.id_context.map_or(0, <[u8]>::len));
        self.encode_into(&mut info);
        let mut okm = Zeroizing::new(alloc::vec![0u8; self.len]);
        hkdf.derive(salt, ikm, &info, &mut okm)?;
        Ok(okm)
    }
}

/// Writes the AEAD nonce for (ID_PIV, Partial IV) into `out` (`nonce_len` bytes).
///
/// # Errors
/// [`Error::InvalidContext`] if `id_piv` is longer than `nonce_len − 6`, the
/// Partial IV longer than 5 bytes, or `common_iv` of another length than `out`.
// ref: RFC 8613 §5.2: left-pad the Partial IV to 5 bytes and ID_PIV to
// nonce_len − 6 bytes, prefix with the length of ID_PIV, XOR with the Common IV.
pub fn build_nonce(common_iv: &[u8], id_piv: &[u8], partial_iv: &[u8], out: &mut [u8]) -> Result<(), Error> {
    let n = out.len();
    if common_iv.len() != n || n < 7 {
        return Err(Error::InvalidContext("Common IV length"));
    }
    let id_field = n - 6;
    if id_piv.len() > id_field || partial_iv.len() > 5 {
        return Err(Error::InvalidContext("ID or Partial IV too long for the nonce"));
    }
    out.fill(0);
    if let Some(first) = out.first_mut() {
        // id_piv.len() ≤ id_field ≤ 255 for any real AEAD; checked above.
        *first = u8::try_from(id_piv.len()).map_err(|_| Error::InvalidContext("ID length"))?;
    }
    let id_start = 1 + id_field - id_piv.len();
    if let Some(dst) = out.get_mut(id_start..1 + id_field) {
        dst.copy_from_slice(id_piv);
    }
    if let Some(dst) = out.get_mut(n - partial_iv.len()..) {
        dst.copy_from_slice(partial_iv);
    }
    for (o, iv) in out.iter_mut().zip(common_iv) {
        *o ^= iv;
    }
    Ok(())
}

/// The Common Context (RFC 8613 §3.1), extended with 'exp' (key-limits-01 §2.2.1).
pub struct CommonContext {
    pub(crate) aead: &'static dyn Aead,
    pub(crate) hkdf: &'static dyn Hkdf,
    pub(crate) master_secret: Zeroizing<Vec<u8>>,
    pub(crate) master_salt: Vec<u8>,
    pub(crate) id_context: Option<Vec<u8>>,
    pub(crate) common_iv: Vec<u8>,
    pub(crate) exp: Option<u64>,
}

impl CommonContext {
    /// The AEAD algorithm.
    pub fn aead(&self) -> &'static dyn Aead {
        self.aead
    }
    /// The HKDF algorithm.
    pub fn hkdf(&self) -> &'static dyn Hkdf {
        self.hkdf
    }
    /// The ID Context.
    pub fn id_context(&self) -> Option<&[u8]> {
        self.id_context.as_deref()
    }
    /// The Common IV.
    pub fn common_iv(&self) -> &[u8] {
        &self.common_iv
    }
    /// The Master Salt.
    pub fn master_salt(&self) -> &[u8] {
        &self.master_salt
    }
    /// The Master Secret (needed by key update, key-limits-01 §3.2).
    pub fn master_secret(&self) -> &[u8] {
        &self.master_secret
    }
    /// The expiration time, if any.
    pub fn exp(&self) -> Option<u64> {
        self.exp
    }
}

impl fmt::Debug for CommonContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommonContext")
            .field("aead", &self.aead.alg())
            .field("hkdf", &self.hkdf.alg())
            .field("master_secret", &"<redacted>")
            .field("master_salt", &Hex(&self.master_salt))
            .field("id_context", &self.id_context.as_deref().map(Hex))
            .field("common_iv", &Hex(&self.common_iv))
            .field("exp", &self.exp)
            .finish()
    }
}

/// The Sender Context (RFC 8613 §3.1), with 'count_q' / 'limit_q'.
pub struct SenderContext {
    pub(crate) sender_id: Vec<u8>,
    pub(crate) key_bytes: Zeroizing<Vec<u8>>,
    pub(crate) key: Box<dyn AeadKey>,
    /// The nonce of (Sender ID, empty Partial IV), precomputed.
    pub(crate) nonce_base: crate::protect::Nonce,
    pub(crate) ssn: u64,
    pub(crate) count_q: u64,
    pub(crate) limit_q: u64,
}

impl SenderContext {
    /// The Sender ID.
    pub fn sender_id(&self) -> &[u8] {
        &self.sender_id
    }
    /// The Sender Key bytes (Group OSCORE uses it as HKDF salt for pairwise keys).
    pub fn sender_key(&self) -> &[u8] {
        &self.key_bytes
    }
    /// The prepared Sender Key.
    pub fn key(&self) -> &dyn AeadKey {
        &*self.key
    }
    /// The next sender sequence number to be used.
    pub fn sequence_number(&self) -> u64 {
        self.ssn
    }
    /// Messages encrypted with the Sender Key so far.
    pub fn count_q(&self) -> u64 {
        self.count_q
    }
    /// The limit on `count_q`.
    pub fn limit_q(&self) -> u64 {
        self.limit_q
    }
}

impl fmt::Debug for SenderContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SenderContext")
            .field("sender_id", &Hex(&self.sender_id))
            .field("sender_key", &"<redacted>")
            .field("ssn", &self.ssn)
            .field("count_q", &self.count_q)
            .field("limit_q", &self.limit_q)
            .finish()
    }
}

/// The Recipient Context (RFC 8613 §3.1), with 'count_v' / 'limit_v'.
pub struct RecipientContext {
    pub(crate) recipient_id: Vec<u8>,
    pub(crate) key_bytes: Zeroizing<Vec<u8>>,
    pub(crate) key: Box<dyn AeadKey>,
    /// The nonce of (Recipient ID, empty Partial IV), precomputed.
    pub(crate) nonce_base: crate::protect::Nonce,
    pub(crate) window: ReplayWindow,
    pub(crate) count_v: u64,
    pub(crate) limit_v: u64,
}

impl RecipientContext {
    /// The Recipient ID.
    pub fn recipient_id(&self) -> &[u8] {
        &self.recipient_id
    }
    /// The Recipient Key bytes.
    pub fn recipient_key(&self) -> &[u8] {
        &self.key_bytes
    }
    /// The prepared Recipient Key.
    pub fn key(&self) -> &dyn AeadKey {
        &*self.key
    }
    /// The replay window.
    pub fn replay_window(&self) -> &ReplayWindow {
        &self.window
    }
    /// Failed decryptions with the Recipient Key so far.
    pub fn count_v(&self) -> u64 {
        self.count_v
    }
    /// The limit on `count_v`.
    pub fn limit_v(&self) -> u64 {
        self.limit_v
    }
}

impl fmt::Debug for RecipientContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecipientContext")
            .field("recipient_id", &Hex(&self.recipient_id))
            .field("recipient_key", &"<redacted>")
            .field("window", &self.window)
            .field("count_v", &self.count_v)
            .field("limit_v", &self.limit_v)
            .finish()
    }
}

/// A complete OSCORE security context with its store.
///
/// Built by [`SecurityContext::derive`]; message processing is in
/// [`crate::protect`].
pub struct SecurityContext {
    pub(crate) common: CommonContext,
    pub(crate) sender: SenderContext,
    pub(crate) recipient: RecipientContext,
    pub(crate) store: Box<dyn Store>,
    pub(crate) persisted: PersistedState,
    pub(crate) persist_step: u64,
}

impl fmt::Debug for SecurityContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityContext")
            .field("common", &self.common)
            .field("sender", &self.sender)
            .field("recipient", &self.recipient)
            .field("persisted", &self.persisted)
            .field("persist_step", &self.persist_step)
            .finish_non_exhaustive()
    }
}

/// Keys and IV derived from a set of parameters (RFC 8613 §3.2.1), before any
/// mutable state is attached.
pub struct DerivedKeys {
    /// The Sender Key.
    pub sender_key: Zeroizing<Vec<u8>>,
    /// The Recipient Key.
    pub recipient_key: Zeroizing<Vec<u8>>,
    /// The Common IV.
    pub common_iv: Vec<u8>,
}

impl fmt::Debug for DerivedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DerivedKeys").field("common_iv", &Hex(&self.common_iv)).finish_non_exhaustive()
    }
}

/// Derives Sender Key, Recipient Key and Common IV.
///
/// # Errors
/// [`Error::UnsupportedAlgorithm`] or [`Error::InvalidContext`] (ID too long
/// for the nonce, equal Sender and Recipient IDs).
// ref: RFC 8613 §3.2.1
pub fn derive_keys(provider: &CryptoProvider, params: &ContextParams) -> Result<DerivedKeys, Error> {
    let aead = provider.aead(params.aead).ok_or(Error::UnsupportedAlgorithm(params.aead))?;
    let hkdf = provider.hkdf(params.hkdf).ok_or(Error::UnsupportedAlgorithm(params.hkdf))?;
    // ref: RFC 8613 §3.3: the Sender ID length is at most nonce length − 6
    let max_id = aead.nonce_len().saturating_sub(6);
    if params.sender_id.len() > max_id || params.recipient_id.len() > max_id {
        return Err(Error::InvalidContext("Sender/Recipient ID longer than nonce length - 6"));
    }
    // ref: RFC 8613 §3.3: Sender IDs are unique; equal IDs would make both
    // directions use one key and one nonce space.
    if params.sender_id == params.recipient_id {
        return Err(Error::InvalidContext("Sender ID equals Recipient ID"));
    }
    let d = |id: &[u8], kind, len| {
        KdfInfo { id, id_context: params.id_context.as_deref(), alg_aead: params.aead, kind, len }.derive(
            hkdf,
            &params.master_salt,
            &params.master_secret,
        )
    };
    let sender_key = d(&params.sender_id, KdfType::Key, aead.key_len())?;
    let recipient_key = d(&params.recipient_id, KdfType::Key, aead.key_len())?;
    // ref: RFC 8613 §3.2.1: the Common IV uses the empty id and L = nonce length
    let common_iv = d(&[], KdfType::Iv, aead.nonce_len())?.to_vec();
    Ok(DerivedKeys { sender_key, recipient_key, common_iv })
}

impl SecurityContext {
    /// Derives a context with an in-memory store.
    ///
    /// # Errors
    /// As [`derive_keys`].
    pub fn derive(provider: &CryptoProvider, params: &ContextParams) -> Result<Self, Error> {
        Self::derive_with_store(provider, params, Box::new(MemoryStore::new()))
    }

    /// Derives a context and resumes its counters and replay window from
    /// `store` (App. B.1.1: the sender sequence number restarts at the stored
    /// bound, so no nonce is ever reused after a crash).
    ///
    /// # Errors
    /// As [`derive_keys`], or [`Error::Store`] if the store cannot be read.
    pub fn derive_with_store(
        provider: &CryptoProvider,
        params: &ContextParams,
        mut store: Box<dyn Store>,
    ) -> Result<Self, Error> {
        let keys = derive_keys(provider, params)?;
        let aead = provider.aead(params.aead).ok_or(Error::UnsupportedAlgorithm(params.aead))?;
        let hkdf = provider.hkdf(params.hkdf).ok_or(Error::UnsupportedAlgorithm(params.hkdf))?;
        let persisted = store.load()?.unwrap_or_default();
        let window = match persisted.replay {
            Some(state) => ReplayWindow::from_state(params.replay_window, state),
            None => ReplayWindow::new(params.replay_window),
        };
        let nonce_base = |id: &[u8]| crate::protect::Nonce::build(&keys.common_iv, aead.nonce_len(), id, &[]);
        let (sender_nonce_base, recipient_nonce_base) =
            (nonce_base(&params.sender_id)?, nonce_base(&params.recipient_id)?);
        Ok(Self {
            common: CommonContext {
                aead,
                hkdf,
                master_secret: params.master_secret.clone(),
                master_salt: params.master_salt.clone(),
                id_context: params.id_context.clone(),
                common_iv: keys.common_iv,
                exp: params.limits.exp,
            },
            sender: SenderContext {
                sender_id: params.sender_id.clone(),
                key: aead.prepare(&keys.sender_key)?,
                key_bytes: keys.sender_key,
                nonce_base: sender_nonce_base,
                ssn: persisted.ssn_bound,
                count_q: persisted.count_q_bound,
                limit_q: params.limits.limit_q,
            },
            recipient: RecipientContext {
                recipient_id: params.recipient_id.clone(),
                key: aead.prepare(&keys.recipient_key)?,
                key_bytes: keys.recipient_key,
                nonce_base: recipient_nonce_base,
                window,
                count_v: persisted.count_v_bound,
                limit_v: params.limits.limit_v,
            },
            store,
            persisted,
            persist_step: params.persist_step.max(1),
        })
    }

    /// The Common Context.
    pub fn common(&self) -> &CommonContext {
        &self.common
    }
    /// The Sender Context.
    pub fn sender(&self) -> &SenderContext {
        &self.sender
    }
    /// The Recipient Context.
    pub fn recipient(&self) -> &RecipientContext {
        &self.recipient
    }
    /// The parameters this context was derived from (for re-derivation, e.g.
    /// key update, key-limits-01 §3.2, which keeps every parameter but the
    /// Master Secret and Master Salt).
    pub fn params(&self) -> ContextParams {
        ContextParams {
            master_secret: self.common.master_secret.clone(),
            master_salt: self.common.master_salt.clone(),
            sender_id: self.sender.sender_id.clone(),
            recipient_id: self.recipient.recipient_id.clone(),
            id_context: self.common.id_context.clone(),
            aead: self.common.aead.alg(),
            hkdf: self.common.hkdf.alg(),
            replay_window: self.recipient.window.size(),
            persist_step: self.persist_step,
            limits: KeyLimits {
                limit_q: self.sender.limit_q,
                limit_v: self.recipient.limit_v,
                exp: self.common.exp,
            },
        }
    }

    /// The store, e.g. to hand it to a re-derived context.
    pub fn into_store(self) -> Box<dyn Store> {
        self.store
    }

    /// Fails if the context passed its 'exp'.
    // ref: key-limits-01 §2.2.1 ("At the time indicated in this field, a peer MUST stop")
    pub(crate) fn check_exp(&self, now: u64) -> Result<(), Error> {
        match self.common.exp {
            Some(exp) if now >= exp => Err(Error::ContextExpired),
            _ => Ok(()),
        }
    }

    /// Counts one encryption with the Sender Key, persisting the bound ahead.
    // ref: key-limits-01 §2.3.1 (count_q incremented before encryption; abort past limit_q)
    pub(crate) fn count_encryption(&mut self) -> Result<(), Error> {
        if self.sender.count_q >= self.sender.limit_q {
            return Err(Error::LimitQReached);
        }
        let next = self.sender.count_q + 1;
        if next > self.persisted.count_q_bound {
            let mut state = self.persisted;
            state.count_q_bound = next.saturating_add(self.persist_step);
            self.save(state)?;
        }
        self.sender.count_q = next;
        Ok(())
    }

    /// Takes the next sender sequence number, persisting the bound ahead.
    // ref: RFC 8613 App. B.1.1, §7.2.1
    pub(crate) fn take_sequence_number(&mut self) -> Result<u64, Error> {
        crate::store::take_sequence_number(
            &mut self.sender.ssn,
            &mut self.persisted,
            self.persist_step,
            &mut *self.store,
        )
    }

    /// Fails if the Recipient Key is past 'limit_v'.
    // ref: key-limits-01 §2.3.2 ("After count_v has exceeded limit_v ... MUST NOT be decrypted")
    pub(crate) fn check_limit_v(&self) -> Result<(), Error> {
        if self.recipient.count_v > self.recipient.limit_v { Err(Error::LimitVReached) } else { Ok(()) }
    }

    /// Counts a failed decryption (never a replay).
    // ref: key-limits-01 §2.3.2
    pub(crate) fn count_failed_decryption(&mut self) {
        let next = self.recipient.count_v.saturating_add(1);
        if next > self.persisted.count_v_bound {
            let mut state = self.persisted;
            state.count_v_bound = next.saturating_add(self.persist_step);
            // If the store fails the in-memory count still rises; the next
            // restart may then under-count by at most one step. Failing the
            // (already failed) verification a second time would add nothing.
            let _ = self.save(state);
        }
        self.recipient.count_v = next;
    }

    /// Records an accepted sequence number and persists the window.
    pub(crate) fn accept_sequence_number(&mut self, seq: u64) -> Result<(), Error> {
        let mut window = self.recipient.window.clone();
        window.accept(seq);
        let mut state = self.persisted;
        state.replay = Some(window.state());
        self.save(state)?;
        self.recipient.window = window;
        Ok(())
    }

    /// Re-establishes the replay window after its state was lost, once the
    /// freshness of a request with sequence number `seq` was verified (e.g.
    /// with the Echo option, RFC 9175): every sequence number up to and
    /// including `seq` counts as received from now on, and the window is
    /// persisted.
    ///
    /// # Errors
    /// [`Error::Store`] if the window could not be persisted; the window is
    /// unchanged then.
    // ref: RFC 8613 App. B.1.2 ("the Partial IV of the second request is set
    // as the lower limit of the Replay Window of that security context")
    pub fn synchronise_replay_window(&mut self, seq: u64) -> Result<(), Error> {
        let window = ReplayWindow::from_state(
            self.recipient.window.size(),
            ReplayState { highest: Some(seq), bitmap: u128::MAX },
        );
        let mut state = self.persisted;
        state.replay = Some(window.state());
        self.save(state)?;
        self.recipient.window = window;
        Ok(())
    }

    /// Takes the next sender sequence number for a message that is protected
    /// under a context derived from this one (the temporary CTX_1 of the
    /// key-update exchange, key-limits-01 §3.3), persisting the bound like any
    /// other (App. B.1.1): the number is never used again under this context,
    /// and the peer can check it against this context's replay window.
    ///
    /// # Errors
    /// [`Error::SequenceNumberExhausted`], or [`Error::Store`] if the bound
    /// could not be persisted (the number must then not be used).
    pub fn reserve_sequence_number(&mut self) -> Result<u64, Error> {
        self.take_sequence_number()
    }

    /// Records `seq` in this context's replay window (persisted) for a message
    /// that was verified under a context derived from this one (key-limits-01
    /// §3.3), so that a replay of it is refused here too.
    ///
    /// # Errors
    /// [`Error::Replay`] if `seq` is not fresh (nothing changes), or
    /// [`Error::Store`].
    pub fn mark_received(&mut self, seq: u64) -> Result<(), Error> {
        match self.recipient.window.check(seq) {
            crate::replay::ReplayOutcome::Fresh => self.accept_sequence_number(seq),
            other => Err(Error::Replay(other)),
        }
    }

    /// Counts a failed decryption under a context derived from this one
    /// against this context's 'count_v' (key-limits-01 §2.3.2), so that
    /// forgeries aimed at derived keys are bounded by this context's 'limit_v'.
    pub fn charge_failed_decryption(&mut self) {
        self.count_failed_decryption();
    }

    fn save(&mut self, state: PersistedState) -> Result<(), Error> {
        self.store.save(&state)?;
        self.persisted = state;
        Ok(())
    }
}
