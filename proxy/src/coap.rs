//! The CoAP message layer of RFC 7252 over a [`Transport`]: Confirmable and
//! Non-confirmable messages, ACK and RST, retransmission with exponential
//! back-off, message-ID deduplication, piggybacked and separate responses.
//!
//! One [`Endpoint`] plays both roles: as a client it opens [`Exchange`]s
//! (matched by peer and token), as a server it hands each new request to a
//! [`RequestHandler`]. Every table is bounded: exchanges, requests being
//! served, the deduplication cache and the per-exchange queues.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use async_trait::async_trait;
use coap_lite::{MessageClass, MessageType, Packet, ResponseType};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::Instant;

use crate::transport::{MAX_DATAGRAM, Transport};

/// Transmission parameters (RFC 7252 §4.8) and local resource bounds.
#[derive(Debug, Clone)]
pub struct TransmissionParams {
    /// ACK_TIMEOUT.
    pub ack_timeout: Duration,
    /// ACK_RANDOM_FACTOR (≥ 1).
    pub ack_random_factor: f64,
    /// MAX_RETRANSMIT.
    pub max_retransmit: u32,
    /// How long a received message ID is remembered (EXCHANGE_LIFETIME).
    pub exchange_lifetime: Duration,
    /// A server sends an empty ACK and a separate response when the handler
    /// has not answered a Confirmable request within this time.
    pub separate_response_after: Duration,
    /// Most client exchanges open at once.
    pub max_exchanges: usize,
    /// Most requests handled at once (beyond: 5.03).
    pub max_server_in_flight: usize,
    /// Most message IDs remembered for deduplication.
    pub dedup_capacity: usize,
    /// Queue length of one exchange (responses beyond are dropped).
    pub exchange_queue: usize,
}

impl Default for TransmissionParams {
    // ref: RFC 7252 §4.8 (ACK_TIMEOUT 2 s, ACK_RANDOM_FACTOR 1.5,
    // MAX_RETRANSMIT 4), §4.8.2 (EXCHANGE_LIFETIME 247 s)
    fn default() -> Self {
        Self {
            ack_timeout: Duration::from_secs(2),
            ack_random_factor: 1.5,
            max_retransmit: 4,
            exchange_lifetime: Duration::from_secs(247),
            separate_response_after: Duration::from_secs(1),
            max_exchanges: 256,
            max_server_in_flight: 64,
            dedup_capacity: 4096,
            exchange_queue: 32,
        }
    }
}

/// Why a message exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoapError {
    /// No ACK after MAX_RETRANSMIT retransmissions, or no response in time.
    #[error("timed out")]
    Timeout,
    /// The peer answered with RST.
    #[error("reset by peer")]
    Reset,
    /// Too many exchanges are open.
    #[error("too many open exchanges")]
    TooManyExchanges,
    /// The transport failed.
    #[error("transport error: {0}")]
    Io(String),
    /// The message could not be serialised.
    #[error("cannot encode message: {0}")]
    Encode(&'static str),
    /// The endpoint is gone.
    #[error("endpoint closed")]
    Closed,
}

/// A request handed to the server side.
#[derive(Debug, Clone)]
pub struct IncomingRequest {
    /// Who sent it.
    pub peer: SocketAddr,
    /// The request as received (already deduplicated).
    pub packet: Packet,
}

/// The server side of an endpoint.
#[async_trait]
pub trait RequestHandler: Send + Sync + 'static {
    /// Answers a request; `None` sends no response (an empty ACK for a
    /// Confirmable request). The endpoint sets type, message ID and token.
    async fn handle(&self, request: IncomingRequest) -> Option<Packet>;
}

/// Counters, for tests and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// Datagrams received.
    pub received: u64,
    /// Datagrams dropped as malformed.
    pub malformed: u64,
    /// Duplicates answered from (or dropped by) the deduplication cache.
    pub duplicates: u64,
    /// Retransmissions of Confirmable messages.
    pub retransmissions: u64,
    /// Requests handed to the handler.
    pub requests_handled: u64,
    /// Requests refused with 5.03 because too many were in flight.
    pub overload_refused: u64,
    /// RST messages sent.
    pub resets_sent: u64,
}

