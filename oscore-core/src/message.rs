//! The CoAP wire format at our boundary: strict parsing of untrusted bytes
//! and the option encoding used inside the OSCORE plaintext.
//!
//! coap-lite is lenient where RFC 7252 is not (it accepts a payload marker
//! with no payload, any version, reserved code classes); everything that comes
//! from a peer goes through [`parse_udp`] or [`walk_options`] first.

use alloc::vec::Vec;
use coap_lite::Packet;

use crate::error::Error;

/// Payload marker.
// ref: RFC 7252 §3
pub const PAYLOAD_MARKER: u8 = 0xff;

/// The longest token.
// ref: RFC 7252 §3 (TKL 9–15 reserved)
pub const MAX_TOKEN_LEN: usize = 8;

/// The options of an encoded CoAP option sequence (a message after its
/// token, or an OSCORE plaintext after its Code), read in order without
/// copying.
///
/// [`next_option`](Self::next_option) checks the format; the [`Iterator`]
/// implementation is for sequences already checked (it stops at the first
/// malformed option).
#[derive(Debug, Clone)]
pub struct Options<'a> {
    rest: &'a [u8],
    number: u32,
}

impl<'a> Options<'a> {
    /// Reads the options at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { rest: buf, number: 0 }
    }

    /// The next option, or `None` at the end of the buffer or at the payload
    /// marker.
    ///
    /// # Errors
    /// [`Error::MalformedMessage`] for a reserved nibble (15) outside the
    /// payload marker, a truncated option, or an option number above 65535.
    // ref: RFC 7252 §3.1 (option format)
    #[inline]
    pub fn next_option(&mut self) -> Result<Option<(u16, &'a [u8])>, Error> {
        let Some((&byte, tail)) = self.rest.split_first() else { return Ok(None) };
        if byte == PAYLOAD_MARKER {
            return Ok(None);
        }
        let mut rest = tail;
        let delta = read_extended(byte >> 4, &mut rest)?;
        let len = read_extended(byte & 0x0f, &mut rest)?;
        let number = self.number + delta;
        let number16 =
            u16::try_from(number).map_err(|_| Error::MalformedMessage("option number too large"))?;
        let len = usize::try_from(len).map_err(|_| Error::MalformedMessage("option length"))?;
        let (value, tail) =
            rest.split_at_checked(len).ok_or(Error::MalformedMessage("truncated option value"))?;
        self.rest = tail;
        self.number = number;
        Ok(Some((number16, value)))
    }

    /// What follows the options read so far: the payload marker and payload,
    /// or nothing.
    pub fn remainder(&self) -> &'a [u8] {
        self.rest
    }

    /// The payload after the last option (empty when there is no marker);
    /// call once [`next_option`](Self::next_option) returned `None`.
    ///
    /// # Errors
    /// [`Error::MalformedMessage`] for a payload marker followed by an empty
    /// payload.
    // ref: RFC 7252 §3 (marker followed by zero-length payload is a format error)
    pub fn payload(&self) -> Result<&'a [u8], Error> {
        match self.rest.split_first() {
            None => Ok(&[]),
            Some((_, [])) => Err(Error::MalformedMessage("payload marker without payload")),
            Some((_, payload)) => Ok(payload),
        }
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = (u16, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        self.next_option().ok().flatten()
    }
}

/// Walks the options of `buf` (a sequence of CoAP options, optionally followed
/// by a payload marker and payload), calling `f(number, value)` for each in
/// order, and returns the payload (empty when there is no marker).
///
/// # Errors
/// As [`Options::next_option`] and [`Options::payload`]. Errors from `f` are
/// passed through.
pub fn walk_options<'a>(
    buf: &'a [u8],
    mut f: impl FnMut(u16, &'a [u8]) -> Result<(), Error>,
) -> Result<&'a [u8], Error> {
    let mut options = Options::new(buf);
    while let Some((n, v)) = options.next_option()? {
        f(n, v)?;
    }
    options.payload()
}

