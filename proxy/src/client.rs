//! An OSCORE client on a CoAP [`Endpoint`]: protected requests, the Echo
//! retry of RFC 9175 §2.3 (which a server uses to re-establish its replay
//! window, RFC 8613 App. B.1.2), inner block-wise transfers (RFC 7959 with
//! RFC 8613 §4.1.3.4) and observations (RFC 7641 with RFC 8613 §4.1.3.5),
//! whose notifications are ordered by Partial IV.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use coap_lite::{CoapOption, MessageClass, Packet, ResponseType};
use oscore_core::Error;
use oscore_core::protect::number;
use oscore_keyupdate::{AutoStart, ClientEndpoint, Event, KeyUpdatePhase, SentRequest};
use tokio::time::Instant;

use crate::block::{self, BlockValue};
use crate::coap::{CoapError, Endpoint, Exchange};
use crate::config::LoadedContext;
use crate::{keyupdate_log, now_secs};

/// Choices and limits of a client.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// How long to wait for the response to one request (retransmissions
    /// included).
    pub timeout: Duration,
    /// Block size exponent for Block1 uploads and the largest Block2 size
    /// accepted (6 = 1024 bytes).
    pub block_szx: u8,
    /// Largest response body reassembled from Block2.
    pub max_body: usize,
    /// Send requests Confirmable.
    pub confirmable: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(30), block_szx: 6, max_body: 1024 * 1024, confirmable: true }
    }
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// The message layer failed (timeout, RST, ...).
    #[error("{0}")]
    Coap(#[from] CoapError),
    /// OSCORE processing failed (protecting the request, or every response
    /// that arrived failed to verify).
    #[error("OSCORE: {0}")]
    Oscore(#[from] Error),
    /// The server sent an unprotected error (RFC 8613 §8.2): its code and
    /// diagnostic payload.
    #[error("unprotected {} from the server: {diagnostic}", code_string(*.code))]
    Unprotected {
        /// The response code byte.
        code: u8,
        /// The diagnostic payload.
        diagnostic: String,
    },
    /// A block-wise transfer went wrong.
    #[error("block-wise transfer: {0}")]
    Blockwise(&'static str),
    /// The key update failed (e.g. a reply that does not carry our R1).
    #[error("key update: {0}")]
    KeyUpdate(oscore_keyupdate::Error),
}

impl From<oscore_keyupdate::Error> for ClientError {
    fn from(e: oscore_keyupdate::Error) -> Self {
        match e {
            oscore_keyupdate::Error::Oscore(e) => ClientError::Oscore(e),
            other => ClientError::KeyUpdate(other),
        }
    }
}

fn is_replay(e: &oscore_keyupdate::Error) -> bool {
    matches!(e, oscore_keyupdate::Error::Oscore(Error::Replay(_)))
}

/// "c.dd" for a code byte.
pub fn code_string(code: u8) -> String {
    format!("{}.{:02}", code >> 5, code & 0x1f)
}

fn guard(m: &Mutex<ClientEndpoint>) -> MutexGuard<'_, ClientEndpoint> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn echo_of(p: &Packet) -> Option<Vec<u8>> {
    p.get_first_option(CoapOption::from(number::ECHO)).cloned()
}

fn is_code(p: &Packet, code: ResponseType) -> bool {
    p.header.code == MessageClass::Response(code)
}

/// An OSCORE client for one server and one security context.
#[derive(Clone)]
pub struct OscoreClient {
    endpoint: Endpoint,
    peer: SocketAddr,
    context: Arc<Mutex<ClientEndpoint>>,
    auto: AutoStart,
    key_updates: Arc<AtomicU64>,
    config: ClientConfig,
}

impl std::fmt::Debug for OscoreClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OscoreClient").field("peer", &self.peer).field("config", &self.config).finish()
    }
}

impl OscoreClient {
    /// A client talking to `peer` with `context`, opened as a key-updating
    /// [`ClientEndpoint`] (it resumes a saved key-update session).
    ///
    /// # Errors
    /// The context cannot be opened (store, derivation or limit errors).
    pub fn new(
        endpoint: Endpoint,
        peer: SocketAddr,
        context: LoadedContext,
        config: ClientConfig,
    ) -> Result<Self, oscore_keyupdate::Error> {
        let auto = context.key_update.auto;
        let context = Arc::new(Mutex::new(context.open_client()?));
        Ok(Self { endpoint, peer, context, auto, key_updates: Arc::new(AtomicU64::new(0)), config })
    }