#[derive(Debug)]
enum ConOutcome {
    Ack,
    Reset,
}

type ExchangeTx = mpsc::Sender<Result<Packet, CoapError>>;

struct DedupEntry {
    reply: Option<Vec<u8>>,
}

#[derive(Default)]
struct State {
    next_mid: u16,
    exchanges: HashMap<(SocketAddr, Vec<u8>), ExchangeTx>,
    pending_con: HashMap<(SocketAddr, u16), oneshot::Sender<ConOutcome>>,
    dedup: HashMap<(SocketAddr, u16), DedupEntry>,
    dedup_order: VecDeque<((SocketAddr, u16), Instant)>,
    stats: EndpointStats,
}

struct Inner {
    transport: Arc<dyn Transport>,
    params: TransmissionParams,
    state: Mutex<State>,
    handler: Option<Arc<dyn RequestHandler>>,
    server_permits: Arc<Semaphore>,
    recv_task: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut t) = self.recv_task.lock()
            && let Some(t) = t.take()
        {
            t.abort();
        }
    }
}

/// A CoAP endpoint on one transport. Cloning gives another handle to the
/// same endpoint; it stops when the last handle is dropped.
#[derive(Clone)]
pub struct Endpoint {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint").field("local_addr", &self.local_addr().ok()).finish_non_exhaustive()
    }
}

/// A handle that does not keep the endpoint alive (for handlers that send
/// notifications, which the endpoint itself owns).
#[derive(Clone, Default)]
pub struct WeakEndpoint {
    inner: Weak<Inner>,
}

impl std::fmt::Debug for WeakEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WeakEndpoint")
    }
}

impl WeakEndpoint {
    /// The endpoint, if it still exists.
    pub fn upgrade(&self) -> Option<Endpoint> {
        self.inner.upgrade().map(|inner| Endpoint { inner })
    }
}

/// Random bytes from the operating system.
///
/// # Errors
/// The OS RNG failed.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), CoapError> {
    getrandom::fill(buf).map_err(|e| CoapError::Io(format!("system RNG: {e}")))
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while holding the lock cannot leave the tables inconsistent in
    // a way that matters more than stopping would; keep serving.
    state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn is_response_code(code: MessageClass) -> bool {
    matches!(u8::from(code) >> 5, 2 | 4 | 5)
}

fn empty(t: MessageType, mid: u16) -> Packet {
    let mut p = Packet::new();
    p.header.set_type(t);
    p.header.code = MessageClass::Empty;
    p.header.message_id = mid;
    p
}

fn encode(p: &Packet) -> Result<Vec<u8>, CoapError> {
    oscore_core::message::to_bytes(p).map_err(|_| CoapError::Encode("coap-lite refused the packet"))
}

impl Endpoint {
    /// Starts an endpoint: a task receives datagrams until the endpoint is
    /// dropped. `handler` makes it a server too. Must be called inside a
    /// tokio runtime.
    pub fn start(
        transport: Arc<dyn Transport>,
        params: TransmissionParams,
        handler: Option<Arc<dyn RequestHandler>>,
    ) -> Self {
        let mut mid = [0u8; 2];
        // An unpredictable first message ID; a failing RNG only costs that.
        let _ = random_bytes(&mut mid);
        let inner = Arc::new(Inner {
            transport: Arc::clone(&transport),
            server_permits: Arc::new(Semaphore::new(params.max_server_in_flight.max(1))),
            params,
            state: Mutex::new(State { next_mid: u16::from_be_bytes(mid), ..State::default() }),
            handler,
            recv_task: Mutex::new(None),
        });
        let weak = Arc::downgrade(&inner);
        let task = tokio::spawn(recv_loop(weak, transport));
        if let Ok(mut t) = inner.recv_task.lock() {
            *t = Some(task.abort_handle());
        }
        Self { inner }
    }

    /// A handle that does not keep the endpoint alive.
    pub fn downgrade(&self) -> WeakEndpoint {
        WeakEndpoint { inner: Arc::downgrade(&self.inner) }
    }

