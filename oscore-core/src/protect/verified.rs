//! A verified message read in place: what `verify_*_in_place` returns, and
//! the checks of a decrypted plaintext.

use super::*;

/// Where the parts of a verified plaintext are (offsets, so the plaintext
/// can still be wiped if it is refused).
pub(super) struct Layout {
    code: u8,
    /// `plaintext[1..options_end]` are the Inner options.
    options_end: usize,
    /// `plaintext[payload_start..]` is the payload.
    payload_start: usize,
    /// The first Inner Observe value, as a range of the plaintext.
    pub(super) observe: Option<(usize, usize)>,
}

impl Layout {
    /// [`of`](Self::of), then `commit` (the state change that accepts the
    /// message); if either fails, the plaintext is wiped.
    pub(super) fn accept(
        plaintext: &mut [u8],
        request: bool,
        commit: impl FnOnce(&Layout) -> Result<(), Error>,
    ) -> Result<Self, Error> {
        let accepted = Self::of(plaintext, request).and_then(|layout| commit(&layout).map(|()| layout));
        if accepted.is_err() {
            wipe_buffer(plaintext);
        }
        accepted
    }

    /// Checks a decrypted plaintext: a request or response Code as expected,
    /// well-formed Inner options without an OSCORE option.
    // ref: RFC 8613 §5.3 (plaintext), §4.1.3.7 (no nested OSCORE)
    pub(super) fn of(plaintext: &[u8], request: bool) -> Result<Self, Error> {
        let (&code, rest) = plaintext.split_first().ok_or(Error::MalformedMessage("empty plaintext"))?;
        if request && !is_request_code(code) {
            return Err(Error::MalformedMessage("inner code is not a request"));
        }
        if !request && !is_response_code(code) {
            return Err(Error::MalformedMessage("inner code is not a response"));
        }
        let mut options = Options::new(rest);
        let mut observe = None;
        while let Some((n, v)) = options.next_option()? {
            if n == number::OSCORE {
                return Err(Error::MalformedMessage("Inner OSCORE option"));
            }
            if n == number::OBSERVE && observe.is_none() {
                let end = plaintext.len() - options.remainder().len();
                observe = Some((end - v.len(), v.len()));
            }
        }
        let payload = options.payload()?;
        let options_end = plaintext.len() - options.remainder().len();
        Ok(Self { code, options_end, payload_start: plaintext.len() - payload.len(), observe })
    }
}

/// A verified message read in place: the original message's Code, options
/// and payload, borrowed from the receive buffer in which it was decrypted.
///
/// The options are the Outer Class U options of the OSCORE message (its Outer
/// Class E options and OSCORE option discarded) merged in number order with
/// the Inner options. Nothing is copied; [`write_to`](Self::write_to)
/// serialises the original message. `Debug` shows the Code, Token and
/// lengths, not the content.
// ref: RFC 8613 §8.2 steps 7–8, §8.4 steps 6–7
#[derive(Clone, Copy)]
pub struct VerifiedMessage<'a> {
    outer: MessageView<'a>,
    code: u8,
    inner: &'a [u8],
    payload: &'a [u8],
    inner_observe: Option<&'a [u8]>,
    notification_observe: Option<([u8; 3], usize)>,
}

/// The options of a [`VerifiedMessage`]: its Outer Class U options merged in
/// number order with its Inner options (an Outer one first on equal numbers).
#[derive(Debug, Clone)]
pub struct RestoredOptions<'m> {
    outer: Options<'m>,
    inner: Options<'m>,
    next_outer: Option<(u16, &'m [u8])>,
    next_inner: Option<(u16, &'m [u8])>,
    /// A notification's Observe value, replacing its empty Inner Observe.
    observe: Option<&'m [u8]>,
}

/// The next Outer Class U option (the OSCORE option and Outer Class E
/// options of a received message are discarded).
fn next_class_u<'m>(options: &mut Options<'m>) -> Option<(u16, &'m [u8])> {
    options.find(|&(n, _)| option_class(n) == OptionClass::Outer && n != number::OSCORE)
}

