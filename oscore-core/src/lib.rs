//! Sans-IO OSCORE (RFC 8613): security contexts, the OSCORE option, COSE
//! additional data, message protection and verification, replay protection,
//! crash-safe sequence numbers and key-usage limits.
//!
//! No I/O, no clock, no concrete crypto: time comes in as `now` (seconds since
//! the epoch), crypto through a [`crypto::CryptoProvider`] (see the
//! `crypto-backends` crate), persistence through a [`store::Store`].
//!
//! ```
//! # fn main() -> Result<(), oscore_core::Error> {
//! # let provider = &crypto_backends::RUSTCRYPTO;
//! use oscore_core::{ContextParams, ResponsePiv, SecurityContext};
//! use coap_lite::{MessageClass, Packet, RequestType, ResponseType};
//!
//! let client_params = ContextParams::new(&[1; 16], b"", b"\x01");
//! let server_params = ContextParams::new(&[1; 16], b"\x01", b"");
//! let mut client = SecurityContext::derive(provider, &client_params)?;
//! let mut server = SecurityContext::derive(provider, &server_params)?;
//!
//! let mut request = Packet::new();
//! request.header.code = MessageClass::Request(RequestType::Get);
//! request.add_option(coap_lite::CoapOption::UriPath, b"hello".to_vec());
//! let (protected, mut client_binding) = client.protect_request(&request, 0)?;
//! let (original, mut server_binding) = server.verify_request(&protected, 0)?;
//! assert_eq!(original.get_first_option(coap_lite::CoapOption::UriPath), Some(&b"hello".to_vec()));
//!
//! let mut response = Packet::new();
//! response.header.code = MessageClass::Response(ResponseType::Content);
//! response.payload = b"Hello World!".to_vec();
//! let protected = server.protect_response(&response, &mut server_binding, ResponsePiv::Auto, 0)?;
//! let original = client.verify_response(&protected, &mut client_binding, 0)?;
//! assert_eq!(original.payload, b"Hello World!");
//! # Ok(()) }
//! ```
#![no_std]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod context;
pub mod cose;
pub mod crypto;
pub mod error;
pub mod message;
pub mod option;
pub mod protect;
pub mod replay;
pub mod store;

pub use context::{ContextParams, KeyLimits, SecurityContext};
pub use error::{CoapCode, Error};
pub use protect::{RequestBinding, ResponsePiv};
pub use replay::ReplayOutcome;
