//! Protecting and verifying requests and responses (RFC 8613 §8).
//!
//! The original message is split into an Outer part (the CoAP header, Class U
//! options, the OSCORE option) and an Inner part (Code, Class E options,
//! payload) that becomes the plaintext of a COSE_Encrypt0 object.
//!
//! The byte-level functions (`*_bytes`, `*_in_place`) are the
//! implementation; the `coap_lite::Packet` functions are a layer over them.
//!
//! ```
//! # fn main() -> Result<(), oscore_core::Error> {
//! use oscore_core::{ContextParams, SecurityContext};
//! use oscore_core::protect::PROTECT_OVERHEAD;
//!
//! let provider = &crypto_backends::RUSTCRYPTO;
//! let mut client = SecurityContext::derive(provider, &ContextParams::new(&[1; 16], b"", b"\x01"))?;
//! let mut server = SecurityContext::derive(provider, &ContextParams::new(&[1; 16], b"\x01", b""))?;
//! // GET /hello, CON, MID 1, no token.
//! let request = [0x40, 0x01, 0x00, 0x01, 0xb5, b'h', b'e', b'l', b'l', b'o'];
//! let mut datagram = Vec::with_capacity(request.len() + PROTECT_OVERHEAD);
//! let _binding = client.protect_request_bytes(&request, &mut datagram, 0)?;
//! let (message, _binding) = server.verify_request_in_place(&mut datagram, 0)?;
//! assert_eq!(message.code(), 0x01);
//! assert_eq!(message.option(11), Some(&b"hello"[..]));
//! # Ok(()) }
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use coap_lite::{CoapOption, MessageClass, Packet, RequestType, ResponseType};

use crate::context::{SecurityContext, build_nonce};
use crate::cose::{ExternalAad, StackAad, encode_aad};
use crate::error::Error;
use crate::message::{
    MAX_TOKEN_LEN, MessageView, OptionWriter, Options, PAYLOAD_MARKER, is_request_code, is_response_code,
    parse_udp, to_bytes,
};
use crate::option::{
    MAX_PARTIAL_IV_LEN, OscoreOption, OscoreOptionView, decode_partial_iv, encode_partial_iv,
};
use crate::replay::ReplayOutcome;
use zeroize::Zeroize;

mod packet;
mod verified;

pub use packet::{
    Prepared, Restored, assemble_protected, decode_oscore_option, prepare_request, prepare_response,
    restore_request, restore_response,
};
use verified::Layout;
pub use verified::{RestoredOptions, VerifiedMessage};

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

/// The Outer Codes of OSCORE messages.
// ref: RFC 8613 §4.2
mod code {
    /// 0.02 POST.
    pub const POST: u8 = 0x02;
    /// 0.05 FETCH.
    pub const FETCH: u8 = 0x05;
    /// 2.04 Changed.
    pub const CHANGED: u8 = 0x44;
    /// 2.05 Content.
    pub const CONTENT: u8 = 0x45;
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
#[inline]
pub fn option_class(option: u16) -> OptionClass {
    match option {
        number::URI_HOST | number::URI_PORT | number::PROXY_URI | number::PROXY_SCHEME => OptionClass::Outer,
        number::OBSERVE => OptionClass::Both,
        // OSCORE itself is refused before classification (§4.1.3.7).
        number::OSCORE => OptionClass::Outer,
        _ => OptionClass::Inner,
    }
}

/// True if the option appears in the OSCORE message (Outer, or Observe).
#[inline]
fn is_outer(option: u16) -> bool {
    option_class(option) != OptionClass::Inner
}

/// The value the option takes in the plaintext, if it goes there: Inner
/// options as they are, Observe with its own value in requests and an empty
/// value in notifications.
// ref: RFC 8613 §4.1.3.5.1 (requests: same value inside and out),
// §4.1.3.5.2 (notifications: Inner Observe is empty)
#[inline]
fn inner_value(option: u16, value: &[u8], notification: bool) -> Option<&[u8]> {
    match option_class(option) {
        OptionClass::Inner => Some(value),
        OptionClass::Outer => None,
        OptionClass::Both if notification => Some(&[]),
        OptionClass::Both => Some(value),
    }
}

/// Two option sequences, each in ascending number order, merged into one;
/// on equal numbers those of the first come first, so repeated options keep
/// their order.
struct Merge<'a, A: Iterator<Item = (u16, &'a [u8])>, B: Iterator<Item = (u16, &'a [u8])>> {
    first: core::iter::Peekable<A>,
    second: core::iter::Peekable<B>,
}

