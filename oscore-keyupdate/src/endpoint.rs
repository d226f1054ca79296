//! Sans-IO endpoints that run the key update alongside ordinary traffic and
//! apply the retention policy: the state machines an async driver wraps.
//!
//! A [`ClientEndpoint`] protects requests and verifies responses, a
//! [`ServerEndpoint`] verifies requests and protects responses. Both hold the
//! current context, at most one context of an unfinished exchange and at
//! most one retained old context. Time comes in as `now` (seconds since the
//! epoch), randomness from the provider, durability through a
//! [`Persistence`]; nothing here does I/O.
//!
//! # Rules
//!
//! - A key update is *requested* with `start_key_update` and rides on the
//!   next outgoing message: the next request of a client, the next response
//!   of a server (key-limits-01 §3.3, Figures 5 and 6).
//! - Until it has verified the reply, the **initiator** sends every message
//!   under CTX_1 with the same R1. Until it has verified a message under
//!   CTX_NEW, a **client responder** sends every request under CTX_NEW with
//!   R1|R2, and a **server responder** answers an R1 request again with R1|R2
//!   and other requests under the context they came in. So a lost message is
//!   made good by the next one, with no timer.
//! - **Outgoing messages use only CTX_NEW once it is established; incoming
//!   ones are tried under CTX_NEW, then CTX_OLD** until the retention time
//!   ([`Config::retention`](crate::exchange::Config::retention)) passes (key-limits-01 §3.4). A response to a
//!   request verified under another context than the current one carries its
//!   own Partial IV.
//! - **Both peers at once:** the client's exchange wins. A server that
//!   offered R1 and receives the client's R1 answers as responder and
//!   shelves its own offer (a client that gave its exchange up may still
//!   answer it); a client that sent R1 and receives the server's R1 delivers
//!   that response but does not answer the offer.
//! - **Order.** R1 requests carry sequence numbers of CTX_OLD, so the server
//!   knows their order: it refuses an R1 request older than the one it
//!   answers ([`Error::StaleKeyUpdate`]), and an ordinary CTX_OLD request
//!   newer than it shows the client gave that exchange up (the pending
//!   CTX_NEW is dropped, [`Event::KeyUpdateAbandoned`]).
//! - **R1 or R1|R2** is told by the length of the 'id detail' (see
//!   [`Config::r1_len`](crate::exchange::Config::r1_len)).
//! - **Reboots:** the server's offered R1, a responder's CTX_NEW and every
//!   switch of context are saved ([`SessionState`]) before a message that
//!   depends on them is sent; every context has its own [`Store`], so
//!   sequence numbers resume above any used before. A client initiator's R1
//!   is not saved: after a reboot it just talks under CTX_OLD, which the
//!   server still holds.
//!
//! [`Store`]: oscore_core::store::Store

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;

use coap_lite::Packet;

use oscore_core::option::decode_partial_iv;
use oscore_core::protect::decode_oscore_option;
use oscore_core::{ContextParams, KeyLimits, RequestBinding, ResponsePiv, SecurityContext};

use crate::autostart::AutoStart;
use crate::error::Error;
use crate::exchange::{Client, Completed, Initiator, KeyUpdater, ReceivedR1, Rejected, Responder, Server};
use crate::limits::{self, UsageLimits};
use crate::persistence::{Persistence, SessionState};

/// Something the application may want to act on (log, metrics, EDHOC state).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// This endpoint sent R1 (it initiates a key update).
    KeyUpdateStarted,
    /// This endpoint accepted the peer's R1 and answers as responder.
    KeyUpdateResponding,
    /// CTX_NEW is established and used for every outgoing message.
    KeyUpdateCompleted {
        /// N = R1|R2, the Master Salt of CTX_NEW.
        n: Vec<u8>,
    },
    /// Both peers started at once; this endpoint's own attempt was dropped
    /// (server) or the peer's offer was not answered (client).
    KeyUpdateSuperseded,
    /// The client gave up the exchange this server was answering (it talks
    /// under CTX_OLD again); the pending CTX_NEW was deleted.
    KeyUpdateAbandoned,
    /// The retained old context was deleted (key-limits-01 §3.4).
    OldContextDropped,
}

/// The phase of the key update, for status displays and drivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUpdatePhase {
    /// No key update in progress.
    Idle,
    /// Requested; R1 goes out with the next message.
    Requested,
    /// R1 sent, waiting for R1|R2.
    Initiating,
    /// The peer's R1 verified; R1|R2 goes out with the next message (client).
    Received,
    /// R1|R2 sent, waiting for a message under CTX_NEW.
    Responding,
}

/// One security context and the local number that tells it apart.
struct Slot {
    ctx: SecurityContext,
    generation: u64,
}

/// What both endpoints share: contexts, retention, persistence, events.
struct Core {
    updater: KeyUpdater,
    persistence: alloc::boxed::Box<dyn Persistence>,
    current: Slot,
    retained: Option<(Slot, u64)>,
    next_gen: u64,
    events: VecDeque<Event>,
    /// The longest plaintext allowed: 'l' blocks.
    max_len: u64,
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("updater", &self.updater)
            .field("current", &self.current.ctx)
            .field("retained_until", &self.retained.as_ref().map(|(_, t)| *t))
            .finish_non_exhaustive()
    }
}

/// A responder's pending CTX_NEW and, for a server, the sequence number of
/// the last R1 request it answered.
type Pending<'a> = Option<(&'a SecurityContext, Option<u64>)>;

/// Where a received request or a sent request belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Under {
    /// A context of this endpoint, by generation.
    Gen(u64),
    /// A temporary CTX_1.
    Ctx1,
}

