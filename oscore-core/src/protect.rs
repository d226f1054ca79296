//! Protecting and verifying requests and responses (RFC 8613 §8).
//!
//! The original message is split into an Outer part (the CoAP header, Class U
//! options, the OSCORE option) and an Inner part (Code, Class E options,
//! payload) that becomes the plaintext of a COSE_Encrypt0 object.

use alloc::string::String;
use alloc::vec::Vec;
use coap_lite::{CoapOption, MessageClass, Packet, RequestType, ResponseType};

use crate::context::{SecurityContext, build_nonce};
use crate::cose::{ExternalAad, StackAad, encode_aad};
use crate::crypto::{open_appended, seal_append};
use crate::error::Error;
use crate::message::{MAX_TOKEN_LEN, PAYLOAD_MARKER, encode_option, walk_options};
use crate::option::{
    MAX_PARTIAL_IV_LEN, OscoreOption, OscoreOptionView, decode_partial_iv, encode_partial_iv,
};
use crate::replay::ReplayOutcome;
use zeroize::Zeroizing;

/// CoAP option numbers used by the protection rules.
// ref: RFC 7252 §12.2, RFC 7641 §7, RFC 7959 §7, RFC 8613 §13.2, RFC 9175 §5
pub mod number {
    /// Uri-Host.
    pub const URI_HOST: u16 = 3;
    /// Observe.
    pub const OBSERVE: u16 = 6;
    /// Uri-Port.
    pub const URI_PORT: u16 = 7;
    /// OSCORE.
    pub const OSCORE: u16 = 9;
    /// Uri-Path.
    pub const URI_PATH: u16 = 11;
    /// Max-Age.
    pub const MAX_AGE: u16 = 14;
    /// Uri-Query.
    pub const URI_QUERY: u16 = 15;
    /// Block2.
    pub const BLOCK2: u16 = 23;
    /// Block1.
    pub const BLOCK1: u16 = 27;
    /// Proxy-Uri.
    pub const PROXY_URI: u16 = 35;
    /// Proxy-Scheme.
    pub const PROXY_SCHEME: u16 = 39;
    /// Echo.
    pub const ECHO: u16 = 252;
    /// No-Response.
    pub const NO_RESPONSE: u16 = 258;
    /// Request-Tag.
    pub const REQUEST_TAG: u16 = 292;
}

/// Where an option of the original message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionClass {
    /// Class E: encrypted, in the plaintext only.
    Inner,
    /// Class U: in the OSCORE message only.
    Outer,
    /// Observe: both, with the special values of §4.1.3.5.
    Both,
}

/// The class of an option of the original message.
///
/// Options that may be Inner or Outer (Block1/2, Size1/2, Max-Age, Echo,
/// Request-Tag, No-Response) are Inner for an OSCORE endpoint: their Outer
/// forms belong to intermediaries. Unknown options are Class E.
// ref: RFC 8613 §4.1 Figure 5, §4.1.3.1 (Max-Age), §4.1.3.4 (Block), §4.1.3.6 (No-Response);
// RFC 9175 §2.3, §3.3 (Echo, Request-Tag: servers produce Inner Echo)
pub fn option_class(option: u16) -> OptionClass {
    match option {
        number::URI_HOST | number::URI_PORT | number::PROXY_URI | number::PROXY_SCHEME => OptionClass::Outer,
        number::OBSERVE => OptionClass::Both,
        // OSCORE itself is refused before classification (§4.1.3.7).
        number::OSCORE => OptionClass::Outer,
        _ => OptionClass::Inner,
    }
}

/// What a response needs to know about its request (RFC 8613 §5.4, §8.3):
/// the request's kid and Partial IV, and whether it registered an observation.
///
/// Not `Clone`: the server side uses the request nonce for at most one
/// response; any further response to the same request gets its own Partial IV.
#[derive(Debug, PartialEq, Eq)]
pub struct RequestBinding {
    kid: Vec<u8>,
    partial_iv: Vec<u8>,
    observe: bool,
    id_detail: Option<Vec<u8>>,
    request_nonce_used: bool,
    notification_number: Option<u64>,
    unnumbered_notification_seen: bool,
    completed: bool,
}