impl<'a, A: Iterator<Item = (u16, &'a [u8])>, B: Iterator<Item = (u16, &'a [u8])>> Merge<'a, A, B> {
    fn new(first: A, second: B) -> Self {
        Self { first: first.peekable(), second: second.peekable() }
    }
}

impl<'a, A: Iterator<Item = (u16, &'a [u8])>, B: Iterator<Item = (u16, &'a [u8])>> Iterator
    for Merge<'a, A, B>
{
    type Item = (u16, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        match (self.first.peek(), self.second.peek()) {
            (Some(a), Some(b)) if b.0 < a.0 => self.second.next(),
            (Some(_), _) => self.first.next(),
            (None, _) => self.second.next(),
        }
    }
}

/// The longest identifier kept without a heap allocation: Sender IDs are at
/// most 7 bytes (nonce length − 6), Partial IVs at most 5.
const SHORT_BYTES: usize = 15;

/// A kid or Partial IV kept in a [`RequestBinding`]: inline when short (always,
/// for identifiers a context accepts), so a binding costs no allocation.
#[derive(Clone, PartialEq, Eq)]
enum ShortBytes {
    Inline { len: u8, bytes: [u8; SHORT_BYTES] },
    Heap(Vec<u8>),
}

impl ShortBytes {
    fn new(value: &[u8]) -> Self {
        let mut bytes = [0u8; SHORT_BYTES];
        match (bytes.get_mut(..value.len()), u8::try_from(value.len())) {
            (Some(dst), Ok(len)) => {
                dst.copy_from_slice(value);
                Self::Inline { len, bytes }
            }
            _ => Self::Heap(value.to_vec()),
        }
    }
}

impl core::ops::Deref for ShortBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Self::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or(&[]),
            Self::Heap(v) => v,
        }
    }
}

impl core::fmt::Debug for ShortBytes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(&**self, f)
    }
}

/// What a response needs to know about its request (RFC 8613 §5.4, §8.3):
/// the request's kid and Partial IV, and whether it registered an observation.
///
/// Not `Clone`: the server side uses the request nonce for at most one
/// response; any further response to the same request gets its own Partial IV.
#[derive(Debug, PartialEq, Eq)]
pub struct RequestBinding {
    kid: ShortBytes,
    partial_iv: ShortBytes,
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
#[derive(Clone, Copy)]
pub(crate) struct Nonce {
    bytes: [u8; MAX_NONCE_LEN],
    len: usize,
}

impl Nonce {
    /// The nonce for (`id_piv`, `partial_iv`) (RFC 8613 §5.2).
    pub(crate) fn build(
        common_iv: &[u8],
        nonce_len: usize,
        id_piv: &[u8],
        partial_iv: &[u8],
    ) -> Result<Self, Error> {
        let mut nonce = Nonce { bytes: [0; MAX_NONCE_LEN], len: nonce_len };
        let out = nonce.bytes.get_mut(..nonce_len).ok_or(Error::InvalidContext("AEAD nonce too long"))?;
        build_nonce(common_iv, id_piv, partial_iv, out)?;
        Ok(nonce)
    }