#[inline]
fn read_extended(nibble: u8, rest: &mut &[u8]) -> Result<u32, Error> {
    match nibble {
        0..=12 => Ok(u32::from(nibble)),
        13 => {
            let (&b, tail) = rest.split_first().ok_or(Error::MalformedMessage("truncated option header"))?;
            *rest = tail;
            Ok(u32::from(b) + 13)
        }
        14 => {
            let (b, tail) =
                rest.split_first_chunk::<2>().ok_or(Error::MalformedMessage("truncated option header"))?;
            *rest = tail;
            Ok(u32::from(u16::from_be_bytes(*b)) + 269)
        }
        _ => Err(Error::MalformedMessage("reserved option nibble 15")),
    }
}

/// Appends one option header and value, given the previous option number.
///
/// # Errors
/// [`Error::InvalidInput`] if options are not in ascending order or a value
/// is longer than 65804 bytes.
#[inline]
pub fn encode_option(prev: u16, number: u16, value: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    encode_option_header(prev, number, value.len(), out)?;
    out.extend_from_slice(value);
    Ok(())
}

/// Appends the header of an option whose `len`-byte value the caller appends
/// next.
///
/// # Errors
/// As [`encode_option`].
// ref: RFC 7252 §3.1
#[inline]
pub fn encode_option_header(prev: u16, number: u16, len: usize, out: &mut Vec<u8>) -> Result<(), Error> {
    let delta = number.checked_sub(prev).ok_or(Error::InvalidInput("options not in ascending order"))?;
    if let (Ok(d @ 0..=12), Ok(l @ 0..=12)) = (u8::try_from(delta), u8::try_from(len)) {
        // The common case: one byte, no extended fields.
        out.push((d << 4) | l);
        return Ok(());
    }
    let len = u32::try_from(len).map_err(|_| Error::InvalidInput("option too long"))?;
    if len > 65535 + 269 {
        return Err(Error::InvalidInput("option too long"));
    }
    let (dn, dext) = nibble(u32::from(delta));
    let (ln, lext) = nibble(len);
    out.push((dn << 4) | ln);
    push_extended(dn, dext, out);
    push_extended(ln, lext, out);
    Ok(())
}

/// Appends options in ascending order, tracking the previous option number.
#[derive(Debug, Default)]
pub struct OptionWriter {
    prev: u16,
}

impl OptionWriter {
    /// Appends one option.
    ///
    /// # Errors
    /// As [`encode_option`].
    #[inline]
    pub fn write(&mut self, number: u16, value: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        encode_option(self.prev, number, value, out)?;
        self.prev = number;
        Ok(())
    }

    /// Appends the header of one option; the caller appends its `len` bytes.
    ///
    /// # Errors
    /// As [`encode_option`].
    #[inline]
    pub fn write_header(&mut self, number: u16, len: usize, out: &mut Vec<u8>) -> Result<(), Error> {
        encode_option_header(self.prev, number, len, out)?;
        self.prev = number;
        Ok(())
    }
}

#[allow(clippy::cast_possible_truncation)] // v ≤ 12 in the first arm
#[inline]
fn nibble(v: u32) -> (u8, u32) {
    match v {
        0..=12 => (v as u8, 0),
        13..=268 => (13, v - 13),
        _ => (14, v - 269),
    }
}

#[inline]
fn push_extended(n: u8, ext: u32, out: &mut Vec<u8>) {
    let bytes = ext.to_be_bytes();
    match n {
        13 => out.push(bytes[3]),
        14 => out.extend_from_slice(&bytes[2..]),
        _ => {}
    }
}

/// A CoAP-over-UDP message checked strictly and read in place (RFC 7252 §3).
#[derive(Debug, Clone, Copy)]
pub struct MessageView<'a> {
    first: u8,
    code: u8,
    message_id: [u8; 2],
    token: &'a [u8],
    options: &'a [u8],
    payload: &'a [u8],
    oscore: OscoreSeen,
}

/// The OSCORE option (number 9) as seen while parsing, so that receivers
/// need not walk the options again to find it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OscoreSeen {
    Absent,
    /// Start and end of its value in the option bytes.
    Once(usize, usize),
    Repeated,
}

/// The OSCORE option number.
// ref: RFC 8613 §2
const OSCORE_OPTION: u16 = 9;