impl RequestBinding {
    /// The request's kid (`request_kid`).
    pub fn kid(&self) -> &[u8] {
        &self.kid
    }
    /// The request's Partial IV (`request_piv`).
    pub fn partial_iv(&self) -> &[u8] {
        &self.partial_iv
    }
    /// True for an Observe registration (Inner Observe = 0).
    pub fn is_observe(&self) -> bool {
        self.observe
    }
    /// The key-limits-01 'id detail' the request carried.
    pub fn id_detail(&self) -> Option<&[u8]> {
        self.id_detail.as_deref()
    }
    /// The highest Partial IV of a verified notification (client side).
    pub fn notification_number(&self) -> Option<u64> {
        self.notification_number
    }
}

/// How a response chooses its nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponsePiv {
    /// Reuse the request nonce when allowed (the first non-notification
    /// response), otherwise take a new Partial IV.
    Auto,
    /// Always take a new Partial IV from the sender sequence number.
    Own,
}

fn observe_value(v: &[u8]) -> Option<u32> {
    if v.len() > 3 {
        return None;
    }
    Some(v.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
}

fn encode_uint(v: u32) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(start..).map(<[u8]>::to_vec).unwrap_or_default()
}

fn has_option(msg: &Packet, n: u16) -> bool {
    msg.get_option(CoapOption::from(n)).is_some_and(|l| !l.is_empty())
}

/// Proxy-Uri split per RFC 7252 §6.4 into the Outer Proxy-Uri
/// (scheme://authority) and the Inner Uri-Path / Uri-Query values.
// ref: RFC 8613 §4.1.3.3
struct DecomposedUri {
    outer: Vec<u8>,
    inner: Vec<(u16, Vec<u8>)>,
}

fn decompose_proxy_uri(uri: &[u8]) -> Result<DecomposedUri, Error> {
    let uri = core::str::from_utf8(uri).map_err(|_| Error::InvalidInput("Proxy-Uri is not UTF-8"))?;
    // ref: RFC 7252 §6.4 step 3 (a fragment component fails)
    if uri.contains('#') {
        return Err(Error::InvalidInput("Proxy-Uri with a fragment"));
    }
    let (scheme, rest) =
        uri.split_once("://").ok_or(Error::InvalidInput("Proxy-Uri is not an absolute URI"))?;
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_query) = rest.split_at(authority_end);
    if authority.is_empty() {
        return Err(Error::InvalidInput("Proxy-Uri without host"));
    }
    let mut outer = String::with_capacity(scheme.len() + 3 + authority.len());
    outer.push_str(scheme);
    outer.push_str("://");
    outer.push_str(authority);
    let (path, query) = match path_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_query, None),
    };
    let mut inner = Vec::new();
    // ref: RFC 7252 §6.4 step 8: no Uri-Path for an empty path or "/"
    let path = path.strip_prefix('/').unwrap_or(path);
    if !path.is_empty() {
        for segment in path.split('/') {
            inner.push((number::URI_PATH, percent_decode(segment)?));
        }
    }
    if let Some(query) = query {
        for arg in query.split('&') {
            inner.push((number::URI_QUERY, percent_decode(arg)?));
        }
    }
    Ok(DecomposedUri { outer: outer.into_bytes(), inner })
}

fn percent_decode(s: &str) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = bytes.next().and_then(hex_digit);
            let lo = bytes.next().and_then(hex_digit);
            match (hi, lo) {
                (Some(h), Some(l)) => out.push((h << 4) | l),
                _ => return Err(Error::InvalidInput("bad percent-encoding in Proxy-Uri")),
            }
        } else {
            out.push(b);
        }
    }
    Ok(out)
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// An original message split for protection (RFC 8613 §4, §5.3): the
/// plaintext of the COSE object and the Outer options of the OSCORE message
/// (without the OSCORE option, which the caller adds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// Code, Inner options and payload (§5.3).
    pub plaintext: Vec<u8>,
    /// Outer options in ascending order.
    pub outer: Vec<(u16, Vec<u8>)>,
    /// The message carries an Observe option.
    pub has_observe: bool,
    /// For a request: an Observe registration (Observe = 0).
    pub observe_registration: bool,
    /// For a response: a notification (it has Observe and answers a registration).
    pub notification: bool,
}