impl Core {
    fn open(
        updater: KeyUpdater,
        mut persistence: alloc::boxed::Box<dyn Persistence>,
        initial: ContextParams,
    ) -> Result<(Self, Option<SessionState>), Error> {
        let session = persistence.load_session()?;
        let mut current = match &session {
            Some(s) => s.current.clone(),
            None => initial,
        };
        // ref: key-limits-01 §2.1.1 (the limits apply to every context)
        current.limits = Self::limits_for(&updater, &current)?;
        let store = persistence.context_store(&current.master_salt)?;
        let ctx = SecurityContext::derive_with_store(updater.provider(), &current, store)?;
        // Every context of the endpoint has the AEAD of the first one.
        let max_len = updater.usage_limits(&current)?.max_message_bytes();
        let mut core = Self {
            updater,
            persistence,
            current: Slot { ctx, generation: 0 },
            retained: None,
            next_gen: 1,
            events: VecDeque::new(),
            max_len,
        };
        if let Some((params, until)) = session.as_ref().and_then(|s| s.retained.clone()) {
            let ctx = core.derive_stored(&params)?;
            let generation = core.take_gen();
            core.retained = Some((Slot { ctx, generation }, until));
        }
        Ok((core, session))
    }

    /// The limits of a context given by the application: the configured
    /// (or recommended) ones if it set none, else its own, checked.
    fn limits_for(updater: &KeyUpdater, params: &ContextParams) -> Result<KeyLimits, Error> {
        let unset = KeyLimits { exp: params.limits.exp, ..KeyLimits::default() };
        if params.limits == unset {
            return updater.key_limits(params, params.limits.exp);
        }
        let l = updater.usage_limits(params)?.l;
        limits::check(params.aead, &UsageLimits::from_key_limits(&params.limits, l))?;
        Ok(params.limits)
    }

    fn derive_stored(&mut self, params: &ContextParams) -> Result<SecurityContext, Error> {
        let store = self.persistence.context_store(&params.master_salt)?;
        Ok(SecurityContext::derive_with_store(self.updater.provider(), params, store)?)
    }

    fn take_gen(&mut self) -> u64 {
        let g = self.next_gen;
        self.next_gen = self.next_gen.saturating_add(1);
        g
    }

    fn session(&self, pending: Pending<'_>, offered_r1: Option<(&[u8], u64)>) -> SessionState {
        SessionState {
            current: self.current.ctx.params(),
            pending: pending.map(|(ctx, _)| ctx.params()),
            pending_r1_seq: pending.and_then(|(_, seq)| seq),
            retained: self.retained.as_ref().map(|(s, until)| (s.ctx.params(), *until)),
            offered_r1: offered_r1.map(|(r1, n)| (r1.to_vec(), n)),
        }
    }

    fn save(&mut self, pending: Pending<'_>, offered_r1: Option<(&[u8], u64)>) -> Result<(), Error> {
        let session = self.session(pending, offered_r1);
        self.persistence.save_session(&session)?;
        Ok(())
    }

    /// Drops the retained context once its time is up.
    // ref: key-limits-01 §3.4 ("When an amount of time defined by the policy has
    // elapsed since the establishment of CTX_NEW, the peer deletes CTX_OLD")
    fn expire(&mut self, now: u64, pending: Pending<'_>, offered: Option<(&[u8], u64)>) {
        if self.retained.as_ref().is_some_and(|(_, until)| now >= *until) {
            self.retained = None;
            self.events.push_back(Event::OldContextDropped);
            // Forgetting a retained context early is harmless; if the save
            // fails the next one writes the same.
            let _ = self.save(pending, offered);
        }
    }

    /// Makes `completed` the current context; CTX_OLD is retained for
    /// incoming messages or dropped. The switch is saved first: nothing is
    /// ever sent under CTX_NEW unless it is durable.
    // ref: key-limits-01 §3.3 (CTX_OLD deleted once CTX_NEW is confirmed), §3.4
    fn commit(&mut self, completed: Completed, generation: u64, now: u64) -> Result<(), Error> {
        let new = completed.into_context();
        let retention = self.updater.config().retention;
        let retained = (retention > 0).then(|| (self.current.ctx.params(), now.saturating_add(retention)));
        let session = SessionState {
            current: new.params(),
            pending: None,
            pending_r1_seq: None,
            retained,
            offered_r1: None,
        };
        self.persistence.save_session(&session)?;
        let n = new.common().master_salt().to_vec();
        let old = core::mem::replace(&mut self.current, Slot { ctx: new, generation });
        self.retained = (retention > 0).then(|| (old, now.saturating_add(retention)));
        self.events.push_back(Event::KeyUpdateCompleted { n });
        Ok(())
    }

    /// Refuses an outgoing message whose plaintext could exceed 'l' blocks
    /// (an upper bound: Code, each option with a 5-byte header, marker, payload).
    // ref: key-limits-01 §2.1.1 ('l', the maximum length of each message)
    fn check_outgoing(&self, msg: &Packet) -> Result<(), Error> {
        let len = msg
            .options()
            .flat_map(|(_, values)| values.iter())
            .fold(msg.payload.len().saturating_add(2), |acc, v| acc.saturating_add(v.len() + 5));
        let len = u64::try_from(len).unwrap_or(u64::MAX);
        let max = self.max_len;
        if len > max {
            return Err(Error::MessageTooLong { len, max });
        }
        Ok(())
    }

    /// Refuses, before any decryption, a message whose ciphertext exceeds
    /// 'l' blocks (plus the tag).
    fn check_incoming(&self, msg: &Packet) -> Result<(), Error> {
        let tag = self.current.ctx.common().aead().tag_len();
        let len = u64::try_from(msg.payload.len().saturating_sub(tag)).unwrap_or(u64::MAX);
        let max = self.max_len;
        if len > max {
            return Err(Error::MessageTooLong { len, max });
        }
        Ok(())
    }

    fn current_salt(&self) -> &[u8] {
        self.current.ctx.common().master_salt()
    }

    /// Is `d` the R1 of the exchange that made the current context (a late
    /// R1 message of a finished exchange, verifiable while CTX_OLD is retained)?
    fn is_current_r1(&self, d: &[u8]) -> bool {
        let salt = self.current_salt();
        self.retained.is_some() && salt.len() > d.len() && salt.starts_with(d)
    }

    fn gen_is_held(&self, generation: u64) -> bool {
        self.current.generation == generation
            || self.retained.as_ref().is_some_and(|(s, _)| s.generation == generation)
    }
}