    /// This nonce (built with an empty Partial IV) with `partial_iv` XORed
    /// into its last bytes: the same as [`build`](Self::build) with that
    /// Partial IV, as the padded Partial IV occupies the last five bytes.
    fn with_partial_iv(mut self, partial_iv: &[u8]) -> Result<Self, Error> {
        if partial_iv.len() > MAX_PARTIAL_IV_LEN {
            return Err(Error::InvalidContext("ID or Partial IV too long for the nonce"));
        }
        let start = self.len.checked_sub(partial_iv.len()).ok_or(Error::InvalidContext("nonce length"))?;
        let tail = self.bytes.get_mut(start..self.len).ok_or(Error::InvalidContext("nonce length"))?;
        for (n, p) in tail.iter_mut().zip(partial_iv) {
            *n ^= p;
        }
        Ok(self)
    }
}

impl core::ops::Deref for Nonce {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

/// Zeroes `out[start..]` and removes it.
fn wipe_tail(out: &mut Vec<u8>, start: usize) {
    if let Some(tail) = out.get_mut(start..) {
        tail.zeroize();
    }
    out.truncate(start);
}

/// Wipes the plaintext from the caller's receive buffer: a memset, which
/// `black_box` keeps from being optimised away as a dead store. (`zeroize`'s
/// volatile writes go byte by byte: measured at about 15 % of the cost of
/// verifying a 1 KiB message.)
fn wipe_buffer(buf: &mut [u8]) {
    buf.fill(0);
    core::hint::black_box(buf);
}

/// Errors in the caller's own message are input errors, not peer errors.
fn local(e: Error) -> Error {
    match e {
        Error::MalformedMessage(what) => Error::InvalidInput(what),
        other => other,
    }
}

/// What protection needs from an original message, read in one pass.
struct Original<'a> {
    view: MessageView<'a>,
    observe: Option<&'a [u8]>,
    proxy_uri: Option<&'a [u8]>,
    has_uri: bool,
}

impl<'a> Original<'a> {
    fn read(bytes: &'a [u8]) -> Result<Self, Error> {
        let (mut observe, mut proxy_uri, mut has_uri) = (None, None, false);
        let view = MessageView::parse_with(bytes, |n, v| {
            match n {
                // ref: RFC 8613 §4.1.3.7 (nested OSCORE is not supported)
                number::OSCORE => return Err(Error::InvalidInput("message already has an OSCORE option")),
                number::PROXY_URI if proxy_uri.is_some() => {
                    return Err(Error::InvalidInput("repeated Proxy-Uri"));
                }
                number::PROXY_URI => proxy_uri = Some(v),
                number::URI_PATH | number::URI_QUERY | number::URI_HOST | number::URI_PORT => has_uri = true,
                number::OBSERVE if observe.is_none() => observe = Some(v),
                _ => {}
            }
            Ok(())
        })
        .map_err(local)?;
        Ok(Self { view, observe, proxy_uri, has_uri })
    }

