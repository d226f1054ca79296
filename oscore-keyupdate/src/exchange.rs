//! The key-update exchange of key-limits-01 §3.3 as typestates.
//!
//! Both flows have the same shape; only the direction of the two messages
//! differs:
//!
//! ```text
//!              client-initiated (Figure 5)        server-initiated (Figure 6)
//! initiator    client: request under CTX_1,        server: response under CTX_1,
//!  (R1)          'id detail' = R1                    'id detail' = R1
//! responder    server: response under CTX_NEW,     client: request under CTX_NEW,
//!  (R2)          'id detail' = R1|R2                 'id detail' = R1|R2
//! ```
//!
//! with CTX_1 = updateCtx(R1, CTX_OLD) and CTX_NEW = updateCtx(R1|R2, CTX_OLD).
//!
//! The types follow the phases:
//!
//! - [`Initiator<Client>`] / [`Initiator<Server>`]: exists only once R1 was
//!   sent (`start` returns it together with the message). `finish` checks the
//!   reply's R1, derives CTX_NEW, verifies the reply and yields [`Completed`]:
//!   the initiator may now drop CTX_OLD.
//! - [`ReceivedR1<Server>`] / [`ReceivedR1<Client>`]: a verified R1 message.
//!   `derive` picks R2 and CTX_NEW and yields a [`Responder`], which protects
//!   the R1|R2 message and waits for the first message verified under
//!   CTX_NEW; that yields [`Completed`]: the responder may now drop CTX_OLD.
//!
//! A failed step on a waiting state returns the state in [`Rejected`], so a
//! forged or wrong message never ends an exchange.
//!
//! # Decisions the draft leaves open
//!
//! - **CTX_1 borrows the sequence numbers and the replay window of CTX_OLD.**
//!   The Partial IV of an R1 message is a sender sequence number reserved
//!   from CTX_OLD ([`SecurityContext::reserve_sequence_number`], persisted),
//!   and the responder checks it against CTX_OLD's replay window and records
//!   it there ([`SecurityContext::mark_received`]). So a replayed R1 message
//!   is refused however many key updates were attempted, even after a
//!   reboot, and CTX_1 needs no store of its own.
//! - **Forgery attempts at derived keys are counted.** CTX_1 inherits
//!   CTX_OLD's 'count_v' and 'limit_v', and a failed verification under
//!   CTX_1 is charged to CTX_OLD
//!   ([`SecurityContext::charge_failed_decryption`]); otherwise an attacker
//!   repeating one R1 would get unlimited attempts at one CTX_1 key. The
//!   initiator's replies, verified under a CTX_NEW derived from an R1|R2 the
//!   attacker may vary, get a budget of 'limit_v' failures per exchange
//!   (and are charged to CTX_OLD too). Consequences: an *initiator* whose
//!   Recipient Key is used up can still update, a *responder* whose
//!   Recipient Key exceeded 'limit_v' cannot — which is why key-limits-01
//!   §2.4 recommends starting before the limits are reached. 'count_q' is
//!   not inherited: CTX_1 has its own Sender Key, so an endpoint whose
//!   Sender Key reached 'limit_q' can still update either way.
//! - **Messages protected under a context other than the request's use their
//!   own Partial IV** ([`ResponsePiv::Own`]): the R1|R2 response of the
//!   client-initiated flow (CTX_NEW, answering a CTX_1 request) and the R1
//!   response of the server-initiated flow (CTX_1, answering a CTX_OLD
//!   request). The request's nonce belongs to the numbering of another
//!   context: under CTX_NEW, where the client's sequence numbers start again
//!   at 0, it would come back with a later request.
//! - **R1 has one length at both peers** ([`Config::r1_len`]): CTX_1 and
//!   CTX_NEW come from the same `updateCtx()`, so an R1|R2 message is also
//!   valid as an R1 message whose R1 is R1|R2; the length tells them apart.
//! - **CTX_NEW gets fresh key-usage limits** (the configured or recommended
//!   triple, [`crate::limits`]) and its 'exp' from [`Config::lifetime`], or
//!   CTX_OLD's 'exp' when no lifetime is configured (an update must not
//!   outlive the authorisation the original context stood for). An expired
//!   CTX_OLD is not renewed: CTX_1 has its 'exp'.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;

use coap_lite::Packet;
use subtle::ConstantTimeEq;