    /// The key-update endpoint (e.g. to read the current context's
    /// sequence number).
    pub fn context(&self) -> MutexGuard<'_, ClientEndpoint> {
        guard(&self.context)
    }

    /// Requests a client-initiated key update: the next request carries R1
    /// (key-limits-01 §3.3). False while one is in progress.
    pub fn start_key_update(&self) -> bool {
        guard(&self.context).start_key_update()
    }

    /// The phase of the key update; `Received` means the server offered R1
    /// and the next request answers it.
    pub fn key_update_phase(&self) -> KeyUpdatePhase {
        guard(&self.context).phase()
    }

    /// Key updates completed by this client (new security contexts in use).
    pub fn key_updates(&self) -> u64 {
        self.key_updates.load(Ordering::Relaxed)
    }

    fn drain_events(&self, ep: &mut ClientEndpoint) {
        while let Some(event) = ep.poll_event() {
            if matches!(event, Event::KeyUpdateCompleted { .. }) {
                self.key_updates.fetch_add(1, Ordering::Relaxed);
            }
            keyupdate_log("client", &event);
        }
    }

    /// Protects a request; starts a key update (R1 rides on this request)
    /// when the limits or 'exp' approach.
    fn protect(&self, request: &Packet) -> Result<(Packet, SentRequest), ClientError> {
        let mut ep = guard(&self.context);
        let now = now_secs();
        ep.start_key_update_if_due(&self.auto, now);
        let mut protected = ep.protect_request(request, now);
        if let Err(e) = &protected
            && e.needs_key_update()
            && ep.start_key_update()
        {
            // A limit was reached before the update started (e.g. a fraction
            // of 1): R1 goes out under CTX_1, which has its own key.
            protected = ep.protect_request(request, now);
        }
        self.drain_events(&mut ep);
        Ok(protected?)
    }

    fn verify(&self, response: &Packet, sent: &mut SentRequest) -> Result<Packet, oscore_keyupdate::Error> {
        let mut ep = guard(&self.context);
        let verified = ep.verify_response(response, sent, now_secs());
        self.drain_events(&mut ep);
        verified
    }

    /// Sends one protected request and waits for its verified response.
    /// Duplicates and responses that fail to verify are skipped; an
    /// unprotected response ends the exchange as [`ClientError::Unprotected`].
    async fn exchange_once(&self, request: &Packet) -> Result<Packet, ClientError> {
        let exchange = self.endpoint.open_exchange(self.peer)?;
        let (mut exchange, mut binding) = self.send_on(exchange, request).await?;
        let deadline = Instant::now() + self.config.timeout;
        self.await_final(&mut exchange, &mut binding, deadline).await
    }

    async fn send_on(
        &self,
        exchange: Exchange,
        request: &Packet,
    ) -> Result<(Exchange, SentRequest), ClientError> {
        let mut request = request.clone();
        request.set_token(exchange.token().to_vec());
        let (protected, binding) = self.protect(&request)?;
        exchange.send(protected, self.config.confirmable).await?;
        Ok((exchange, binding))
    }

    async fn await_final(
        &self,
        exchange: &mut Exchange,
        binding: &mut SentRequest,
        deadline: Instant,
    ) -> Result<Packet, ClientError> {
        let mut last_error = None;
        loop {
            let response = match exchange.recv(deadline).await {
                Ok(r) => r,
                Err(CoapError::Timeout) => {
                    return Err(last_error.map_or(ClientError::Coap(CoapError::Timeout), ClientError::from));
                }
                Err(e) => return Err(e.into()),
            };
            if response.get_option(CoapOption::Oscore).is_none() {
                // ref: RFC 8613 §8.4 (an unprotected error response)
                return Err(ClientError::Unprotected {
                    code: u8::from(response.header.code),
                    diagnostic: String::from_utf8_lossy(&response.payload).into_owned(),
                });
            }
            match self.verify(&response, binding) {
                Ok(original) => return Ok(original),
                Err(e) if is_replay(&e) => {}
                Err(e) => {
                    tracing::debug!("response failed to verify: {e}");
                    last_error = Some(e);
                }
            }
        }
    }

    /// One request with the Echo retry: a 4.01 carrying Echo is answered by
    /// repeating the request once with that Echo value.
    // ref: RFC 9175 §2.3, RFC 8613 App. B.1.2
    async fn single(&self, request: &Packet) -> Result<Packet, ClientError> {
        let response = self.exchange_once(request).await?;
        match echo_of(&response) {
            Some(echo) if is_code(&response, ResponseType::Unauthorized) => {
                let mut again = request.clone();
                again.clear_option(CoapOption::from(number::ECHO));
                again.add_option(CoapOption::from(number::ECHO), echo);
                self.exchange_once(&again).await
            }
            _ => Ok(response),
        }
    }

    /// Sends a request and returns the verified response, uploading a large
    /// payload with Block1 and downloading a large response with Block2.
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn request(&self, request: Packet) -> Result<Packet, ClientError> {
        let szx = self.config.block_szx.min(6);
        let first = if request.payload.len() > (16usize << szx) {
            self.upload(&request, szx).await?
        } else {
            self.single(&request).await?
        };
        self.download(&request, first).await
    }

    /// Block1 upload.
    // ref: RFC 7959 §2.5 (2.31 Continue; the server may ask for smaller blocks)
    async fn upload(&self, request: &Packet, mut szx: u8) -> Result<Packet, ClientError> {
        let body = &request.payload;
        let mut offset = 0usize;
        loop {
            let size = 16usize << szx;
            let end = offset.saturating_add(size).min(body.len());
            let more = end < body.len();
            let num = u32::try_from(offset / size).map_err(|_| ClientError::Blockwise("body too large"))?;
            let mut part = request.clone();
            part.payload = body.get(offset..end).map(<[u8]>::to_vec).unwrap_or_default();
            block::set(&mut part, CoapOption::Block1, BlockValue { num, more, szx })
                .map_err(|_| ClientError::Blockwise("body too large for Block1"))?;
            if num == 0 {
                let total =
                    u32::try_from(body.len()).map_err(|_| ClientError::Blockwise("body too large"))?;
                part.add_option(CoapOption::Size1, block::encode_uint(total));
            }
            let response = self.single(&part).await?;
            if !more {
                let mut response = response;
                response.clear_option(CoapOption::Block1);
                return Ok(response);
            }
            if !is_code(&response, ResponseType::Continue) {
                return Ok(response);
            }
            if let Ok(Some(b)) = block::get(&response, CoapOption::Block1) {
                szx = szx.min(b.szx);
            }
            offset = end;
        }
    }

    /// Block2 download of the rest of a response.
    async fn download(&self, request: &Packet, mut first: Packet) -> Result<Packet, ClientError> {
        let Some(b2) =
            block::get(&first, CoapOption::Block2).map_err(|_| ClientError::Blockwise("bad Block2"))?
        else {
            return Ok(first);
        };
        if b2.num != 0 {
            return Err(ClientError::Blockwise("first block is not block 0"));
        }
        let mut body = std::mem::take(&mut first.payload);
        let mut more = b2.more;
        let szx = b2.szx;
        while more {
            if body.len().saturating_add(16usize << szx) > self.config.max_body {
                return Err(ClientError::Blockwise("response larger than max_body"));
            }
            let num = u32::try_from(body.len() / (16usize << szx))
                .map_err(|_| ClientError::Blockwise("response too large"))?;
            let mut next = request.clone();
            next.payload.clear();
            next.clear_option(CoapOption::Block1);
            next.clear_option(CoapOption::Size1);
            next.clear_option(CoapOption::Observe);
            block::set(&mut next, CoapOption::Block2, BlockValue { num, more: false, szx })
                .map_err(|_| ClientError::Blockwise("response too large"))?;
            let response = self.single(&next).await?;
            if u8::from(response.header.code) >> 5 != 2 {
                return Ok(response);
            }
            let b = block::get(&response, CoapOption::Block2)
                .ok()
                .flatten()
                .ok_or(ClientError::Blockwise("block without Block2"))?;
            if b.num != num || b.szx != szx || (b.more && response.payload.len() != 16usize << szx) {
                return Err(ClientError::Blockwise("unexpected block"));
            }
            body.extend_from_slice(&response.payload);
            more = b.more;
        }
        first.payload = body;
        first.clear_option(CoapOption::Block2);
        Ok(first)
    }

    /// Registers an observation (the request gets Observe = 0) and returns it
    /// with the first response. If that response has no Observe option the
    /// server did not register us; the observation then yields nothing more.
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn observe(&self, request: Packet) -> Result<(Packet, Observation), ClientError> {
        let mut request = request;
        request.clear_option(CoapOption::Observe);
        request.add_option(CoapOption::Observe, Vec::new());
        let mut attempt = 0;
        loop {
            let exchange = self.endpoint.open_exchange(self.peer)?;
            let (mut exchange, mut binding) = self.send_on(exchange, &request).await?;
            let deadline = Instant::now() + self.config.timeout;
            let first = self.await_final(&mut exchange, &mut binding, deadline).await?;
            if attempt == 0
                && is_code(&first, ResponseType::Unauthorized)
                && let Some(echo) = echo_of(&first)
            {
                request.clear_option(CoapOption::from(number::ECHO));
                request.add_option(CoapOption::from(number::ECHO), echo);
                attempt += 1;
                continue;
            }
            let active = first.get_option(CoapOption::Observe).is_some_and(|l| !l.is_empty());
            request.clear_option(CoapOption::from(number::ECHO));
            let observation =
                Observation { client: self.clone(), exchange, binding, request, active, stale_dropped: 0 };
            return Ok((first, observation));
        }
    }
}

