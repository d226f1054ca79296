//! Async CoAP endpoints over OSCORE (RFC 8613), and the `oscore-proxy` binary.
//!
//! Layers, bottom up:
//! - [`transport`]: the [`Transport`](transport::Transport) trait for
//!   datagrams and its tokio UDP implementation;
//! - [`coap`]: the RFC 7252 message layer (CON/NON, ACK/RST, retransmission,
//!   deduplication, separate responses) as an [`Endpoint`](coap::Endpoint);
//! - [`server`] and [`client`]: OSCORE on top, with Echo, Observe and
//!   block-wise transfers, using the sans-IO `oscore-core`;
//! - [`config`] and [`store`]: the TOML configuration and the crash-safe
//!   redb [`Store`](oscore_core::store::Store);
//! - [`persistence`]: the key-update state of oscore-keyupdate on the same
//!   redb database. Client and server run every context as an
//!   oscore-keyupdate endpoint: key-usage limits, automatic and requested
//!   key updates (draft-hoeglund-core-oscore-key-limits-01).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use oscore_proxy::{coap, config, demo, server, transport};
//!
//! let contexts = config::derive_all(&config::load("server.toml".as_ref())?)?;
//! let app = Arc::new(demo::DemoApp::new());
//! let srv = server::OscoreServer::new(contexts, app, server::ServerConfig::default())?;
//! let udp = transport::UdpTransport::bind("127.0.0.1:5683".parse()?).await?;
//! let endpoint = coap::Endpoint::start(Arc::new(udp), coap::TransmissionParams::default(), Some(srv.clone()));
//! srv.attach(&endpoint);
//! # Ok(()) }
//! ```

pub mod block;
pub mod client;
pub mod coap;
pub mod config;
pub mod demo;
pub mod persistence;
pub mod server;
pub mod store;
pub mod transport;
pub mod uri;

/// Logs a key-update event of a client or server endpoint (target
/// `oscore_proxy::keyupdate`, level info).
pub fn keyupdate_log(role: &str, event: &oscore_keyupdate::Event) {
    match event {
        oscore_keyupdate::Event::KeyUpdateCompleted { n } => {
            tracing::info!(target: "oscore_proxy::keyupdate", role, n = %hex::encode(n), "key update completed");
        }
        other => tracing::info!(target: "oscore_proxy::keyupdate", role, "key update: {other:?}"),
    }
}

/// Seconds since the epoch, the `now` of oscore-core (0 if the clock is
/// before 1970).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
