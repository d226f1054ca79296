//! An OSCORE server on a CoAP [`Endpoint`]: verification with many security
//! contexts (looked up by kid and kid context), error responses of RFC 8613
//! §8.2, replay-window recovery with Echo (App. B.1.2), Observe (RFC 7641
//! with RFC 8613 §4.1.3.5) and inner block-wise transfers (RFC 7959 with
//! RFC 8613 §4.1.3.4).
//!
//! Everything an application sees has been verified; everything it returns
//! is protected. Requests without OSCORE are refused with 4.01.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use coap_lite::{CoapOption, MessageClass, Packet, RequestType, ResponseType};
use oscore_core::option::decode_partial_iv;
use oscore_core::protect::{decode_oscore_option, number};
use oscore_core::{CoapCode, Error, ResponsePiv};
use oscore_keyupdate::{AutoStart, Event, ReceivedRequest, ServerEndpoint};
use tokio::time::Instant;

use crate::block::{self, BlockValue};
use crate::coap::{Endpoint, IncomingRequest, RequestHandler, WeakEndpoint, random_bytes};
use crate::config::LoadedContext;
use crate::keyupdate_log;
use crate::now_secs;

/// Limits and choices of a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest request body reassembled from Block1 (beyond: 4.13).
    pub max_body: usize,
    /// Largest number of Block1 uploads, and of Block2 responses kept for
    /// their remaining blocks, in progress (the oldest is dropped).
    pub max_uploads: usize,
    /// Preferred block size exponent for Block2 (6 = 1024 bytes).
    pub block_szx: u8,
    /// Largest number of observers (beyond: the registration is answered
    /// without Observe, i.e. not registered).
    pub max_observers: usize,
    /// How long an Echo value sent in a 4.01 stays acceptable.
    pub echo_lifetime: Duration,
    /// Send notifications Confirmable (else Non-confirmable).
    pub confirmable_notifications: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_body: 64 * 1024,
            max_uploads: 16,
            block_szx: 6,
            max_observers: 64,
            echo_lifetime: Duration::from_secs(60),
            confirmable_notifications: true,
        }
    }
}

/// The application behind the server: resources that see verified requests.
#[async_trait]
pub trait Application: Send + Sync + 'static {
    /// Answers a verified (and, for Block1, reassembled) request. The server
    /// adds Observe, Block2 and Size2 itself.
    async fn handle(&self, request: &Packet) -> Packet;

    /// Whether GET on `path` (Uri-Path segments joined with `/`) can be observed.
    fn observable(&self, path: &str) -> bool {
        let _ = path;
        false
    }
}

/// Counters, for tests and metrics.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Calls of `verify_request`.
    pub verifications: AtomicU64,
    /// Requests answered by the application.
    pub served: AtomicU64,
    /// Requests refused (every unprotected error response).
    pub refused: AtomicU64,
    /// 4.01 Echo challenges sent.
    pub echo_challenges: AtomicU64,
    /// Notifications sent.
    pub notifications: AtomicU64,
    /// Key updates started by this server (limits or 'exp' approaching).
    pub key_updates_started: AtomicU64,
    /// Key updates completed (a new security context in use).
    pub key_updates: AtomicU64,
}

struct ServerContext {
    kid: Vec<u8>,
    kid_context: Option<Vec<u8>>,
    state: Mutex<ContextState>,
}

struct ContextState {
    endpoint: ServerEndpoint,
    auto: AutoStart,
    replay_window_known: bool,
    echo: Option<(Vec<u8>, Instant)>,
}

struct Observer {
    context: usize,
    peer: SocketAddr,
    token: Vec<u8>,
    path: String,
    request: Packet,
    binding: ReceivedRequest,
}

struct Upload {
    key: (usize, SocketAddr, String),
    body: Vec<u8>,
}

/// A response being fetched block by block: later Block2 requests are
/// served from it, so that all blocks come from one representation (and a
/// POST is not executed again for each block).
struct Transfer {
    key: (usize, SocketAddr, String, u8),
    response: Packet,
    at: Instant,
}