use oscore_core::crypto::CryptoProvider;
use oscore_core::option::decode_partial_iv;
use oscore_core::protect::decode_oscore_option;
use oscore_core::store::{MemoryStore, PersistedState};
use oscore_core::{ContextParams, KeyLimits, ReplayOutcome, RequestBinding, ResponsePiv, SecurityContext};

use crate::error::Error;
use crate::limits::{self, UsageLimits};
use crate::persistence::StoreFactory;
use crate::update::{HkdfKeyUpdate, KeyUpdateSource, update_ctx};

/// The default length of R1 and R2 in bytes.
pub const DEFAULT_NONCE_LEN: usize = 8;

/// The default time CTX_OLD is kept for incoming messages after CTX_NEW was
/// established: EXCHANGE_LIFETIME of RFC 7252 §4.8.2 (247 s), the longest a
/// retransmission of a message sent before the switch can still arrive.
pub const DEFAULT_RETENTION: u64 = 247;

/// Key-update policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Length of R1 (default 8). **Both peers must use the same value**:
    /// an 'id detail' of exactly this length is an R1, a longer one R1|R2.
    ///
    /// key-limits-01 derives CTX_1 and CTX_NEW with the same `updateCtx()`,
    /// so a message under CTX_NEW = updateCtx(R1|R2, CTX_OLD) is also a
    /// valid message under the "CTX_1" of an exchange whose R1 is R1|R2. A
    /// peer that no longer expects the R1|R2 reply (it gave the exchange up,
    /// or rebooted) would take it for a new R1 and answer it, and the two
    /// peers could chase each other's replies forever. Fixing the R1 length
    /// tells the two messages apart; the random tests found this.
    pub r1_len: usize,
    /// Length of R2 when this endpoint responds (default 8); the peer takes
    /// whatever follows its R1.
    pub r2_len: usize,
    /// The (q, v, l) triple for every context this endpoint uses; `None`
    /// takes the recommendation of key-limits-01 §2.1.1 for the AEAD.
    pub limits: Option<UsageLimits>,
    /// Lifetime of a new context in seconds ('exp' = establishment + this);
    /// `None` keeps the 'exp' of the old context.
    pub lifetime: Option<u64>,
    /// How long CTX_OLD is kept for incoming messages after CTX_NEW was
    /// established, in seconds (key-limits-01 §3.4); 0 drops it at once.
    pub retention: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            r1_len: DEFAULT_NONCE_LEN,
            r2_len: DEFAULT_NONCE_LEN,
            limits: None,
            lifetime: None,
            retention: DEFAULT_RETENTION,
        }
    }
}

impl Config {
    /// Checks the lengths. Custom limits are checked when they are applied
    /// to a context, whose AEAD they depend on.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for an empty R1 or R2 or an R1|R2 longer than
    /// the 255 bytes an 'id detail' can hold.
    pub fn validate(&self) -> Result<(), Error> {
        if self.r1_len == 0 || self.r2_len == 0 {
            return Err(Error::InvalidConfig("R1 and R2 must not be empty"));
        }
        // ref: key-limits-01 §3.1 (the 'id detail' length is one byte)
        if self.r1_len.saturating_add(self.r2_len) > 255 {
            return Err(Error::InvalidConfig("R1|R2 longer than 255 bytes"));
        }
        Ok(())
    }
}

/// What every step of the exchange needs: the crypto provider, the
/// `updateCtx()` branch and the policy.
pub struct KeyUpdater {
    provider: &'static CryptoProvider,
    source: Box<dyn KeyUpdateSource>,
    config: Config,
}

