//! The `updateCtx()` function of key-limits-01 §3.2 (Figure 4).
//!
//! `updateCtx(N, CTX_IN)` derives a new Master Secret and Master Salt from
//! the nonce `N` and `CTX_IN`, then derives a complete security context from
//! them as RFC 8613 §3.2 does, keeping every other parameter of `CTX_IN`
//! (Sender ID, Recipient ID, ID Context, algorithms).
//!
//! How the new Master Secret and Salt are obtained is a [`KeyUpdateSource`]:
//! the draft's "other means" branch is [`HkdfKeyUpdate`], shipped here; its
//! EDHOC branch (`EDHOC-KeyUpdate` then `EDHOC-Exporter`) can be supplied by
//! an EDHOC implementation through the same trait.

use alloc::vec::Vec;
use core::fmt;
use zeroize::Zeroizing;

use oscore_core::ContextParams;
use oscore_core::crypto::CryptoProvider;

use crate::error::Error;

/// The `Label` of `HKDF-Expand-Label` in the HKDF branch of `updateCtx()`.
///
/// key-limits-01 §3.2 leaves the label open ("HKDF-Expand-Label(
/// CTX_IN.MasterSecret, Label, N, Master Secret Length)" without a value);
/// "key update" is **our decision**, recorded in the workspace design. With
/// the "oscore " prefix of Figure 4 the label on the wire is
/// `"oscore key update"`. Peers must agree on it.
pub const KEY_UPDATE_LABEL: &str = "key update";

/// The prefix Figure 4 puts before every label (TLS 1.3 uses "tls13 ").
// ref: key-limits-01 §3.2, Figure 4: opaque label<7..255> = "oscore " + Label
pub const LABEL_PREFIX: &str = "oscore ";

/// The TLS 1.3 `HkdfLabel` structure of Figure 4, serialised.
///
/// ```text
/// struct {
///     uint16 length = Length;
///     opaque label<7..255> = "oscore " + Label;
///     opaque context<0..255> = Context;
/// } HkdfLabel;
/// ```
///
/// # Errors
/// [`Error::InvalidConfig`] if `length` does not fit 16 bits, or the label or
/// context does not fit its one-byte length prefix.
// ref: key-limits-01 §3.2 Figure 4; RFC 8446 §7.1 (HkdfLabel, vectors with
// one-byte length prefixes, uint16 in network byte order, RFC 8446 §3.3–3.4)
pub fn hkdf_label(length: usize, label: &str, context: &[u8]) -> Result<Vec<u8>, Error> {
    let length = u16::try_from(length).map_err(|_| Error::InvalidConfig("HkdfLabel length over 65535"))?;
    let full_len = LABEL_PREFIX.len() + label.len();
    let label_len = u8::try_from(full_len)
        .ok()
        .filter(|&n| n >= 7)
        .ok_or(Error::InvalidConfig("HkdfLabel label longer than 255 bytes"))?;
    let context_len = u8::try_from(context.len())
        .map_err(|_| Error::InvalidConfig("HkdfLabel context longer than 255 bytes"))?;
    let mut out = Vec::with_capacity(4 + full_len + context.len());
    out.extend_from_slice(&length.to_be_bytes());
    out.push(label_len);
    out.extend_from_slice(LABEL_PREFIX.as_bytes());
    out.extend_from_slice(label.as_bytes());
    out.push(context_len);
    out.extend_from_slice(context);
    Ok(out)
}

/// A new Master Secret and Master Salt (the output of the first half of
/// `updateCtx()`).
pub struct MasterKeys {
    /// MSECRET_NEW.
    pub master_secret: Zeroizing<Vec<u8>>,
    /// MSALT_NEW.
    pub master_salt: Vec<u8>,
}

impl fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKeys")
            .field("master_secret", &"<redacted>")
            .field("master_salt_len", &self.master_salt.len())
            .finish()
    }
}