    /// The local address of the transport.
    ///
    /// # Errors
    /// The transport has no address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.transport.local_addr()
    }

    /// The counters.
    pub fn stats(&self) -> EndpointStats {
        lock(&self.inner.state).stats
    }

    /// The transmission parameters.
    pub fn params(&self) -> &TransmissionParams {
        &self.inner.params
    }

    /// Opens a client exchange with `peer` under a fresh random 8-byte token.
    ///
    /// # Errors
    /// [`CoapError::TooManyExchanges`] when the table is full; the RNG failed.
    pub fn open_exchange(&self, peer: SocketAddr) -> Result<Exchange, CoapError> {
        let mut token = vec![0u8; 8];
        random_bytes(&mut token)?;
        let (tx, rx) = mpsc::channel(self.inner.params.exchange_queue.max(1));
        let mut st = lock(&self.inner.state);
        if st.exchanges.len() >= self.inner.params.max_exchanges {
            return Err(CoapError::TooManyExchanges);
        }
        if st.exchanges.contains_key(&(peer, token.clone())) {
            return Err(CoapError::Io("token collision".into()));
        }
        st.exchanges.insert((peer, token.clone()), tx.clone());
        drop(st);
        Ok(Exchange { endpoint: self.clone(), peer, token, rx, tx })
    }

    /// Sends a Confirmable message and retransmits it until it is
    /// acknowledged (RFC 7252 §4.2). Sets the type and a new message ID.
    ///
    /// # Errors
    /// [`CoapError::Reset`] when the peer rejected it, [`CoapError::Timeout`]
    /// after MAX_RETRANSMIT retransmissions.
    pub async fn send_confirmable(&self, peer: SocketAddr, mut packet: Packet) -> Result<(), CoapError> {
        self.inner.send_confirmable(peer, &mut packet).await
    }

    /// Sends a Non-confirmable message with a new message ID.
    ///
    /// # Errors
    /// The message cannot be encoded or sent.
    pub async fn send_non(&self, peer: SocketAddr, mut packet: Packet) -> Result<(), CoapError> {
        packet.header.set_type(MessageType::NonConfirmable);
        packet.header.message_id = self.inner.next_mid();
        let bytes = encode(&packet)?;
        self.inner.send_raw(&bytes, peer).await
    }
}

/// A client exchange: every response carrying its token from its peer, in
/// order of arrival. Dropping it forgets the token, so later messages with it
/// are rejected with RST (which also cancels an observation, RFC 7641 §3.6).
pub struct Exchange {
    endpoint: Endpoint,
    peer: SocketAddr,
    token: Vec<u8>,
    rx: mpsc::Receiver<Result<Packet, CoapError>>,
    tx: ExchangeTx,
}

impl std::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchange")
            .field("peer", &self.peer)
            .field("token", &hex::encode(&self.token))
            .finish()
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        lock(&self.endpoint.inner.state).exchanges.remove(&(self.peer, std::mem::take(&mut self.token)));
    }
}

impl Exchange {
    /// The token.
    pub fn token(&self) -> &[u8] {
        &self.token
    }

    /// The peer.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Sends a request of this exchange (its token is set here). A
    /// Confirmable one is retransmitted in the background; if that fails,
    /// the failure arrives through [`recv`](Self::recv).
    ///
    /// # Errors
    /// The message cannot be encoded or sent.
    pub async fn send(&self, mut packet: Packet, confirmable: bool) -> Result<(), CoapError> {
        packet.set_token(self.token.clone());
        if confirmable {
            let inner = Arc::clone(&self.endpoint.inner);
            let peer = self.peer;
            let tx = self.tx.clone();
            tokio::spawn(async move {
                if let Err(e) = inner.send_confirmable(peer, &mut packet).await {
                    let _ = tx.try_send(Err(e));
                }
            });
            Ok(())
        } else {
            self.endpoint.send_non(self.peer, packet).await
        }
    }

    /// The next response, or an error if none arrived by `deadline`.
    ///
    /// # Errors
    /// [`CoapError::Timeout`], or the failure of a Confirmable send.
    pub async fn recv(&mut self, deadline: Instant) -> Result<Packet, CoapError> {
        match tokio::time::timeout_at(deadline, self.rx.recv()).await {
            Ok(Some(r)) => r,
            Ok(None) => Err(CoapError::Closed),
            Err(_) => Err(CoapError::Timeout),
        }
    }
}