impl fmt::Debug for KeyUpdater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyUpdater")
            .field("provider", self.provider)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl KeyUpdater {
    /// The HKDF branch of `updateCtx()` and the default [`Config`].
    pub fn new(provider: &'static CryptoProvider) -> Self {
        Self { provider, source: Box::new(HkdfKeyUpdate), config: Config::default() }
    }

    /// Replaces the source of new Master Secrets (e.g. an EDHOC-based one).
    pub fn with_source(mut self, source: Box<dyn KeyUpdateSource>) -> Self {
        self.source = source;
        self
    }

    /// Replaces the policy.
    ///
    /// # Errors
    /// As [`Config::validate`].
    pub fn with_config(mut self, config: Config) -> Result<Self, Error> {
        config.validate()?;
        self.config = config;
        Ok(self)
    }

    /// The policy.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The crypto provider.
    pub fn provider(&self) -> &'static CryptoProvider {
        self.provider
    }

    /// `updateCtx(N, CTX_IN)` (key-limits-01 §3.2) with this updater's source.
    ///
    /// # Errors
    /// As [`update_ctx`].
    pub fn update_ctx(&self, n: &[u8], ctx_in: &ContextParams) -> Result<ContextParams, Error> {
        update_ctx(self.provider, &*self.source, n, ctx_in)
    }

    /// The (q, v, l) triple in force for `params`.
    ///
    /// # Errors
    /// [`Error::UnknownAlgorithm`].
    pub fn usage_limits(&self, params: &ContextParams) -> Result<UsageLimits, Error> {
        match self.config.limits {
            Some(l) => Ok(l),
            None => UsageLimits::recommended(params.aead),
        }
    }

    /// The checked `KeyLimits` for a context with the AEAD of `params` and
    /// expiration `exp`.
    ///
    /// # Errors
    /// As [`limits::key_limits`].
    pub fn key_limits(&self, params: &ContextParams, exp: Option<u64>) -> Result<KeyLimits, Error> {
        limits::key_limits(params.aead, self.config.limits, exp)
    }

    /// Fresh random bytes from the provider.
    pub(crate) fn random(&self, len: usize) -> Result<Vec<u8>, Error> {
        let mut out = alloc::vec![0u8; len];
        self.provider.random.fill(&mut out)?;
        Ok(out)
    }

    /// CTX_1 = updateCtx(r1, base), sharing the base's sequence numbers,
    /// replay window and 'count_v' (see the module docs). `ssn` is the first
    /// sender sequence number to use (reserved from the base), `count_q` the
    /// messages already protected under this CTX_1.
    fn ctx1(
        &self,
        base: &SecurityContext,
        r1: &[u8],
        ssn: u64,
        count_q: u64,
    ) -> Result<SecurityContext, Error> {
        let params = self.update_ctx(r1, &base.params())?;
        let state = PersistedState {
            ssn_bound: ssn,
            count_q_bound: count_q,
            count_v_bound: base.recipient().count_v(),
            replay: Some(base.recipient().replay_window().state()),
        };
        Ok(SecurityContext::derive_with_store(
            self.provider,
            &params,
            Box::new(MemoryStore::with_state(state)),
        )?)
    }

    /// CTX_NEW = updateCtx(n, base) with fresh limits and its own store.
    fn ctx_new(
        &self,
        base: &ContextParams,
        n: &[u8],
        stores: &mut dyn StoreFactory,
        now: u64,
    ) -> Result<SecurityContext, Error> {
        let mut params = self.update_ctx(n, base)?;
        let exp = match self.config.lifetime {
            Some(lifetime) => Some(now.saturating_add(lifetime)),
            None => base.limits.exp,
        };
        params.limits = self.key_limits(&params, exp)?;
        let store = stores.context_store(&params.master_salt)?;
        Ok(SecurityContext::derive_with_store(self.provider, &params, store)?)
    }

    /// An 'id detail' is taken for a peer's R1 only with exactly the R1
    /// length both peers are configured with (see [`Config::r1_len`]).
    fn check_peer_r1(&self, r1: &[u8]) -> Result<(), Error> {
        if r1.len() != self.config.r1_len {
            return Err(Error::UnexpectedMessage("id detail is not an R1 of the configured length"));
        }
        Ok(())
    }
}

mod sealed {
    pub trait Sealed {}
}

/// The role of an endpoint in CoAP (not in the key update).
pub trait Role: sealed::Sealed + fmt::Debug + Send + Sync + 'static {}

/// The CoAP client.
#[derive(Debug, Clone, Copy)]
pub struct Client;
/// The CoAP server.
#[derive(Debug, Clone, Copy)]
pub struct Server;

impl sealed::Sealed for Client {}
impl sealed::Sealed for Server {}
impl Role for Client {}
impl Role for Server {}

/// A step on a waiting state failed; the state is unchanged.
pub struct Rejected<S> {
    /// The state, to keep waiting with.
    pub state: S,
    /// Why the message was refused.
    pub error: Error,
}

impl<S: fmt::Debug> fmt::Debug for Rejected<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejected").field("state", &self.state).field("error", &self.error).finish()
    }
}

impl<S> Rejected<S> {
    fn new(state: S, error: impl Into<Error>) -> Self {
        Self { state, error: error.into() }
    }
}