/// The OSCORE server. Give it to [`Endpoint::start`] as the handler, then
/// call [`attach`](Self::attach) so that it can send notifications.
pub struct OscoreServer {
    contexts: Vec<ServerContext>,
    app: Arc<dyn Application>,
    config: ServerConfig,
    observers: Mutex<Vec<Observer>>,
    uploads: Mutex<VecDeque<Upload>>,
    transfers: Mutex<VecDeque<Transfer>>,
    endpoint: OnceLock<WeakEndpoint>,
    stats: ServerStats,
    observe_seq: std::sync::atomic::AtomicU32,
}

impl std::fmt::Debug for OscoreServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OscoreServer")
            .field("contexts", &self.contexts.len())
            .field("config", &self.config)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The Uri-Path of a request, segments joined with `/`.
pub fn uri_path(p: &Packet) -> String {
    p.get_option(CoapOption::UriPath)
        .map(|l| l.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect::<Vec<_>>().join("/"))
        .unwrap_or_default()
}

fn response(code: ResponseType) -> Packet {
    let mut p = Packet::new();
    p.header.code = MessageClass::Response(code);
    p
}

/// The unprotected error response of RFC 8613 §8.2 for a failed
/// verification, or `None` when nothing is to be sent.
pub fn error_response(e: &Error) -> Option<Packet> {
    let code = e.coap_code()?;
    let mut p = Packet::new();
    p.header.code = MessageClass::from(code.to_byte());
    // ref: RFC 8613 §8.2 ("MAY set an Outer Max-Age option with value zero";
    // the diagnostic payloads it suggests), §7.4 ("Replay detected")
    p.add_option(CoapOption::MaxAge, Vec::new());
    let diagnostic: &[u8] = match e {
        Error::UnknownContext => b"Security context not found",
        Error::Replay(_) => b"Replay detected",
        Error::DecryptionFailed => b"Decryption failed",
        _ if code == CoapCode::BAD_OPTION => b"Failed to decode COSE",
        _ => b"",
    };
    p.payload = diagnostic.to_vec();
    Some(p)
}

enum Verified {
    Request { context: usize, request: Packet, binding: ReceivedRequest },
    Answer(Option<Packet>),
}

impl OscoreServer {
    /// A server with these contexts (each must have a distinct Recipient ID
    /// and ID Context pair) and this application; each context is opened as
    /// a key-updating [`ServerEndpoint`].
    ///
    /// # Errors
    /// A context cannot be opened (store, derivation or limit errors).
    pub fn new(
        contexts: Vec<LoadedContext>,
        app: Arc<dyn Application>,
        config: ServerConfig,
    ) -> Result<Arc<Self>, oscore_keyupdate::Error> {
        let contexts = contexts
            .into_iter()
            .map(|l| {
                let kid = l.params.recipient_id.clone();
                let kid_context = l.params.id_context.clone();
                let auto = l.key_update.auto;
                let replay_window_known = l.replay_window_known;
                let endpoint = l.open_server()?;
                Ok(ServerContext {
                    kid,
                    kid_context,
                    state: Mutex::new(ContextState { endpoint, auto, replay_window_known, echo: None }),
                })
            })
            .collect::<Result<Vec<_>, oscore_keyupdate::Error>>()?;
        Ok(Arc::new(Self {
            contexts,
            app,
            config,
            observers: Mutex::new(Vec::new()),
            uploads: Mutex::new(VecDeque::new()),
            transfers: Mutex::new(VecDeque::new()),
            endpoint: OnceLock::new(),
            stats: ServerStats::default(),
            observe_seq: std::sync::atomic::AtomicU32::new(0),
        }))
    }

    /// Drops retained old contexts whose time is up (key-limits-01 §3.4);
    /// call it now and then (the binary does every second).
    pub fn handle_timeouts(&self) {
        let now = now_secs();
        for sc in &self.contexts {
            let mut st = guard(&sc.state);
            st.endpoint.handle_timeout(now);
            self.drain_events(&mut st);
        }
    }

    /// The Master Salt of each context's current security context (it
    /// changes with every key update).
    pub fn current_salts(&self) -> Vec<Vec<u8>> {
        self.contexts
            .iter()
            .map(|sc| guard(&sc.state).endpoint.current().common().master_salt().to_vec())
            .collect()
    }

