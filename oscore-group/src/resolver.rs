//! Public keys of group members: the Group Manager role seen from a member
//! or a signature checker (groupcomm-08 §2.3, §7.2, §7.4).

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// Resolves a member's public key from the group identifier and its kid.
///
/// Called when a message arrives from a kid without a Recipient Context
/// (dynamic Recipient Contexts, §7.2/§7.4) and by the [`SignatureChecker`].
/// The key encoding is the one the group's signature algorithm accepts
/// (32 bytes for Ed25519; SEC1 for P-256).
///
/// [`SignatureChecker`]: crate::SignatureChecker
pub trait KeyResolver: Send + Sync {
    /// The public key of member `kid` in group `gid`, if known.
    fn public_key(&self, gid: &[u8], kid: &[u8]) -> Option<Vec<u8>>;
}

/// A fixed table of members' public keys, valid for every Gid of the group
/// (Sender IDs are kept across rekeying, groupcomm-08 §2.4).
#[derive(Debug, Clone, Default)]
pub struct StaticKeys {
    keys: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl StaticKeys {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces the public key of `kid`.
    pub fn insert(&mut self, kid: &[u8], public_key: &[u8]) -> &mut Self {
        self.keys.insert(kid.to_vec(), public_key.to_vec());
        self
    }

    /// Removes `kid` (e.g. a member that left).
    pub fn remove(&mut self, kid: &[u8]) {
        self.keys.remove(kid);
    }
}

impl KeyResolver for StaticKeys {
    fn public_key(&self, _gid: &[u8], kid: &[u8]) -> Option<Vec<u8>> {
        self.keys.get(kid).cloned()
    }
}