/// A finished key update: CTX_NEW, verified. The holder may delete CTX_OLD
/// (or keep it for incoming messages, key-limits-01 §3.4).
pub struct Completed {
    ctx: SecurityContext,
}

impl fmt::Debug for Completed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Completed").field("ctx", &self.ctx).finish()
    }
}

impl Completed {
    /// CTX_NEW.
    pub fn context(&self) -> &SecurityContext {
        &self.ctx
    }
    /// N = R1|R2, the Master Salt of CTX_NEW.
    pub fn n(&self) -> &[u8] {
        self.ctx.common().master_salt()
    }
    /// CTX_NEW, to use from now on.
    pub fn into_context(self) -> SecurityContext {
        self.ctx
    }
}

/// The initiator after it sent R1 (key-limits-01 §3.3: "The initiator always
/// offers the fresh value R1").
pub struct Initiator<R: Role> {
    r1: Vec<u8>,
    base: Box<ContextParams>,
    sends: u64,
    /// Replies that failed to verify, against the exchange's own budget.
    failures: u64,
    role: PhantomData<R>,
}

impl<R: Role> fmt::Debug for Initiator<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Initiator")
            .field("role", &self.role)
            .field("r1_len", &self.r1.len())
            .field("sends", &self.sends)
            .finish_non_exhaustive()
    }
}

/// True when `ctx` is the context `params` describe (same Master Secret and
/// Salt; IDs never change).
fn is_context(ctx: &SecurityContext, params: &ContextParams) -> bool {
    ctx.common().master_salt() == params.master_salt.as_slice()
        && bool::from(ctx.common().master_secret().ct_eq(&params.master_secret))
}

/// Does `n` = R1|R2 carry `r1` as R1?
fn carries_r1(n: &[u8], r1: &[u8]) -> bool {
    n.len() > r1.len() && n.get(..r1.len()).is_some_and(|p| bool::from(p.ct_eq(r1)))
}

impl<R: Role> Initiator<R> {
    /// A fresh R1 from the provider's RNG; nothing sent yet.
    pub(crate) fn new(updater: &KeyUpdater, base: &SecurityContext) -> Result<Self, Error> {
        // ref: key-limits-01 §3.3 ("each peer contributes by generating a fresh value R1 or R2")
        Ok(Self {
            r1: updater.random(updater.config.r1_len)?,
            base: Box::new(base.params()),
            sends: 0,
            failures: 0,
            role: PhantomData,
        })
    }

    /// An initiator restored after a reboot (the R1 and message count saved
    /// in the session).
    pub(crate) fn resume(r1: Vec<u8>, base: ContextParams, sends: u64) -> Self {
        Self { r1, base: Box::new(base), sends, failures: 0, role: PhantomData }
    }

    /// R1.
    pub fn r1(&self) -> &[u8] {
        &self.r1
    }

    /// Messages protected under CTX_1 so far.
    pub fn sends(&self) -> u64 {
        self.sends
    }

    /// CTX_1 for the next message, with a sequence number reserved from
    /// CTX_OLD.
    fn next_ctx1(&self, updater: &KeyUpdater, old: &mut SecurityContext) -> Result<SecurityContext, Error> {
        if !is_context(old, &self.base) {
            return Err(Error::ContextGone);
        }
        let ssn = old.reserve_sequence_number()?;
        updater.ctx1(old, &self.r1, ssn, self.sends)
    }

    /// Checks R1 in the reply and derives CTX_NEW (not yet verified).
    fn derive_new(
        &self,
        updater: &KeyUpdater,
        old: &SecurityContext,
        stores: &mut dyn StoreFactory,
        n: Option<&[u8]>,
        now: u64,
    ) -> Result<SecurityContext, Error> {
        let n = n.ok_or(Error::UnexpectedMessage("key-update reply without id detail"))?;
        // ref: key-limits-01 §3.3 ("verifies that R1 coincides with the value R1
        // specified in the previously sent request. If so, ... derives CTX_NEW")
        if !carries_r1(n, &self.r1) {
            return Err(Error::R1Mismatch);
        }
        if !is_context(old, &self.base) {
            return Err(Error::ContextGone);
        }
        // Replies that fail to verify are forgery attempts at keys derived
        // for this exchange: they have a budget of 'limit_v' of their own
        // (not CTX_OLD's, so an initiator whose Recipient Key is used up can
        // still update), and are also charged to CTX_OLD.
        // ref: key-limits-01 §2.3.2
        if self.failures > self.base.limits.limit_v {
            return Err(oscore_core::Error::LimitVReached.into());
        }
        updater.ctx_new(&self.base, n, stores, now)
    }