    fn drain_events(&self, st: &mut ContextState) {
        while let Some(event) = st.endpoint.poll_event() {
            if matches!(event, Event::KeyUpdateCompleted { .. }) {
                self.stats.key_updates.fetch_add(1, Ordering::Relaxed);
                // A context made by a key update starts with a known (empty) window.
                st.replay_window_known = true;
            }
            keyupdate_log("server", &event);
        }
    }

    /// Lets the server send notifications through `endpoint`.
    pub fn attach(&self, endpoint: &Endpoint) {
        let _ = self.endpoint.set(endpoint.downgrade());
    }

    /// The counters.
    pub fn stats(&self) -> &ServerStats {
        &self.stats
    }

    /// Number of registered observers.
    pub fn observer_count(&self) -> usize {
        guard(&self.observers).len()
    }

    /// The context for a request's kid and kid context.
    // ref: RFC 8613 §8.2 step 2 (kid, and kid context when present, select
    // the Recipient Context)
    // A request without kid context prefers a context without ID Context.
    fn find_context(&self, kid: &[u8], kid_context: Option<&[u8]>) -> Option<usize> {
        let exact =
            self.contexts.iter().position(|c| c.kid == kid && c.kid_context.as_deref() == kid_context);
        exact.or_else(|| match kid_context {
            Some(_) => None,
            None => self.contexts.iter().position(|c| c.kid == kid),
        })
    }

    fn refuse(&self, e: &Error, peer: SocketAddr) -> Verified {
        self.stats.refused.fetch_add(1, Ordering::Relaxed);
        tracing::info!(%peer, "request refused: {e}");
        Verified::Answer(error_response(e))
    }

    fn refuse_keyupdate(&self, e: &oscore_keyupdate::Error, peer: SocketAddr) -> Verified {
        if let oscore_keyupdate::Error::Oscore(e) = e {
            return self.refuse(e, peer);
        }
        self.stats.refused.fetch_add(1, Ordering::Relaxed);
        tracing::info!(%peer, "request refused: {e}");
        Verified::Answer(e.coap_code().map(|code| {
            let mut p = Packet::new();
            p.header.code = MessageClass::from(code.to_byte());
            p.add_option(CoapOption::MaxAge, Vec::new());
            p
        }))
    }

    fn verify(&self, request: &Packet, peer: SocketAddr) -> Verified {
        if request.get_option(CoapOption::Oscore).is_none() {
            self.stats.refused.fetch_add(1, Ordering::Relaxed);
            let mut p = response(ResponseType::Unauthorized);
            p.payload = b"OSCORE required".to_vec();
            return Verified::Answer(Some(p));
        }
        let option = match decode_oscore_option(request) {
            Ok(o) => o,
            Err(e) => return self.refuse(&e, peer),
        };
        let Some(kid) = option.kid.as_deref() else {
            return self.refuse(&Error::MalformedOption("request without kid"), peer);
        };
        let Some(index) = self.find_context(kid, option.kid_context.as_deref()) else {
            return self.refuse(&Error::UnknownContext, peer);
        };
        let Some(sc) = self.contexts.get(index) else {
            return self.refuse(&Error::UnknownContext, peer);
        };
        let mut st = guard(&sc.state);
        self.stats.verifications.fetch_add(1, Ordering::Relaxed);
        let verified = st.endpoint.verify_request(request, now_secs());
        self.drain_events(&mut st);
        let (restored, mut binding) = match verified {
            Ok(r) => r,
            Err(e) => {
                drop(st);
                return self.refuse_keyupdate(&e, peer);
            }
        };
        if !st.replay_window_known {
            // ref: RFC 8613 App. B.1.2, RFC 9175 §2.4 item 3
            let echoed = restored.get_first_option(CoapOption::from(number::ECHO));
            let fresh = match (&st.echo, echoed) {
                (Some((sent, at)), Some(got)) => sent == got && at.elapsed() <= self.config.echo_lifetime,
                _ => false,
            };
            let seq = option.partial_iv.as_deref().map(decode_partial_iv);
            if fresh && let Some(Ok(seq)) = seq {
                if let Err(e) = st.endpoint.synchronise_replay_window(seq) {
                    tracing::error!("cannot persist the replay window: {e}");
                    return Verified::Answer(None);
                }
                st.replay_window_known = true;
                st.echo = None;
                tracing::info!(%peer, seq, "replay window re-established with Echo");
            } else {
                let mut echo = vec![0u8; 8];
                if random_bytes(&mut echo).is_err() {
                    return Verified::Answer(None);
                }
                st.echo = Some((echo.clone(), Instant::now()));
                let mut challenge = response(ResponseType::Unauthorized);
                challenge.add_option(CoapOption::from(number::ECHO), echo);
                self.stats.echo_challenges.fetch_add(1, Ordering::Relaxed);
                // ref: RFC 8613 App. B.1.2 (the 4.01 uses the server's own Partial IV)
                let answer =
                    st.endpoint.protect_response(&challenge, &mut binding, ResponsePiv::Own, now_secs()).ok();
                self.drain_events(&mut st);
                return Verified::Answer(answer);
            }
        }
        Verified::Request { context: index, request: restored, binding }
    }