fn check_token(msg: &Packet) -> Result<(), Error> {
    if msg.get_token().len() > MAX_TOKEN_LEN {
        return Err(Error::InvalidInput("token longer than 8 bytes"));
    }
    Ok(())
}

fn is_request(code: MessageClass) -> bool {
    matches!(code, MessageClass::Request(_))
}

fn is_response(code: MessageClass) -> bool {
    matches!(code, MessageClass::Response(_))
        || matches!(code, MessageClass::Reserved(c) if matches!(c >> 5, 2 | 4 | 5))
}

/// Splits a request into plaintext and Outer options, decomposing Proxy-Uri.
///
/// # Errors
/// [`Error::InvalidInput`] for a message that is not a request, has an
/// OSCORE option (§4.1.3.7), a token over 8 bytes or a bad Proxy-Uri.
// ref: RFC 8613 §4.1, §4.1.3.3, §4.1.3.5.1, §5.3
pub fn prepare_request(request: &Packet) -> Result<Prepared, Error> {
    if !is_request(request.header.code) {
        return Err(Error::InvalidInput("not a request"));
    }
    let decomposed = match request.get_first_option(CoapOption::ProxyUri) {
        Some(uri) => {
            if [number::URI_PATH, number::URI_QUERY, number::URI_HOST, number::URI_PORT]
                .iter()
                .any(|&n| has_option(request, n))
            {
                return Err(Error::InvalidInput("Proxy-Uri together with Uri-* options"));
            }
            Some(decompose_proxy_uri(uri)?)
        }
        None => None,
    };
    let observe_registration =
        request.get_first_option(CoapOption::Observe).and_then(|v| observe_value(v)) == Some(0);
    split(request, decomposed.as_ref(), false, observe_registration)
}

/// Splits a response to a request that was (`request_observe`) or was not an
/// Observe registration.
///
/// # Errors
/// [`Error::InvalidInput`] for a message that is not a response, has an
/// OSCORE option, Proxy-Uri or a token over 8 bytes.
// ref: RFC 8613 §4.1, §4.1.3.5.2, §5.3
pub fn prepare_response(response: &Packet, request_observe: bool) -> Result<Prepared, Error> {
    if !is_response(response.header.code) {
        return Err(Error::InvalidInput("not a response"));
    }
    if has_option(response, number::PROXY_URI) {
        return Err(Error::InvalidInput("Proxy-Uri in a response"));
    }
    let notification = request_observe && has_option(response, number::OBSERVE);
    split(response, None, notification, false)
}

fn split(
    msg: &Packet,
    decomposed: Option<&DecomposedUri>,
    notification: bool,
    observe_registration: bool,
) -> Result<Prepared, Error> {
    check_token(msg)?;
    let mut inner: Vec<(u16, &[u8])> = Vec::new();
    let mut outer: Vec<(u16, Vec<u8>)> = Vec::new();
    for (&n, values) in msg.options() {
        for v in values {
            if n == number::OSCORE {
                // ref: RFC 8613 §4.1.3.7 (nested OSCORE is not supported)
                return Err(Error::InvalidInput("message already has an OSCORE option"));
            }
            if n == number::PROXY_URI && decomposed.is_some() {
                continue;
            }
            match option_class(n) {
                OptionClass::Inner => inner.push((n, v)),
                OptionClass::Outer => outer.push((n, v.clone())),
                OptionClass::Both => {
                    // ref: RFC 8613 §4.1.3.5.1 (requests: same value inside and out),
                    // §4.1.3.5.2 (notifications: Inner Observe is empty)
                    inner.push((n, if notification { &[] } else { v }));
                    outer.push((n, v.clone()));
                }
            }
        }
    }
    if let Some(d) = decomposed {
        outer.push((number::PROXY_URI, d.outer.clone()));
        inner.extend(d.inner.iter().map(|(n, v)| (*n, v.as_slice())));
        // Stable sorts: repeated options keep their order.
        inner.sort_by_key(|(n, _)| *n);
        outer.sort_by_key(|(n, _)| *n);
    }
    // Room for the Code, the payload marker and the longest AEAD tag (16
    // bytes), which `seal` appends in place: no reallocation on the hot path.
    let mut plaintext = Vec::with_capacity(
        msg.payload.len() + 2 + 16 + inner.iter().map(|(_, v)| v.len() + 3).sum::<usize>(),
    );
    // ref: RFC 8613 §5.3: plaintext = Code ‖ Inner options ‖ 0xFF ‖ payload
    plaintext.push(u8::from(msg.header.code));
    let mut prev = 0;
    for &(n, v) in &inner {
        encode_option(prev, n, v, &mut plaintext)?;
        prev = n;
    }
    if !msg.payload.is_empty() {
        plaintext.push(PAYLOAD_MARKER);
        plaintext.extend_from_slice(&msg.payload);
    }
    Ok(Prepared {
        plaintext,
        outer,
        has_observe: has_option(msg, number::OBSERVE),
        observe_registration,
        notification,
    })
}