    fn count_failure(&mut self, old: &mut SecurityContext, e: &oscore_core::Error) {
        if *e == oscore_core::Error::DecryptionFailed {
            self.failures = self.failures.saturating_add(1);
            old.charge_failed_decryption();
        }
    }
}

fn charge(old: &mut SecurityContext, e: &oscore_core::Error) {
    if *e == oscore_core::Error::DecryptionFailed {
        old.charge_failed_decryption();
    }
}

impl Initiator<Client> {
    /// Starts a client-initiated key update (key-limits-01 §3.3, Figure 5):
    /// picks R1 and protects `request` under CTX_1 = updateCtx(R1, CTX_OLD)
    /// with R1 as 'id detail'.
    ///
    /// # Errors
    /// RNG, derivation and protection errors; [`oscore_core::Error::ContextExpired`]
    /// if CTX_OLD passed its 'exp' (an expired context is not renewed).
    pub fn start(
        updater: &KeyUpdater,
        old: &mut SecurityContext,
        request: &Packet,
        now: u64,
    ) -> Result<(Self, Packet, RequestBinding), Error> {
        let mut init = Self::new(updater, old)?;
        let (packet, binding) = init.protect_request(updater, old, request, now)?;
        Ok((init, packet, binding))
    }

    /// Protects another request under CTX_1 with the same R1 (e.g. when the
    /// reply to the first one is overdue). Each gets its own sequence number
    /// from CTX_OLD.
    ///
    /// # Errors
    /// As [`start`](Self::start); [`Error::ContextGone`] if `old` is not the
    /// context the update started from.
    // ref: key-limits-01 §3.3 ("the client sends a request to the server,
    // protected with the Security Context CTX_1 ... 'd' flag bit set to 1 and R1 as 'id detail'")
    pub fn protect_request(
        &mut self,
        updater: &KeyUpdater,
        old: &mut SecurityContext,
        request: &Packet,
        now: u64,
    ) -> Result<(Packet, RequestBinding), Error> {
        let mut ctx1 = self.next_ctx1(updater, old)?;
        let out = ctx1.protect_request_with(request, Some(&self.r1), now)?;
        self.sends = self.sends.saturating_add(1);
        Ok(out)
    }

    /// Handles the server's response: checks that its 'id detail' is R1|R2
    /// with our R1, derives CTX_NEW = updateCtx(R1|R2, CTX_OLD) and verifies
    /// the response under it. On success CTX_OLD may be deleted.
    ///
    /// # Errors
    /// [`Rejected`] with [`Error::R1Mismatch`], a missing 'id detail', or a
    /// verification error; the initiator keeps waiting.
    // ref: key-limits-01 §3.3 (client-initiated: "Upon receiving the response ...")
    pub fn finish(
        mut self,
        updater: &KeyUpdater,
        old: &mut SecurityContext,
        stores: &mut dyn StoreFactory,
        response: &Packet,
        binding: &mut RequestBinding,
        now: u64,
    ) -> Result<(Completed, Packet), Rejected<Self>> {
        let option = match decode_oscore_option(response) {
            Ok(o) => o,
            Err(e) => return Err(Rejected::new(self, e)),
        };
        let mut new = match self.derive_new(updater, old, stores, option.id_detail.as_deref(), now) {
            Ok(ctx) => ctx,
            Err(e) => return Err(Rejected::new(self, e)),
        };
        match new.verify_response(response, binding, now) {
            Ok(msg) => Ok((Completed { ctx: new }, msg)),
            Err(e) => {
                self.count_failure(old, &e);
                Err(Rejected::new(self, e))
            }
        }
    }
}

impl Initiator<Server> {
    /// Starts a server-initiated key update (key-limits-01 §3.3, Figure 6):
    /// picks R1 and protects `response` (to a request verified under
    /// CTX_OLD) under CTX_1 = updateCtx(R1, CTX_OLD) with R1 as 'id detail'.
    ///
    /// # Errors
    /// As [`Initiator::<Client>::start`].
    pub fn start(
        updater: &KeyUpdater,
        old: &mut SecurityContext,
        response: &Packet,
        binding: &mut RequestBinding,
        now: u64,
    ) -> Result<(Self, Packet), Error> {
        let mut init = Self::new(updater, old)?;
        let packet = init.protect_response(updater, old, response, binding, now)?;
        Ok((init, packet))
    }

