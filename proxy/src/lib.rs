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
//!   redb [`Store`](oscore_core::store::Store).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use oscore_proxy::{coap, config, demo, server, transport};
//!
//! let contexts = config::derive_all(&config::load("server.toml".as_ref())?)?;
//! let app = Arc::new(demo::DemoApp::new());
//! let srv = server::OscoreServer::new(contexts, app, server::ServerConfig::default());
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
pub mod server;
pub mod store;
pub mod transport;
pub mod uri;

/// Seconds since the epoch, the `now` of oscore-core (0 if the clock is
/// before 1970).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