/// Builds the OSCORE message: the header and token of `original`, the Outer
/// Code (§4.2: POST / 2.04, or FETCH / 2.05 with Observe), the Outer options,
/// the OSCORE option and `payload`.
// ref: RFC 8613 §4.2, §4.1.3.5
pub fn assemble_protected(
    original: &Packet,
    prepared: &Prepared,
    option_value: &[u8],
    payload: Vec<u8>,
) -> Packet {
    let code = match (is_request(original.header.code), prepared.has_observe) {
        (true, false) => MessageClass::Request(RequestType::Post),
        (true, true) => MessageClass::Request(RequestType::Fetch),
        (false, false) => MessageClass::Response(ResponseType::Changed),
        (false, true) => MessageClass::Response(ResponseType::Content),
    };
    let mut out = Packet::new();
    out.header = original.header.clone();
    out.header.code = code;
    out.set_token(original.get_token().to_vec());
    let mut oscore_added = false;
    for (n, v) in &prepared.outer {
        if !oscore_added && *n > number::OSCORE {
            out.add_option(CoapOption::Oscore, option_value.to_vec());
            oscore_added = true;
        }
        out.add_option(CoapOption::from(*n), v.clone());
    }
    if !oscore_added {
        out.add_option(CoapOption::Oscore, option_value.to_vec());
    }
    out.payload = payload;
    out
}

/// The single OSCORE option of a received message, decoded.
///
/// # Errors
/// [`Error::MalformedOption`] when it is absent, repeated or malformed.
pub fn decode_oscore_option(msg: &Packet) -> Result<OscoreOption, Error> {
    oscore_option_view(msg).map(|view| view.to_owned())
}

/// [`decode_oscore_option`] borrowing from the message (no allocation).
fn oscore_option_view(msg: &Packet) -> Result<OscoreOptionView<'_>, Error> {
    let values = msg
        .get_option(CoapOption::Oscore)
        .filter(|l| !l.is_empty())
        .ok_or(Error::MalformedOption("no OSCORE option"))?;
    if values.len() != 1 {
        return Err(Error::MalformedOption("repeated OSCORE option"));
    }
    let value = values.front().ok_or(Error::MalformedOption("no OSCORE option"))?;
    OscoreOptionView::decode(value)
}

/// A verified plaintext turned back into the original message.
#[derive(Debug, Clone, PartialEq)]
pub struct Restored {
    /// The original message.
    pub message: Packet,
    /// Inner Observe was present (a registration/cancellation in a request,
    /// a notification in a response).
    pub inner_observe: bool,
    /// For a request: an Observe registration (Inner Observe = 0).
    pub observe_registration: bool,
}

/// Rebuilds the original request from the OSCORE message and the decrypted
/// plaintext.
///
/// # Errors
/// [`Error::MalformedMessage`] for a malformed plaintext or a non-request code.
pub fn restore_request(protected: &Packet, plaintext: &[u8]) -> Result<Restored, Error> {
    restore(protected, plaintext, true, None)
}

/// Rebuilds the original response; `response_piv` is its own Partial IV, if
/// any (it sets the restored Observe value of a notification).
///
/// # Errors
/// [`Error::MalformedMessage`] for a malformed plaintext or a non-response code.
pub fn restore_response(
    protected: &Packet,
    plaintext: &[u8],
    response_piv: Option<&[u8]>,
) -> Result<Restored, Error> {
    restore(protected, plaintext, false, response_piv)
}

