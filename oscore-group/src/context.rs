//! The group security context (groupcomm-08 §2): parameters, one epoch of
//! derived keys (Common, Sender and Recipient Contexts), and the bounded,
//! least-recently-used set of Recipient Contexts.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt;
use oscore_core::context::{KdfInfo, KdfType};
use oscore_core::crypto::{Aead, AeadKey, AlgorithmId, CryptoProvider, Hkdf, Signature, VerifyingKey};
use oscore_core::replay::{DEFAULT_WINDOW_SIZE, ReplayWindow};
use oscore_core::store::DEFAULT_PERSIST_STEP;
use zeroize::Zeroizing;

use crate::cose::{CountersignParams, encode_algorithms};
use crate::error::GroupError;

/// How a server synchronises with a client's sequence numbers the first time
/// it hears from it (groupcomm-08 §6.1, Appendix E). A per-group setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplaySync {
    /// E.1: accept the first request and start the window there; responses
    /// always carry the server's own Partial IV (E.1's recommendation).
    BestEffort,
    /// E.2: the first request from an unknown client sets the window. With
    /// `deliver_first = false` (the default) that request itself is not
    /// delivered, so a replayed old request can never be the one that
    /// initialises the window; with `true` it is delivered (the draft's
    /// accepted trade-off).
    Baseline {
        /// Deliver the request that initialises the window.
        deliver_first: bool,
    },
    /// E.3: the first request is verified but not delivered; the server
    /// answers 4.01 with an Echo option and accepts the client's repeated
    /// request carrying that value, which sets the window.
    EchoChallenge,
}

/// Everything needed to join a group, plus local policy.
#[derive(Clone)]
pub struct GroupParams {
    /// Master Secret.
    pub master_secret: Zeroizing<Vec<u8>>,
    /// Master Salt (default empty).
    pub master_salt: Vec<u8>,
    /// Group Identifier, used as ID Context (§2.1).
    pub gid: Vec<u8>,
    /// AEAD algorithm (default AES-CCM-16-64-128).
    pub aead: AlgorithmId,
    /// HKDF algorithm (default HKDF-SHA-256).
    pub hkdf: AlgorithmId,
    /// Counter Signature Algorithm (EdDSA or ES256).
    pub sign_alg: AlgorithmId,
    /// Counter Signature (Key) Parameters.
    pub countersign_params: CountersignParams,
    /// Our Sender ID; `None` for a silent server.
    pub sender_id: Option<Vec<u8>>,
    /// Our private signature key; `None` for a silent server.
    pub private_key: Option<Zeroizing<Vec<u8>>>,
    /// Replay window size per Recipient Context.
    pub replay_window: u32,
    /// Sequence-number persistence step K (RFC 8613 App. B.1.1).
    pub persist_step: u64,
    /// Upper bound on Recipient Contexts; the least recently used is evicted.
    pub max_recipients: usize,
    /// Synchronisation method for unknown clients (Appendix E).
    pub sync: ReplaySync,
    /// Optimized mode (§9): requests are sent (and expected) as optimized
    /// compressed requests, responses to group requests use pairwise keys.
    pub optimized: bool,
    /// Pairwise keying (pairwise mode, Appendix G, and optimized responses) is
    /// enabled.
    pub pairwise: bool,
    /// Answer 4.02 to a request with the Pairwise Flag when pairwise keying is
    /// disabled (§7.2 MAY); default: drop silently.
    pub reply_4_02_on_pairwise: bool,
    /// How long (seconds) an old group context is kept after a rekey for late
    /// messages (§10.4.1); 0 keeps none.
    pub retention: u64,
}

impl GroupParams {
    /// A member with the defaults: AES-CCM-16-64-128, HKDF-SHA-256, window 32,
    /// at most 64 recipients, baseline synchronisation, pairwise keying on,
    /// optimized mode off, no retention.
    pub fn new(master_secret: &[u8], gid: &[u8], sign_alg: AlgorithmId) -> Self {
        Self {
            master_secret: Zeroizing::new(master_secret.to_vec()),
            master_salt: Vec::new(),
            gid: gid.to_vec(),
            aead: AlgorithmId::AES_CCM_16_64_128,
            hkdf: AlgorithmId::HKDF_SHA256,
            sign_alg,
            countersign_params: CountersignParams::for_algorithm(sign_alg)
                .unwrap_or(CountersignParams { par_countersign: None, par_countersign_key: None }),
            sender_id: None,
            private_key: None,
            replay_window: DEFAULT_WINDOW_SIZE,
            persist_step: DEFAULT_PERSIST_STEP,
            max_recipients: 64,
            sync: ReplaySync::Baseline { deliver_first: false },
            optimized: false,
            pairwise: true,
            reply_4_02_on_pairwise: false,
            retention: 0,
        }
    }

