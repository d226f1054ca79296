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

/// Walks the options of `buf` (a sequence of CoAP options, optionally followed
/// by a payload marker and payload), calling `f(number, value)` for each in
/// order, and returns the payload (empty when there is no marker).
///
/// # Errors
/// [`Error::MalformedMessage`] for a reserved nibble (15) outside the payload
/// marker, a truncated option, an option number above 65535, or a payload
/// marker followed by an empty payload. Errors from `f` are passed through.
// ref: RFC 7252 §3.1 (option format), §3 (marker followed by zero-length payload is a format error)
pub fn walk_options<'a>(
    buf: &'a [u8],
    mut f: impl FnMut(u16, &'a [u8]) -> Result<(), Error>,
) -> Result<&'a [u8], Error> {
    let mut rest = buf;
    let mut number: u32 = 0;
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == PAYLOAD_MARKER {
            if tail.is_empty() {
                return Err(Error::MalformedMessage("payload marker without payload"));
            }
            return Ok(tail);
        }
        rest = tail;
        let delta = read_extended(byte >> 4, &mut rest)?;
        let len = read_extended(byte & 0x0f, &mut rest)?;
        number += delta;
        let number16 =
            u16::try_from(number).map_err(|_| Error::MalformedMessage("option number too large"))?;
        let len = usize::try_from(len).map_err(|_| Error::MalformedMessage("option length"))?;
        let (value, tail) =
            rest.split_at_checked(len).ok_or(Error::MalformedMessage("truncated option value"))?;
        f(number16, value)?;
        rest = tail;
    }
    Ok(&[])
}

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
pub fn encode_option(prev: u16, number: u16, value: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    let delta = number.checked_sub(prev).ok_or(Error::InvalidInput("options not in ascending order"))?;
    let len = u32::try_from(value.len()).map_err(|_| Error::InvalidInput("option too long"))?;
    if len > 65535 + 269 {
        return Err(Error::InvalidInput("option too long"));
    }
    let (dn, dext) = nibble(u32::from(delta));
    let (ln, lext) = nibble(len);
    out.push((dn << 4) | ln);
    push_extended(dn, dext, out);
    push_extended(ln, lext, out);
    out.extend_from_slice(value);
    Ok(())
}

#[allow(clippy::cast_possible_truncation)] // v ≤ 12 in the first arm
fn nibble(v: u32) -> (u8, u32) {
    match v {
        0..=12 => (v as u8, 0),
        13..=268 => (13, v - 13),
        _ => (14, v - 269),
    }
}

fn push_extended(n: u8, ext: u32, out: &mut Vec<u8>) {
    let bytes = ext.to_be_bytes();
    match n {
        13 => out.push(bytes[3]),
        14 => out.extend_from_slice(&bytes[2..]),
        _ => {}
    }
}

/// Parses a CoAP-over-UDP message strictly, then hands it to coap-lite.
///
/// # Errors
/// [`Error::MalformedMessage`] for anything RFC 7252 §3 calls a format error:
/// wrong version, token length 9–15, reserved code class (1, 6, 7), an Empty
/// message with anything after the header, malformed options, or a payload
/// marker without payload.
pub fn parse_udp(bytes: &[u8]) -> Result<Packet, Error> {
    let (header, rest) =
        bytes.split_first_chunk::<4>().ok_or(Error::MalformedMessage("shorter than the 4-byte header"))?;
    let [first, code, _, _] = *header;
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
    let options = rest.get(tkl..).ok_or(Error::MalformedMessage("truncated token"))?;
    walk_options(options, |_, _| Ok(()))?;
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