/// A request protected by a [`ClientEndpoint`], to verify its response with.
#[derive(Debug)]
pub struct SentRequest {
    binding: RequestBinding,
    under: Under,
    r1: Option<Vec<u8>>,
}

impl SentRequest {
    /// The OSCORE binding (request kid and Partial IV).
    pub fn binding(&self) -> &RequestBinding {
        &self.binding
    }
    /// True if this request carried R1 (an initiator's key-update request).
    pub fn carries_r1(&self) -> bool {
        self.r1.is_some()
    }
}

enum ClientUpdate {
    Idle,
    Requested,
    Initiating(Initiator<Client>),
    Received(ReceivedR1<Client>),
    Responding(Responder<Client>, u64),
}

/// A CoAP client endpoint with key-usage limits and key update.
///
/// ```
/// # fn main() -> Result<(), oscore_keyupdate::Error> {
/// use coap_lite::{MessageClass, Packet, RequestType, ResponseType};
/// use oscore_core::{ContextParams, ResponsePiv};
/// use oscore_keyupdate::{ClientEndpoint, EphemeralPersistence, KeyUpdater, ServerEndpoint};
///
/// let provider = &crypto_backends::RUSTCRYPTO;
/// let mut client = ClientEndpoint::open(
///     KeyUpdater::new(provider),
///     Box::new(EphemeralPersistence),
///     ContextParams::new(&[7; 16], b"", b"\x01"),
/// )?;
/// let mut server = ServerEndpoint::open(
///     KeyUpdater::new(provider),
///     Box::new(EphemeralPersistence),
///     ContextParams::new(&[7; 16], b"\x01", b""),
/// )?;
///
/// let mut get = Packet::new();
/// get.header.code = MessageClass::Request(RequestType::Get);
/// let mut ok = Packet::new();
/// ok.header.code = MessageClass::Response(ResponseType::Content);
///
/// client.start_key_update();
/// let now = 1_000;
/// let (m1, mut sent) = client.protect_request(&get, now)?;        // R1 under CTX_1
/// let (_, mut received) = server.verify_request(&m1, now)?;
/// let m2 = server.protect_response(&ok, &mut received, ResponsePiv::Auto, now)?; // R1|R2 under CTX_NEW
/// client.verify_response(&m2, &mut sent, now)?;                    // client switches
/// let (m3, mut sent) = client.protect_request(&get, now)?;
/// let (_, mut received) = server.verify_request(&m3, now)?;        // server switches
/// let r3 = server.protect_response(&ok, &mut received, ResponsePiv::Auto, now)?;
/// client.verify_response(&r3, &mut sent, now)?;
/// assert_eq!(client.current().common().master_salt(), server.current().common().master_salt());
/// # Ok(()) }
/// ```
pub struct ClientEndpoint {
    core: Core,
    update: ClientUpdate,
}

impl fmt::Debug for ClientEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientEndpoint").field("core", &self.core).field("phase", &self.phase()).finish()
    }
}

impl ClientEndpoint {
    /// Opens the endpoint: resumes the saved session if `persistence` has
    /// one, else starts from `initial`. Contexts without limits get the
    /// configured (default: recommended) ones; explicit limits are checked.
    ///
    /// # Errors
    /// Store, derivation or limit errors.
    pub fn open(
        updater: KeyUpdater,
        persistence: alloc::boxed::Box<dyn Persistence>,
        initial: ContextParams,
    ) -> Result<Self, Error> {
        let (mut core, session) = Core::open(updater, persistence, initial)?;
        let mut update = ClientUpdate::Idle;
        if let Some(pending) = session.and_then(|s| s.pending) {
            let ctx = core.derive_stored(&pending)?;
            let r1_len = core.updater.config().r1_len;
            let generation = core.take_gen();
            update = ClientUpdate::Responding(Responder::resume(ctx, r1_len, None), generation);
        }
        Ok(Self { core, update })
    }

    /// The current context (outgoing messages use it).
    pub fn current(&self) -> &SecurityContext {
        &self.core.current.ctx
    }

    /// True while an old context is retained for incoming messages.
    pub fn has_retained(&self) -> bool {
        self.core.retained.is_some()
    }

