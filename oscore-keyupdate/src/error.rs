//! The one error type of the crate.

use oscore_core::CoapCode;
use oscore_core::crypto::AlgorithmId;
use oscore_core::store::StoreError;

/// Why a key-limits or key-update operation failed.
///
/// Errors of the underlying OSCORE processing are wrapped in
/// [`Error::Oscore`]; [`Error::needs_key_update`] and [`Error::coap_code`]
/// look through it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// OSCORE processing failed (malformed message, replay, decryption
    /// failure, a key-usage limit, ...).
    #[error(transparent)]
    Oscore(oscore_core::Error),
    /// The AEAD algorithm is not covered by key-limits-01 §2.1.1.
    #[error("no key-usage limits known for {0:?}")]
    UnknownAlgorithm(AlgorithmId),
    /// A (q, v, l) triple or a configuration value is out of range.
    #[error("invalid limits or configuration: {0}")]
    InvalidLimits(&'static str),
    /// The (q, v, l) triple gives an Integrity or Confidentiality Advantage
    /// above the bound of key-limits-01 §2.1.1.
    // ref: key-limits-01 §2.1.1
    #[error(
        "limits too weak for {alg:?}: IA = 2^{integrity_log2:.2}, CA = 2^{confidentiality_log2:.2}, bound 2^{bound_log2}"
    )]
    LimitsTooWeak {
        /// The AEAD algorithm.
        alg: AlgorithmId,
        /// log2 of the Integrity Advantage.
        integrity_log2: f64,
        /// log2 of the Confidentiality Advantage.
        confidentiality_log2: f64,
        /// log2 of the bound.
        bound_log2: f64,
    },
    /// A nonce length (R1, R2) or the resulting 'id detail' is out of range.
    #[error("invalid key-update configuration: {0}")]
    InvalidConfig(&'static str),
    /// The 'id detail' of the reply does not start with the R1 we sent.
    // ref: key-limits-01 §3.3 ("verifies that R1 coincides with the value R1
    // specified in the previously sent request")
    #[error("key-update reply does not carry our R1")]
    R1Mismatch,
    /// A key-update message lacks the 'id detail' it must carry, or carries
    /// one where none is expected.
    // ref: key-limits-01 §3.1, §3.3
    #[error("unexpected key-update message: {0}")]
    UnexpectedMessage(&'static str),
    /// A key-update request older than the exchange in progress (sent before
    /// the R1 request this server answers); answering it could undo a switch
    /// the client already made.
    #[error("stale key-update request")]
    StaleKeyUpdate,
    /// The request handle belongs to a security context this endpoint no
    /// longer holds (dropped after the retention time, or replaced).
    #[error("the security context of this exchange is gone")]
    ContextGone,
    /// A key update is in a phase that cannot be abandoned without risking
    /// that the peers end up with different contexts.
    #[error("key update cannot be aborted in this phase")]
    AbortUnsafe,
    /// The message is longer than the 'l' of the key-usage limits.
    // ref: key-limits-01 §2.1.1 ('l', the maximum length of each message)
    #[error("message of {len} bytes exceeds the limit of {max} bytes")]
    MessageTooLong {
        /// The (estimated upper bound of the) plaintext length.
        len: u64,
        /// The largest length allowed.
        max: u64,
    },
}

impl Error {
    /// True when the application must update the keys (key-limits-01 §3)
    /// before the context can be used again.
    pub fn needs_key_update(&self) -> bool {
        match self {
            Error::Oscore(e) => e.needs_key_update(),
            _ => false,
        }
    }

    /// The error response a server sends for this error while verifying a
    /// request (RFC 8613 §8.2), `None` when nothing is to be sent.
    pub fn coap_code(&self) -> Option<CoapCode> {
        match self {
            Error::Oscore(e) => e.coap_code(),
            // ref: RFC 8613 §8.2 step 2: an unusable context is answered like
            // an unknown one
            Error::ContextGone | Error::StaleKeyUpdate => Some(CoapCode::UNAUTHORIZED),
            // ref: RFC 8613 §8.2 step 2 (malformed option → 4.02)
            Error::UnexpectedMessage(_) => Some(CoapCode::BAD_OPTION),
            Error::MessageTooLong { .. } => Some(CoapCode::BAD_REQUEST),
            Error::UnknownAlgorithm(_)
            | Error::InvalidLimits(_)
            | Error::LimitsTooWeak { .. }
            | Error::InvalidConfig(_)
            | Error::R1Mismatch
            | Error::AbortUnsafe => None,
        }
    }
}

impl From<oscore_core::Error> for Error {
    fn from(e: oscore_core::Error) -> Self {
        Error::Oscore(e)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Oscore(oscore_core::Error::Store(e))
    }
}

impl From<oscore_core::crypto::CryptoError> for Error {
    fn from(e: oscore_core::crypto::CryptoError) -> Self {
        Error::Oscore(oscore_core::Error::Crypto(e))
    }
}