/// Rebuilds the original message: Outer Class U options of the OSCORE message
/// (Outer Class E options and the OSCORE option are discarded) and the Inner
/// options, Code and payload.
// ref: RFC 8613 §8.2 steps 7–8, §8.4 steps 6–7, §4.1.3.5.2 (Observe of notifications)
fn restore(
    protected: &Packet,
    plaintext: &[u8],
    request: bool,
    response_piv: Option<&[u8]>,
) -> Result<Restored, Error> {
    let (&code, rest) = plaintext.split_first().ok_or(Error::MalformedMessage("empty plaintext"))?;
    let code = MessageClass::from(code);
    if request && !is_request(code) {
        return Err(Error::MalformedMessage("inner code is not a request"));
    }
    if !request && !is_response(code) {
        return Err(Error::MalformedMessage("inner code is not a response"));
    }
    let mut inner: Vec<(u16, &[u8])> = Vec::new();
    let payload = walk_options(rest, |n, v| {
        if n == number::OSCORE {
            return Err(Error::MalformedMessage("Inner OSCORE option"));
        }
        inner.push((n, v));
        Ok(())
    })?;
    let inner_observe_value = inner.iter().find(|(n, _)| *n == number::OBSERVE).map(|(_, v)| *v);
    let mut out = Packet::new();
    out.header = protected.header.clone();
    out.header.code = code;
    out.set_token(protected.get_token().to_vec());
    let mut options: Vec<(u16, &[u8])> = Vec::with_capacity(inner.len() + 2);
    for (&n, values) in protected.options() {
        if option_class(n) == OptionClass::Outer && n != number::OSCORE {
            options.extend(values.iter().map(|v| (n, v.as_slice())));
        }
    }
    // For a notification the Inner Observe is empty; the RFC lets the client
    // use the three low bytes of the Partial IV as its value (§4.1.3.5.2).
    let observe_from_piv: Option<Vec<u8>> = match response_piv {
        Some(piv) if inner_observe_value.is_some() => {
            let seq = piv.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
            Some(encode_uint(u32::try_from(seq & 0x00ff_ffff).unwrap_or(0)))
        }
        _ => None,
    };
    for &(n, v) in &inner {
        match (&observe_from_piv, n == number::OBSERVE) {
            (Some(value), true) => options.push((n, value)),
            _ => options.push((n, v)),
        }
    }
    options.sort_by_key(|(n, _)| *n);
    for (n, v) in options {
        out.add_option(CoapOption::from(n), v.to_vec());
    }
    out.payload = payload.to_vec();
    Ok(Restored {
        message: out,
        inner_observe: inner_observe_value.is_some(),
        observe_registration: request && inner_observe_value.and_then(observe_value) == Some(0),
    })
}

/// The AEAD additional data of one message, on the stack unless too long.
enum Aad {
    Stack(StackAad),
    Heap(Vec<u8>),
}

impl core::ops::Deref for Aad {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Aad::Stack(a) => a,
            Aad::Heap(v) => v,
        }
    }
}

/// The longest AEAD nonce (13 bytes for AES-CCM, 12 for AES-GCM and
/// ChaCha20/Poly1305), with room to spare.
const MAX_NONCE_LEN: usize = 16;

/// An AEAD nonce on the stack: one heap allocation less per message.
struct Nonce {
    bytes: [u8; MAX_NONCE_LEN],
    len: usize,
}

impl core::ops::Deref for Nonce {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

impl SecurityContext {
    /// Checks, before any state moves, that one more message can be sent.
    fn check_can_send(&self, now: u64) -> Result<(), Error> {
        self.check_exp(now)?;
        if self.sender.count_q >= self.sender.limit_q {
            return Err(Error::LimitQReached);
        }
        Ok(())
    }

    /// Encrypts `plaintext` in place and appends the tag.
    fn seal(&mut self, nonce: &[u8], aad: &[u8], plaintext: &mut Vec<u8>) -> Result<(), Error> {
        self.count_encryption()?;
        seal_append(&*self.sender.key, self.common.aead.tag_len(), nonce, aad, plaintext)?;
        Ok(())
    }

    /// Decrypts `ciphertext` (tag appended), counting a failure against `limit_v`.
    fn open(&mut self, nonce: &[u8], aad: &[u8], ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        let tag_len = self.common.aead.tag_len();
        if ciphertext.len() < tag_len {
            // Too short to hold a tag: no decryption attempt, nothing to count.
            return Err(Error::DecryptionFailed);
        }
        open_appended(&*self.recipient.key, tag_len, nonce, aad, ciphertext).map_err(|_| {
            self.count_failed_decryption();
            Error::DecryptionFailed
        })
    }