    /// The phase of the key update.
    pub fn phase(&self) -> KeyUpdatePhase {
        match self.update {
            ClientUpdate::Idle => KeyUpdatePhase::Idle,
            ClientUpdate::Requested => KeyUpdatePhase::Requested,
            ClientUpdate::Initiating(_) => KeyUpdatePhase::Initiating,
            ClientUpdate::Received(_) => KeyUpdatePhase::Received,
            ClientUpdate::Responding(..) => KeyUpdatePhase::Responding,
        }
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.core.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) has something to do.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.core.retained.as_ref().map(|(_, until)| *until)
    }

    /// Drops the retained context if its time is up.
    pub fn handle_timeout(&mut self, now: u64) {
        self.expire(now);
    }

    fn expire(&mut self, now: u64) {
        let pending = match &self.update {
            ClientUpdate::Responding(r, _) => Some((r.context(), None)),
            _ => None,
        };
        self.core.expire(now, pending, None);
    }

    /// Requests a client-initiated key update: the next request carries R1.
    /// Returns false (and does nothing) while a key update is in progress.
    pub fn start_key_update(&mut self) -> bool {
        if matches!(self.update, ClientUpdate::Idle) {
            self.update = ClientUpdate::Requested;
            true
        } else {
            false
        }
    }

    /// Requests a key update as [`start_key_update`](Self::start_key_update)
    /// does, if `policy` finds the current context due (key-limits-01 §2.4).
    /// Returns true if one was requested.
    pub fn start_key_update_if_due(&mut self, policy: &AutoStart, now: u64) -> bool {
        matches!(self.update, ClientUpdate::Idle)
            && policy.is_due(&self.core.current.ctx, now)
            && self.start_key_update()
    }

    /// Abandons a key update this client initiated (or a verified offer it
    /// has not answered yet). The server never switches before it verified
    /// a request under CTX_NEW, so this is safe until R1|R2 was sent.
    ///
    /// # Errors
    /// [`Error::AbortUnsafe`] once this client sent R1|R2 as responder.
    pub fn abort_key_update(&mut self) -> Result<(), Error> {
        match self.update {
            ClientUpdate::Responding(..) => Err(Error::AbortUnsafe),
            _ => {
                self.update = ClientUpdate::Idle;
                Ok(())
            }
        }
    }

    /// Protects a request: under CTX_1 with R1 while initiating, under
    /// CTX_NEW with R1|R2 while responding, else under the current context.
    ///
    /// # Errors
    /// Protection errors ([`Error::needs_key_update`] tells when the limits
    /// are reached), [`Error::MessageTooLong`], store errors.
    pub fn protect_request(&mut self, request: &Packet, now: u64) -> Result<(Packet, SentRequest), Error> {
        self.expire(now);
        self.core.check_outgoing(request)?;
        let update = core::mem::replace(&mut self.update, ClientUpdate::Idle);
        let (result, update) = self.protect_in(update, request, now);
        self.update = update;
        result
    }

    fn protect_in(
        &mut self,
        update: ClientUpdate,
        request: &Packet,
        now: u64,
    ) -> (Result<(Packet, SentRequest), Error>, ClientUpdate) {
        let core = &mut self.core;
        match update {
            ClientUpdate::Requested => match Initiator::<Client>::new(&core.updater, &core.current.ctx) {
                Ok(init) => {
                    core.events.push_back(Event::KeyUpdateStarted);
                    self.protect_in(ClientUpdate::Initiating(init), request, now)
                }
                Err(e) => (Err(e), ClientUpdate::Requested),
            },
            ClientUpdate::Initiating(mut init) => {
                // ref: key-limits-01 §3.3 (Figure 5: request under CTX_1 with R1)
                let r = init.protect_request(&core.updater, &mut core.current.ctx, request, now).map(
                    |(packet, binding)| {
                        (packet, SentRequest { binding, under: Under::Ctx1, r1: Some(init.r1().to_vec()) })
                    },
                );
                (r, ClientUpdate::Initiating(init))
            }
            ClientUpdate::Received(received) => {
                // ref: key-limits-01 §3.3 (Figure 6: derive CTX_NEW = updateCtx(R1|R2, CTX_OLD))
                match received.derive(&core.updater, &mut *core.persistence, now) {
                    Ok(responder) => {
                        if let Err(e) = core.save(Some((responder.context(), None)), None) {
                            return (Err(e), ClientUpdate::Idle);
                        }
                        let generation = core.take_gen();
                        self.protect_in(ClientUpdate::Responding(responder, generation), request, now)
                    }
                    Err(e) => (Err(e), ClientUpdate::Idle),
                }
            }
            ClientUpdate::Responding(mut responder, generation) => {
                let r = responder.protect_request(request, now).map(|(packet, binding)| {
                    (packet, SentRequest { binding, under: Under::Gen(generation), r1: None })
                });
                (r, ClientUpdate::Responding(responder, generation))
            }
            ClientUpdate::Idle => {
                // ref: key-limits-01 §3.4 ("Outgoing messages MUST be protected by using only CTX_NEW")
                let generation = core.current.generation;
                let r = core.current.ctx.protect_request(request, now).map_err(Error::from).map(
                    |(packet, binding)| {
                        (packet, SentRequest { binding, under: Under::Gen(generation), r1: None })
                    },
                );
                (r, ClientUpdate::Idle)
            }
        }
    }

    /// Verifies a response to `sent`, running the key update where the
    /// response belongs to it.
    ///
    /// # Errors
    /// Verification errors; [`Error::R1Mismatch`] for an R1|R2 response whose
    /// R1 is not ours (the exchange goes on).
    pub fn verify_response(
        &mut self,
        response: &Packet,
        sent: &mut SentRequest,
        now: u64,
    ) -> Result<Packet, Error> {
        self.expire(now);
        self.core.check_incoming(response)?;
        let option = decode_oscore_option(response)?;
        match option.id_detail {
            Some(d) => self.verify_with_detail(response, sent, &d, now),
            None => self.verify_plain(response, sent, now),
        }
    }

    fn verify_with_detail(
        &mut self,
        response: &Packet,
        sent: &mut SentRequest,
        d: &[u8],
        now: u64,
    ) -> Result<Packet, Error> {
        // (1) R1|R2 answering our R1.
        if let (Some(r1), ClientUpdate::Initiating(init)) = (&sent.r1, &self.update)
            && init.r1() == r1.as_slice()
        {
            let ClientUpdate::Initiating(init) = core::mem::replace(&mut self.update, ClientUpdate::Idle)
            else {
                return Err(Error::UnexpectedMessage("state changed"));
            };
            let core = &mut self.core;
            return match init.finish(
                &core.updater,
                &mut core.current.ctx,
                &mut *core.persistence,
                response,
                &mut sent.binding,
                now,
            ) {
                Ok((completed, msg)) => {
                    let generation = core.take_gen();
                    core.commit(completed, generation, now)?;
                    Ok(msg)
                }
                Err(Rejected { state, error }) => {
                    self.update = ClientUpdate::Initiating(state);
                    Err(error)
                }
            };
        }
        // (2) R1|R2 of the exchange that made the current context: a late or
        // repeated reply, verified like any other.
        if d == self.core.current_salt() {
            return self.verify_plain(response, sent, now);
        }
        // (3) A late R1 offer of that exchange: CTX_1 of the retained context.
        if self.core.is_current_r1(d) {
            let core = &mut self.core;
            let Some((slot, _)) = core.retained.as_mut() else {
                return Err(Error::ContextGone);
            };
            let (_, msg) =
                ReceivedR1::<Client>::verify(&core.updater, &mut slot.ctx, response, &mut sent.binding, now)?;
            return Ok(msg);
        }
        // (4) A new R1 offer from the server (server-initiated flow).
        let core = &mut self.core;
        match ReceivedR1::<Client>::verify(
            &core.updater,
            &mut core.current.ctx,
            response,
            &mut sent.binding,
            now,
        ) {
            Ok((received, msg)) => {
                let update = core::mem::replace(&mut self.update, ClientUpdate::Idle);
                self.update = match update {
                    // ref: our tie-break: the client's own exchange takes precedence
                    ClientUpdate::Initiating(init) => {
                        self.core.events.push_back(Event::KeyUpdateSuperseded);
                        ClientUpdate::Initiating(init)
                    }
                    // Already answering an offer (of the same R1, repeated, or
                    // one the server has since abandoned for ours): keep it, so
                    // the R1|R2 already sent stays valid.
                    ClientUpdate::Responding(r, generation) => ClientUpdate::Responding(r, generation),
                    ClientUpdate::Idle | ClientUpdate::Requested | ClientUpdate::Received(_) => {
                        self.core.events.push_back(Event::KeyUpdateResponding);
                        ClientUpdate::Received(received)
                    }
                };
                Ok(msg)
            }
            Err(first) => {
                // (5) An offer derived from our pending CTX_NEW: the server has
                // it (confirmation) and starts the next update from it.
                let update = core::mem::replace(&mut self.update, ClientUpdate::Idle);
                match update {
                    ClientUpdate::Responding(mut responder, generation) => {
                        match ReceivedR1::<Client>::verify(
                            &core.updater,
                            responder.context_mut(),
                            response,
                            &mut sent.binding,
                            now,
                        ) {
                            Ok((received, msg)) => {
                                core.commit(responder.into_completed(), generation, now)?;
                                core.events.push_back(Event::KeyUpdateResponding);
                                self.update = ClientUpdate::Received(received);
                                Ok(msg)
                            }
                            Err(_) => {
                                self.update = ClientUpdate::Responding(responder, generation);
                                Err(first)
                            }
                        }
                    }
                    other => {
                        self.update = other;
                        Err(first)
                    }
                }
            }
        }
    }

    /// A response without 'id detail': tried under the context its request
    /// went out under, then the current, the pending and the retained one.
    // ref: key-limits-01 §3.4 ("Incoming messages MUST first be attempted to
    // decrypt by using CTX_NEW. If decryption fails, a second attempt can use CTX_OLD")
    fn verify_plain(&mut self, response: &Packet, sent: &mut SentRequest, now: u64) -> Result<Packet, Error> {
        let pending_first = matches!(
            (&self.update, sent.under),
            (ClientUpdate::Responding(_, g), Under::Gen(u)) if *g == u
        );
        if pending_first && let Some(r) = self.try_pending(response, sent, now) {
            return r;
        }
        let first = match self.core.current.ctx.verify_response(response, &mut sent.binding, now) {
            Ok(msg) => return Ok(msg),
            Err(e) => e,
        };
        if !pending_first && let Some(r) = self.try_pending(response, sent, now) {
            return r;
        }
        if let Some((slot, _)) = self.core.retained.as_mut()
            && let Ok(msg) = slot.ctx.verify_response(response, &mut sent.binding, now)
        {
            return Ok(msg);
        }
        Err(first.into())
    }

    /// Tries the pending CTX_NEW; success confirms it.
    fn try_pending(
        &mut self,
        response: &Packet,
        sent: &mut SentRequest,
        now: u64,
    ) -> Option<Result<Packet, Error>> {
        if !matches!(self.update, ClientUpdate::Responding(..)) {
            return None;
        }
        let ClientUpdate::Responding(responder, generation) =
            core::mem::replace(&mut self.update, ClientUpdate::Idle)
        else {
            return None;
        };
        match responder.verify_response(response, &mut sent.binding, now) {
            Ok((completed, msg)) => Some(self.core.commit(completed, generation, now).map(|()| msg)),
            Err(Rejected { state, .. }) => {
                self.update = ClientUpdate::Responding(state, generation);
                None
            }
        }
    }
}

