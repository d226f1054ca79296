//! The COSE pieces of OSCORE: `external_aad` (RFC 8613 §5.4) and the
//! `Enc_structure` that is the AEAD's additional data (RFC 8152 §5.3).
//!
//! Encoded with minicbor into a caller-provided buffer, so the hot path can
//! reuse one allocation.

use alloc::vec::Vec;
use minicbor::Encoder;

use crate::crypto::AlgorithmId;

/// The OSCORE version in `external_aad`.
// ref: RFC 8613 §5.4 (oscore_version = 1)
pub const OSCORE_VERSION: u8 = 1;

/// The inputs of `external_aad`.
#[derive(Debug, Clone, Copy)]
pub struct ExternalAad<'a> {
    /// The AEAD algorithm of the context.
    pub alg_aead: AlgorithmId,
    /// The kid of the request (the Sender ID of the client).
    pub request_kid: &'a [u8],
    /// The Partial IV of the request.
    pub request_piv: &'a [u8],
    /// The serialised Class I options (none are defined by RFC 8613).
    pub options: &'a [u8],
}

/// Discards the result of encoding into a `Vec`: its `Write::Error` is
/// `Infallible` and the primitives used here never fail otherwise.
fn infallible<T>(r: Result<T, minicbor::encode::Error<core::convert::Infallible>>) {
    let _ = r;
}

/// Appends `external_aad` (the CBOR array, not yet wrapped in a bstr) to `out`.
// ref: RFC 8613 §5.4:
//   external_aad = [ oscore_version : uint, algorithms : [ alg_aead : int / tstr ],
//                    request_kid : bstr, request_piv : bstr, options : bstr ]
pub fn encode_external_aad(aad: &ExternalAad<'_>, out: &mut Vec<u8>) {
    let mut e = Encoder::new(out);
    infallible(
        e.array(5)
            .and_then(|e| e.u8(OSCORE_VERSION))
            .and_then(|e| e.array(1))
            .and_then(|e| e.i32(aad.alg_aead.0))
            .and_then(|e| e.bytes(aad.request_kid))
            .and_then(|e| e.bytes(aad.request_piv))
            .and_then(|e| e.bytes(aad.options)),
    );
}

/// Appends the `Enc_structure` for a COSE_Encrypt0 with an empty protected
/// header and the given `external_aad` bytes to `out`.
// ref: RFC 8152 §5.3: Enc_structure = [ context : "Encrypt0", protected : empty_or_serialized_map,
//                                       external_aad : bstr ]
// ref: RFC 8613 §5.4: the protected bucket is empty (h'')
pub fn encode_enc_structure(external_aad: &[u8], out: &mut Vec<u8>) {
    let mut e = Encoder::new(out);
    infallible(
        e.array(3)
            .and_then(|e| e.str("Encrypt0"))
            .and_then(|e| e.bytes(&[]))
            .and_then(|e| e.bytes(external_aad)),
    );
}

/// The longest AEAD additional data [`StackAad`] holds: with IDs of at most
/// 7 bytes (nonce length − 6) and Partial IVs of at most 5, the
/// `Enc_structure` of RFC 8613 is under 50 bytes.
pub const MAX_STACK_AAD: usize = 96;

/// The AEAD additional data encoded on the stack (no allocation per message).
#[derive(Clone, Copy)]
pub struct StackAad {
    bytes: [u8; MAX_STACK_AAD],
    len: usize,
}