    fn aad(&self, request_kid: &[u8], request_piv: &[u8]) -> Aad {
        let ext = ExternalAad { alg_aead: self.common.aead.alg(), request_kid, request_piv, options: &[] };
        match StackAad::encode(&ext) {
            Some(aad) => Aad::Stack(aad),
            None => {
                // Only reachable with identifiers longer than any AEAD allows
                // for a Sender ID; kept correct rather than refused.
                let (mut scratch, mut aad) = (Vec::new(), Vec::new());
                encode_aad(&ext, &mut scratch, &mut aad);
                Aad::Heap(aad)
            }
        }
    }

    fn nonce(&self, id_piv: &[u8], partial_iv: &[u8]) -> Result<Nonce, Error> {
        let mut nonce = Nonce { bytes: [0; MAX_NONCE_LEN], len: self.common.aead.nonce_len() };
        let out = nonce.bytes.get_mut(..nonce.len).ok_or(Error::InvalidContext("AEAD nonce too long"))?;
        build_nonce(&self.common.common_iv, id_piv, partial_iv, out)?;
        Ok(nonce)
    }

    /// Protects a request (RFC 8613 §8.1).
    ///
    /// `now` is the current time in seconds since the epoch, checked against
    /// the context's 'exp'. Returns the OSCORE message and the binding that
    /// the response will be verified against.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a message that is not a request, already has
    /// an OSCORE option or has a bad Proxy-Uri; [`Error::LimitQReached`],
    /// [`Error::ContextExpired`], [`Error::SequenceNumberExhausted`] when
    /// the keys must be updated; [`Error::Store`] if the sequence number
    /// bound could not be persisted (nothing is sent then).
    pub fn protect_request(&mut self, request: &Packet, now: u64) -> Result<(Packet, RequestBinding), Error> {
        self.protect_request_with(request, None, now)
    }

    /// Protects a request carrying a key-limits-01 'id detail' in its OSCORE
    /// option (the key-update exchange, key-limits-01 §3.3).
    ///
    /// # Errors
    /// As [`protect_request`](Self::protect_request).
    pub fn protect_request_with(
        &mut self,
        request: &Packet,
        id_detail: Option<&[u8]>,
        now: u64,
    ) -> Result<(Packet, RequestBinding), Error> {
        let mut prepared = prepare_request(request)?;
        self.check_can_send(now)?;
        let ssn = self.take_sequence_number()?;
        let mut piv_buf = [0u8; MAX_PARTIAL_IV_LEN];
        let piv_len = encode_partial_iv(ssn, &mut piv_buf);
        let piv = piv_buf.get(..piv_len).unwrap_or(&[]);
        let kid = self.sender.sender_id.clone();

        let aad = self.aad(&kid, piv);
        let nonce = self.nonce(&kid, piv)?;
        let mut payload = core::mem::take(&mut prepared.plaintext);
        self.seal(&nonce, &aad, &mut payload)?;

        // ref: RFC 8613 §6.1 (requests carry kid and Partial IV; kid context
        // when an ID Context is used, as in Appendix C.6)
        let option = OscoreOption {
            partial_iv: Some(piv.to_vec()),
            kid_context: self.common.id_context.clone(),
            kid: Some(kid.clone()),
            id_detail: id_detail.map(<[u8]>::to_vec),
            ..OscoreOption::default()
        };
        let packet = assemble_protected(request, &prepared, &option.encode()?, payload);
        Ok((
            packet,
            RequestBinding {
                kid,
                partial_iv: piv.to_vec(),
                observe: prepared.observe_registration,
                id_detail: None,
                request_nonce_used: false,
                notification_number: None,
                unnumbered_notification_seen: false,
                completed: false,
            },
        ))
    }