impl<'a> MessageView<'a> {
    /// Parses `bytes` without copying.
    ///
    /// # Errors
    /// [`Error::MalformedMessage`] for anything RFC 7252 §3 calls a format
    /// error: wrong version, token length 9–15, reserved code class (1, 6, 7),
    /// an Empty message with anything after the header, malformed options, or
    /// a payload marker without payload.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        Self::parse_with(bytes, |_, _| Ok(()))
    }

    /// [`parse`](Self::parse), calling `f(number, value)` for each option in
    /// the same pass (errors from `f` are passed through; `f` may see the
    /// options of a message that turns out malformed).
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub fn parse_with(
        bytes: &'a [u8],
        mut f: impl FnMut(u16, &'a [u8]) -> Result<(), Error>,
    ) -> Result<Self, Error> {
        let (header, rest) = bytes
            .split_first_chunk::<4>()
            .ok_or(Error::MalformedMessage("shorter than the 4-byte header"))?;
        let [first, code, mid0, mid1] = *header;
        // ref: RFC 7252 §3 (Ver MUST be 1)
        if first >> 6 != 1 {
            return Err(Error::MalformedMessage("CoAP version is not 1"));
        }
        let tkl = usize::from(first & 0x0f);
        if tkl > MAX_TOKEN_LEN {
            return Err(Error::MalformedMessage("token length 9-15 is reserved"));
        }
        // ref: RFC 7252 §12.1 (classes 1, 6, 7 reserved)
        if matches!(code >> 5, 1 | 6 | 7) {
            return Err(Error::MalformedMessage("reserved code class"));
        }
        // ref: RFC 7252 §4.1 (an Empty message has no token, options or payload)
        if code == 0 && (tkl != 0 || !rest.is_empty()) {
            return Err(Error::MalformedMessage("Empty message with content"));
        }
        let (token, after_token) =
            rest.split_at_checked(tkl).ok_or(Error::MalformedMessage("truncated token"))?;
        let mut options = Options::new(after_token);
        let mut oscore = OscoreSeen::Absent;
        while let Some((n, v)) = options.next_option()? {
            if n == OSCORE_OPTION {
                let end = after_token.len() - options.remainder().len();
                oscore = match oscore {
                    OscoreSeen::Absent => OscoreSeen::Once(end - v.len(), end),
                    _ => OscoreSeen::Repeated,
                };
            }
            f(n, v)?;
        }
        let payload = options.payload()?;
        let options_len = after_token.len() - options.remainder().len();
        let options = after_token.get(..options_len).unwrap_or(&[]);
        Ok(Self { first, code, message_id: [mid0, mid1], token, options, payload, oscore })
    }

    /// Parses `bytes` like [`parse`](Self::parse) and hands out its payload
    /// mutably, for decryption in place; the view's own
    /// [`payload`](Self::payload) is then empty.
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub fn parse_mut(bytes: &'a mut [u8]) -> Result<(Self, &'a mut [u8]), Error> {
        let (token_len, options_len, payload_len, oscore) = {
            let view = MessageView::parse(bytes)?;
            (view.token.len(), view.options.len(), view.payload.len(), view.oscore)
        };
        let head_len = bytes.len() - payload_len;
        let (head, payload) = bytes.split_at_mut(head_len);
        let head: &'a [u8] = head;
        let view = match *head {
            [first, code, mid0, mid1, ref rest @ ..] => {
                let token = rest.get(..token_len).unwrap_or(&[]);
                let options = rest.get(token_len..token_len + options_len).unwrap_or(&[]);
                Self { first, code, message_id: [mid0, mid1], token, options, payload: &[], oscore }
            }
            _ => return Err(Error::MalformedMessage("shorter than the 4-byte header")),
        };
        Ok((view, payload))
    }

    /// The value of the OSCORE option, found while parsing.
    ///
    /// # Errors
    /// [`Error::MalformedOption`] when it is absent or repeated.
    // ref: RFC 8613 §2 (the OSCORE option is not repeatable)
    pub fn oscore_option(&self) -> Result<&'a [u8], Error> {
        match self.oscore {
            OscoreSeen::Once(start, end) => {
                self.options.get(start..end).ok_or(Error::MalformedOption("no OSCORE option"))
            }
            OscoreSeen::Absent => Err(Error::MalformedOption("no OSCORE option")),
            OscoreSeen::Repeated => Err(Error::MalformedOption("repeated OSCORE option")),
        }
    }

    /// The Code.
    pub fn code(&self) -> u8 {
        self.code
    }

    /// The Message ID.
    pub fn message_id(&self) -> u16 {
        u16::from_be_bytes(self.message_id)
    }

    /// The Type (0 CON, 1 NON, 2 ACK, 3 RST).
    pub fn message_type(&self) -> u8 {
        (self.first >> 4) & 0x03
    }

    /// The Token.
    pub fn token(&self) -> &'a [u8] {
        self.token
    }

    /// The options, in order.
    #[inline]
    pub fn options(&self) -> Options<'a> {
        Options::new(self.options)
    }

    /// The payload (empty when there is none).
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Appends this message's header with another `code`, and its token.
    #[inline]
    pub fn write_header(&self, code: u8, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.first, code, self.message_id[0], self.message_id[1]]);
        out.extend_from_slice(self.token);
    }
}