/// A request verified by a [`ServerEndpoint`], to answer it with.
#[derive(Debug)]
pub struct ReceivedRequest {
    binding: RequestBinding,
    kind: ReceivedKind,
}

#[derive(Debug)]
enum ReceivedKind {
    /// Verified under a context of this endpoint.
    Normal(u64),
    /// A new R1 request, verified under CTX_1 of the context `base`.
    NewR1 { received: Option<ReceivedR1<Server>>, base: u64 },
    /// A repeated R1 request of the exchange in progress.
    RepeatedR1 { n: Vec<u8> },
    /// A late R1 request of the exchange that made the current context.
    LateR1,
}

impl ReceivedRequest {
    /// The OSCORE binding (request kid and Partial IV, 'id detail').
    pub fn binding(&self) -> &RequestBinding {
        &self.binding
    }
    /// True if the request carried the client's R1.
    pub fn carries_r1(&self) -> bool {
        !matches!(self.kind, ReceivedKind::Normal(_))
    }
}

enum ServerUpdate {
    Idle,
    Requested,
    Initiating(Initiator<Server>),
    Responding(Responder<Server>, u64),
}

/// The offered R1 to save: the current offer, or the shelved one.
fn offer_of<'a>(update: &'a ServerUpdate, shelved: &'a Option<Initiator<Server>>) -> Option<(&'a [u8], u64)> {
    match (update, shelved) {
        (ServerUpdate::Initiating(i), _) | (_, Some(i)) => Some((i.r1(), i.sends())),
        _ => None,
    }
}

/// A CoAP server endpoint with key-usage limits and key update.
pub struct ServerEndpoint {
    core: Core,
    update: ServerUpdate,
    /// Our own R1 offer, set aside while we answer the client's R1 (the
    /// client's exchange wins). A client that gave its own exchange up may
    /// still answer this offer; until either exchange finishes, both stay
    /// acceptable.
    shelved: Option<Initiator<Server>>,
}

impl fmt::Debug for ServerEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerEndpoint").field("core", &self.core).field("phase", &self.phase()).finish()
    }
}

