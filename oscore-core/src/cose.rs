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
    // ref: RFC 8613 §5.4, RFC 8152 §5.3
    pub fn encode(aad: &ExternalAad<'_>) -> Option<Self> {
        let mut inner = [0u8; MAX_STACK_AAD];
        let mut c = minicbor::encode::write::Cursor::new(&mut inner[..]);
        Encoder::new(&mut c)
            .array(5)
            .and_then(|e| e.u8(OSCORE_VERSION))
            .and_then(|e| e.array(1))
            .and_then(|e| e.i32(aad.alg_aead.0))
            .and_then(|e| e.bytes(aad.request_kid))
            .and_then(|e| e.bytes(aad.request_piv))
            .and_then(|e| e.bytes(aad.options))
            .ok()?;
        let inner_len = c.position();
        let mut out = Self { bytes: [0u8; MAX_STACK_AAD], len: 0 };
        let mut c = minicbor::encode::write::Cursor::new(&mut out.bytes[..]);
        Encoder::new(&mut c)
            .array(3)
            .and_then(|e| e.str("Encrypt0"))
            .and_then(|e| e.bytes(&[]))
            .and_then(|e| e.bytes(inner.get(..inner_len).unwrap_or(&[])))
            .ok()?;
        out.len = c.position();
        Some(out)
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
        for kid_len in [0usize, 1, 7, 40, 60, 90] {
            let kid = alloc::vec![0xab; kid_len];
            let ext = ExternalAad {
                alg_aead: AlgorithmId(-65536),
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