impl core::ops::Deref for StackAad {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

impl StackAad {
    /// Encodes the `Enc_structure` over the `external_aad` of `aad`, or
    /// `None` if it does not fit in [`MAX_STACK_AAD`] bytes (then use
    /// [`encode_aad`]).
    ///
    /// This is the per-message hot path, so the seven CBOR items are written
    /// directly (about 100 instructions, where minicbor's encoder on a
    /// cursor took about 950 per message); the tests check the bytes against
    /// [`encode_aad`], which uses minicbor.
    // ref: RFC 8613 §5.4, RFC 8152 §5.3, RFC 8949 §3.1 (head = major type ‖ argument)
    pub fn encode(aad: &ExternalAad<'_>) -> Option<Self> {
        // The length of `external_aad`, for the head of the bstr that wraps
        // it, so that both are written in one pass into one buffer.
        let bstr_len = |data: &[u8]| head_len(data.len() as u64) + data.len();
        let alg_len = head_len(int_argument(aad.alg_aead.0));
        let inner_len =
            3 + alg_len + bstr_len(aad.request_kid) + bstr_len(aad.request_piv) + bstr_len(aad.options);
        let mut out = CborWriter { bytes: [0; MAX_STACK_AAD], len: 0 };
        // [ "Encrypt0", h'', bstr .cbor external_aad ]
        out.raw(&ENC_STRUCTURE_START)?;
        out.head(MAJOR_BYTES, inner_len as u64)?;
        // [ oscore_version, [ alg_aead ], ...
        out.raw(&EXTERNAL_AAD_START)?;
        out.int(aad.alg_aead.0)?;
        out.bstr(aad.request_kid)?;
        out.bstr(aad.request_piv)?;
        out.bstr(aad.options)?;
        Some(Self { bytes: out.bytes, len: out.len })
    }
}

/// The head argument of an integer: `n` for n ≥ 0, `-1 - n` below.
// ref: RFC 8949 §3.1 (major types 0 and 1)
fn int_argument(value: i32) -> u64 {
    if value < 0 { u64::from(!value as u32) } else { u64::from(value as u32) }
}

/// The length of the shortest CBOR head with argument `value` (RFC 8949 §3).
fn head_len(value: u64) -> usize {
    match value {
        0..=23 => 1,
        24..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

const MAJOR_UNSIGNED: u8 = 0;
const MAJOR_NEGATIVE: u8 = 1;
const MAJOR_BYTES: u8 = 2;

/// `83 68 "Encrypt0" 40`: the array of three, the context string of a
/// COSE_Encrypt0 object and the empty protected bucket.
// ref: RFC 8152 §5.3, RFC 8613 §5.4
const ENC_STRUCTURE_START: [u8; 11] = [0x83, 0x68, b'E', b'n', b'c', b'r', b'y', b'p', b't', b'0', 0x40];

/// `85 01 81`: the array of five, `oscore_version` 1 and the array of one
/// algorithm.
// ref: RFC 8613 §5.4
const EXTERNAL_AAD_START: [u8; 3] = [0x85, OSCORE_VERSION, 0x81];

/// A bounded CBOR writer on the stack for [`StackAad`].
struct CborWriter {
    bytes: [u8; MAX_STACK_AAD],
    len: usize,
}

impl CborWriter {
    #[inline]
    fn raw(&mut self, data: &[u8]) -> Option<()> {
        let end = self.len.checked_add(data.len())?;
        self.bytes.get_mut(self.len..end)?.copy_from_slice(data);
        self.len = end;
        Some(())
    }

    /// The shortest head for `major` and argument `value` (RFC 8949 §4.2.1).
    #[allow(clippy::cast_possible_truncation)] // each arm's range fits its width
    #[inline]
    fn head(&mut self, major: u8, value: u64) -> Option<()> {
        let m = major << 5;
        match value {
            0..=23 => self.raw(&[m | value as u8]),
            24..=0xff => self.raw(&[m | 24, value as u8]),
            0x100..=0xffff => {
                self.raw(&[m | 25])?;
                self.raw(&(value as u16).to_be_bytes())
            }
            0x1_0000..=0xffff_ffff => {
                self.raw(&[m | 26])?;
                self.raw(&(value as u32).to_be_bytes())
            }
            _ => {
                self.raw(&[m | 27])?;
                self.raw(&value.to_be_bytes())
            }
        }
    }

    fn int(&mut self, value: i32) -> Option<()> {
        let major = if value < 0 { MAJOR_NEGATIVE } else { MAJOR_UNSIGNED };
        self.head(major, int_argument(value))
    }

    fn bstr(&mut self, data: &[u8]) -> Option<()> {
        self.head(MAJOR_BYTES, u64::try_from(data.len()).ok()?)?;
        self.raw(data)
    }
}

/// The AEAD additional data for an OSCORE message: the `Enc_structure` over
/// the `external_aad` of `aad`. `scratch` is reused for the inner array.
pub fn encode_aad(aad: &ExternalAad<'_>, scratch: &mut Vec<u8>, out: &mut Vec<u8>) {
    scratch.clear();
    encode_external_aad(aad, scratch);
    encode_enc_structure(scratch, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_aad_equals_heap_aad_and_refuses_what_does_not_fit() {
        let algs = [
            -65537,
            -65536,
            -257,
            -256,
            -25,
            -24,
            -1,
            0,
            1,
            10,
            23,
            24,
            255,
            256,
            65535,
            65536,
            i32::MAX,
            i32::MIN,
        ];
        for (kid_len, alg) in
            [0usize, 1, 7, 23, 24, 40, 60, 90].into_iter().flat_map(|k| algs.map(|a| (k, a)))
        {
            let kid = alloc::vec![0xab; kid_len];
            let ext = ExternalAad {
                alg_aead: AlgorithmId(alg),
                request_kid: &kid,
                request_piv: &[1, 2, 3, 4, 5],
                options: &[],
            };
            let (mut scratch, mut heap) = (Vec::new(), Vec::new());
            encode_aad(&ext, &mut scratch, &mut heap);
            match StackAad::encode(&ext) {
                Some(stack) => assert_eq!(&*stack, heap.as_slice()),
                None => assert!(heap.len() > MAX_STACK_AAD - 20, "refused a {}-byte AAD", heap.len()),
            }
        }
        let kid = [0u8; 90];
        let ext =
            ExternalAad { alg_aead: AlgorithmId(10), request_kid: &kid, request_piv: &[], options: &[] };
        assert!(StackAad::encode(&ext).is_none());
    }
}
