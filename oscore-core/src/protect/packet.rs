//! The `coap_lite::Packet` helpers for protocols built on this crate (Group
//! OSCORE): splitting an original message, assembling the OSCORE message,
//! restoring the original. The same option rules as the byte-level paths.

use super::*;

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
    is_response_code(u8::from(code))
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
    let options = || msg.options().flat_map(|(&n, values)| values.iter().map(move |v| (n, v.as_slice())));
    if options().any(|(n, _)| n == number::OSCORE) {
        // ref: RFC 8613 §4.1.3.7 (nested OSCORE is not supported)
        return Err(Error::InvalidInput("message already has an OSCORE option"));
    }
    let outer = options()
        .filter(|&(n, _)| is_outer(n))
        .map(|(n, v)| match decomposed {
            Some(d) if n == number::PROXY_URI => (n, d.outer.clone()),
            _ => (n, v.to_vec()),
        })
        .collect();
    // Room for the Code, the payload marker and the longest AEAD tag (16
    // bytes), which `seal` appends in place: no reallocation.
    let mut plaintext =
        Vec::with_capacity(msg.payload.len() + 2 + 16 + options().map(|(_, v)| v.len() + 3).sum::<usize>());
    // ref: RFC 8613 §5.3: plaintext = Code ‖ Inner options ‖ 0xFF ‖ payload
    plaintext.push(u8::from(msg.header.code));
    let inner = options().filter_map(|(n, v)| inner_value(n, v, notification).map(|v| (n, v)));
    let from_uri = decomposed.map_or(&[][..], |d| d.inner.as_slice()).iter().map(|(n, v)| (*n, v.as_slice()));
    let mut writer = OptionWriter::default();
    for (n, v) in Merge::new(inner, from_uri) {
        writer.write(n, v, &mut plaintext)?;
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
    // The rules of the byte-level path: rebuild the original message's bytes,
    // then parse them.
    let bytes = to_bytes(protected)?;
    let view = MessageView::parse(&bytes)?;
    let layout = Layout::of(plaintext, request)?;
    let message = VerifiedMessage::new(view, plaintext, &layout, response_piv);
    let mut out = Vec::with_capacity(bytes.len() + plaintext.len());
    message.write_to(&mut out)?;
    Ok(Restored {
        message: parse_udp(&out)?,
        inner_observe: message.has_inner_observe(),
        observe_registration: message.is_observe_registration(),
    })
}