    /// Protects a response; starts a server-initiated key update (R1 rides
    /// on this response) when the limits or 'exp' approach.
    fn protect(&self, context: usize, resp: &Packet, binding: &mut ReceivedRequest) -> Option<Packet> {
        let sc = self.contexts.get(context)?;
        let mut st = guard(&sc.state);
        let now = now_secs();
        let auto = st.auto;
        if st.endpoint.start_key_update_if_due(&auto, now) {
            self.stats.key_updates_started.fetch_add(1, Ordering::Relaxed);
        }
        let mut protected = st.endpoint.protect_response(resp, binding, ResponsePiv::Auto, now);
        if let Err(e) = &protected
            && e.needs_key_update()
            && st.endpoint.start_key_update()
        {
            // A limit was reached before the update could start (e.g. a
            // fraction of 1): R1 goes out under CTX_1, which has its own key.
            self.stats.key_updates_started.fetch_add(1, Ordering::Relaxed);
            protected = st.endpoint.protect_response(resp, binding, ResponsePiv::Auto, now);
        }
        self.drain_events(&mut st);
        match protected {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::error!("cannot protect a response: {e}");
                let mut p = response(ResponseType::InternalServerError);
                p.add_option(CoapOption::MaxAge, Vec::new());
                Some(p)
            }
        }
    }

    /// Block1 reassembly. `Ok(None)`: the request is complete (its payload
    /// may have been replaced by the whole body); `Ok(Some(resp))`: answer
    /// with `resp` (2.31 Continue or an error) now.
    // ref: RFC 7959 §2.3, §2.5 (4.08 on a gap), §2.9.3 (4.13 with Size1)
    fn block1(
        &self,
        context: usize,
        peer: SocketAddr,
        request: &mut Packet,
    ) -> Result<Option<BlockValue>, Packet> {
        let b1 = match block::get(request, CoapOption::Block1) {
            Ok(Some(b)) => b,
            Ok(None) => return Ok(None),
            Err(_) => return Err(response(ResponseType::BadOption)),
        };
        let key = (context, peer, uri_path(request));
        let mut uploads = guard(&self.uploads);
        let existing = uploads.iter().position(|u| u.key == key);
        if b1.num == 0 {
            if let Some(i) = existing {
                uploads.remove(i);
            }
            if uploads.len() >= self.config.max_uploads.max(1) {
                uploads.pop_front();
            }
            uploads.push_back(Upload { key: key.clone(), body: Vec::new() });
        }
        let Some(index) = uploads.iter().position(|u| u.key == key) else {
            return Err(response(ResponseType::RequestEntityIncomplete));
        };
        let Some(upload) = uploads.get_mut(index) else {
            return Err(response(ResponseType::RequestEntityIncomplete));
        };
        if b1.offset() != upload.body.len() || (b1.more && request.payload.len() != b1.size()) {
            uploads.remove(index);
            return Err(response(ResponseType::RequestEntityIncomplete));
        }
        if upload.body.len().saturating_add(request.payload.len()) > self.config.max_body {
            uploads.remove(index);
            let mut r = response(ResponseType::RequestEntityTooLarge);
            let max = u32::try_from(self.config.max_body).unwrap_or(u32::MAX);
            r.add_option(CoapOption::Size1, block::encode_uint(max));
            return Err(r);
        }
        upload.body.extend_from_slice(&request.payload);
        if b1.more {
            let mut r = response(ResponseType::Continue);
            let _ = block::set(&mut r, CoapOption::Block1, b1);
            return Err(r);
        }
        let body = uploads.remove(index).map(|u| u.body).unwrap_or_default();
        request.payload = body;
        request.clear_option(CoapOption::Block1);
        request.clear_option(CoapOption::Size1);
        Ok(Some(b1))
    }

    /// Cuts a response into the Block2 block the request asks for.
    // ref: RFC 7959 §2.2, §2.4 (Size2 in the first block), §4 (a block past the end is 4.02)
    fn block2(&self, request: &Packet, mut resp: Packet) -> Packet {
        let asked = match block::get(request, CoapOption::Block2) {
            Ok(b) => b,
            Err(_) => return response(ResponseType::BadOption),
        };
        let szx = asked.map_or(self.config.block_szx, |b| b.szx.min(self.config.block_szx));
        let size = 16usize << szx;
        // A request's SZX may be smaller than ours: then its NUM counts in
        // its own (smaller) blocks.
        let (num, offset) = match asked {
            Some(b) if b.szx > szx => {
                let offset = b.offset();
                (u32::try_from(offset / size).unwrap_or(u32::MAX), offset)
            }
            Some(b) => (b.num, b.offset()),
            None => (0, 0),
        };
        if asked.is_none() && resp.payload.len() <= size {
            return resp;
        }
        let total = resp.payload.len();
        if offset >= total && !(offset == 0 && total == 0) {
            return response(ResponseType::BadOption);
        }
        let end = offset.saturating_add(size).min(total);
        let chunk = resp.payload.get(offset..end).map(<[u8]>::to_vec).unwrap_or_default();
        let more = end < total;
        resp.payload = chunk;
        if block::set(&mut resp, CoapOption::Block2, BlockValue { num, more, szx }).is_err() {
            return response(ResponseType::RequestEntityTooLarge);
        }
        if num == 0 {
            resp.add_option(CoapOption::Size2, block::encode_uint(u32::try_from(total).unwrap_or(u32::MAX)));
        }
        resp
    }

    async fn serve_verified(
        &self,
        peer: SocketAddr,
        token: Vec<u8>,
        context: usize,
        mut request: Packet,
        mut binding: ReceivedRequest,
    ) -> Option<Packet> {
        let block1 = match self.block1(context, peer, &mut request) {
            Ok(b) => b,
            Err(answer) => return self.protect(context, &answer, &mut binding),
        };
        request.clear_option(CoapOption::from(number::ECHO));
        let path = uri_path(&request);
        let observe = request.get_first_option(CoapOption::Observe).and_then(|v| block::decode_uint(v));
        let is_get = request.header.code == MessageClass::Request(RequestType::Get)
            || request.header.code == MessageClass::Request(RequestType::Fetch);
        // ref: RFC 7641 §3.6 (deregistration: GET with Observe = 1, same token)
        if observe == Some(1) || observe.is_none() {
            guard(&self.observers).retain(|o| !(o.peer == peer && o.token == token));
        }
        let register = observe == Some(0) && is_get && self.app.observable(&path);
        let transfer_key = (context, peer, path.clone(), u8::from(request.header.code));
        let continuing = matches!(block::get(&request, CoapOption::Block2), Ok(Some(b)) if b.num > 0);
        let cached = if continuing { self.cached_transfer(&transfer_key) } else { None };
        let mut resp = match cached {
            Some(r) => r,
            None => {
                let r = self.app.handle(&request).await;
                self.stats.served.fetch_add(1, Ordering::Relaxed);
                r
            }
        };
        if let Some(b1) = block1 {
            let _ = block::set(&mut resp, CoapOption::Block1, b1);
        }
        let success = matches!(u8::from(resp.header.code) >> 5, 2);
        if register && success {
            let mut observers = guard(&self.observers);
            // ref: RFC 7641 §4.1 (a re-registration replaces the entry)
            observers.retain(|o| !(o.peer == peer && o.token == token));
            if observers.len() < self.config.max_observers {
                resp.add_option(CoapOption::Observe, self.next_observe());
                let protected = self.protect(context, &resp, &mut binding);
                observers.push(Observer { context, peer, token, path, request, binding });
                return protected;
            }
        }
        if resp.payload.len() > 16usize << self.config.block_szx.min(6) {
            self.store_transfer(transfer_key, &resp);
        }
        let resp = self.block2(&request, resp);
        self.protect(context, &resp, &mut binding)
    }

    fn cached_transfer(&self, key: &(usize, SocketAddr, String, u8)) -> Option<Packet> {
        let transfers = guard(&self.transfers);
        transfers
            .iter()
            .find(|t| &t.key == key && t.at.elapsed() <= self.config.echo_lifetime)
            .map(|t| t.response.clone())
    }

    fn store_transfer(&self, key: (usize, SocketAddr, String, u8), response: &Packet) {
        let mut transfers = guard(&self.transfers);
        transfers.retain(|t| t.key != key);
        if transfers.len() >= self.config.max_uploads.max(1) {
            transfers.pop_front();
        }
        transfers.push_back(Transfer { key, response: response.clone(), at: Instant::now() });
    }

    /// The next Outer Observe value: increasing (mod 2^24) so that the
    /// freshness rule of RFC 7641 §3.4 holds for every client and
    /// intermediary; OSCORE clients use the Partial IV instead
    /// (RFC 8613 §4.1.3.5.2).
    fn next_observe(&self) -> Vec<u8> {
        let v = self.observe_seq.fetch_add(1, Ordering::Relaxed).wrapping_add(1) & 0x00ff_ffff;
        block::encode_uint(v)
    }

    /// Sends a notification of `path` to each of its observers (the
    /// application is asked for the current representation). Observers whose
    /// notification is rejected (RST) or never acknowledged are removed.
    pub async fn notify(self: &Arc<Self>, path: &str) {
        let Some(endpoint) = self.endpoint.get().and_then(WeakEndpoint::upgrade) else { return };
        let targets: Vec<(SocketAddr, Vec<u8>, Packet)> = guard(&self.observers)
            .iter()
            .filter(|o| o.path == path)
            .map(|o| (o.peer, o.token.clone(), o.request.clone()))
            .collect();
        for (peer, token, request) in targets {
            let mut resp = self.app.handle(&request).await;
            let success = matches!(u8::from(resp.header.code) >> 5, 2);
            if success {
                resp.add_option(CoapOption::Observe, self.next_observe());
            }
            let protected = {
                let mut observers = guard(&self.observers);
                let Some(pos) = observers.iter().position(|o| o.peer == peer && o.token == token) else {
                    continue;
                };
                let Some(o) = observers.get_mut(pos) else { continue };
                let context = o.context;
                let p = self.protect(context, &resp, &mut o.binding);
                // ref: RFC 7641 §3.2 (a non-2.xx notification ends the observation)
                if !success {
                    observers.remove(pos);
                }
                p
            };
            let Some(mut protected) = protected else { continue };
            protected.set_token(token.clone());
            self.stats.notifications.fetch_add(1, Ordering::Relaxed);
            let ep = endpoint.clone();
            let confirmable = self.config.confirmable_notifications;
            let server = Arc::clone(self);
            tokio::spawn(async move {
                let sent = if confirmable {
                    ep.send_confirmable(peer, protected).await
                } else {
                    ep.send_non(peer, protected).await
                };
                if let Err(e) = sent {
                    tracing::info!(%peer, "observer removed: {e}");
                    guard(&server.observers).retain(|o| !(o.peer == peer && o.token == token));
                }
            });
        }
    }
}

#[async_trait]
impl RequestHandler for OscoreServer {
    async fn handle(&self, incoming: IncomingRequest) -> Option<Packet> {
        let token = incoming.packet.get_token().to_vec();
        match self.verify(&incoming.packet, incoming.peer) {
            Verified::Answer(a) => a,
            Verified::Request { context, request, binding } => {
                self.serve_verified(incoming.peer, token, context, request, binding).await
            }
        }
    }
}