    /// Verifies a request (RFC 8613 §8.2) and returns the original request and
    /// the binding for the response. On any error the replay window and the
    /// sequence number are unchanged; only a failed decryption raises
    /// `count_v`.
    ///
    /// # Errors
    /// Each error maps to the response of §8.2 through [`Error::coap_code`].
    pub fn verify_request(&mut self, request: &Packet, now: u64) -> Result<(Packet, RequestBinding), Error> {
        if !is_request(request.header.code) {
            return Err(Error::MalformedMessage("not a request"));
        }
        let option = oscore_option_view(request)?;
        let piv = option.partial_iv.ok_or(Error::MalformedOption("request without Partial IV"))?;
        let kid = option.kid.ok_or(Error::MalformedOption("request without kid"))?;
        if option.pairwise {
            // ref: groupcomm-08 §4.1: a recipient without group support discards it
            return Err(Error::MalformedOption("Pairwise Flag outside Group OSCORE"));
        }
        if kid != self.recipient.recipient_id.as_slice() {
            return Err(Error::UnknownContext);
        }
        if let Some(ctx) = option.kid_context
            && self.common.id_context.as_deref() != Some(ctx)
        {
            return Err(Error::UnknownContext);
        }
        self.check_exp(now)?;
        self.check_limit_v()?;
        let seq = decode_partial_iv(piv)?;
        match self.recipient.window.check(seq) {
            ReplayOutcome::Fresh => {}
            other => return Err(Error::Replay(other)),
        }
        let aad = self.aad(kid, piv);
        let nonce = self.nonce(kid, piv)?;
        let plaintext = self.open(&nonce, &aad, &request.payload)?;
        let restored = restore_request(request, &plaintext)?;
        self.accept_sequence_number(seq)?;
        Ok((
            restored.message,
            RequestBinding {
                kid: kid.to_vec(),
                partial_iv: piv.to_vec(),
                observe: restored.observe_registration,
                id_detail: option.id_detail.map(<[u8]>::to_vec),
                request_nonce_used: false,
                notification_number: None,
                unnumbered_notification_seen: false,
                completed: false,
            },
        ))
    }

    /// Protects a response to the request of `binding` (RFC 8613 §8.3).
    ///
    /// With [`ResponsePiv::Auto`] the first response reuses the request nonce;
    /// notifications (a response with Observe to an Observe registration) and
    /// any later response take their own Partial IV.
    ///
    /// # Errors
    /// As [`protect_request`](Self::protect_request).
    pub fn protect_response(
        &mut self,
        response: &Packet,
        binding: &mut RequestBinding,
        piv_mode: ResponsePiv,
        now: u64,
    ) -> Result<Packet, Error> {
        self.protect_response_with(response, binding, piv_mode, None, now)
    }

    /// Protects a response carrying a key-limits-01 'id detail'.
    ///
    /// # Errors
    /// As [`protect_request`](Self::protect_request).
    pub fn protect_response_with(
        &mut self,
        response: &Packet,
        binding: &mut RequestBinding,
        piv_mode: ResponsePiv,
        id_detail: Option<&[u8]>,
        now: u64,
    ) -> Result<Packet, Error> {
        let mut prepared = prepare_response(response, binding.observe)?;
        self.check_can_send(now)?;
        // ref: RFC 8613 §4.1.3.5.2 (notifications carry a Partial IV),
        // §8.3 step 3 (a new Partial IV when the request nonce cannot be reused)
        let own_piv = piv_mode == ResponsePiv::Own || prepared.notification || binding.request_nonce_used;
        let mut piv_buf = [0u8; MAX_PARTIAL_IV_LEN];
        let own = if own_piv {
            let len = encode_partial_iv(self.take_sequence_number()?, &mut piv_buf);
            Some(piv_buf.get(..len).unwrap_or(&[]))
        } else {
            None
        };
        let aad = self.aad(&binding.kid, &binding.partial_iv);
        let nonce = match own {
            Some(piv) => self.nonce(&self.sender.sender_id, piv)?,
            None => self.nonce(&binding.kid, &binding.partial_iv)?,
        };
        let mut payload = core::mem::take(&mut prepared.plaintext);
        self.seal(&nonce, &aad, &mut payload)?;
        if own.is_none() {
            binding.request_nonce_used = true;
        }
        let option = OscoreOption {
            partial_iv: own.map(<[u8]>::to_vec),
            id_detail: id_detail.map(<[u8]>::to_vec),
            ..OscoreOption::default()
        };
        Ok(assemble_protected(response, &prepared, &option.encode()?, payload))
    }