    /// Sets our Sender ID and private key (a member that can send).
    pub fn with_sender(mut self, sender_id: &[u8], private_key: &[u8]) -> Self {
        self.sender_id = Some(sender_id.to_vec());
        self.private_key = Some(Zeroizing::new(private_key.to_vec()));
        self
    }

    /// Sets the Master Salt.
    pub fn with_master_salt(mut self, salt: &[u8]) -> Self {
        self.master_salt = salt.to_vec();
        self
    }
}

impl fmt::Debug for GroupParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupParams")
            .field("master_secret", &"<redacted>")
            .field("gid", &self.gid)
            .field("aead", &self.aead)
            .field("sign_alg", &self.sign_alg)
            .field("sender_id", &self.sender_id)
            .field("private_key", &self.private_key.as_ref().map(|_| "<redacted>"))
            .field("sync", &self.sync)
            .field("optimized", &self.optimized)
            .field("pairwise", &self.pairwise)
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

/// The algorithms of a group, resolved from the provider.
#[derive(Clone, Copy)]
pub(crate) struct Algorithms {
    pub aead: &'static dyn Aead,
    pub hkdf: &'static dyn Hkdf,
    pub sig: &'static dyn Signature,
}

impl Algorithms {
    pub fn resolve(provider: &CryptoProvider, params: &GroupParams) -> Result<Self, GroupError> {
        Ok(Self {
            aead: provider.aead(params.aead).ok_or(GroupError::UnsupportedAlgorithm(params.aead))?,
            hkdf: provider.hkdf(params.hkdf).ok_or(GroupError::UnsupportedAlgorithm(params.hkdf))?,
            sig: provider
                .signature(params.sign_alg)
                .ok_or(GroupError::UnsupportedAlgorithm(params.sign_alg))?,
        })
    }
}

/// Our Sender Context in one epoch.
pub(crate) struct Sender {
    pub id: Vec<u8>,
    pub key_bytes: Zeroizing<Vec<u8>>,
    pub key: Box<dyn AeadKey>,
    /// Pairwise Sender Keys toward other members, by their Sender ID.
    pub pairwise: BTreeMap<Vec<u8>, Box<dyn AeadKey>>,
}

/// A Recipient Context in one epoch.
pub(crate) struct Recipient {
    pub key_bytes: Zeroizing<Vec<u8>>,
    pub key: Box<dyn AeadKey>,
    pub public_key: Vec<u8>,
    pub verifying_key: Box<dyn VerifyingKey>,
    pub window: ReplayWindow,
    /// The window reflects the member's sequence numbers (Appendix E).
    pub synced: bool,
    /// The Echo value we challenged this member with (E.3).
    pub echo: Option<Vec<u8>>,
    /// The Pairwise Recipient Key for this member.
    pub pairwise: Option<Box<dyn AeadKey>>,
    pub last_used: u64,
}

/// One group security context: the keys of one (Gid, Master Secret) epoch.
pub(crate) struct Epoch {
    pub gid: Vec<u8>,
    pub master_secret: Zeroizing<Vec<u8>>,
    pub master_salt: Vec<u8>,
    pub common_iv: Vec<u8>,
    /// The encoded 'algorithms' array of the external_aad.
    pub algorithms: Vec<u8>,
    pub sender: Option<Sender>,
    pub recipients: BTreeMap<Vec<u8>, Recipient>,
    pub tick: u64,
}

impl fmt::Debug for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Epoch")
            .field("gid", &self.gid)
            .field("master_secret", &"<redacted>")
            .field("sender_id", &self.sender.as_ref().map(|s| &s.id))
            .field("recipients", &self.recipients.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The keying material of one epoch: (Master Secret, Master Salt, Gid).
type Material<'a> = (&'a [u8], &'a [u8], &'a [u8]);

