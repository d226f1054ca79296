//! Pairwise keys (groupcomm-08 §3): static-static ECDH between two members'
//! signature keys, then HKDF with the RFC 8613 §3.2.1 `info`.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use oscore_core::context::{KdfInfo, KdfType};
use oscore_core::crypto::{AlgorithmId, CurveId, Hkdf, KeyAgreement};
use zeroize::Zeroizing;

use crate::error::GroupError;

/// The pairwise key of the member with Sender ID `sender_id` toward another
/// member: `HKDF(salt = sender's Sender Key, IKM = shared secret,
/// info = [sender_id, Gid, alg_aead, "Key", L], L)`.
///
/// The sender uses it as its Pairwise Sender Key; the recipient derives the
/// same value as its Pairwise Recipient Key (salt = its Recipient Key for that
/// sender). Only a key is derived: the group's Common IV is kept (§9.2, G.2).
// ref: groupcomm-08 §3.1; GROUP_NOTES.md (b) for the salt/IKM order
pub fn derive_pairwise_key(
    hkdf: &dyn Hkdf,
    alg_aead: AlgorithmId,
    key_len: usize,
    sender_key: &[u8],
    shared_secret: &[u8],
    sender_id: &[u8],
    gid: &[u8],
) -> Result<Zeroizing<Vec<u8>>, GroupError> {
    Ok(KdfInfo { id: sender_id, id_context: Some(gid), alg_aead, kind: KdfType::Key, len: key_len }.derive(
        hkdf,
        sender_key,
        shared_secret,
    )?)
}

/// Our half of the static-static agreement, with a cache of shared secrets.
///
/// Shared secrets do not change when the group is rekeyed (§3.1, last
/// paragraph), so the cache is keyed by the peer's public key and survives
/// rekeying; pairwise keys, which depend on the group keys, do not.
pub struct Agreement {
    ka: &'static dyn KeyAgreement,
    sig_curve: CurveId,
    private: Zeroizing<Vec<u8>>,
    cache: BTreeMap<Vec<u8>, Zeroizing<Vec<u8>>>,
    max_cached: usize,
}

impl core::fmt::Debug for Agreement {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Agreement")
            .field("curve", &self.ka.curve())
            .field("cached", &self.cache.len())
            .finish_non_exhaustive()
    }
}

impl Agreement {
    /// Prepares the agreement for our signature private key.
    ///
    /// Ed25519 keys are mapped to X25519 (RFC 7748 §4.1), P-256 keys are used
    /// as they are.
    // ref: groupcomm-08 §3.1 ("the Edward coordinates are mapped to Montgomery coordinates")
    pub fn new(
        ka: &'static dyn KeyAgreement,
        sig_curve: CurveId,
        own_private_key: &[u8],
        max_cached: usize,
    ) -> Result<Self, GroupError> {
        let private = ka.private_from_signature_key(sig_curve, own_private_key)?;
        Ok(Self { ka, sig_curve, private, cache: BTreeMap::new(), max_cached: max_cached.max(1) })
    }

    /// The shared secret with the member whose signature public key is
    /// `peer_public_key`, from the cache or computed (and cached).
    ///
    /// # Errors
    /// [`GroupError::InvalidKey`] for a key that cannot be mapped or gives a
    /// non-contributory (all-zero) secret.
    pub fn shared_secret(&mut self, peer_public_key: &[u8]) -> Result<Zeroizing<Vec<u8>>, GroupError> {
        if let Some(s) = self.cache.get(peer_public_key) {
            return Ok(s.clone());
        }
        let peer = self.ka.public_from_signature_key(self.sig_curve, peer_public_key)?;
        let secret = self.ka.agree(&self.private, &peer)?;
        if self.cache.len() >= self.max_cached {
            // Bounded: drop an arbitrary (the smallest) entry; it is recomputed on demand.
            if let Some(k) = self.cache.keys().next().cloned() {
                self.cache.remove(&k);
            }
        }
        self.cache.insert(peer_public_key.to_vec(), secret.clone());
        Ok(secret)
    }

    /// Number of cached shared secrets.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    /// Forgets every cached shared secret (the cold-cache case of the benches).
    pub fn clear_cache(&mut self) {
        self.cache.clear();
    }
}