impl<'m> Iterator for RestoredOptions<'m> {
    type Item = (u16, &'m [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        match (self.next_outer, self.next_inner) {
            (Some(outer), Some(inner)) if inner.0 < outer.0 => {
                self.next_inner = self.inner.next();
                Some(self.restore_observe(inner))
            }
            (Some(outer), _) => {
                self.next_outer = next_class_u(&mut self.outer);
                Some(outer)
            }
            (None, Some(inner)) => {
                self.next_inner = self.inner.next();
                Some(self.restore_observe(inner))
            }
            (None, None) => None,
        }
    }
}

impl<'m> RestoredOptions<'m> {
    fn restore_observe(&self, (n, v): (u16, &'m [u8])) -> (u16, &'m [u8]) {
        match self.observe {
            Some(value) if n == number::OBSERVE => (n, value),
            _ => (n, v),
        }
    }
}

impl core::fmt::Debug for VerifiedMessage<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VerifiedMessage")
            .field("code", &self.code)
            .field("token", &self.outer.token())
            .field("options", &self.options().count())
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

impl<'a> VerifiedMessage<'a> {
    /// `plaintext` has been checked by [`Layout::of`]; `response_piv` is a
    /// response's own Partial IV.
    pub(super) fn new(
        outer: MessageView<'a>,
        plaintext: &'a [u8],
        layout: &Layout,
        response_piv: Option<&[u8]>,
    ) -> Self {
        let inner_observe = layout.observe.and_then(|(start, len)| plaintext.get(start..start + len));
        // For a notification the Inner Observe is empty; the RFC lets the
        // client use the three low bytes of the Partial IV as its value.
        // ref: RFC 8613 §4.1.3.5.2
        let notification_observe = match response_piv {
            Some(piv) if inner_observe.is_some() => {
                let low = piv.get(piv.len().saturating_sub(3)..).unwrap_or(&[]);
                let value = low.get(low.iter().take_while(|&&b| b == 0).count()..).unwrap_or(&[]);
                let mut buf = [0u8; 3];
                let copied = buf.get_mut(..value.len()).map(|dst| dst.copy_from_slice(value)).is_some();
                copied.then_some((buf, value.len()))
            }
            _ => None,
        };
        Self {
            outer,
            code: layout.code,
            inner: plaintext.get(1..layout.options_end).unwrap_or(&[]),
            payload: plaintext.get(layout.payload_start..).unwrap_or(&[]),
            inner_observe,
            notification_observe,
        }
    }

    /// The original Code.
    pub fn code(&self) -> u8 {
        self.code
    }

    /// The Message ID (of the OSCORE message, which carries the original's).
    pub fn message_id(&self) -> u16 {
        self.outer.message_id()
    }

    /// The Type (0 CON, 1 NON, 2 ACK, 3 RST).
    pub fn message_type(&self) -> u8 {
        self.outer.message_type()
    }

    /// The Token.
    pub fn token(&self) -> &'a [u8] {
        self.outer.token()
    }

    /// The options of the original message, in number order.
    pub fn options(&self) -> RestoredOptions<'_> {
        let mut outer = self.outer.options();
        let mut inner = Options::new(self.inner);
        RestoredOptions {
            next_outer: next_class_u(&mut outer),
            next_inner: inner.next(),
            outer,
            inner,
            observe: self.notification_observe.as_ref().map(|(buf, len)| buf.get(..*len).unwrap_or(&[])),
        }
    }

    /// The first value of option `number`, if present.
    pub fn option(&self, number: u16) -> Option<&[u8]> {
        self.options().find(|&(n, _)| n == number).map(|(_, v)| v)
    }

    /// The payload (empty when there is none).
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// True if the plaintext had an Observe option (a registration or
    /// cancellation in a request, a notification in a response).
    pub fn has_inner_observe(&self) -> bool {
        self.inner_observe.is_some()
    }

    /// For a request: an Observe registration (Inner Observe = 0).
    pub fn is_observe_registration(&self) -> bool {
        is_request_code(self.code) && self.inner_observe.and_then(observe_value) == Some(0)
    }

    /// Appends the original message as CoAP-over-UDP bytes.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] only for an option value over 65804 bytes
    /// (which a datagram cannot carry).
    pub fn write_to(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        self.outer.write_header(self.code, out);
        let mut writer = OptionWriter::default();
        for (n, v) in self.options() {
            writer.write(n, v, out)?;
        }
        if !self.payload.is_empty() {
            out.push(PAYLOAD_MARKER);
            out.extend_from_slice(self.payload);
        }
        Ok(())
    }
}