    /// Appends the OSCORE message up to its payload: header and token with
    /// `outer_code`, the Outer options with the OSCORE option `option`, the
    /// payload marker and the plaintext (to be encrypted in place). Returns
    /// where the plaintext starts.
    // ref: RFC 8613 §4.1 (Outer options), §4.2 (Outer Code), §5.3 (plaintext)
    fn write_protected(
        &self,
        decomposed: Option<&DecomposedUri>,
        outer_code: u8,
        option: &OscoreOptionView<'_>,
        notification: bool,
        out: &mut Vec<u8>,
    ) -> Result<usize, Error> {
        self.view.write_header(outer_code, out);
        let option_len = option.encoded_len()?;
        let mut writer = OptionWriter::default();
        let mut oscore_written = false;
        for (n, v) in self.view.options().filter(|&(n, _)| is_outer(n)) {
            if !oscore_written && n > number::OSCORE {
                writer.write_header(number::OSCORE, option_len, out)?;
                option.encode_into(out)?;
                oscore_written = true;
            }
            let v = match decomposed {
                Some(d) if n == number::PROXY_URI => d.outer.as_slice(),
                _ => v,
            };
            writer.write(n, v, out)?;
        }
        if !oscore_written {
            writer.write_header(number::OSCORE, option_len, out)?;
            option.encode_into(out)?;
        }
        // The plaintext is never empty (it starts with the Code).
        out.push(PAYLOAD_MARKER);
        let plaintext_start = out.len();
        // ref: RFC 8613 §5.3: plaintext = Code ‖ Inner options ‖ 0xFF ‖ payload
        out.push(self.view.code());
        let inner = self.view.options().filter_map(|(n, v)| inner_value(n, v, notification).map(|v| (n, v)));
        let from_uri =
            decomposed.map_or(&[][..], |d| d.inner.as_slice()).iter().map(|(n, v)| (*n, v.as_slice()));
        let mut writer = OptionWriter::default();
        for (n, v) in Merge::new(inner, from_uri) {
            writer.write(n, v, out)?;
        }
        let payload = self.view.payload();
        if !payload.is_empty() {
            out.push(PAYLOAD_MARKER);
            out.extend_from_slice(payload);
        }
        Ok(plaintext_start)
    }
}

/// The OSCORE option of a received message: present exactly once, decoded
/// in place; a message of the wrong kind or with the Pairwise Flag (outside
/// Group OSCORE) is refused.
fn received_option<'a>(view: &MessageView<'a>, request: bool) -> Result<OscoreOptionView<'a>, Error> {
    if request && !is_request_code(view.code()) {
        return Err(Error::MalformedMessage("not a request"));
    }
    if !request && !is_response_code(view.code()) {
        return Err(Error::MalformedMessage("not a response"));
    }
    let option = OscoreOptionView::decode(view.oscore_option()?)?;
    if option.pairwise {
        // ref: groupcomm-08 §4.1: a recipient without group support discards it
        return Err(Error::MalformedOption("Pairwise Flag outside Group OSCORE"));
    }
    Ok(option)
}

