//! The OSCORE option value: the compressed COSE object header.
//!
//! ```text
//!  0 1 2 3 4 5 6 7   8 9 10 ... 15
//! |r|e|p|h|k|  n  | [0 0 0 0 0 0 0 d] | Partial IV (n) | s | kid context (s) | x | id detail (x) | kid (rest)
//! ```
//! - n: Partial IV length 0..=5; 6 and 7 are reserved (RFC 8613 §6.1).
//! - k (0x08): kid present, h (0x10): kid context present (RFC 8613 §6.1).
//! - p (0x20): the Pairwise Flag of groupcomm-08 §4.1 / §11.3.
//! - e (0x40): Extension-1 of key-limits-01 §3.1: a second flag byte follows,
//!   whose bit 0x01 is 'd' (id detail present); its other bits are reserved.
//! - r (0x80): reserved.
//!
//! Any reserved bit set makes the option malformed (→ 4.02), never ignored.

use alloc::vec::Vec;

use crate::error::Error;

// ref: RFC 8613 §6.1 (flag bits n, k, h)
const FLAG_N_MASK: u8 = 0x07;
const FLAG_K: u8 = 0x08;
const FLAG_H: u8 = 0x10;
// ref: groupcomm-08 §4.1, §11.3 (Pairwise Flag, bit 2 = 0x20)
const FLAG_PAIRWISE: u8 = 0x20;
// ref: key-limits-01 §3.1 (Extension-1 Flag, bit 1 = 0x40)
const FLAG_EXTENSION_1: u8 = 0x40;
// ref: RFC 8613 §6.1 (bit 0 reserved)
const FLAG_RESERVED: u8 = 0x80;
// ref: key-limits-01 §3.1, §5.1 (ID Detail Flag 'd', bit 15 = 0x01 of the second byte)
const FLAG2_D: u8 = 0x01;

/// The longest Partial IV: 5 bytes (40-bit sequence numbers).
// ref: RFC 8613 §6.1 (n = 6, 7 reserved)
pub const MAX_PARTIAL_IV_LEN: usize = 5;

/// A decoded OSCORE option value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OscoreOption {
    /// The Partial IV, 1..=5 bytes, or absent.
    pub partial_iv: Option<Vec<u8>>,
    /// The kid context, or absent (flag h).
    pub kid_context: Option<Vec<u8>>,
    /// The kid, or absent (flag k).
    pub kid: Option<Vec<u8>>,
    /// The groupcomm-08 Pairwise Flag (0x20).
    pub pairwise: bool,
    /// The key-limits-01 'id detail', or absent (flag d).
    pub id_detail: Option<Vec<u8>>,
    /// Emit the second flag byte (Extension-1) even without 'id detail'.
    /// Set by the decoder when the received option had one; implied when
    /// `id_detail` is present.
    pub extension_1: bool,
}

/// A decoded OSCORE option value that borrows from the message: the
/// allocation-free form of [`OscoreOption`] for hot paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OscoreOptionView<'a> {
    /// The Partial IV, 1..=5 bytes, or absent.
    pub partial_iv: Option<&'a [u8]>,
    /// The kid context, or absent (flag h).
    pub kid_context: Option<&'a [u8]>,
    /// The kid, or absent (flag k).
    pub kid: Option<&'a [u8]>,
    /// The groupcomm-08 Pairwise Flag (0x20).
    pub pairwise: bool,
    /// The key-limits-01 'id detail', or absent (flag d).
    pub id_detail: Option<&'a [u8]>,
    /// The value had the second flag byte (Extension-1).
    pub extension_1: bool,
}

