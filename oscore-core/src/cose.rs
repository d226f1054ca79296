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

/// The AEAD additional data for an OSCORE message: the `Enc_structure` over
/// the `external_aad` of `aad`. `scratch` is reused for the inner array.
pub fn encode_aad(aad: &ExternalAad<'_>, scratch: &mut Vec<u8>, out: &mut Vec<u8>) {
    scratch.clear();
    encode_external_aad(aad, scratch);
    encode_enc_structure(scratch, out);
}