/// The OSCORE option of a request.
// ref: RFC 8613 §6.1 (requests carry kid and Partial IV; kid context when an
// ID Context is used, as in Appendix C.6)
fn request_option<'b>(
    kid_context: Option<&'b [u8]>,
    kid: &'b [u8],
    partial_iv: &'b [u8],
    id_detail: Option<&'b [u8]>,
) -> OscoreOptionView<'b> {
    OscoreOptionView {
        partial_iv: Some(partial_iv),
        kid_context,
        kid: Some(kid),
        id_detail,
        ..OscoreOptionView::default()
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

    /// Encrypts `out[plaintext_start..]` in place and appends the tag.
    fn seal_tail(
        &mut self,
        nonce: &[u8],
        aad: &[u8],
        out: &mut Vec<u8>,
        plaintext_start: usize,
    ) -> Result<(), Error> {
        self.count_encryption()?;
        let end = out.len();
        out.resize(end + self.common.aead.tag_len(), 0);
        let (head, tag) = out.split_at_mut(end);
        let plaintext = head.get_mut(plaintext_start..).ok_or(Error::InvalidInput("plaintext offset"))?;
        self.sender.key.seal_detached(nonce, aad, plaintext, tag)?;
        Ok(())
    }

    /// Decrypts `ciphertext` (tag appended) in place and returns the
    /// plaintext, counting a failure against `limit_v`.
    fn open_in_place<'b>(
        &mut self,
        nonce: &[u8],
        aad: &[u8],
        ciphertext: &'b mut [u8],
    ) -> Result<&'b mut [u8], Error> {
        let tag_len = self.common.aead.tag_len();
        let Some(split) = ciphertext.len().checked_sub(tag_len) else {
            // Too short to hold a tag: no decryption attempt, nothing to count.
            return Err(Error::DecryptionFailed);
        };
        let (plaintext, tag) = ciphertext.split_at_mut(split);
        if self.recipient.key.open_detached(nonce, aad, plaintext, tag).is_err() {
            plaintext.zeroize();
            self.count_failed_decryption();
            return Err(Error::DecryptionFailed);
        }
        Ok(plaintext)
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

    /// The nonce for (`id_piv`, `partial_iv`): from the precomputed base of
    /// the Sender or Recipient ID (all that per-message work needs), or built
    /// in full for another ID.
    fn nonce(&self, id_piv: &[u8], partial_iv: &[u8]) -> Result<Nonce, Error> {
        if id_piv == self.sender.sender_id.as_slice() {
            self.sender.nonce_base.with_partial_iv(partial_iv)
        } else if id_piv == self.recipient.recipient_id.as_slice() {
            self.recipient.nonce_base.with_partial_iv(partial_iv)
        } else {
            Nonce::build(&self.common.common_iv, self.common.aead.nonce_len(), id_piv, partial_iv)
        }
    }

    /// Protects a request (RFC 8613 §8.1).
    ///
    /// `now` is the current time in seconds since the epoch, checked against
    /// the context's 'exp'. Returns the OSCORE message and the binding that
    /// the response will be verified against. A convenience layer over
    /// [`protect_request_bytes`](Self::protect_request_bytes), which does the
    /// same on CoAP-over-UDP bytes without allocating.
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
        let bytes = to_bytes(request)?;
        let mut out = Vec::with_capacity(bytes.len() + PROTECT_OVERHEAD);
        let binding = self.protect_request_bytes_with(&bytes, id_detail, &mut out, now)?;
        Ok((parse_udp(&out)?, binding))
    }

    /// Protects a request given as a CoAP-over-UDP message and appends the
    /// OSCORE message to `out` (RFC 8613 §8.1).
    ///
    /// No heap allocation when `out` has room (see [`PROTECT_OVERHEAD`]) and
    /// the request has no Proxy-Uri; a short `out` grows like any `Vec`. On
    /// error nothing is appended.
    ///
    /// # Errors
    /// As [`protect_request`](Self::protect_request); a malformed `request`
    /// is [`Error::InvalidInput`].
    pub fn protect_request_bytes(
        &mut self,
        request: &[u8],
        out: &mut Vec<u8>,
        now: u64,
    ) -> Result<RequestBinding, Error> {
        self.protect_request_bytes_with(request, None, out, now)
    }

    /// [`protect_request_bytes`](Self::protect_request_bytes) with a
    /// key-limits-01 'id detail' in the OSCORE option.
    ///
    /// # Errors
    /// As [`protect_request`](Self::protect_request).
    pub fn protect_request_bytes_with(
        &mut self,
        request: &[u8],
        id_detail: Option<&[u8]>,
        out: &mut Vec<u8>,
        now: u64,
    ) -> Result<RequestBinding, Error> {
        let original = Original::read(request)?;
        if !is_request_code(original.view.code()) {
            return Err(Error::InvalidInput("not a request"));
        }
        let decomposed = match original.proxy_uri {
            Some(_) if original.has_uri => {
                return Err(Error::InvalidInput("Proxy-Uri together with Uri-* options"));
            }
            Some(uri) => Some(decompose_proxy_uri(uri)?),
            None => None,
        };
        let kid = ShortBytes::new(&self.sender.sender_id);
        // What can refuse the request is checked before the sequence number moves.
        request_option(self.common.id_context.as_deref(), &kid, &[0], id_detail).encoded_len()?;
        self.check_can_send(now)?;
        let ssn = self.take_sequence_number()?;
        let mut piv_buf = [0u8; MAX_PARTIAL_IV_LEN];
        let piv_len = encode_partial_iv(ssn, &mut piv_buf);
        let piv = piv_buf.get(..piv_len).unwrap_or(&[]);
        let aad = self.aad(&kid, piv);
        let nonce = self.nonce(&kid, piv)?;
        // ref: RFC 8613 §4.2: POST, or FETCH with an Observe option
        let outer_code = if original.observe.is_some() { code::FETCH } else { code::POST };
        let start = out.len();
        let sealed = original
            .write_protected(
                decomposed.as_ref(),
                outer_code,
                &request_option(self.common.id_context.as_deref(), &kid, piv, id_detail),
                false,
                out,
            )
            .and_then(|plaintext_start| self.seal_tail(&nonce, &aad, out, plaintext_start));
        if let Err(e) = sealed {
            wipe_tail(out, start);
            return Err(e);
        }
        Ok(RequestBinding {
            partial_iv: ShortBytes::new(piv),
            kid,
            observe: original.observe.and_then(observe_value) == Some(0),
            id_detail: None,
            request_nonce_used: false,
            notification_number: None,
            unnumbered_notification_seen: false,
            completed: false,
        })
    }

    /// Verifies a request (RFC 8613 §8.2) and returns the original request and
    /// the binding for the response. On any error the replay window and the
    /// sequence number are unchanged; only a failed decryption raises
    /// `count_v`. A convenience layer over
    /// [`verify_request_bytes`](Self::verify_request_bytes).
    ///
    /// # Errors
    /// Each error maps to the response of §8.2 through [`Error::coap_code`].
    pub fn verify_request(&mut self, request: &Packet, now: u64) -> Result<(Packet, RequestBinding), Error> {
        let mut bytes = to_bytes(request)?;
        let mut out = Vec::with_capacity(bytes.len());
        let binding = self.verify_request_bytes(&mut bytes, &mut out, now)?;
        Ok((parse_udp(&out)?, binding))
    }

    /// Verifies a request given as a received CoAP-over-UDP message and
    /// appends the original request to `out` (RFC 8613 §8.2).
    ///
    /// [`verify_request_in_place`](Self::verify_request_in_place), then
    /// [`VerifiedMessage::write_to`]; after success `protected` is zeroed,
    /// after a failed decryption its payload is. No
    /// heap allocation when `out` has room for the original request (the
    /// length of `protected` is always enough). On error nothing is
    /// appended, and the replay window and sequence number are unchanged;
    /// only a failed decryption raises `count_v`.
    ///
    /// # Errors
    /// As [`verify_request`](Self::verify_request).
    pub fn verify_request_bytes(
        &mut self,
        protected: &mut [u8],
        out: &mut Vec<u8>,
        now: u64,
    ) -> Result<RequestBinding, Error> {
        let (message, binding) = self.verify_request_in_place(protected, now)?;
        let written = message.write_to(out);
        wipe_buffer(protected);
        written.map(|()| binding)
    }

    /// Verifies a request given as a received CoAP-over-UDP message, in
    /// place (RFC 8613 §8.2): the ciphertext is decrypted inside `protected`
    /// and the original request is read from there without copying.
    ///
    /// The plaintext stays in `protected` (it is the result); wipe the buffer
    /// when done with it if it must not linger. On error the plaintext, if
    /// any, is wiped, and the replay window and sequence number are
    /// unchanged; only a failed decryption raises `count_v`.
    ///
    /// A failed decryption leaves the payload of `protected` zeroed, so a
    /// caller that tries several contexts on one message (e.g. the old and
    /// the new context during a key update) verifies a copy each time, or
    /// uses [`verify_request_bytes`](Self::verify_request_bytes) on copies.
    ///
    /// # Errors
    /// As [`verify_request`](Self::verify_request).
    pub fn verify_request_in_place<'a>(
        &mut self,
        protected: &'a mut [u8],
        now: u64,
    ) -> Result<(VerifiedMessage<'a>, RequestBinding), Error> {
        let (view, ciphertext) = MessageView::parse_mut(protected)?;
        let option = received_option(&view, true)?;
        let piv = option.partial_iv.ok_or(Error::MalformedOption("request without Partial IV"))?;
        let kid = option.kid.ok_or(Error::MalformedOption("request without kid"))?;
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
        let plaintext = self.open_in_place(&nonce, &aad, ciphertext)?;
        let layout = Layout::accept(plaintext, true, |_| self.accept_sequence_number(seq))?;
        let message = VerifiedMessage::new(view, plaintext, &layout, None);
        let binding = RequestBinding {
            kid: ShortBytes::new(kid),
            partial_iv: ShortBytes::new(piv),
            observe: message.is_observe_registration(),
            id_detail: option.id_detail.map(<[u8]>::to_vec),
            request_nonce_used: false,
            notification_number: None,
            unnumbered_notification_seen: false,
            completed: false,
        };
        Ok((message, binding))
    }

    /// Protects a response to the request of `binding` (RFC 8613 §8.3).
    ///
    /// With [`ResponsePiv::Auto`] the first response reuses the request nonce;
    /// notifications (a response with Observe to an Observe registration) and
    /// any later response take their own Partial IV. A convenience layer over
    /// [`protect_response_bytes`](Self::protect_response_bytes).
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
        let bytes = to_bytes(response)?;
        let mut out = Vec::with_capacity(bytes.len() + PROTECT_OVERHEAD);
        self.protect_response_bytes_with(&bytes, binding, piv_mode, id_detail, &mut out, now)?;
        parse_udp(&out)
    }

    /// Protects a response given as a CoAP-over-UDP message and appends the
    /// OSCORE message to `out` (RFC 8613 §8.3).
    ///
    /// No heap allocation when `out` has room (see [`PROTECT_OVERHEAD`]); a
    /// short `out` grows like any `Vec`. On error nothing is appended.
    ///
    /// # Errors
    /// As [`protect_request`](Self::protect_request).
    pub fn protect_response_bytes(
        &mut self,
        response: &[u8],
        binding: &mut RequestBinding,
        piv_mode: ResponsePiv,
        out: &mut Vec<u8>,
        now: u64,
    ) -> Result<(), Error> {
        self.protect_response_bytes_with(response, binding, piv_mode, None, out, now)
    }

    /// [`protect_response_bytes`](Self::protect_response_bytes) with a
    /// key-limits-01 'id detail' in the OSCORE option.
    ///
    /// # Errors
    /// As [`protect_request`](Self::protect_request).
    pub fn protect_response_bytes_with(
        &mut self,
        response: &[u8],
        binding: &mut RequestBinding,
        piv_mode: ResponsePiv,
        id_detail: Option<&[u8]>,
        out: &mut Vec<u8>,
        now: u64,
    ) -> Result<(), Error> {
        let original = Original::read(response)?;
        if !is_response_code(original.view.code()) {
            return Err(Error::InvalidInput("not a response"));
        }
        if original.proxy_uri.is_some() {
            return Err(Error::InvalidInput("Proxy-Uri in a response"));
        }
        let notification = binding.observe && original.observe.is_some();
        let mut option = OscoreOptionView { id_detail, ..OscoreOptionView::default() };
        // ref: RFC 8613 §4.1.3.5.2 (notifications carry a Partial IV),
        // §8.3 step 3 (a new Partial IV when the request nonce cannot be reused)
        let own_piv = piv_mode == ResponsePiv::Own || notification || binding.request_nonce_used;
        if own_piv {
            option.partial_iv = Some(&[0]);
        }
        // What can refuse the response is checked before the sequence number moves.
        option.encoded_len()?;
        self.check_can_send(now)?;
        let mut piv_buf = [0u8; MAX_PARTIAL_IV_LEN];
        let own = if own_piv {
            let len = encode_partial_iv(self.take_sequence_number()?, &mut piv_buf);
            Some(piv_buf.get(..len).unwrap_or(&[]))
        } else {
            None
        };
        option.partial_iv = own;
        let aad = self.aad(&binding.kid, &binding.partial_iv);
        let nonce = match own {
            Some(piv) => self.nonce(&self.sender.sender_id, piv)?,
            None => self.nonce(&binding.kid, &binding.partial_iv)?,
        };
        // ref: RFC 8613 §4.2: 2.04 Changed, or 2.05 Content with an Observe option
        let outer_code = if original.observe.is_some() { code::CONTENT } else { code::CHANGED };
        let start = out.len();
        let sealed = original
            .write_protected(None, outer_code, &option, notification, out)
            .and_then(|plaintext_start| self.seal_tail(&nonce, &aad, out, plaintext_start));
        if let Err(e) = sealed {
            wipe_tail(out, start);
            return Err(e);
        }
        if own.is_none() {
            binding.request_nonce_used = true;
        }
        Ok(())
    }

    /// Verifies a response to the request of `binding` (RFC 8613 §8.4) and
    /// returns the original response. A convenience layer over
    /// [`verify_response_bytes`](Self::verify_response_bytes).
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
        let mut bytes = to_bytes(response)?;
        let mut out = Vec::with_capacity(bytes.len());
        self.verify_response_bytes(&mut bytes, binding, &mut out, now)?;
        parse_udp(&out)
    }

    /// Verifies a response given as a received CoAP-over-UDP message and
    /// appends the original response to `out` (RFC 8613 §8.4).
    ///
    /// [`verify_response_in_place`](Self::verify_response_in_place), then
    /// [`VerifiedMessage::write_to`]; afterwards `protected` is zeroed. No
    /// heap allocation when `out` has room. On error nothing is appended and
    /// `binding` is unchanged.
    ///
    /// # Errors
    /// As [`verify_response`](Self::verify_response).
    pub fn verify_response_bytes(
        &mut self,
        protected: &mut [u8],
        binding: &mut RequestBinding,
        out: &mut Vec<u8>,
        now: u64,
    ) -> Result<(), Error> {
        let message = self.verify_response_in_place(protected, binding, now)?;
        let written = message.write_to(out);
        wipe_buffer(protected);
        written
    }

    /// Verifies a response in place (RFC 8613 §8.4), like
    /// [`verify_request_in_place`](Self::verify_request_in_place).
    ///
    /// # Errors
    /// As [`verify_response`](Self::verify_response); on error `binding` is
    /// unchanged.
    pub fn verify_response_in_place<'a>(
        &mut self,
        protected: &'a mut [u8],
        binding: &mut RequestBinding,
        now: u64,
    ) -> Result<VerifiedMessage<'a>, Error> {
        let (view, ciphertext) = MessageView::parse_mut(protected)?;
        let option = received_option(&view, false)?;
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
        let plaintext = self.open_in_place(&nonce, &aad, ciphertext)?;
        let layout =
            Layout::accept(plaintext, false, |layout| binding.record(seq, layout.observe.is_some()))?;
        Ok(VerifiedMessage::new(view, plaintext, &layout, option.partial_iv))
    }
}

/// Room to leave in `out` beyond the original message's length so that
/// protection does not reallocate.
///
/// What protection adds: the OSCORE option (at most 3 header bytes, 2 flag
/// bytes, a 5-byte Partial IV, the kid context with its length byte and a kid
/// of at most 7 bytes), a payload marker, a tag of at most 16 bytes, the
/// second copy of an Observe value (4 bytes), and up to 2 bytes per Outer
/// option whose option delta grows when the Inner options between are moved
/// out. 64 bytes cover a kid context of up to 8 bytes with four Outer
/// options; add the kid context's and any 'id detail''s extra length
/// otherwise.
pub const PROTECT_OVERHEAD: usize = 64;

impl RequestBinding {
    /// A binding for a request with this kid and Partial IV (for protocols
    /// built on this crate, e.g. Group OSCORE).
    pub fn new(kid: &[u8], partial_iv: &[u8], observe: bool) -> Self {
        Self {
            kid: ShortBytes::new(kid),
            partial_iv: ShortBytes::new(partial_iv),
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