/// Where `updateCtx()` takes the new Master Secret and Master Salt from.
///
/// The function must be pure: the key-update exchange derives tentative
/// contexts (the temporary CTX_1, and CTX_NEW before its verification) that
/// may be thrown away. An EDHOC implementation, whose `EDHOC-KeyUpdate(N)`
/// changes `PRK_4x3m`, computes the updated PRK here without storing it, and
/// stores it when the endpoint reports the new context as established
/// (`Event::KeyUpdateCompleted` carries N).
// ref: key-limits-01 §3.2, Figure 4 (the two branches of updateCtx)
pub trait KeyUpdateSource: Send + Sync {
    /// MSECRET_NEW and MSALT_NEW for nonce `n` and the context `ctx_in`.
    ///
    /// # Errors
    /// The derivation failed (unknown HKDF, impossible lengths).
    fn new_master_keys(
        &self,
        provider: &CryptoProvider,
        n: &[u8],
        ctx_in: &ContextParams,
    ) -> Result<MasterKeys, Error>;
}

/// The HKDF branch of `updateCtx()`, for contexts not established with EDHOC:
///
/// ```text
/// MSECRET_NEW = HKDF-Expand(CTX_IN.MasterSecret, HkdfLabel, Master Secret Length)
/// MSALT_NEW   = N
/// ```
///
/// with `HkdfLabel` built by [`hkdf_label`] from [`KEY_UPDATE_LABEL`] and N,
/// and the HKDF algorithm of `CTX_IN`.
///
/// The Master Secret is used as the HKDF-Expand PRK although it is usually
/// shorter than the hash (16 bytes against 32 for SHA-256), which RFC 5869
/// §2.3 does not expect. HMAC pads a key shorter than its block with zeros
/// (RFC 2104 §2), so the secret is zero-padded to the hash length before it
/// reaches the provider's `expand` (which insists on that length): the
/// output is bit for bit HMAC-based HKDF-Expand keyed with the secret itself.
/// The tests check this against an HMAC computation with the unpadded key.
#[derive(Debug, Clone, Copy, Default)]
pub struct HkdfKeyUpdate;

impl KeyUpdateSource for HkdfKeyUpdate {
    fn new_master_keys(
        &self,
        provider: &CryptoProvider,
        n: &[u8],
        ctx_in: &ContextParams,
    ) -> Result<MasterKeys, Error> {
        let hkdf = provider
            .hkdf(ctx_in.hkdf)
            .ok_or(Error::Oscore(oscore_core::Error::UnsupportedAlgorithm(ctx_in.hkdf)))?;
        // ref: key-limits-01 §3.2 ("Master Secret Length = < Size of CTX_IN.MasterSecret in bytes >")
        let len = ctx_in.master_secret.len();
        if len == 0 {
            return Err(Error::InvalidConfig("empty Master Secret"));
        }
        // ref: key-limits-01 §3.2, Figure 4 (HKDF-Expand-Label(CTX_IN.MasterSecret, Label, N, len))
        let info = hkdf_label(len, KEY_UPDATE_LABEL, n)?;
        let mut prk = Zeroizing::new(ctx_in.master_secret.to_vec());
        if prk.len() < hkdf.hash_len() {
            // ref: RFC 2104 §2 (a key shorter than the block is padded with zeros),
            // so this changes nothing in the HMAC computation; see the type docs.
            prk.resize(hkdf.hash_len(), 0);
        }
        let mut master_secret = Zeroizing::new(alloc::vec![0u8; len]);
        hkdf.expand(&prk, &info, &mut master_secret)?;
        Ok(MasterKeys {
            master_secret,
            // ref: key-limits-01 §3.2 ("MSALT_NEW = N")
            master_salt: n.to_vec(),
        })
    }
}

/// `updateCtx(N, CTX_IN)`: the parameters of CTX_OUT.
///
/// CTX_OUT has the new Master Secret and Master Salt from `source` and every
/// other parameter of `ctx_in` (Sender ID, Recipient ID, ID Context,
/// algorithms, replay window size, persistence step, key limits); deriving a
/// [`oscore_core::SecurityContext`] from the result is the RFC 8613 §3.2
/// derivation. The key-update exchange then gives CTX_OUT fresh limits and
/// its own store.
///
/// # Errors
/// As the source.
// ref: key-limits-01 §3.2 ("Any other parameter required for the derivation
// takes the same value as in the Security Context CTX_IN")
pub fn update_ctx(
    provider: &CryptoProvider,
    source: &dyn KeyUpdateSource,
    n: &[u8],
    ctx_in: &ContextParams,
) -> Result<ContextParams, Error> {
    let keys = source.new_master_keys(provider, n, ctx_in)?;
    let mut out = ctx_in.clone();
    out.master_secret = keys.master_secret;
    out.master_salt = keys.master_salt;
    Ok(out)
}