/// An active observation: its notifications in Partial IV order (a
/// notification older than one already delivered is dropped, RFC 8613 §7.4.1).
pub struct Observation {
    client: OscoreClient,
    exchange: Exchange,
    binding: SentRequest,
    request: Packet,
    active: bool,
    /// Notifications dropped because they were older than one delivered.
    pub stale_dropped: u64,
}

impl std::fmt::Debug for Observation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observation")
            .field("exchange", &self.exchange)
            .field("active", &self.active)
            .field("stale_dropped", &self.stale_dropped)
            .finish_non_exhaustive()
    }
}

impl Observation {
    /// Whether the server still sends notifications.
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// The next notification, or a final response that ends the observation
    /// (then [`is_active`](Self::is_active) is false).
    ///
    /// # Errors
    /// [`ClientError::Coap`] with `Timeout` when nothing arrived within
    /// `timeout`, or when the observation is over.
    pub async fn next(&mut self, timeout: Duration) -> Result<Packet, ClientError> {
        if !self.active {
            return Err(ClientError::Coap(CoapError::Closed));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let response = self.exchange.recv(deadline).await?;
            if response.get_option(CoapOption::Oscore).is_none() {
                continue;
            }
            match self.client.verify(&response, &mut self.binding) {
                Ok(original) => {
                    if original.get_option(CoapOption::Observe).is_none_or(|l| l.is_empty()) {
                        self.active = false;
                    }
                    return Ok(original);
                }
                Err(e) if is_replay(&e) => {
                    self.stale_dropped += 1;
                    tracing::debug!("stale notification dropped");
                }
                Err(e) => tracing::debug!("notification failed to verify: {e}"),
            }
        }
    }