async fn recv_loop(weak: Weak<Inner>, transport: Arc<dyn Transport>) {
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    loop {
        let (len, peer) = match transport.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!("receive error: {e}");
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        let Some(inner) = weak.upgrade() else { return };
        if len > MAX_DATAGRAM {
            lock(&inner.state).stats.malformed += 1;
            continue;
        }
        if let Some(datagram) = buf.get(..len) {
            inner.handle_datagram(datagram, peer).await;
        }
    }
}

impl Inner {
    fn next_mid(&self) -> u16 {
        let mut st = lock(&self.state);
        st.next_mid = st.next_mid.wrapping_add(1);
        st.next_mid
    }

    async fn send_raw(&self, bytes: &[u8], peer: SocketAddr) -> Result<(), CoapError> {
        self.transport.send_to(bytes, peer).await.map_err(|e| CoapError::Io(e.to_string()))
    }

    async fn send_reset(&self, peer: SocketAddr, mid: u16) {
        lock(&self.state).stats.resets_sent += 1;
        if let Ok(bytes) = encode(&empty(MessageType::Reset, mid)) {
            let _ = self.send_raw(&bytes, peer).await;
        }
    }

    /// The initial retransmission timeout: random in
    /// [ACK_TIMEOUT, ACK_TIMEOUT × ACK_RANDOM_FACTOR].
    // ref: RFC 7252 §4.2
    fn initial_timeout(&self) -> Duration {
        let mut r = [0u8; 4];
        let fraction = match random_bytes(&mut r) {
            Ok(()) => f64::from(u32::from_be_bytes(r)) / f64::from(u32::MAX),
            Err(_) => 0.5,
        };
        let factor = 1.0 + (self.params.ack_random_factor - 1.0).max(0.0) * fraction;
        self.params.ack_timeout.mul_f64(factor)
    }

    async fn send_confirmable(&self, peer: SocketAddr, packet: &mut Packet) -> Result<(), CoapError> {
        packet.header.set_type(MessageType::Confirmable);
        let mid = self.next_mid();
        packet.header.message_id = mid;
        let bytes = encode(packet)?;
        let (tx, mut rx) = oneshot::channel();
        lock(&self.state).pending_con.insert((peer, mid), tx);
        let mut timeout = self.initial_timeout();
        let mut result = Err(CoapError::Timeout);
        for attempt in 0..=self.params.max_retransmit {
            if attempt > 0 {
                lock(&self.state).stats.retransmissions += 1;
                tracing::debug!(%peer, mid, attempt, "retransmitting");
            }
            if let Err(e) = self.send_raw(&bytes, peer).await {
                result = Err(e);
                break;
            }
            match tokio::time::timeout(timeout, &mut rx).await {
                Ok(Ok(ConOutcome::Ack)) => {
                    result = Ok(());
                    break;
                }
                Ok(Ok(ConOutcome::Reset)) => {
                    result = Err(CoapError::Reset);
                    break;
                }
                Ok(Err(_)) => {
                    result = Err(CoapError::Closed);
                    break;
                }
                Err(_) => timeout = timeout.saturating_mul(2),
            }
        }
        lock(&self.state).pending_con.remove(&(peer, mid));
        result
    }

    fn complete_con(&self, peer: SocketAddr, mid: u16, outcome: ConOutcome) {
        if let Some(tx) = lock(&self.state).pending_con.remove(&(peer, mid)) {
            let _ = tx.send(outcome);
        }
    }

    /// Delivers a response to its exchange; false if no exchange wants it.
    fn deliver(&self, peer: SocketAddr, packet: Packet) -> bool {
        let mut st = lock(&self.state);
        let key = (peer, packet.get_token().to_vec());
        let Some(tx) = st.exchanges.get(&key) else { return false };
        match tx.try_send(Ok(packet)) {
            Ok(()) => true,
            // A full queue: the application is not keeping up; drop this one
            // (a notification will be superseded, a response retransmitted).
            Err(mpsc::error::TrySendError::Full(_)) => true,
            Err(mpsc::error::TrySendError::Closed(_)) => {
                st.exchanges.remove(&key);
                false
            }
        }
    }