    /// Protects another response under CTX_1 with the same R1 (the offer is
    /// repeated until the client answers it).
    ///
    /// # Errors
    /// As [`start`](Self::start).
    // ref: key-limits-01 §3.3 (server-initiated: "the server sends a response to
    // the client, protected with the Security Context CTX_1 ... R1 as 'id detail'")
    pub fn protect_response(
        &mut self,
        updater: &KeyUpdater,
        old: &mut SecurityContext,
        response: &Packet,
        binding: &mut RequestBinding,
        now: u64,
    ) -> Result<Packet, Error> {
        let mut ctx1 = self.next_ctx1(updater, old)?;
        let out = ctx1.protect_response_with(response, binding, ResponsePiv::Own, Some(&self.r1), now)?;
        self.sends = self.sends.saturating_add(1);
        Ok(out)
    }

    /// Handles the client's request carrying R1|R2: checks R1, derives
    /// CTX_NEW and verifies the request under it. On success CTX_OLD may be
    /// deleted.
    ///
    /// # Errors
    /// As [`Initiator::<Client>::finish`].
    // ref: key-limits-01 §3.3 (server-initiated: "Upon receiving the request ...")
    pub fn finish(
        mut self,
        updater: &KeyUpdater,
        old: &mut SecurityContext,
        stores: &mut dyn StoreFactory,
        request: &Packet,
        now: u64,
    ) -> Result<(Completed, Packet, RequestBinding), Rejected<Self>> {
        let option = match decode_oscore_option(request) {
            Ok(o) => o,
            Err(e) => return Err(Rejected::new(self, e)),
        };
        let mut new = match self.derive_new(updater, old, stores, option.id_detail.as_deref(), now) {
            Ok(ctx) => ctx,
            Err(e) => return Err(Rejected::new(self, e)),
        };
        match new.verify_request(request, now) {
            Ok((msg, binding)) => Ok((Completed { ctx: new }, msg, binding)),
            Err(e) => {
                self.count_failure(old, &e);
                Err(Rejected::new(self, e))
            }
        }
    }
}

/// A verified message carrying the peer's R1; this endpoint is the responder.
pub struct ReceivedR1<R: Role> {
    r1: Vec<u8>,
    base: Box<ContextParams>,
    role: PhantomData<R>,
}

impl<R: Role> fmt::Debug for ReceivedR1<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceivedR1")
            .field("role", &self.role)
            .field("r1_len", &self.r1.len())
            .finish_non_exhaustive()
    }
}

impl<R: Role> ReceivedR1<R> {
    /// The peer's R1.
    pub fn r1(&self) -> &[u8] {
        &self.r1
    }

    /// Picks R2 and derives CTX_NEW = updateCtx(R1|R2, CTX_OLD), with its own
    /// store; nothing is sent yet. Save what is needed to resume before the
    /// first message under CTX_NEW leaves.
    ///
    /// # Errors
    /// RNG, derivation or store errors.
    // ref: key-limits-01 §3.3 ("generates a random value R2 and uses the
    // concatenation R1|R2 together with the old Security Context CTX_OLD to
    // derive the new Security Context CTX_NEW")
    pub fn derive(
        self,
        updater: &KeyUpdater,
        stores: &mut dyn StoreFactory,
        now: u64,
    ) -> Result<Responder<R>, Error> {
        let mut n = self.r1.clone();
        n.extend_from_slice(&updater.random(updater.config.r2_len)?);
        let new = updater.ctx_new(&self.base, &n, stores, now)?;
        Ok(Responder { new: Box::new(new), r1_len: self.r1.len(), r1_seq: None, role: PhantomData })
    }
}

/// Verifies `verify` under CTX_1 = updateCtx(r1, old), sharing CTX_OLD's
/// replay window and 'count_v' (module docs).
fn under_ctx1<T>(
    updater: &KeyUpdater,
    old: &mut SecurityContext,
    r1: &[u8],
    verify: impl FnOnce(&mut SecurityContext) -> Result<T, oscore_core::Error>,
) -> Result<T, Error> {
    updater.check_peer_r1(r1)?;
    let mut ctx1 = updater.ctx1(old, r1, 0, 0)?;
    verify(&mut ctx1).map_err(|e| {
        charge(old, &e);
        Error::from(e)
    })
}