    /// Registers again on the same token (RFC 7641 §3.3.1, e.g. before
    /// Max-Age runs out, or after a reboot, RFC 8613 App. B.1.3) and returns
    /// the first response. Notifications of the old registration verify no
    /// more (they are bound to the old request) and are dropped.
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn reregister(&mut self) -> Result<Packet, ClientError> {
        let mut request = self.request.clone();
        request.set_token(self.exchange.token().to_vec());
        let (protected, binding) = self.client.protect(&request)?;
        self.exchange.send(protected, self.client.config.confirmable).await?;
        self.binding = binding;
        self.active = true;
        let deadline = Instant::now() + self.client.config.timeout;
        let first = self.client.await_final(&mut self.exchange, &mut self.binding, deadline).await?;
        self.active = first.get_option(CoapOption::Observe).is_some_and(|l| !l.is_empty());
        Ok(first)
    }

    /// Cancels the observation with a GET carrying Observe = 1 on the same
    /// token (RFC 7641 §3.6) and returns the server's final response.
    ///
    /// # Errors
    /// [`ClientError`]; the observation is forgotten either way, so a server
    /// that missed the cancellation is stopped by RST on its next notification.
    pub async fn cancel(mut self) -> Result<Packet, ClientError> {
        let mut request = self.request.clone();
        request.clear_option(CoapOption::Observe);
        request.add_option(CoapOption::Observe, vec![1]);
        request.set_token(self.exchange.token().to_vec());
        let (protected, mut binding) = self.client.protect(&request)?;
        self.exchange.send(protected, self.client.config.confirmable).await?;
        let deadline = Instant::now() + self.client.config.timeout;
        loop {
            let response = self.exchange.recv(deadline).await?;
            if response.get_option(CoapOption::Oscore).is_none() {
                return Err(ClientError::Unprotected {
                    code: u8::from(response.header.code),
                    diagnostic: String::from_utf8_lossy(&response.payload).into_owned(),
                });
            }
            // A late notification of the observation, or the answer to the
            // cancellation: only the latter verifies with the new binding.
            if let Ok(original) = self.client.verify(&response, &mut binding) {
                return Ok(original);
            }
        }
    }
}