    /// Looks up a received message ID; if it is new, remembers it (without a
    /// reply yet) and returns `None`; otherwise returns the cached reply.
    // ref: RFC 7252 §4.5
    fn dedup_check(&self, key: (SocketAddr, u16)) -> Option<Option<Vec<u8>>> {
        let mut st = lock(&self.state);
        let now = Instant::now();
        while let Some((k, t)) = st.dedup_order.front().copied() {
            if now.duration_since(t) < self.params.exchange_lifetime
                && st.dedup_order.len() < self.params.dedup_capacity.max(1)
            {
                break;
            }
            st.dedup_order.pop_front();
            st.dedup.remove(&k);
        }
        if let Some(entry) = st.dedup.get(&key) {
            let reply = entry.reply.clone();
            st.stats.duplicates += 1;
            return Some(reply);
        }
        st.dedup.insert(key, DedupEntry { reply: None });
        st.dedup_order.push_back((key, now));
        None
    }

    fn dedup_store(&self, key: (SocketAddr, u16), reply: Vec<u8>) {
        if let Some(entry) = lock(&self.state).dedup.get_mut(&key) {
            entry.reply = Some(reply);
        }
    }

    async fn handle_datagram(self: &Arc<Self>, datagram: &[u8], peer: SocketAddr) {
        lock(&self.state).stats.received += 1;
        let packet = match oscore_core::message::parse_udp(datagram) {
            Ok(p) => p,
            Err(e) => {
                lock(&self.state).stats.malformed += 1;
                tracing::debug!(%peer, "malformed datagram: {e}");
                // ref: RFC 7252 §4.2: a Confirmable message that cannot be
                // processed is rejected with RST.
                if let [first, _, m0, m1, ..] = *datagram
                    && first >> 6 == 1
                    && (first >> 4) & 0x03 == 0
                {
                    self.send_reset(peer, u16::from_be_bytes([m0, m1])).await;
                }
                return;
            }
        };
        let mid = packet.header.message_id;
        let ty = packet.header.get_type();
        match packet.header.code {
            MessageClass::Empty => match ty {
                MessageType::Acknowledgement => self.complete_con(peer, mid, ConOutcome::Ack),
                MessageType::Reset => self.complete_con(peer, mid, ConOutcome::Reset),
                // ref: RFC 7252 §4.3 (CoAP ping: answered with RST)
                MessageType::Confirmable => self.send_reset(peer, mid).await,
                MessageType::NonConfirmable => {}
            },
            MessageClass::Request(_) => match ty {
                MessageType::Confirmable | MessageType::NonConfirmable => {
                    self.handle_request(peer, packet).await;
                }
                _ => lock(&self.state).stats.malformed += 1,
            },
            code if is_response_code(code) => self.handle_response(peer, packet).await,
            _ => lock(&self.state).stats.malformed += 1,
        }
    }

    async fn handle_response(&self, peer: SocketAddr, packet: Packet) {
        let mid = packet.header.message_id;
        match packet.header.get_type() {
            MessageType::Acknowledgement => {
                self.complete_con(peer, mid, ConOutcome::Ack);
                self.deliver(peer, packet);
            }
            MessageType::Confirmable => {
                if let Some(cached) = self.dedup_check((peer, mid)) {
                    if let Some(bytes) = cached {
                        let _ = self.send_raw(&bytes, peer).await;
                    }
                    return;
                }
                // ref: RFC 7252 §4.2 (ACK a CON response; RST if we have no
                // exchange for it), RFC 7641 §3.6 (RST cancels an observation)
                let reply = if self.deliver(peer, packet) {
                    empty(MessageType::Acknowledgement, mid)
                } else {
                    lock(&self.state).stats.resets_sent += 1;
                    empty(MessageType::Reset, mid)
                };
                if let Ok(bytes) = encode(&reply) {
                    self.dedup_store((peer, mid), bytes.clone());
                    let _ = self.send_raw(&bytes, peer).await;
                }
            }
            MessageType::NonConfirmable => {
                if self.dedup_check((peer, mid)).is_some() {
                    return;
                }
                if !self.deliver(peer, packet) {
                    self.send_reset(peer, mid).await;
                }
            }
            MessageType::Reset => lock(&self.state).stats.malformed += 1,
        }
    }