/// True for a request code (class 0 other than Empty 0.00).
// ref: RFC 7252 §12.1.1
#[inline]
pub fn is_request_code(code: u8) -> bool {
    code != 0 && code >> 5 == 0
}

/// True for a response code (classes 2, 4, 5).
// ref: RFC 7252 §12.1.2
#[inline]
pub fn is_response_code(code: u8) -> bool {
    matches!(code >> 5, 2 | 4 | 5)
}

/// Parses a CoAP-over-UDP message strictly ([`MessageView::parse`]), then
/// hands it to coap-lite.
///
/// # Errors
/// As [`MessageView::parse`].
pub fn parse_udp(bytes: &[u8]) -> Result<Packet, Error> {
    MessageView::parse(bytes)?;
    Packet::from_bytes(bytes).map_err(|_| Error::MalformedMessage("rejected by CoAP parser"))
}

/// Serialises a packet without coap-lite's 1280-byte limit (the transport
/// decides on size).
///
/// # Errors
/// [`Error::InvalidInput`] when coap-lite cannot serialise it.
pub fn to_bytes(packet: &Packet) -> Result<Vec<u8>, Error> {
    packet.to_bytes_unlimited().map_err(|_| Error::InvalidInput("packet cannot be serialised"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_marker_without_payload() {
        assert!(parse_udp(&[0x40, 0x01, 0, 0, 0xff]).is_err());
        assert!(parse_udp(&[0x40, 0x01, 0, 0, 0xff, 0x61]).is_ok());
    }

    #[test]
    fn rejects_bad_header() {
        assert!(parse_udp(&[0x80, 0x01, 0, 0]).is_err());
        assert!(parse_udp(&[0x49, 0x01, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]).is_err());
        assert!(parse_udp(&[0x40, 0x21, 0, 0]).is_err());
        assert!(parse_udp(&[0x40, 0x00, 0, 0, 0xff, 1]).is_err());
        assert!(parse_udp(&[0x40, 0x00, 0, 0]).is_ok());
    }

    #[test]
    fn option_encoding_round_trip() {
        let opts: [(u16, &[u8]); 4] = [(11, b"a"), (11, b""), (60, &[1; 20]), (2000, &[7; 300])];
        let mut buf = Vec::new();
        let mut prev = 0;
        for (n, v) in opts {
            encode_option(prev, n, v, &mut buf).unwrap();
            prev = n;
        }
        let mut seen = Vec::new();
        let payload = walk_options(&buf, |n, v| {
            seen.push((n, v.to_vec()));
            Ok(())
        })
        .unwrap();
        assert!(payload.is_empty());
        assert_eq!(seen.len(), 4);
        for ((n, v), (sn, sv)) in opts.iter().zip(seen.iter()) {
            assert_eq!(n, sn);
            assert_eq!(*v, &sv[..]);
        }
    }
}
