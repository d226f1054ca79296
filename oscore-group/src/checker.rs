//! The non-member signature checker (groupcomm-08 §2.3): an intermediary
//! holding no group keying material, only the group's algorithms and the
//! members' public keys, checks the countersignature of signature-mode
//! messages without decrypting them.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use coap_lite::{CoapOption, MessageClass, Packet};
use oscore_core::crypto::{AlgorithmId, CryptoProvider, Signature, VerifyingKey};
use oscore_core::option::OscoreOptionView;

use crate::cose::{CountersignParams, encode_algorithms, to_be_signed};
use crate::error::GroupError;
use crate::resolver::KeyResolver;

/// Why a message did not pass the checker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// Not an OSCORE message (no or repeated OSCORE option).
    #[error("not an OSCORE message")]
    NotOscore,
    /// The OSCORE option or the payload layout is malformed.
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    /// The resolver knows no public key for this (Gid, kid).
    #[error("unknown sender")]
    UnknownSender,
    /// The countersignature does not verify.
    #[error("countersignature does not verify")]
    BadSignature,
    /// Pairwise-keyed message (pairwise mode or optimized response): it
    /// carries no signature, a non-member cannot check it.
    #[error("pairwise-mode message: cannot be checked by a non-member")]
    PairwiseMode,
    /// Optimized compressed request: the signature covers a tag the message
    /// does not carry, a non-member cannot check it.
    #[error("optimized-mode request: cannot be checked by a non-member")]
    OptimizedMode,
}

/// What a successful check established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The Gid the message was checked under.
    pub gid: Vec<u8>,
    /// The signer's kid.
    pub kid: Vec<u8>,
    /// The message's Partial IV, if any (a proxy keeps it with the request to
    /// check the responses).
    pub partial_iv: Option<Vec<u8>>,
}

/// Prepared verifying keys of one Gid, by kid.
type KeysByKid = BTreeMap<Vec<u8>, Box<dyn VerifyingKey>>;

/// Checks countersignatures of one group's signature-mode messages.
///
/// Verifying keys are prepared once per (Gid, kid) and cached (bounded); the
/// signing input is built in buffers reused across calls.
pub struct SignatureChecker {
    sig: &'static dyn Signature,
    algorithms: Vec<u8>,
    optimized: bool,
    resolver: Box<dyn KeyResolver>,
    /// Prepared keys by Gid, then kid (nested so lookups borrow, never allocate).
    keys: BTreeMap<Vec<u8>, KeysByKid>,
    cached: usize,
    max_keys: usize,
    scratch: Vec<u8>,
    tbs: Vec<u8>,
}

impl core::fmt::Debug for SignatureChecker {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SignatureChecker")
            .field("alg", &self.sig.alg())
            .field("optimized", &self.optimized)
            .field("cached_keys", &self.cached)
            .finish_non_exhaustive()
    }
}

impl SignatureChecker {
    /// A checker for a group with these algorithms. `optimized` is the
    /// group's optimized-mode setting (its requests cannot be checked).
    ///
    /// # Errors
    /// [`GroupError::UnsupportedAlgorithm`] if the provider lacks `sign_alg`.
    pub fn new(
        provider: &CryptoProvider,
        aead: AlgorithmId,
        sign_alg: AlgorithmId,
        params: &CountersignParams,
        optimized: bool,
        resolver: Box<dyn KeyResolver>,
    ) -> Result<Self, GroupError> {
        let sig = provider.signature(sign_alg).ok_or(GroupError::UnsupportedAlgorithm(sign_alg))?;
        Ok(Self {
            sig,
            algorithms: encode_algorithms(aead, sign_alg, params),
            optimized,
            resolver,
            keys: BTreeMap::new(),
            cached: 0,
            max_keys: 1024,
            scratch: Vec::with_capacity(64),
            tbs: Vec::with_capacity(1152),
        })
    }