impl ServerEndpoint {
    /// Opens the endpoint: resumes the saved session (with an offered R1 or
    /// a pending CTX_NEW) if `persistence` has one, else starts from
    /// `initial`.
    ///
    /// # Errors
    /// As [`ClientEndpoint::open`].
    pub fn open(
        updater: KeyUpdater,
        persistence: alloc::boxed::Box<dyn Persistence>,
        initial: ContextParams,
    ) -> Result<Self, Error> {
        let (mut core, session) = Core::open(updater, persistence, initial)?;
        let mut update = ServerUpdate::Idle;
        let mut shelved = None;
        if let Some(session) = session {
            if let Some(pending) = session.pending {
                let ctx = core.derive_stored(&pending)?;
                let r1_len = core.updater.config().r1_len;
                let generation = core.take_gen();
                let r1_seq = session.pending_r1_seq;
                update = ServerUpdate::Responding(Responder::resume(ctx, r1_len, r1_seq), generation);
            }
            if let Some((r1, sends)) = session.offered_r1 {
                let offer = Initiator::resume(r1, core.current.ctx.params(), sends);
                match update {
                    ServerUpdate::Responding(..) => shelved = Some(offer),
                    _ => update = ServerUpdate::Initiating(offer),
                }
            }
        }
        Ok(Self { core, update, shelved })
    }

    /// Every exchange is over once a new context is established.
    fn commit(&mut self, completed: Completed, generation: u64, now: u64) -> Result<(), Error> {
        self.core.commit(completed, generation, now)?;
        self.shelved = None;
        Ok(())
    }

    /// The current context.
    pub fn current(&self) -> &SecurityContext {
        &self.core.current.ctx
    }

    /// True while an old context is retained for incoming messages.
    pub fn has_retained(&self) -> bool {
        self.core.retained.is_some()
    }

