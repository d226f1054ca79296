//! The error type of Group OSCORE processing.

use oscore_core::crypto::{AlgorithmId, CryptoError};
use oscore_core::{CoapCode, Error as CoreError};

/// Why a group message could not be protected or was dropped.
///
/// groupcomm-08 §7: a recipient silently drops a message that is malformed or
/// fails verification; [`GroupError::response_code`] is `None` for all of
/// them except the optional 4.02 for an unsupported Pairwise Flag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GroupError {
    /// An RFC 8613 error: malformed option or message, replay, decryption
    /// failure, sequence-number exhaustion, store failure, invalid input.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The kid context (Gid) is not one of our (current or retained) groups.
    // ref: groupcomm-08 §7.2 (no Security Context for the Gid)
    #[error("unknown group (kid context)")]
    UnknownGroup,
    /// The kid has no Recipient Context and the resolver knows no public key.
    // ref: groupcomm-08 §7.2, §7.4 ("SHALL stop processing")
    #[error("unknown sender (kid)")]
    UnknownSender,
    /// A request carries our own Sender ID as kid.
    // ref: groupcomm-08 §7.2 ("SHOULD NOT process a request if kid equals its own Sender ID")
    #[error("message claims our own Sender ID")]
    OwnSenderId,
    /// The countersignature does not verify.
    // ref: groupcomm-08 §7.2 step 6, §7.4 step 5
    #[error("countersignature does not verify")]
    BadSignature,
    /// A message with the Pairwise Flag while pairwise keying is not enabled.
    // ref: groupcomm-08 §5 (discard), §7.2 (MAY answer 4.02)
    #[error("Pairwise Flag set but pairwise mode is not supported")]
    PairwiseUnsupported,
    /// This member is a silent server: it has no Sender Context.
    // ref: groupcomm-08 §1.1, §2
    #[error("no Sender Context (silent server)")]
    SilentServer,
    /// The group's algorithms are not offered by the provider or not usable
    /// together (e.g. a key-agreement curve for the signature algorithm).
    #[error("unsupported algorithm {0:?}")]
    UnsupportedAlgorithm(AlgorithmId),
    /// A key (own private key or a member's public key) is invalid.
    #[error("invalid key")]
    InvalidKey,
    /// The message is a response to no request we know of, or from a member
    /// that already answered (and it is not a notification).
    #[error("response does not match the request")]
    ResponseMismatch,
}

impl GroupError {
    /// The response a server may send for this error on a request; `None`
    /// means drop silently (the default of groupcomm-08 §7).
    ///
    /// `reply_4_02_on_pairwise` is the group setting allowing the optional
    /// 4.02 for an unsupported Pairwise Flag.
    pub fn response_code(&self, reply_4_02_on_pairwise: bool) -> Option<CoapCode> {
        match self {
            GroupError::PairwiseUnsupported if reply_4_02_on_pairwise => Some(CoapCode::BAD_OPTION),
            _ => None,
        }
    }
}

impl From<CryptoError> for GroupError {
    fn from(_: CryptoError) -> Self {
        GroupError::InvalidKey
    }
}