impl ReceivedR1<Server> {
    /// Verifies a request carrying R1 in its 'id detail' under CTX_1 =
    /// updateCtx(R1, CTX_OLD) (client-initiated flow). Its sequence number
    /// is checked against, and recorded in, CTX_OLD's replay window.
    ///
    /// # Errors
    /// [`Error::UnexpectedMessage`] without 'id detail'; verification errors
    /// ([`oscore_core::Error::Replay`] for a replayed R1 request).
    // ref: key-limits-01 §3.3 ("the server derives the temporary Security
    // Context CTX_1 ... Then, the server verifies the request by using CTX_1")
    pub fn verify(
        updater: &KeyUpdater,
        old: &mut SecurityContext,
        request: &Packet,
        now: u64,
    ) -> Result<(Self, Packet, RequestBinding), Error> {
        let option = decode_oscore_option(request)?;
        let r1 = option.id_detail.ok_or(Error::UnexpectedMessage("key-update request without id detail"))?;
        let piv = option
            .partial_iv
            .as_deref()
            .ok_or(oscore_core::Error::MalformedOption("request without Partial IV"))?;
        let seq = decode_partial_iv(piv)?;
        // Cheap refusal of a replay before any derivation.
        match old.recipient().replay_window().check(seq) {
            ReplayOutcome::Fresh => {}
            other => return Err(oscore_core::Error::Replay(other).into()),
        }
        let (msg, binding) = under_ctx1(updater, old, &r1, |ctx1| ctx1.verify_request(request, now))?;
        old.mark_received(seq)?;
        Ok((Self { r1, base: Box::new(old.params()), role: PhantomData }, msg, binding))
    }

    /// [`derive`](Self::derive) then [`Responder::<Server>::protect_response`].
    ///
    /// # Errors
    /// As both.
    pub fn respond(
        self,
        updater: &KeyUpdater,
        stores: &mut dyn StoreFactory,
        response: &Packet,
        binding: &mut RequestBinding,
        now: u64,
    ) -> Result<(Responder<Server>, Packet), Error> {
        let mut responder = self.derive(updater, stores, now)?;
        let packet = responder.protect_response(response, binding, now)?;
        Ok((responder, packet))
    }
}

impl ReceivedR1<Client> {
    /// Verifies a response carrying R1 in its 'id detail' under CTX_1 =
    /// updateCtx(R1, CTX_OLD) (server-initiated flow).
    ///
    /// # Errors
    /// As [`ReceivedR1::<Server>::verify`].
    // ref: key-limits-01 §3.3 ("the client derives the temporary Security
    // Context CTX_1 ... Then, the client verifies the response by using CTX_1")
    pub fn verify(
        updater: &KeyUpdater,
        old: &mut SecurityContext,
        response: &Packet,
        binding: &mut RequestBinding,
        now: u64,
    ) -> Result<(Self, Packet), Error> {
        let option = decode_oscore_option(response)?;
        let r1 = option.id_detail.ok_or(Error::UnexpectedMessage("key-update response without id detail"))?;
        let msg = under_ctx1(updater, old, &r1, |ctx1| ctx1.verify_response(response, binding, now))?;
        Ok((Self { r1, base: Box::new(old.params()), role: PhantomData }, msg))
    }

    /// [`derive`](Self::derive) then [`Responder::<Client>::protect_request`].
    ///
    /// # Errors
    /// As both.
    pub fn respond(
        self,
        updater: &KeyUpdater,
        stores: &mut dyn StoreFactory,
        request: &Packet,
        now: u64,
    ) -> Result<(Responder<Client>, Packet, RequestBinding), Error> {
        let mut responder = self.derive(updater, stores, now)?;
        let (packet, binding) = responder.protect_request(request, now)?;
        Ok((responder, packet, binding))
    }
}

/// The responder with CTX_NEW, waiting for the first message verified under
/// it; until then it also keeps CTX_OLD.
pub struct Responder<R: Role> {
    new: Box<SecurityContext>,
    r1_len: usize,
    /// The highest sequence number (of CTX_OLD) of an R1 request answered.
    r1_seq: Option<u64>,
    role: PhantomData<R>,
}

impl<R: Role> fmt::Debug for Responder<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Responder").field("role", &self.role).field("new", &self.new).finish_non_exhaustive()
    }
}