    /// Checks a group request (§7.1): kid, kid context and Partial IV come
    /// from its OSCORE option.
    ///
    /// # Errors
    /// The reason the request must not be forwarded.
    pub fn check_request(&mut self, msg: &Packet) -> Result<Checked, CheckError> {
        if !matches!(msg.header.code, MessageClass::Request(_)) {
            return Err(CheckError::Malformed("not a request"));
        }
        let (raw, option) = Self::option(msg)?;
        if option.pairwise {
            return Err(CheckError::PairwiseMode);
        }
        if self.optimized {
            return Err(CheckError::OptimizedMode);
        }
        let kid = option.kid.ok_or(CheckError::Malformed("request without kid"))?;
        let piv = option.partial_iv.ok_or(CheckError::Malformed("request without Partial IV"))?;
        let gid = option.kid_context.ok_or(CheckError::Malformed("request without kid context"))?;
        self.verify(msg, raw, gid, kid, kid, piv)?;
        Ok(Checked { gid: gid.to_vec(), kid: kid.to_vec(), partial_iv: Some(piv.to_vec()) })
    }

    /// Checks a response to a request this intermediary forwarded: the
    /// request's Gid, kid and Partial IV come from the caller (§4.3: they are
    /// the `request_kid` / `request_piv` of the response's external_aad). A
    /// kid context in the response (after a rekey, §7.3) takes precedence.
    ///
    /// # Errors
    /// The reason the response must not be forwarded.
    pub fn check_response(
        &mut self,
        msg: &Packet,
        request_gid: &[u8],
        request_kid: &[u8],
        request_piv: &[u8],
    ) -> Result<Checked, CheckError> {
        if !matches!(msg.header.code, MessageClass::Response(_) | MessageClass::Reserved(_)) {
            return Err(CheckError::Malformed("not a response"));
        }
        let (raw, option) = Self::option(msg)?;
        if option.pairwise {
            return Err(CheckError::PairwiseMode);
        }
        let kid = option.kid.ok_or(CheckError::Malformed("response without kid"))?;
        let gid = option.kid_context.unwrap_or(request_gid);
        self.verify(msg, raw, gid, kid, request_kid, request_piv)?;
        Ok(Checked {
            gid: gid.to_vec(),
            kid: kid.to_vec(),
            partial_iv: option.partial_iv.map(<[u8]>::to_vec),
        })
    }

    fn option(msg: &Packet) -> Result<(&[u8], OscoreOptionView<'_>), CheckError> {
        let values = msg.get_option(CoapOption::Oscore).ok_or(CheckError::NotOscore)?;
        if values.len() != 1 {
            return Err(CheckError::NotOscore);
        }
        let raw = values.front().ok_or(CheckError::NotOscore)?;
        let option = OscoreOptionView::decode(raw).map_err(|_| CheckError::Malformed("OSCORE option"))?;
        Ok((raw, option))
    }

    // ref: groupcomm-08 §4.1, §4.3.2, §5 (payload = ciphertext ‖ signature)
    fn verify(
        &mut self,
        msg: &Packet,
        raw_option: &[u8],
        gid: &[u8],
        kid: &[u8],
        request_kid: &[u8],
        request_piv: &[u8],
    ) -> Result<(), CheckError> {
        let sig_len = self.sig.signature_len();
        let split = msg
            .payload
            .len()
            .checked_sub(sig_len)
            .filter(|&n| n > 0)
            .ok_or(CheckError::Malformed("payload shorter than a signature"))?;
        let (ciphertext, signature) = msg.payload.split_at(split);
        if !self.keys.get(gid).is_some_and(|g| g.contains_key(kid)) {
            let public = self.resolver.public_key(gid, kid).ok_or(CheckError::UnknownSender)?;
            let key = self.sig.verifying_key(&public).map_err(|_| CheckError::UnknownSender)?;
            if self.cached >= self.max_keys {
                // Bounded: start over; keys are re-resolved on demand.
                self.keys.clear();
                self.cached = 0;
            }
            self.keys.entry(gid.to_vec()).or_default().insert(kid.to_vec(), key);
            self.cached += 1;
        }
        let key = self.keys.get(gid).and_then(|g| g.get(kid)).ok_or(CheckError::UnknownSender)?;
        self.tbs.clear();
        to_be_signed(
            &self.algorithms,
            request_kid,
            request_piv,
            raw_option,
            ciphertext,
            &mut self.scratch,
            &mut self.tbs,
        );
        key.verify(&self.tbs, signature).map_err(|_| CheckError::BadSignature)
    }
}