    /// Verifies a response to the request of `binding` (RFC 8613 §8.4) and
    /// returns the original response.
    ///
    /// Notifications must carry increasing Partial IVs (the Notification
    /// Number of §4.1.3.5.2); any other response is accepted once.
    ///
    /// # Errors
    /// As [`verify_request`](Self::verify_request); [`Error::ResponseMismatch`]
    /// for an Inner Observe in a response to a non-Observe request.
    pub fn verify_response(
        &mut self,
        response: &Packet,
        binding: &mut RequestBinding,
        now: u64,
    ) -> Result<Packet, Error> {
        if !is_response(response.header.code) {
            return Err(Error::MalformedMessage("not a response"));
        }
        let option = oscore_option_view(response)?;
        if option.pairwise {
            return Err(Error::MalformedOption("Pairwise Flag outside Group OSCORE"));
        }
        if let Some(kid) = option.kid
            && kid != self.recipient.recipient_id.as_slice()
        {
            return Err(Error::UnknownContext);
        }
        self.check_exp(now)?;
        self.check_limit_v()?;
        let seq = option.partial_iv.map(decode_partial_iv).transpose()?;
        binding.check_fresh(seq)?;
        let aad = self.aad(&binding.kid, &binding.partial_iv);
        let nonce = match option.partial_iv {
            Some(piv) => self.nonce(&self.recipient.recipient_id, piv)?,
            None => self.nonce(&binding.kid, &binding.partial_iv)?,
        };
        let plaintext = self.open(&nonce, &aad, &response.payload)?;
        let restored = restore_response(response, &plaintext, option.partial_iv)?;
        binding.record(seq, restored.inner_observe)?;
        Ok(restored.message)
    }
}

impl RequestBinding {
    /// A binding for a request with this kid and Partial IV (for protocols
    /// built on this crate, e.g. Group OSCORE).
    pub fn new(kid: &[u8], partial_iv: &[u8], observe: bool) -> Self {
        Self {
            kid: kid.to_vec(),
            partial_iv: partial_iv.to_vec(),
            observe,
            id_detail: None,
            request_nonce_used: false,
            notification_number: None,
            unnumbered_notification_seen: false,
            completed: false,
        }
    }

    /// Takes the right to reuse the request nonce for a response: true the
    /// first time, false afterwards (a later response needs its own Partial IV).
    pub fn take_request_nonce(&mut self) -> bool {
        !core::mem::replace(&mut self.request_nonce_used, true)
    }

    /// Client side: a final (non-notification) response was verified.
    pub fn is_completed(&self) -> bool {
        self.completed
    }

    /// Client side: is a response with Partial IV `seq` (or none) acceptable?
    /// Changes nothing.
    ///
    /// # Errors
    /// [`Error::Replay`] for a second final response, or a notification not
    /// newer than the Notification Number.
    pub fn check_fresh(&self, seq: Option<u64>) -> Result<(), Error> {
        // A request gets one final response; an observation ends with one.
        if self.completed {
            return Err(Error::Replay(ReplayOutcome::Replayed));
        }
        if self.observe {
            // ref: RFC 8613 §7.4.1: notifications must be newer than the
            // Notification Number (we take the "greater only" option, which also
            // orders them); at most one notification without Partial IV, and
            // it counts as the oldest.
            let stale = match (seq, self.notification_number) {
                (Some(seq), Some(last)) => seq <= last,
                (None, Some(_)) => true,
                (None, None) => self.unnumbered_notification_seen,
                (Some(_), None) => false,
            };
            if stale {
                return Err(Error::Replay(ReplayOutcome::Replayed));
            }
        }
        Ok(())
    }

    /// Client side: records a verified response.
    ///
    /// # Errors
    /// [`Error::ResponseMismatch`] for an Inner Observe in a response to a
    /// non-Observe request (§4.1.3.5.2: stop processing); nothing is recorded.
    pub fn record(&mut self, seq: Option<u64>, inner_observe: bool) -> Result<(), Error> {
        if inner_observe && !self.observe {
            return Err(Error::ResponseMismatch("Inner Observe in a response to a non-Observe request"));
        }
        if inner_observe {
            match seq {
                Some(seq) => self.notification_number = Some(seq),
                None => self.unnumbered_notification_seen = true,
            }
        } else {
            self.completed = true;
        }
        Ok(())
    }
}