impl<R: Role> Responder<R> {
    /// A responder restored after a reboot; `new` is CTX_NEW, whose Master
    /// Salt is R1|R2 with an R1 of `r1_len` bytes.
    pub(crate) fn resume(new: SecurityContext, r1_len: usize, r1_seq: Option<u64>) -> Self {
        Self { new: Box::new(new), r1_len, r1_seq, role: PhantomData }
    }

    /// The highest CTX_OLD sequence number of an R1 request this responder
    /// answered (server role), if known.
    pub fn r1_seq(&self) -> Option<u64> {
        self.r1_seq
    }

    /// N = R1|R2.
    pub fn n(&self) -> &[u8] {
        self.new.common().master_salt()
    }

    /// The peer's R1.
    pub fn r1(&self) -> &[u8] {
        self.n().get(..self.r1_len).unwrap_or(&[])
    }

    /// CTX_NEW.
    pub fn context(&self) -> &SecurityContext {
        &self.new
    }

    pub(crate) fn context_mut(&mut self) -> &mut SecurityContext {
        &mut self.new
    }

    /// Confirmation obtained otherwise (a message verified under a context
    /// derived from CTX_NEW).
    pub(crate) fn into_completed(self) -> Completed {
        Completed { ctx: *self.new }
    }
}

impl Responder<Server> {
    /// Protects a response to the R1 request under CTX_NEW, with R1|R2 as
    /// 'id detail' and its own Partial IV. May be called again for a repeated
    /// R1 request.
    ///
    /// # Errors
    /// Protection errors.
    // ref: key-limits-01 §3.3 ("the server sends a response to the client,
    // protected with CTX_NEW ... specifies R1|R2 as 'id detail'")
    pub fn protect_response(
        &mut self,
        response: &Packet,
        binding: &mut RequestBinding,
        now: u64,
    ) -> Result<Packet, Error> {
        let n = self.n().to_vec();
        let packet = self.new.protect_response_with(response, binding, ResponsePiv::Own, Some(&n), now)?;
        if let Ok(seq) = decode_partial_iv(binding.partial_iv()) {
            self.r1_seq = Some(self.r1_seq.map_or(seq, |s| s.max(seq)));
        }
        Ok(packet)
    }

    /// Verifies a request under CTX_NEW. Success is the confirmation that the
    /// client has CTX_NEW: CTX_OLD may be deleted.
    ///
    /// # Errors
    /// [`Rejected`] with the verification error.
    // ref: key-limits-01 §3.3 ("When successfully verifying the request using
    // CTX_NEW, the server deletes the old Security Context CTX_OLD")
    pub fn verify_request(
        mut self,
        request: &Packet,
        now: u64,
    ) -> Result<(Completed, Packet, RequestBinding), Rejected<Self>> {
        match self.new.verify_request(request, now) {
            Ok((msg, binding)) => Ok((Completed { ctx: *self.new }, msg, binding)),
            Err(e) => Err(Rejected::new(self, e)),
        }
    }
}

impl Responder<Client> {
    /// Protects a request under CTX_NEW with R1|R2 as 'id detail'. The
    /// client may send every request this way until a response verifies
    /// under CTX_NEW, so the server can finish even if an earlier one was
    /// lost.
    ///
    /// # Errors
    /// Protection errors.
    // ref: key-limits-01 §3.3 ("the client, sends a request to the server,
    // protected with CTX_NEW ... specifies R1|R2 as 'id detail'")
    pub fn protect_request(&mut self, request: &Packet, now: u64) -> Result<(Packet, RequestBinding), Error> {
        let n = self.n().to_vec();
        Ok(self.new.protect_request_with(request, Some(&n), now)?)
    }

    /// Verifies a response under CTX_NEW. Success is the confirmation that the
    /// server has CTX_NEW: CTX_OLD may be deleted.
    ///
    /// # Errors
    /// [`Rejected`] with the verification error.
    // ref: key-limits-01 §3.3 ("When successfully verifying the response using
    // CTX_NEW, the client deletes the old Security Context CTX_OLD")
    pub fn verify_response(
        mut self,
        response: &Packet,
        binding: &mut RequestBinding,
        now: u64,
    ) -> Result<(Completed, Packet), Rejected<Self>> {
        match self.new.verify_response(response, binding, now) {
            Ok(msg) => Ok((Completed { ctx: *self.new }, msg)),
            Err(e) => Err(Rejected::new(self, e)),
        }
    }
}