impl<'a> OscoreOptionView<'a> {
    /// Decodes an option value.
    ///
    /// # Errors
    /// [`Error::MalformedOption`] for reserved bits, reserved `n`, truncated
    /// fields, trailing bytes, or a non-empty value whose flags are all zero.
    pub fn decode(value: &'a [u8]) -> Result<Self, Error> {
        let mut out = Self::default();
        let Some((&flags, mut rest)) = value.split_first() else {
            // ref: RFC 8613 §6.1: all flags zero ⇔ empty value
            return Ok(out);
        };
        if flags == 0 {
            // ref: RFC 8613 §6.1: "If the flag bits are all zero, the OSCORE option value SHALL be empty"
            return Err(Error::MalformedOption("flag byte 0x00 in a non-empty value"));
        }
        if flags & FLAG_RESERVED != 0 {
            return Err(Error::MalformedOption("reserved flag bit 0x80 set"));
        }
        out.pairwise = flags & FLAG_PAIRWISE != 0;
        let n = usize::from(flags & FLAG_N_MASK);
        if n > MAX_PARTIAL_IV_LEN {
            return Err(Error::MalformedOption("reserved Partial IV length (6 or 7)"));
        }
        let mut has_d = false;
        if flags & FLAG_EXTENSION_1 != 0 {
            out.extension_1 = true;
            let (&flags2, r) =
                rest.split_first().ok_or(Error::MalformedOption("missing second flag byte"))?;
            if flags2 & !FLAG2_D != 0 {
                // ref: key-limits-01 §3.1 (second-to-eighth bits reserved → malformed)
                return Err(Error::MalformedOption("reserved bit set in second flag byte"));
            }
            has_d = flags2 & FLAG2_D != 0;
            rest = r;
        }
        if n > 0 {
            let (piv, r) = rest.split_at_checked(n).ok_or(Error::MalformedOption("truncated Partial IV"))?;
            out.partial_iv = Some(piv);
            rest = r;
        }
        if flags & FLAG_H != 0 {
            let (field, r) = take_length_prefixed(rest, "truncated kid context")?;
            out.kid_context = Some(field);
            rest = r;
        }
        if has_d {
            // ref: key-limits-01 §3.1: 1-byte length x then x bytes, after kid context
            let (field, r) = take_length_prefixed(rest, "truncated id detail")?;
            out.id_detail = Some(field);
            rest = r;
        }
        if flags & FLAG_K != 0 {
            out.kid = Some(rest);
        } else if !rest.is_empty() {
            return Err(Error::MalformedOption("trailing bytes without kid flag"));
        }
        Ok(out)
    }

    /// The flag bytes of the encoded value (none for an empty value).
    fn flags(&self) -> Result<([u8; 2], usize), Error> {
        let piv = self.partial_iv.unwrap_or(&[]);
        if self.partial_iv.is_some() && piv.is_empty() {
            return Err(Error::InvalidInput("empty Partial IV"));
        }
        let n = u8::try_from(piv.len())
            .ok()
            .filter(|&n| usize::from(n) <= MAX_PARTIAL_IV_LEN)
            .ok_or(Error::InvalidInput("Partial IV longer than 5 bytes"))?;
        for (field, what) in [
            (self.kid_context, "kid context longer than 255 bytes"),
            (self.id_detail, "id detail longer than 255 bytes"),
        ] {
            if field.is_some_and(|f| f.len() > 255) {
                return Err(Error::InvalidInput(what));
            }
        }
        let ext = self.extension_1 || self.id_detail.is_some();
        let mut flags = n;
        if self.kid.is_some() {
            flags |= FLAG_K;
        }
        if self.kid_context.is_some() {
            flags |= FLAG_H;
        }
        if self.pairwise {
            flags |= FLAG_PAIRWISE;
        }
        if ext {
            flags |= FLAG_EXTENSION_1;
        }
        Ok(match (flags, ext) {
            (0, _) => ([0, 0], 0),
            (f, false) => ([f, 0], 1),
            (f, true) => ([f, if self.id_detail.is_some() { FLAG2_D } else { 0 }], 2),
        })
    }

    /// The length of the encoded value.
    ///
    /// # Errors
    /// As [`encode_into`](Self::encode_into).
    pub fn encoded_len(&self) -> Result<usize, Error> {
        let (_, flag_len) = self.flags()?;
        if flag_len == 0 {
            return Ok(0);
        }
        Ok(flag_len
            + self.partial_iv.map_or(0, <[u8]>::len)
            + self.kid_context.map_or(0, |c| 1 + c.len())
            + self.id_detail.map_or(0, |d| 1 + d.len())
            + self.kid.map_or(0, <[u8]>::len))
    }

    /// Encodes the option value, appending to `out`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when a field cannot be represented (Partial IV
    /// empty or longer than 5 bytes, kid context or id detail over 255 bytes).
    // ref: RFC 8613 §6.1 Figure 10; key-limits-01 §3.1 (Extension-1 byte, 'd', id detail after kid context)
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        let (flags, flag_len) = self.flags()?;
        if flag_len == 0 {
            return Ok(());
        }
        out.extend_from_slice(flags.get(..flag_len).unwrap_or(&[]));
        out.extend_from_slice(self.partial_iv.unwrap_or(&[]));
        if let Some(ctx) = self.kid_context {
            push_length_prefixed(out, ctx);
        }
        if let Some(detail) = self.id_detail {
            push_length_prefixed(out, detail);
        }
        if let Some(kid) = self.kid {
            out.extend_from_slice(kid);
        }
        Ok(())
    }

    /// An owned copy.
    pub fn to_owned(&self) -> OscoreOption {
        OscoreOption {
            partial_iv: self.partial_iv.map(<[u8]>::to_vec),
            kid_context: self.kid_context.map(<[u8]>::to_vec),
            kid: self.kid.map(<[u8]>::to_vec),
            pairwise: self.pairwise,
            id_detail: self.id_detail.map(<[u8]>::to_vec),
            extension_1: self.extension_1,
        }
    }
}