fn derive(
    algs: &Algorithms,
    (master_secret, master_salt, gid): Material<'_>,
    aead_alg: AlgorithmId,
    id: &[u8],
    kind: KdfType,
    len: usize,
) -> Result<Zeroizing<Vec<u8>>, GroupError> {
    Ok(KdfInfo { id, id_context: Some(gid), alg_aead: aead_alg, kind, len }.derive(
        algs.hkdf,
        master_salt,
        master_secret,
    )?)
}

impl Epoch {
    /// Derives the Common and Sender Context of an epoch.
    // ref: groupcomm-08 §2, §2.2 (RFC 8613 §3.2 with the Gid as ID Context)
    pub fn derive(
        algs: &Algorithms,
        params: &GroupParams,
        gid: &[u8],
        master_secret: &[u8],
        master_salt: &[u8],
    ) -> Result<Self, GroupError> {
        let aead = algs.aead;
        let max_id = aead.nonce_len().saturating_sub(6);
        let common_iv =
            derive(algs, (master_secret, master_salt, gid), params.aead, &[], KdfType::Iv, aead.nonce_len())?
                .to_vec();
        let sender = match &params.sender_id {
            Some(id) => {
                // ref: RFC 8613 §3.3 (ID length ≤ nonce length − 6)
                if id.len() > max_id {
                    return Err(
                        oscore_core::Error::InvalidContext("Sender ID longer than nonce length - 6").into()
                    );
                }
                let key_bytes = derive(
                    algs,
                    (master_secret, master_salt, gid),
                    params.aead,
                    id,
                    KdfType::Key,
                    aead.key_len(),
                )?;
                Some(Sender {
                    id: id.clone(),
                    key: aead.prepare(&key_bytes)?,
                    key_bytes,
                    pairwise: BTreeMap::new(),
                })
            }
            None => None,
        };
        Ok(Self {
            gid: gid.to_vec(),
            master_secret: Zeroizing::new(master_secret.to_vec()),
            master_salt: master_salt.to_vec(),
            common_iv,
            algorithms: encode_algorithms(params.aead, params.sign_alg, &params.countersign_params),
            sender,
            recipients: BTreeMap::new(),
            tick: 0,
        })
    }

    /// Creates the Recipient Context of member `kid` with `public_key`,
    /// evicting the least recently used one beyond `max`.
    // ref: groupcomm-08 §2.2, §7.2 (dynamic creation), §2.4 (bounded storage)
    pub fn add_recipient(
        &mut self,
        algs: &Algorithms,
        params: &GroupParams,
        kid: &[u8],
        public_key: &[u8],
    ) -> Result<(), GroupError> {
        let aead = algs.aead;
        if kid.len() > aead.nonce_len().saturating_sub(6) {
            return Err(
                oscore_core::Error::InvalidContext("Recipient ID longer than nonce length - 6").into()
            );
        }
        let verifying_key = algs.sig.verifying_key(public_key)?;
        let key_bytes = derive(
            algs,
            (&self.master_secret, &self.master_salt, &self.gid),
            params.aead,
            kid,
            KdfType::Key,
            aead.key_len(),
        )?;
        while self.recipients.len() >= params.max_recipients.max(1) {
            let Some(lru) = self.recipients.iter().min_by_key(|(_, r)| r.last_used).map(|(k, _)| k.clone())
            else {
                break;
            };
            self.recipients.remove(&lru);
        }
        self.tick += 1;
        self.recipients.insert(
            kid.to_vec(),
            Recipient {
                key: aead.prepare(&key_bytes)?,
                key_bytes,
                public_key: public_key.to_vec(),
                verifying_key,
                window: ReplayWindow::new(params.replay_window),
                synced: false,
                echo: None,
                pairwise: None,
                last_used: self.tick,
            },
        );
        Ok(())
    }

    /// Marks `kid` as used now (for LRU eviction).
    pub fn touch(&mut self, kid: &[u8]) {
        self.tick += 1;
        let tick = self.tick;
        if let Some(r) = self.recipients.get_mut(kid) {
            r.last_used = tick;
        }
    }
}