    /// The phase of the key update.
    pub fn phase(&self) -> KeyUpdatePhase {
        match self.update {
            ServerUpdate::Idle => KeyUpdatePhase::Idle,
            ServerUpdate::Requested => KeyUpdatePhase::Requested,
            ServerUpdate::Initiating(_) => KeyUpdatePhase::Initiating,
            ServerUpdate::Responding(..) => KeyUpdatePhase::Responding,
        }
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.core.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) has something to do.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.core.retained.as_ref().map(|(_, until)| *until)
    }

    /// Drops the retained context if its time is up.
    pub fn handle_timeout(&mut self, now: u64) {
        self.expire(now);
    }

    fn expire(&mut self, now: u64) {
        let pending = match &self.update {
            ServerUpdate::Responding(r, _) => Some((r.context(), r.r1_seq())),
            _ => None,
        };
        let offered = offer_of(&self.update, &self.shelved);
        self.core.expire(now, pending, offered);
    }

    /// Requests a server-initiated key update: the next response (to a
    /// request under the current context) carries R1. Returns false while a
    /// key update is in progress.
    pub fn start_key_update(&mut self) -> bool {
        if matches!(self.update, ServerUpdate::Idle) {
            self.update = ServerUpdate::Requested;
            true
        } else {
            false
        }
    }

    /// Requests a key update as [`start_key_update`](Self::start_key_update)
    /// does, if `policy` finds the current context due (key-limits-01 §2.4).
    /// Returns true if one was requested.
    pub fn start_key_update_if_due(&mut self, policy: &AutoStart, now: u64) -> bool {
        matches!(self.update, ServerUpdate::Idle)
            && policy.is_due(&self.core.current.ctx, now)
            && self.start_key_update()
    }

    /// Re-establishes the replay window of the current context once the
    /// freshness of a request with sequence number `seq` was verified (Echo,
    /// RFC 8613 App. B.1.2); see [`SecurityContext::synchronise_replay_window`].
    ///
    /// # Errors
    /// The window could not be persisted.
    pub fn synchronise_replay_window(&mut self, seq: u64) -> Result<(), Error> {
        Ok(self.core.current.ctx.synchronise_replay_window(seq)?)
    }

    /// Withdraws a request made with `start_key_update` that no response
    /// carried yet.
    ///
    /// # Errors
    /// [`Error::AbortUnsafe`] once R1 or R1|R2 was sent: the client may
    /// already be answering it.
    pub fn abort_key_update(&mut self) -> Result<(), Error> {
        match self.update {
            ServerUpdate::Idle | ServerUpdate::Requested => {
                self.update = ServerUpdate::Idle;
                Ok(())
            }
            _ => Err(Error::AbortUnsafe),
        }
    }

    /// Verifies a request, running the key update where it belongs to it.
    ///
    /// # Errors
    /// Verification errors; [`Error::coap_code`] gives the error response.
    pub fn verify_request(&mut self, request: &Packet, now: u64) -> Result<(Packet, ReceivedRequest), Error> {
        self.expire(now);
        self.core.check_incoming(request)?;
        let option = decode_oscore_option(request)?;
        match option.id_detail {
            Some(d) => self.verify_with_detail(request, &d, now),
            None => self.verify_plain(request, now),
        }
    }

    fn verify_with_detail(
        &mut self,
        request: &Packet,
        d: &[u8],
        now: u64,
    ) -> Result<(Packet, ReceivedRequest), Error> {
        // (1) R1|R2 answering the R1 we offered (or the offer we shelved).
        if let Some((r1, _)) = offer_of(&self.update, &self.shelved)
            && d.len() > r1.len()
            && d.starts_with(r1)
        {
            let shelved = matches!(self.update, ServerUpdate::Responding(..));
            let init = if shelved {
                self.shelved.take()
            } else {
                match core::mem::replace(&mut self.update, ServerUpdate::Idle) {
                    ServerUpdate::Initiating(init) => Some(init),
                    other => {
                        self.update = other;
                        None
                    }
                }
            };
            let Some(init) = init else {
                return Err(Error::UnexpectedMessage("no offer"));
            };
            let core = &mut self.core;
            return match init.finish(
                &core.updater,
                &mut core.current.ctx,
                &mut *core.persistence,
                request,
                now,
            ) {
                Ok((completed, msg, binding)) => {
                    let generation = core.take_gen();
                    self.commit(completed, generation, now)?;
                    // The client answered our offer, so it will never use the
                    // CTX_NEW we derived for its own R1.
                    self.update = ServerUpdate::Idle;
                    Ok((msg, ReceivedRequest { binding, kind: ReceivedKind::Normal(generation) }))
                }
                Err(Rejected { state, error }) => {
                    if shelved {
                        self.shelved = Some(state);
                    } else {
                        self.update = ServerUpdate::Initiating(state);
                    }
                    Err(error)
                }
            };
        }
        // (2) R1|R2 of the exchange that made the current context (a client
        // responder repeating it until it sees our answer) or of the pending one.
        let pending_n = match &self.update {
            ServerUpdate::Responding(r, _) => Some(r.n().to_vec()),
            _ => None,
        };
        if d == self.core.current_salt() || pending_n.as_deref() == Some(d) {
            return self.verify_plain(request, now);
        }
        // (3) A late R1 request of the exchange that made the current context.
        if self.core.is_current_r1(d) {
            let core = &mut self.core;
            let Some((slot, _)) = core.retained.as_mut() else {
                return Err(Error::ContextGone);
            };
            let (_, msg, binding) = ReceivedR1::<Server>::verify(&core.updater, &mut slot.ctx, request, now)?;
            return Ok((msg, ReceivedRequest { binding, kind: ReceivedKind::LateR1 }));
        }
        // (4) The R1 of the exchange we answer, repeated.
        if let ServerUpdate::Responding(r, _) = &self.update
            && r.r1() == d
        {
            let n = r.n().to_vec();
            let core = &mut self.core;
            let (_, msg, binding) =
                ReceivedR1::<Server>::verify(&core.updater, &mut core.current.ctx, request, now)?;
            return Ok((msg, ReceivedRequest { binding, kind: ReceivedKind::RepeatedR1 { n } }));
        }
        // (5) A new R1 request from the client (client-initiated flow).
        let core = &mut self.core;
        match ReceivedR1::<Server>::verify(&core.updater, &mut core.current.ctx, request, now) {
            Ok((received, msg, binding)) => {
                // An R1 request sent before the one we answer (a lower
                // sequence number of CTX_OLD) is stale: the client may
                // already have switched to our CTX_NEW, which answering it
                // would replace.
                if let ServerUpdate::Responding(r, _) = &self.update
                    && let (Some(last), Ok(seq)) = (r.r1_seq(), decode_partial_iv(binding.partial_iv()))
                    && seq < last
                {
                    return Err(Error::StaleKeyUpdate);
                }
                Ok((
                    msg,
                    ReceivedRequest {
                        binding,
                        kind: ReceivedKind::NewR1 { received: Some(received), base: core.current.generation },
                    },
                ))
            }
            Err(first) => {
                // (6) An R1 request derived from our pending CTX_NEW: the
                // client has it (confirmation) and starts the next update.
                let update = core::mem::replace(&mut self.update, ServerUpdate::Idle);
                match update {
                    ServerUpdate::Responding(mut responder, generation) => {
                        match ReceivedR1::<Server>::verify(
                            &core.updater,
                            responder.context_mut(),
                            request,
                            now,
                        ) {
                            Ok((received, msg, binding)) => {
                                self.commit(responder.into_completed(), generation, now)?;
                                Ok((
                                    msg,
                                    ReceivedRequest {
                                        binding,
                                        kind: ReceivedKind::NewR1 {
                                            received: Some(received),
                                            base: generation,
                                        },
                                    },
                                ))
                            }
                            Err(_) => {
                                self.update = ServerUpdate::Responding(responder, generation);
                                Err(first)
                            }
                        }
                    }
                    other => {
                        self.update = other;
                        Err(first)
                    }
                }
            }
        }
    }

    /// A request without 'id detail': tried under the current, the pending
    /// and the retained context.
    // ref: key-limits-01 §3.3 (the responder deletes CTX_OLD after the first
    // message verified under CTX_NEW), §3.4 (CTX_NEW first, then CTX_OLD)
    fn verify_plain(&mut self, request: &Packet, now: u64) -> Result<(Packet, ReceivedRequest), Error> {
        let first = match self.core.current.ctx.verify_request(request, now) {
            Ok((msg, binding)) => {
                self.abandon_orphan(&binding);
                return Ok((
                    msg,
                    ReceivedRequest { binding, kind: ReceivedKind::Normal(self.core.current.generation) },
                ));
            }
            Err(e) => e,
        };
        if let ServerUpdate::Responding(..) = self.update {
            let ServerUpdate::Responding(responder, generation) =
                core::mem::replace(&mut self.update, ServerUpdate::Idle)
            else {
                return Err(first.into());
            };
            match responder.verify_request(request, now) {
                Ok((completed, msg, binding)) => {
                    self.commit(completed, generation, now)?;
                    return Ok((msg, ReceivedRequest { binding, kind: ReceivedKind::Normal(generation) }));
                }
                Err(Rejected { state, .. }) => self.update = ServerUpdate::Responding(state, generation),
            }
        }
        if let Some((slot, _)) = self.core.retained.as_mut()
            && let Ok((msg, binding)) = slot.ctx.verify_request(request, now)
        {
            let generation = slot.generation;
            return Ok((msg, ReceivedRequest { binding, kind: ReceivedKind::Normal(generation) }));
        }
        Err(first.into())
    }

    /// Drops a pending CTX_NEW the client has given up: an ordinary request
    /// under CTX_OLD sent after the client's last R1 request (a higher
    /// sequence number) means the client no longer initiates with that R1 —
    /// an initiating client sends every request under CTX_1, a finished one
    /// under CTX_NEW — so it will never switch to this CTX_NEW.
    fn abandon_orphan(&mut self, binding: &RequestBinding) {
        let ServerUpdate::Responding(responder, _) = &self.update else {
            return;
        };
        let (Some(last_r1), Ok(seq)) = (responder.r1_seq(), decode_partial_iv(binding.partial_iv())) else {
            return;
        };
        if seq > last_r1 {
            // Our own offer, if we shelved one, is back in force.
            self.update = match self.shelved.take() {
                Some(offer) => ServerUpdate::Initiating(offer),
                None => ServerUpdate::Idle,
            };
            self.core.events.push_back(Event::KeyUpdateAbandoned);
            // If this is not saved, the orphan comes back after a reboot and
            // is dropped again: harmless.
            let offered = offer_of(&self.update, &self.shelved);
            let _ = self.core.save(None, offered);
        }
    }

    /// Protects a response to `received`: R1|R2 under CTX_NEW for an R1
    /// request, R1 under CTX_1 while this server initiates, else under the
    /// current context (with its own Partial IV when the request came in
    /// under another one). `piv_mode` applies to ordinary responses.
    ///
    /// # Errors
    /// Protection errors ([`Error::needs_key_update`] tells when the limits
    /// are reached), [`Error::ContextGone`], [`Error::MessageTooLong`].
    pub fn protect_response(
        &mut self,
        response: &Packet,
        received: &mut ReceivedRequest,
        piv_mode: ResponsePiv,
        now: u64,
    ) -> Result<Packet, Error> {
        self.expire(now);
        self.core.check_outgoing(response)?;
        let binding = &mut received.binding;
        match &mut received.kind {
            ReceivedKind::NewR1 { received: r, base } => {
                let Some(r) = r.take() else {
                    return self.protect_repeated(response, binding, None, now);
                };
                if *base != self.core.current.generation {
                    return Err(Error::ContextGone);
                }
                let n = self.answer_new_r1(r, response, binding, now)?;
                received.kind = ReceivedKind::RepeatedR1 { n: n.1 };
                Ok(n.0)
            }
            ReceivedKind::RepeatedR1 { n } => {
                let n = n.clone();
                self.protect_repeated(response, binding, Some(&n), now)
            }
            // A late R1 request of the finished exchange: the client has
            // CTX_NEW, which is the only context to send under.
            ReceivedKind::LateR1 => Ok(self.core.current.ctx.protect_response_with(
                response,
                binding,
                ResponsePiv::Own,
                None,
                now,
            )?),
            ReceivedKind::Normal(generation) => {
                let generation = *generation;
                self.protect_normal(response, binding, generation, piv_mode, now)
            }
        }
    }

    /// Answers a new R1 request as responder: derive CTX_NEW, save, send R1|R2.
    fn answer_new_r1(
        &mut self,
        received: ReceivedR1<Server>,
        response: &Packet,
        binding: &mut RequestBinding,
        now: u64,
    ) -> Result<(Packet, Vec<u8>), Error> {
        let core = &mut self.core;
        let mut responder = received.derive(&core.updater, &mut *core.persistence, now)?;
        // ref: our tie-break: the client's exchange takes precedence; our own
        // offer is shelved (still acceptable) rather than forgotten.
        let shelve = match &self.update {
            ServerUpdate::Initiating(_) => true,
            ServerUpdate::Idle | ServerUpdate::Requested | ServerUpdate::Responding(..) => false,
        };
        // Saved before R1|R2 leaves: the client switches on receiving it.
        let r1_seq = decode_partial_iv(binding.partial_iv()).ok();
        let offered = offer_of(&self.update, &self.shelved);
        core.save(Some((responder.context(), r1_seq)), offered)?;
        let previous = core::mem::replace(&mut self.update, ServerUpdate::Idle);
        if let (true, ServerUpdate::Initiating(offer)) = (shelve, previous) {
            self.shelved = Some(offer);
            core.events.push_back(Event::KeyUpdateSuperseded);
        }
        core.events.push_back(Event::KeyUpdateResponding);
        let packet = responder.protect_response(response, binding, now);
        let n = responder.n().to_vec();
        let generation = core.take_gen();
        self.update = ServerUpdate::Responding(responder, generation);
        Ok((packet?, n))
    }

    /// R1|R2 again for a repeated R1 request; once the exchange finished, an
    /// ordinary response under the current context.
    fn protect_repeated(
        &mut self,
        response: &Packet,
        binding: &mut RequestBinding,
        n: Option<&[u8]>,
        now: u64,
    ) -> Result<Packet, Error> {
        if let ServerUpdate::Responding(responder, _) = &mut self.update
            && n.is_none_or(|n| n == responder.n())
        {
            return responder.protect_response(response, binding, now);
        }
        if n.is_none_or(|n| n == self.core.current_salt()) {
            return Ok(self.core.current.ctx.protect_response_with(
                response,
                binding,
                ResponsePiv::Own,
                None,
                now,
            )?);
        }
        Err(Error::ContextGone)
    }

    fn protect_normal(
        &mut self,
        response: &Packet,
        binding: &mut RequestBinding,
        generation: u64,
        piv_mode: ResponsePiv,
        now: u64,
    ) -> Result<Packet, Error> {
        if !self.core.gen_is_held(generation) {
            return Err(Error::ContextGone);
        }
        if generation != self.core.current.generation {
            // ref: key-limits-01 §3.4 ("Outgoing messages MUST be protected by
            // using only CTX_NEW"); own Partial IV: the request nonce belongs
            // to another context
            return Ok(self.core.current.ctx.protect_response_with(
                response,
                binding,
                ResponsePiv::Own,
                None,
                now,
            )?);
        }
        let update = core::mem::replace(&mut self.update, ServerUpdate::Idle);
        let core = &mut self.core;
        match update {
            ServerUpdate::Requested => {
                let init = match Initiator::<Server>::new(&core.updater, &core.current.ctx) {
                    Ok(init) => init,
                    Err(e) => {
                        self.update = ServerUpdate::Requested;
                        return Err(e);
                    }
                };
                core.events.push_back(Event::KeyUpdateStarted);
                self.update = ServerUpdate::Initiating(init);
                self.protect_normal(response, binding, generation, piv_mode, now)
            }
            ServerUpdate::Initiating(mut init) => {
                // Saved before R1 leaves: the client may answer it after our reboot.
                let saved = core.save(None, Some((init.r1(), init.sends().saturating_add(1))));
                let r = saved.and_then(|()| {
                    // ref: key-limits-01 §3.3 (Figure 6: response under CTX_1 with R1)
                    init.protect_response(&core.updater, &mut core.current.ctx, response, binding, now)
                });
                self.update = ServerUpdate::Initiating(init);
                r
            }
            other => {
                self.update = other;
                Ok(core.current.ctx.protect_response(response, binding, piv_mode, now)?)
            }
        }
    }
}