impl OscoreOption {
    /// Decodes an option value.
    ///
    /// # Errors
    /// As [`OscoreOptionView::decode`].
    pub fn decode(value: &[u8]) -> Result<Self, Error> {
        OscoreOptionView::decode(value).map(|v| v.to_owned())
    }

    /// Encodes the option value, appending to `out`.
    ///
    /// # Errors
    /// As [`OscoreOptionView::encode_into`].
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        self.as_view().encode_into(out)
    }

    /// The borrowed form.
    pub fn as_view(&self) -> OscoreOptionView<'_> {
        OscoreOptionView {
            partial_iv: self.partial_iv.as_deref(),
            kid_context: self.kid_context.as_deref(),
            kid: self.kid.as_deref(),
            pairwise: self.pairwise,
            id_detail: self.id_detail.as_deref(),
            extension_1: self.extension_1,
        }
    }

    /// Encodes the option value into a new vector.
    ///
    /// # Errors
    /// As [`encode_into`](Self::encode_into).
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.encode_into(&mut out)?;
        Ok(out)
    }
}

fn take_length_prefixed<'a>(buf: &'a [u8], what: &'static str) -> Result<(&'a [u8], &'a [u8]), Error> {
    let (&len, rest) = buf.split_first().ok_or(Error::MalformedOption(what))?;
    rest.split_at_checked(usize::from(len)).ok_or(Error::MalformedOption(what))
}

/// Appends a field whose length (≤ 255, checked by the caller) fits one byte.
fn push_length_prefixed(out: &mut Vec<u8>, field: &[u8]) {
    out.push(u8::try_from(field.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(field);
}

/// Encodes a sequence number as a Partial IV: big-endian, minimal length,
/// `0` as one zero byte.
// ref: RFC 8613 §6.1 ("the Partial IV ... in network byte order, minimal length"; 0 → 0x00)
pub fn encode_partial_iv(seq: u64, out: &mut [u8; MAX_PARTIAL_IV_LEN]) -> usize {
    let bytes = seq.to_be_bytes();
    let significant = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len() - 1);
    let len = (bytes.len() - significant).min(MAX_PARTIAL_IV_LEN);
    out.fill(0);
    if let (Some(dst), Some(src)) = (out.get_mut(..len), bytes.get(bytes.len() - len..)) {
        dst.copy_from_slice(src);
    }
    len
}

/// Decodes a Partial IV (1..=5 bytes, big-endian) into a sequence number.
///
/// # Errors
/// [`Error::MalformedOption`] for an empty or over-long Partial IV.
pub fn decode_partial_iv(piv: &[u8]) -> Result<u64, Error> {
    if piv.is_empty() || piv.len() > MAX_PARTIAL_IV_LEN {
        return Err(Error::MalformedOption("Partial IV length"));
    }
    Ok(piv.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_iv_encoding() {
        let mut buf = [0u8; 5];
        let n = encode_partial_iv(0, &mut buf);
        assert_eq!(&buf[..n], &[0]);
        let n = encode_partial_iv(20, &mut buf);
        assert_eq!(&buf[..n], &[0x14]);
        let n = encode_partial_iv(0x0102, &mut buf);
        assert_eq!(&buf[..n], &[1, 2]);
        let n = encode_partial_iv((1 << 40) - 1, &mut buf);
        assert_eq!(&buf[..n], &[0xff; 5]);
        assert_eq!(decode_partial_iv(&[1, 2]), Ok(0x0102));
    }

    #[test]
    fn rfc8613_examples() {
        // ref: RFC 8613 §6.3 examples are covered by the Appendix C vectors;
        // here the empty value and the 0x00 value.
        assert_eq!(OscoreOption::decode(&[]), Ok(OscoreOption::default()));
        assert!(OscoreOption::decode(&[0]).is_err());
    }
}