    async fn handle_request(self: &Arc<Self>, peer: SocketAddr, packet: Packet) {
        let mid = packet.header.message_id;
        let con = packet.header.get_type() == MessageType::Confirmable;
        if let Some(cached) = self.dedup_check((peer, mid)) {
            tracing::debug!(%peer, mid, "duplicate request");
            if let Some(bytes) = cached {
                let _ = self.send_raw(&bytes, peer).await;
            }
            return;
        }
        let Some(handler) = self.handler.clone() else {
            if con {
                self.send_reset(peer, mid).await;
            }
            return;
        };
        let Ok(permit) = Arc::clone(&self.server_permits).try_acquire_owned() else {
            lock(&self.state).stats.overload_refused += 1;
            let mut busy = Packet::new();
            busy.header.code = MessageClass::Response(ResponseType::ServiceUnavailable);
            busy.add_option(coap_lite::CoapOption::MaxAge, vec![2]);
            self.reply(peer, &packet, busy).await;
            return;
        };
        lock(&self.state).stats.requests_handled += 1;
        let inner = Arc::clone(self);
        tokio::spawn(async move {
            let _permit = permit;
            inner.serve(handler, peer, packet, con).await;
        });
    }

    /// Sends `response` to `request`: piggybacked in the ACK of a
    /// Confirmable request, as NON to a Non-confirmable one; remembered for
    /// duplicates.
    async fn reply(&self, peer: SocketAddr, request: &Packet, mut response: Packet) {
        let mid = request.header.message_id;
        response.set_token(request.get_token().to_vec());
        if request.header.get_type() == MessageType::Confirmable {
            response.header.set_type(MessageType::Acknowledgement);
            response.header.message_id = mid;
        } else {
            response.header.set_type(MessageType::NonConfirmable);
            response.header.message_id = self.next_mid();
        }
        match encode(&response) {
            Ok(bytes) => {
                self.dedup_store((peer, mid), bytes.clone());
                let _ = self.send_raw(&bytes, peer).await;
            }
            Err(e) => tracing::warn!(%peer, "cannot encode response: {e}"),
        }
    }

    async fn serve(
        self: Arc<Self>,
        handler: Arc<dyn RequestHandler>,
        peer: SocketAddr,
        packet: Packet,
        con: bool,
    ) {
        let mid = packet.header.message_id;
        let token = packet.get_token().to_vec();
        let request_header = {
            let mut p = Packet::new();
            p.header = packet.header.clone();
            p.set_token(token.clone());
            p
        };
        let fut = handler.handle(IncomingRequest { peer, packet });
        tokio::pin!(fut);
        if !con {
            if let Some(response) = fut.await {
                self.reply(peer, &request_header, response).await;
            }
            return;
        }
        let piggybacked = tokio::select! {
            r = &mut fut => Some(r),
            () = tokio::time::sleep(self.params.separate_response_after) => None,
        };
        match piggybacked {
            Some(Some(response)) => self.reply(peer, &request_header, response).await,
            Some(None) => {
                if let Ok(bytes) = encode(&empty(MessageType::Acknowledgement, mid)) {
                    self.dedup_store((peer, mid), bytes.clone());
                    let _ = self.send_raw(&bytes, peer).await;
                }
            }
            None => {
                // ref: RFC 7252 §5.2.2 (separate response: empty ACK now,
                // the response later as a new Confirmable message)
                if let Ok(bytes) = encode(&empty(MessageType::Acknowledgement, mid)) {
                    self.dedup_store((peer, mid), bytes.clone());
                    let _ = self.send_raw(&bytes, peer).await;
                }
                if let Some(mut response) = fut.await {
                    response.set_token(token);
                    if let Err(e) = self.send_confirmable(peer, &mut response).await {
                        tracing::debug!(%peer, "separate response not acknowledged: {e}");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_codes() {
        assert!(is_response_code(MessageClass::Response(ResponseType::Content)));
        assert!(is_response_code(MessageClass::from(0x9f)));
        assert!(!is_response_code(MessageClass::Empty));
        assert!(!is_response_code(MessageClass::from(0x01)));
    }
}
