//! The one error type of the crate and its mapping to CoAP response codes.

use crate::crypto::{AlgorithmId, CryptoError};
use crate::replay::ReplayOutcome;
use crate::store::StoreError;

/// Why an OSCORE operation failed.
///
/// Each variant says what the peer or the caller did wrong. [`Error::coap_code`]
/// maps it to the error response RFC 8613 §8 prescribes, or `None` where no
/// response is to be sent (local errors, or the message is to be dropped).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The OSCORE option value cannot be parsed or has reserved bits set.
    // ref: RFC 8613 §8.2 step 2 (decompression fails → 4.02)
    #[error("malformed OSCORE option: {0}")]
    MalformedOption(&'static str),
    /// The CoAP message (outer, or the decrypted inner one) is malformed.
    #[error("malformed CoAP message: {0}")]
    MalformedMessage(&'static str),
    /// The message needs a security context we do not have (unknown kid or
    /// kid context, or a request without kid).
    // ref: RFC 8613 §8.2 step 2 (no Recipient Context → 4.01)
    #[error("no security context for this message")]
    UnknownContext,
    /// The Partial IV was already seen or is outside the replay window.
    // ref: RFC 8613 §7.4, §8.2 step 6 (replay → 4.01)
    #[error("replayed message ({0:?})")]
    Replay(ReplayOutcome),
    /// The COSE object did not decrypt and verify.
    // ref: RFC 8613 §8.2 step 6 (decryption failure → 4.00)
    #[error("decryption failed")]
    DecryptionFailed,
    /// A response or notification does not belong to the request it was
    /// matched with (e.g. Inner Observe in a response to a non-Observe request).
    // ref: RFC 8613 §4.1.3.5.2, §8.4 step 8
    #[error("response does not match the request: {0}")]
    ResponseMismatch(&'static str),
    /// The message to protect is not acceptable (e.g. it already carries an
    /// OSCORE option, or a token longer than 8 bytes).
    // ref: RFC 8613 §4.1.3.7 (nested OSCORE is not supported)
    #[error("message cannot be protected: {0}")]
    InvalidInput(&'static str),
    /// The security context parameters are invalid.
    // ref: RFC 8613 §3.3 (ID length ≤ nonce length − 6)
    #[error("invalid security context: {0}")]
    InvalidContext(&'static str),
    /// The provider does not offer this algorithm.
    #[error("unsupported algorithm {0:?}")]
    UnsupportedAlgorithm(AlgorithmId),
    /// The sender sequence number reached 2^40 − 1: a new context is needed.
    // ref: RFC 8613 §7.2.1
    #[error("sender sequence number exhausted")]
    SequenceNumberExhausted,
    /// 'count_q' would exceed 'limit_q': the Sender Key must be updated.
    // ref: key-limits-01 §2.3.1
    #[error("sender key usage limit reached (limit_q); key update needed")]
    LimitQReached,
    /// 'count_v' exceeded 'limit_v': the Recipient Key must be updated.
    // ref: key-limits-01 §2.3.2
    #[error("recipient key usage limit reached (limit_v); key update needed")]
    LimitVReached,
    /// The context passed its 'exp' time.
    // ref: key-limits-01 §2.2.1
    #[error("security context expired; key update needed")]
    ContextExpired,
    /// A crypto operation failed for a local reason (bad key, backend error).
    #[error("crypto backend error")]
    Crypto(CryptoError),
    /// The persistent store failed; nothing was sent or accepted.
    #[error("store error: {0}")]
    Store(StoreError),
}

/// A CoAP response code as `(class, detail)`, e.g. `(4, 1)` for 4.01.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoapCode {
    /// The class (2, 4 or 5).
    pub class: u8,
    /// The detail (0..=31).
    pub detail: u8,
}

impl CoapCode {
    /// 4.00 Bad Request.
    pub const BAD_REQUEST: Self = Self { class: 4, detail: 0 };
    /// 4.01 Unauthorized.
    pub const UNAUTHORIZED: Self = Self { class: 4, detail: 1 };
    /// 4.02 Bad Option.
    pub const BAD_OPTION: Self = Self { class: 4, detail: 2 };

    /// The code byte of the CoAP header.
    pub fn to_byte(self) -> u8 {
        (self.class << 5) | (self.detail & 0x1f)
    }
}

impl Error {
    /// The error response a server sends for this error when it occurs while
    /// verifying a *request*; `None` when no response is to be sent.
    ///
    /// A client never answers a response, whatever the error.
    pub fn coap_code(&self) -> Option<CoapCode> {
        match self {
            // ref: RFC 8613 §8.2 step 2
            Error::MalformedOption(_) | Error::MalformedMessage(_) => Some(CoapCode::BAD_OPTION),
            // ref: RFC 8613 §8.2 step 2, §7.4
            Error::UnknownContext | Error::Replay(_) => Some(CoapCode::UNAUTHORIZED),
            // ref: RFC 8613 §8.2 step 6
            Error::DecryptionFailed => Some(CoapCode::BAD_REQUEST),
            // ref: key-limits-01 §2.3.2: processing aborted; the key is unusable
            // like an unknown context.
            Error::LimitVReached | Error::ContextExpired => Some(CoapCode::UNAUTHORIZED),
            Error::ResponseMismatch(_)
            | Error::InvalidInput(_)
            | Error::InvalidContext(_)
            | Error::UnsupportedAlgorithm(_)
            | Error::SequenceNumberExhausted
            | Error::LimitQReached
            | Error::Crypto(_)
            | Error::Store(_) => None,
        }
    }

    /// True when the application must establish new keys (key update,
    /// key-limits-01 §3) before this context can be used again.
    pub fn needs_key_update(&self) -> bool {
        matches!(
            self,
            Error::LimitQReached
                | Error::LimitVReached
                | Error::ContextExpired
                | Error::SequenceNumberExhausted
        )
    }
}

impl From<CryptoError> for Error {
    fn from(e: CryptoError) -> Self {
        Error::Crypto(e)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Store(e)
    }
}
