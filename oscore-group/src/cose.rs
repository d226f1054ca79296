//! The COSE structures of groupcomm-08 §4: the extended `external_aad` (for
//! encryption and for signing) and the CounterSignature0 `Sig_structure`.

use alloc::vec::Vec;
use minicbor::Encoder;
use oscore_core::cose::OSCORE_VERSION;
use oscore_core::crypto::AlgorithmId;

/// The Counter Signature Parameters and Counter Signature Key Parameters of a
/// group (groupcomm-08 §2, §11.1, §11.2), as encoded CBOR items; `None` is
/// encoded as CBOR null.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountersignParams {
    /// par_countersign, encoded CBOR.
    pub par_countersign: Option<Vec<u8>>,
    /// par_countersign_key, encoded CBOR.
    pub par_countersign_key: Option<Vec<u8>>,
}

/// COSE key type OKP.
const KTY_OKP: u8 = 1;
/// COSE key type EC2.
const KTY_EC2: u8 = 2;
/// COSE curve Ed25519.
const CRV_ED25519: u8 = 6;
/// COSE curve P-256.
const CRV_P256: u8 = 1;

impl CountersignParams {
    /// The parameters for EdDSA/Ed25519 and ES256/P-256.
    ///
    /// Decision (GROUP_NOTES.md): -08 §11.1 lists `crv : int` for both
    /// algorithms and §11.2 `[kty : int, crv : int]`, so EdDSA gives
    /// `par_countersign = 6`, `par_countersign_key = [1, 6]` and ES256 gives
    /// `1`, `[2, 1]`. The -09 capability arrays are not used.
    // ref: groupcomm-08 §4.3.1, §11.1, §11.2
    pub fn for_algorithm(alg: AlgorithmId) -> Option<Self> {
        let (kty, crv) = match alg {
            AlgorithmId::EDDSA => (KTY_OKP, CRV_ED25519),
            AlgorithmId::ES256 => (KTY_EC2, CRV_P256),
            _ => return None,
        };
        let mut par = Vec::new();
        let _ = Encoder::new(&mut par).u8(crv);
        let mut key = Vec::new();
        let _ = Encoder::new(&mut key).array(2).and_then(|e| e.u8(kty)).and_then(|e| e.u8(crv));
        Some(Self { par_countersign: Some(par), par_countersign_key: Some(key) })
    }
}

/// Encodes the 'algorithms' array `[alg_aead, alg_countersign,
/// par_countersign, par_countersign_key]`.
// ref: groupcomm-08 §4.3.1
pub fn encode_algorithms(
    alg_aead: AlgorithmId,
    alg_countersign: AlgorithmId,
    params: &CountersignParams,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    let mut e = Encoder::new(&mut out);
    let _ = e.array(4).and_then(|e| e.i32(alg_aead.0)).and_then(|e| e.i32(alg_countersign.0));
    for item in [&params.par_countersign, &params.par_countersign_key] {
        match item {
            Some(cbor) => e.writer_mut().extend_from_slice(cbor),
            None => {
                let _ = e.null();
            }
        }
    }
    out
}

/// Appends the group `aad_array` (not yet wrapped as a bstr):
/// `[1, algorithms, request_kid, request_piv, options]`, plus `OSCORE_option`
/// for the signing variant.
// ref: groupcomm-08 §4.3.1 (encryption), §4.3.2 (signing adds the OSCORE option as bstr)
pub fn encode_external_aad(
    algorithms: &[u8],
    request_kid: &[u8],
    request_piv: &[u8],
    options: &[u8],
    oscore_option: Option<&[u8]>,
    out: &mut Vec<u8>,
) {
    let mut e = Encoder::new(out);
    let len = if oscore_option.is_some() { 6 } else { 5 };
    let _ = e.array(len).and_then(|e| e.u8(OSCORE_VERSION));
    e.writer_mut().extend_from_slice(algorithms);
    let _ = e.bytes(request_kid).and_then(|e| e.bytes(request_piv)).and_then(|e| e.bytes(options));
    if let Some(option) = oscore_option {
        let _ = e.bytes(option);
    }
}

/// Appends the CounterSignature0 `Sig_structure`:
/// `["CounterSignature0", h'', h'', external_aad, ciphertext]`.
///
/// Decision (GROUP_NOTES.md (a)): -08 §4.1 points to RFC 8152 App. A.2 without
/// bytes; every 2020 implementation signs this 5-element array, with the
/// empty protected bucket of the COSE_Encrypt0 as `h''` (never null) and an
/// empty `sign_protected`. The 2020 Hackathon messages verify only with it.
// ref: groupcomm-08 §4.1; RFC 8152 §4.4, App. A.2
pub fn encode_sig_structure(external_aad: &[u8], ciphertext: &[u8], out: &mut Vec<u8>) {
    let mut e = Encoder::new(out);
    let _ = e
        .array(5)
        .and_then(|e| e.str("CounterSignature0"))
        .and_then(|e| e.bytes(&[]))
        .and_then(|e| e.bytes(&[]))
        .and_then(|e| e.bytes(external_aad))
        .and_then(|e| e.bytes(ciphertext));
}

/// The AEAD additional data: `Enc_structure` over the encryption `aad_array`.
pub fn encryption_aad(algorithms: &[u8], request_kid: &[u8], request_piv: &[u8], out: &mut Vec<u8>) {
    let mut array = Vec::with_capacity(32 + request_kid.len() + request_piv.len());
    encode_external_aad(algorithms, request_kid, request_piv, &[], None, &mut array);
    oscore_core::cose::encode_enc_structure(&array, out);
}

/// The bytes that are signed: `Sig_structure` over the signing `aad_array`
/// and the full ciphertext (tag included).
pub fn to_be_signed(
    algorithms: &[u8],
    request_kid: &[u8],
    request_piv: &[u8],
    oscore_option: &[u8],
    ciphertext: &[u8],
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) {
    scratch.clear();
    encode_external_aad(algorithms, request_kid, request_piv, &[], Some(oscore_option), scratch);
    encode_sig_structure(scratch, ciphertext, out);
}
