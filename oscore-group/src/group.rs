//! A group member: protection and verification in signature, pairwise and
//! optimized mode (groupcomm-08 §7, §9, Appendix G), dynamic Recipient
//! Contexts, replay synchronisation (Appendix E) and rekeying (§2.4, §10.4).

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;
use coap_lite::{CoapOption, MessageClass, Packet, ResponseType};
use oscore_core::Error as CoreError;
use oscore_core::context::build_nonce;
use oscore_core::crypto::{
    AeadKey, AlgorithmId, CryptoProvider, CurveId, SigningKey, open_appended, seal_append,
};
use oscore_core::option::{MAX_PARTIAL_IV_LEN, OscoreOption, decode_partial_iv, encode_partial_iv};
use oscore_core::protect::{
    Prepared, RequestBinding, assemble_protected, decode_oscore_option, number, prepare_request,
    prepare_response, restore_request, restore_response,
};
use oscore_core::replay::{ReplayOutcome, ReplayState, ReplayWindow};
use oscore_core::store::{PersistedState, Store, take_sequence_number};
use zeroize::Zeroizing;

use crate::context::{Algorithms, Epoch, GroupParams, ReplaySync};
use crate::cose::{encryption_aad, to_be_signed};
use crate::error::GroupError;
use crate::pairwise::{Agreement, derive_pairwise_key};
use crate::resolver::KeyResolver;

/// Length of the Echo values this member sends (RFC 9175 §2.2.1 recommends
/// at least 8 unpredictable bytes for freshness).
pub const ECHO_LEN: usize = 8;

/// How a request is protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestMode {
    /// To the group: signature mode, or the optimized compressed request when
    /// the group is in optimized mode (§7.1, §9.1).
    Group,
    /// To one member, with the pairwise key shared with it (Appendix G.2).
    Pairwise {
        /// The Sender ID of the recipient.
        recipient: Vec<u8>,
    },
}

/// A sent request, against which every member's response is verified.
///
/// Several members may answer one group request; each is matched by its kid
/// and kept apart (one final response each, or increasing notifications).
#[derive(Debug)]
pub struct GroupRequest {
    kid: Vec<u8>,
    partial_iv: Vec<u8>,
    gid: Vec<u8>,
    observe: bool,
    pairwise_with: Option<Vec<u8>>,
    /// Per responding member: the Gid of its last verified response and the
    /// freshness state (final response seen, Notification Number).
    responders: BTreeMap<Vec<u8>, (Vec<u8>, RequestBinding)>,
}

impl GroupRequest {
    /// Our kid when the request was sent; it stays the `request_kid` of every
    /// response and notification, also after a rekey (§7.1.1, §7.4.1).
    pub fn kid(&self) -> &[u8] {
        &self.kid
    }
    /// The request's Partial IV.
    pub fn partial_iv(&self) -> &[u8] {
        &self.partial_iv
    }
    /// The Gid the request was protected under.
    pub fn gid(&self) -> &[u8] {
        &self.gid
    }
    /// Members that have answered so far.
    pub fn responders(&self) -> impl Iterator<Item = &[u8]> {
        self.responders.keys().map(Vec::as_slice)
    }
}

/// A verified response.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupResponse {
    /// The original response.
    pub message: Packet,
    /// The Sender ID of the member that answered.
    pub kid: Vec<u8>,
    /// The response was protected with pairwise keys (optimized or pairwise mode).
    pub pairwise: bool,
}

/// What a server needs to answer a verified request.
#[derive(Debug)]
pub struct ServerBinding {
    client_kid: Vec<u8>,
    partial_iv: Vec<u8>,
    gid: Vec<u8>,
    pairwise: bool,
    core: RequestBinding,
}

impl ServerBinding {
    /// The client's kid (kept for a whole observation, §7.2.1).
    pub fn client_kid(&self) -> &[u8] {
        &self.client_kid
    }
    /// The request's Partial IV.
    pub fn partial_iv(&self) -> &[u8] {
        &self.partial_iv
    }
    /// The request was protected in pairwise mode.
    pub fn is_pairwise(&self) -> bool {
        self.pairwise
    }
    /// The request registered an observation.
    pub fn is_observe(&self) -> bool {
        self.core.is_observe()
    }
    /// Answers this group request with an optimized response (pairwise key,
    /// Pairwise Flag, no signature; §9.2), whatever the group setting.
    pub fn respond_pairwise(&mut self) {
        self.pairwise = true;
    }
}

/// The result of verifying a request.
#[derive(Debug)]
pub enum RequestOutcome {
    /// Verified and fresh: hand it to the application.
    Deliver {
        /// The original request.
        request: Packet,
        /// The binding for the response(s).
        binding: ServerBinding,
    },
    /// Verified, but the client's sequence numbers are not synchronised yet
    /// (Appendix E.3): send this protected 4.01 with an Echo option back to
    /// the client instead of delivering.
    Challenge {
        /// The protected 4.01 (Unauthorized) response.
        response: Packet,
    },
    /// Verified, and used only to initialise the replay window of a newly
    /// seen client (Appendix E.2 with `deliver_first = false`); not delivered.
    Synchronized,
}

struct Retained {
    epoch: Epoch,
    until: u64,
}

/// A member of one OSCORE group.
pub struct Group {
    params: GroupParams,
    algs: Algorithms,
    provider: CryptoProvider,
    resolver: Box<dyn KeyResolver>,
    signing: Option<Box<dyn SigningKey>>,
    agreement: Option<Agreement>,
    current: Epoch,
    old: Option<Retained>,
    store: Box<dyn Store>,
    ssn: u64,
    persisted: PersistedState,
}

impl core::fmt::Debug for Group {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Group")
            .field("params", &self.params)
            .field("current", &self.current)
            .field("old", &self.old.as_ref().map(|o| (&o.epoch.gid, o.until)))
            .field("ssn", &self.ssn)
            .finish_non_exhaustive()
    }
}

/// The AEADs whose ciphertext is the plaintext XOR a keystream fixed by
/// (key, nonce): CCM, GCM and ChaCha20/Poly1305. Only these can recover the
/// tag of an optimized compressed request (§9.1.1).
fn keystream_aead(alg: AlgorithmId) -> bool {
    matches!(
        alg,
        AlgorithmId::AES_CCM_16_64_128
            | AlgorithmId::AES_CCM_16_128_128
            | AlgorithmId::A128GCM
            | AlgorithmId::A256GCM
            | AlgorithmId::CHACHA20_POLY1305
    )
}

/// The key-agreement curve for a signature curve (groupcomm-08 §3.1).
fn agreement_curve(sig_curve: CurveId) -> Option<CurveId> {
    match sig_curve {
        CurveId::ED25519 => Some(CurveId::X25519),
        CurveId::P256 => Some(CurveId::P256),
        _ => None,
    }
}

/// Recovers plaintext and full ciphertext of an optimized compressed request
/// (ciphertext without tag): encrypting the tag-less ciphertext XORs the
/// keystream away and gives the plaintext; encrypting that gives the
/// ciphertext back and its tag, which the countersignature covers.
// ref: groupcomm-08 §9.1.1; GROUP_NOTES.md (d) ("the receiver re-creates the tag")
fn open_without_tag(
    key: &dyn AeadKey,
    nonce: &[u8],
    aad: &[u8],
    ct_without_tag: &[u8],
    tag_len: usize,
) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), GroupError> {
    let mut plaintext = Zeroizing::new(ct_without_tag.to_vec());
    let mut tag = vec![0u8; tag_len];
    key.seal_detached(nonce, aad, &mut plaintext, &mut tag)?;
    let mut full = plaintext.to_vec();
    key.seal_detached(nonce, aad, &mut full, &mut tag)?;
    if full != ct_without_tag {
        return Err(CoreError::DecryptionFailed.into());
    }
    full.extend_from_slice(&tag);
    Ok((plaintext, full))
}

fn raw_option(msg: &Packet) -> &[u8] {
    msg.get_first_option(CoapOption::Oscore).map_or(&[], Vec::as_slice)
}

/// The replay window right after synchronising on sequence number `seq`:
/// `seq` is the reference point, and nothing at or below it is fresh
/// (App. E.2: later requests must be "fresher than the last one received").
// ref: groupcomm-08 App. E.1–E.3
fn synced_window(size: u32, seq: u64) -> ReplayWindow {
    ReplayWindow::from_state(size, ReplayState { highest: Some(seq), bitmap: u128::MAX })
}

/// The Echo option value of a message, if any (e.g. of a 4.01 challenge).
pub fn echo_value(msg: &Packet) -> Option<&[u8]> {
    msg.get_first_option(CoapOption::from(number::ECHO)).map(Vec::as_slice)
}

impl Group {
    /// Joins a group.
    ///
    /// `resolver` gives members' public keys (the Group Manager role); `store`
    /// persists our sender sequence number for this group context (App. B.1.1),
    /// so a restart never reuses a nonce.
    ///
    /// # Errors
    /// Unsupported or incompatible algorithms, an invalid private key, an ID
    /// too long for the nonce, or a store that cannot be read.
    pub fn new(
        provider: &CryptoProvider,
        params: GroupParams,
        resolver: Box<dyn KeyResolver>,
        mut store: Box<dyn Store>,
    ) -> Result<Self, GroupError> {
        let algs = Algorithms::resolve(provider, &params)?;
        if params.optimized && !keystream_aead(params.aead) {
            return Err(GroupError::UnsupportedAlgorithm(params.aead));
        }
        if params.sender_id.is_some() != params.private_key.is_some() {
            return Err(CoreError::InvalidContext("a sender needs both a Sender ID and a private key").into());
        }
        let signing = match &params.private_key {
            Some(k) => Some(algs.sig.signing_key(k)?),
            None => None,
        };
        let agreement = match (&params.private_key, params.pairwise) {
            (Some(k), true) => {
                let curve = agreement_curve(algs.sig.curve())
                    .ok_or(GroupError::UnsupportedAlgorithm(params.sign_alg))?;
                let ka =
                    provider.key_agreement(curve).ok_or(GroupError::UnsupportedAlgorithm(params.sign_alg))?;
                Some(Agreement::new(ka, algs.sig.curve(), k, params.max_recipients.saturating_mul(2))?)
            }
            _ => None,
        };
        let current = Epoch::derive(
            &algs,
            &params,
            &params.gid.clone(),
            &params.master_secret.clone(),
            &params.master_salt.clone(),
        )?;
        let persisted = store.load().map_err(CoreError::Store)?.unwrap_or_default();
        Ok(Self {
            ssn: persisted.ssn_bound,
            persisted,
            store,
            current,
            old: None,
            agreement,
            signing,
            resolver,
            provider: *provider,
            algs,
            params,
        })
    }

    /// The current Gid.
    pub fn gid(&self) -> &[u8] {
        &self.current.gid
    }

    /// The group's settings.
    pub fn params(&self) -> &GroupParams {
        &self.params
    }

    /// Our next sender sequence number.
    pub fn sequence_number(&self) -> u64 {
        self.ssn
    }

    /// Number of Recipient Contexts in the current group context.
    pub fn recipient_count(&self) -> usize {
        self.current.recipients.len()
    }

    /// True if the current group context has a Recipient Context for `kid`.
    pub fn has_recipient(&self, kid: &[u8]) -> bool {
        self.current.recipients.contains_key(kid)
    }

    /// The replay window of `kid` in the current group context.
    pub fn replay_window(&self, kid: &[u8]) -> Option<&ReplayWindow> {
        self.current.recipients.get(kid).map(|r| &r.window)
    }

    /// Installs a new group context (§2.4): new Gid and Master Secret (and
    /// Master Salt, empty if the Group Manager sends none), the same Sender
    /// ID and keys. All pairwise keys are deleted (§3.1); shared secrets are
    /// kept (they do not depend on the group keys). The old context is
    /// retained for `retention` seconds to verify late responses (§10.4.1);
    /// requests are only accepted under the newest context.
    ///
    /// `store` persists the sequence number of the new context, which starts
    /// from its stored bound (0 for a new one).
    ///
    /// # Errors
    /// As [`Group::new`].
    pub fn rekey(
        &mut self,
        gid: &[u8],
        master_secret: &[u8],
        master_salt: &[u8],
        mut store: Box<dyn Store>,
        now: u64,
    ) -> Result<(), GroupError> {
        let epoch = Epoch::derive(&self.algs, &self.params, gid, master_secret, master_salt)?;
        let persisted = store.load().map_err(CoreError::Store)?.unwrap_or_default();
        let mut old = core::mem::replace(&mut self.current, epoch);
        // ref: groupcomm-08 §3.1 ("every group member MUST delete all its pairwise keys")
        if let Some(s) = old.sender.as_mut() {
            s.pairwise.clear();
        }
        for r in old.recipients.values_mut() {
            r.pairwise = None;
        }
        self.old = (self.params.retention > 0)
            .then(|| Retained { epoch: old, until: now.saturating_add(self.params.retention) });
        self.params.gid = gid.to_vec();
        self.params.master_secret = Zeroizing::new(master_secret.to_vec());
        self.params.master_salt = master_salt.to_vec();
        self.store = store;
        self.ssn = persisted.ssn_bound;
        self.persisted = persisted;
        Ok(())
    }

    fn expire_old(&mut self, now: u64) {
        if self.old.as_ref().is_some_and(|o| now >= o.until) {
            self.old = None;
        }
    }

    /// Takes the next sender sequence number, persisting the bound ahead.
    // ref: groupcomm-08 §2.5 (exhaustion: no further messages), RFC 8613 App. B.1.1
    fn take_ssn(&mut self) -> Result<u64, GroupError> {
        Ok(take_sequence_number(
            &mut self.ssn,
            &mut self.persisted,
            self.params.persist_step,
            &mut *self.store,
        )?)
    }

    fn nonce(&self, epoch: &Epoch, id: &[u8], piv: &[u8]) -> Result<Vec<u8>, GroupError> {
        let mut nonce = vec![0u8; self.algs.aead.nonce_len()];
        build_nonce(&epoch.common_iv, id, piv, &mut nonce)?;
        Ok(nonce)
    }

    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, GroupError> {
        let key = self.signing.as_ref().ok_or(GroupError::SilentServer)?;
        let mut sig = vec![0u8; self.algs.sig.signature_len()];
        key.sign(tbs, &mut sig)?;
        Ok(sig)
    }

    /// Makes sure `epoch` has a Recipient Context for `kid`, resolving its
    /// public key if needed. Returns true if it was created now.
    fn ensure_recipient(&mut self, use_current: bool, kid: &[u8]) -> Result<bool, GroupError> {
        let epoch = if use_current {
            &self.current
        } else {
            &self.old.as_ref().ok_or(GroupError::UnknownGroup)?.epoch
        };
        if epoch.recipients.contains_key(kid) {
            return Ok(false);
        }
        let gid = epoch.gid.clone();
        let public_key = self.resolver.public_key(&gid, kid).ok_or(GroupError::UnknownSender)?;
        let (algs, params) = (self.algs, &self.params);
        let epoch = if use_current {
            &mut self.current
        } else {
            &mut self.old.as_mut().ok_or(GroupError::UnknownGroup)?.epoch
        };
        epoch.add_recipient(&algs, params, kid, &public_key)?;
        Ok(true)
    }

    /// Makes sure the pairwise key of `sender_kid` toward the other party
    /// exists in `epoch` (ours toward `peer` if `outgoing`, else the peer's
    /// toward us).
    // ref: groupcomm-08 §3.1, §3.3
    fn ensure_pairwise(&mut self, use_current: bool, peer: &[u8], outgoing: bool) -> Result<(), GroupError> {
        if !self.params.pairwise {
            return Err(GroupError::PairwiseUnsupported);
        }
        if !use_current {
            // Pairwise keys of a replaced context were deleted (§3.1).
            return Err(GroupError::UnknownGroup);
        }
        let agreement = self.agreement.as_mut().ok_or(GroupError::PairwiseUnsupported)?;
        let epoch = &mut self.current;
        let recipient = epoch.recipients.get(peer).ok_or(GroupError::UnknownSender)?;
        let have = if outgoing {
            epoch.sender.as_ref().is_some_and(|s| s.pairwise.contains_key(peer))
        } else {
            recipient.pairwise.is_some()
        };
        if have {
            return Ok(());
        }
        let shared = agreement.shared_secret(&recipient.public_key)?;
        let aead = self.algs.aead;
        if outgoing {
            let sender = epoch.sender.as_mut().ok_or(GroupError::SilentServer)?;
            let key = derive_pairwise_key(
                self.algs.hkdf,
                self.params.aead,
                aead.key_len(),
                &sender.key_bytes,
                &shared,
                &sender.id,
                &epoch.gid,
            )?;
            sender.pairwise.insert(peer.to_vec(), aead.prepare(&key)?);
        } else {
            let gid = epoch.gid.clone();
            let recipient = epoch.recipients.get_mut(peer).ok_or(GroupError::UnknownSender)?;
            let key = derive_pairwise_key(
                self.algs.hkdf,
                self.params.aead,
                aead.key_len(),
                &recipient.key_bytes,
                &shared,
                peer,
                &gid,
            )?;
            recipient.pairwise = Some(aead.prepare(&key)?);
        }
        Ok(())
    }

    /// Protects a request (§7.1; optimized §9.1.1; pairwise G.2).
    ///
    /// # Errors
    /// [`GroupError::SilentServer`] without a Sender Context;
    /// [`GroupError::PairwiseUnsupported`] / [`GroupError::UnknownSender`] for a
    /// pairwise request to a member without a known key; sequence-number
    /// exhaustion and store failures as [`GroupError::Core`].
    pub fn protect_request(
        &mut self,
        request: &Packet,
        mode: RequestMode,
        now: u64,
    ) -> Result<(Packet, GroupRequest), GroupError> {
        self.expire_old(now);
        let mut prepared = prepare_request(request)?;
        let sender_id = self.current.sender.as_ref().ok_or(GroupError::SilentServer)?.id.clone();
        let pairwise_with = match &mode {
            RequestMode::Group => None,
            RequestMode::Pairwise { recipient } => {
                self.ensure_recipient(true, recipient)?;
                self.ensure_pairwise(true, recipient, true)?;
                Some(recipient.clone())
            }
        };
        let ssn = self.take_ssn()?;
        let mut piv_buf = [0u8; MAX_PARTIAL_IV_LEN];
        let piv_len = encode_partial_iv(ssn, &mut piv_buf);
        let piv = piv_buf.get(..piv_len).unwrap_or(&[]).to_vec();
        // ref: groupcomm-08 §4.2 (kid and kid context always in requests), §5 (Pairwise Flag)
        let option = OscoreOption {
            partial_iv: Some(piv.clone()),
            kid_context: Some(self.current.gid.clone()),
            kid: Some(sender_id.clone()),
            pairwise: pairwise_with.is_some(),
            ..OscoreOption::default()
        };
        let option_value = option.encode()?;
        let payload = self.seal_message(
            &mut prepared,
            &sender_id,
            &piv,
            &sender_id,
            &piv,
            pairwise_with.as_deref(),
            &option_value,
            self.params.optimized && pairwise_with.is_none(),
        )?;
        let packet = assemble_protected(request, &prepared, &option_value, payload);
        Ok((
            packet,
            GroupRequest {
                kid: sender_id,
                partial_iv: piv,
                gid: self.current.gid.clone(),
                observe: prepared.observe_registration,
                pairwise_with,
                responders: BTreeMap::new(),
            },
        ))
    }

    /// Encrypts (and signs) a prepared message under the current context.
    ///
    /// `nonce_id`/`nonce_piv` make the nonce; `request_kid`/`request_piv` go
    /// into the external_aad; `own_piv` is the Partial IV a response carries.
    /// With `pairwise_peer` the pairwise key toward that member is used and
    /// nothing is signed; otherwise the countersignature is appended (after
    /// the ciphertext without tag when `optimized_request`).
    #[allow(clippy::too_many_arguments)]
    fn seal_message(
        &mut self,
        prepared: &mut Prepared,
        request_kid: &[u8],
        request_piv: &[u8],
        nonce_id: &[u8],
        nonce_piv: &[u8],
        pairwise_peer: Option<&[u8]>,
        option_value: &[u8],
        optimized_request: bool,
    ) -> Result<Vec<u8>, GroupError> {
        let epoch = &self.current;
        let sender = epoch.sender.as_ref().ok_or(GroupError::SilentServer)?;
        let tag_len = self.algs.aead.tag_len();
        let mut aad = Vec::with_capacity(48 + request_kid.len() + request_piv.len());
        encryption_aad(&epoch.algorithms, request_kid, request_piv, &mut aad);
        let nonce = self.nonce(epoch, nonce_id, nonce_piv)?;
        let mut ct = core::mem::take(&mut prepared.plaintext);
        match pairwise_peer {
            Some(peer) => {
                let key = sender.pairwise.get(peer).ok_or(GroupError::UnknownSender)?;
                seal_append(&**key, tag_len, &nonce, &aad, &mut ct)?;
                Ok(ct)
            }
            None => {
                seal_append(&*sender.key, tag_len, &nonce, &aad, &mut ct)?;
                let mut scratch = Vec::new();
                let mut tbs = Vec::with_capacity(ct.len() + 96);
                to_be_signed(
                    &epoch.algorithms,
                    request_kid,
                    request_piv,
                    option_value,
                    &ct,
                    &mut scratch,
                    &mut tbs,
                );
                let sig = self.sign(&tbs)?;
                if optimized_request {
                    // ref: groupcomm-08 §9.1.1 (ciphertext without the tag, then the signature)
                    ct.truncate(ct.len() - tag_len);
                }
                ct.extend_from_slice(&sig);
                Ok(ct)
            }
        }
    }

    /// Verifies a request (§7.2; optimized §9.1.1; pairwise G.2) and applies
    /// the group's synchronisation method (Appendix E).
    ///
    /// On any error nothing moves: no replay window, no sequence number; a
    /// Recipient Context created for this message is removed again (§7.2).
    ///
    /// # Errors
    /// The reason the message is dropped; [`GroupError::response_code`] says
    /// whether anything is to be answered (normally not).
    pub fn verify_request(&mut self, request: &Packet, now: u64) -> Result<RequestOutcome, GroupError> {
        self.expire_old(now);
        if !matches!(request.header.code, MessageClass::Request(_)) {
            return Err(CoreError::MalformedMessage("not a request").into());
        }
        let option = decode_oscore_option(request)?;
        let piv =
            option.partial_iv.clone().ok_or(CoreError::MalformedOption("request without Partial IV"))?;
        let kid = option.kid.clone().ok_or(CoreError::MalformedOption("request without kid"))?;
        let gid = option
            .kid_context
            .clone()
            .ok_or(CoreError::MalformedOption("group request without kid context"))?;
        if gid != self.current.gid {
            // ref: groupcomm-08 §10.4.1 (a server discards a request not processed
            // with the new context)
            return Err(GroupError::UnknownGroup);
        }
        if self.current.sender.as_ref().is_some_and(|s| s.id == kid) {
            return Err(GroupError::OwnSenderId);
        }
        if option.pairwise && (!self.params.pairwise || self.agreement.is_none()) {
            return Err(GroupError::PairwiseUnsupported);
        }
        let seq = decode_partial_iv(&piv)?;
        let created = self.ensure_recipient(true, &kid)?;
        let result = self.verify_request_inner(request, &option, &kid, &piv, seq);
        let (restored, pairwise) = match result {
            Ok(ok) => ok,
            Err(e) => {
                if created {
                    // ref: groupcomm-08 §7.2 ("MAY delete that Recipient Context")
                    self.current.recipients.remove(&kid);
                }
                return Err(e);
            }
        };
        self.current.touch(&kid);
        let binding = ServerBinding {
            client_kid: kid.clone(),
            partial_iv: piv.clone(),
            gid: gid.clone(),
            pairwise,
            core: RequestBinding::new(&kid, &piv, restored.observe_registration),
        };
        let recipient = self.current.recipients.get_mut(&kid).ok_or(GroupError::UnknownSender)?;
        if recipient.synced {
            recipient.window.accept(seq);
            return Ok(RequestOutcome::Deliver { request: restored.message, binding });
        }
        let size = self.params.replay_window;
        match self.params.sync {
            ReplaySync::BestEffort | ReplaySync::Baseline { deliver_first: true } => {
                recipient.window = synced_window(size, seq);
                recipient.synced = true;
                Ok(RequestOutcome::Deliver { request: restored.message, binding })
            }
            ReplaySync::Baseline { deliver_first: false } => {
                recipient.window = synced_window(size, seq);
                recipient.synced = true;
                Ok(RequestOutcome::Synchronized)
            }
            ReplaySync::EchoChallenge => {
                let echoed = echo_value(&restored.message);
                if let (Some(sent), Some(got)) = (recipient.echo.as_deref(), echoed)
                    && bool::from(subtle::ConstantTimeEq::ct_eq(sent, got))
                {
                    // ref: groupcomm-08 App. E.3: the window is set from this request
                    recipient.window = synced_window(size, seq);
                    recipient.synced = true;
                    recipient.echo = None;
                    return Ok(RequestOutcome::Deliver { request: restored.message, binding });
                }
                if self.current.sender.is_none() {
                    // ref: App. E.3 (silent servers cannot challenge)
                    return Err(GroupError::SilentServer);
                }
                let mut echo = vec![0u8; ECHO_LEN];
                self.provider.random.fill(&mut echo)?;
                if let Some(r) = self.current.recipients.get_mut(&kid) {
                    r.echo = Some(echo.clone());
                }
                let mut challenge = Packet::new();
                challenge.header = request.header.clone();
                challenge.header.code = MessageClass::Response(ResponseType::Unauthorized);
                challenge.set_token(request.get_token().to_vec());
                challenge.add_option(CoapOption::from(number::ECHO), echo);
                let mut binding = binding;
                let response = self.protect_response(&challenge, &mut binding, now)?;
                Ok(RequestOutcome::Challenge { response })
            }
        }
    }

    /// Decrypts and verifies a request whose recipient exists; moves nothing.
    fn verify_request_inner(
        &mut self,
        request: &Packet,
        option: &OscoreOption,
        kid: &[u8],
        piv: &[u8],
        seq: u64,
    ) -> Result<(oscore_core::protect::Restored, bool), GroupError> {
        {
            let recipient = self.current.recipients.get(kid).ok_or(GroupError::UnknownSender)?;
            if recipient.synced {
                match recipient.window.check(seq) {
                    ReplayOutcome::Fresh => {}
                    other => return Err(CoreError::Replay(other).into()),
                }
            }
        }
        if option.pairwise {
            self.ensure_pairwise(true, kid, false)?;
        }
        let plaintext = self.open_message(
            true,
            request,
            option.pairwise,
            kid,
            (kid, piv),
            kid,
            piv,
            self.params.optimized,
        )?;
        Ok((restore_request(request, &plaintext)?, option.pairwise))
    }

    /// Decrypts (and verifies the countersignature of) a received message
    /// with the Recipient Context of `sender_kid` in the chosen context.
    #[allow(clippy::too_many_arguments)] // the COSE inputs are distinct byte strings
    fn open_message(
        &self,
        use_current: bool,
        msg: &Packet,
        pairwise: bool,
        sender_kid: &[u8],
        (nonce_id, nonce_piv): (&[u8], &[u8]),
        request_kid: &[u8],
        request_piv: &[u8],
        optimized_request: bool,
    ) -> Result<Zeroizing<Vec<u8>>, GroupError> {
        let epoch = if use_current {
            &self.current
        } else {
            &self.old.as_ref().ok_or(GroupError::UnknownGroup)?.epoch
        };
        let recipient = epoch.recipients.get(sender_kid).ok_or(GroupError::UnknownSender)?;
        let tag_len = self.algs.aead.tag_len();
        let mut aad = Vec::with_capacity(48 + request_kid.len() + request_piv.len());
        encryption_aad(&epoch.algorithms, request_kid, request_piv, &mut aad);
        let nonce = self.nonce(epoch, nonce_id, nonce_piv)?;
        if pairwise {
            let key = recipient.pairwise.as_ref().ok_or(GroupError::PairwiseUnsupported)?;
            return open_appended(&**key, tag_len, &nonce, &aad, &msg.payload)
                .map_err(|_| CoreError::DecryptionFailed.into());
        }
        let sig_len = self.algs.sig.signature_len();
        let split = msg.payload.len().checked_sub(sig_len).ok_or(CoreError::DecryptionFailed)?;
        let (body, signature) = msg.payload.split_at(split);
        let (plaintext, full_ct) = if optimized_request {
            open_without_tag(&*recipient.key, &nonce, &aad, body, tag_len)?
        } else {
            (
                open_appended(&*recipient.key, tag_len, &nonce, &aad, body)
                    .map_err(|_| CoreError::DecryptionFailed)?,
                body.to_vec(),
            )
        };
        let mut scratch = Vec::new();
        let mut tbs = Vec::with_capacity(full_ct.len() + 96);
        to_be_signed(
            &epoch.algorithms,
            request_kid,
            request_piv,
            raw_option(msg),
            &full_ct,
            &mut scratch,
            &mut tbs,
        );
        recipient.verifying_key.verify(&tbs, signature).map_err(|_| GroupError::BadSignature)?;
        Ok(plaintext)
    }

    /// Protects a response to a verified request (§7.3; optimized §9.2;
    /// pairwise G.3), always with the newest context.
    ///
    /// The response carries our kid (§4.2) and its own Partial IV when it is a
    /// notification, follows a rekey (then also the new Gid as kid context,
    /// §7.3), the group uses best-effort synchronisation (E.1), or the
    /// request nonce was already used for a response.
    ///
    /// # Errors
    /// [`GroupError::SilentServer`] without a Sender Context; exhaustion and
    /// store failures as [`GroupError::Core`].
    pub fn protect_response(
        &mut self,
        response: &Packet,
        binding: &mut ServerBinding,
        now: u64,
    ) -> Result<Packet, GroupError> {
        self.expire_old(now);
        let mut prepared = prepare_response(response, binding.core.is_observe())?;
        let sender_id = self.current.sender.as_ref().ok_or(GroupError::SilentServer)?.id.clone();
        let rekeyed = binding.gid != self.current.gid;
        // ref: groupcomm-08 §9.2 (optimized responses), G.3 (pairwise responses)
        let pairwise = binding.pairwise || (self.params.optimized && self.params.pairwise);
        if pairwise {
            self.ensure_recipient(true, &binding.client_kid)?;
            self.ensure_pairwise(true, &binding.client_kid, true)?;
        }
        // ref: groupcomm-08 §7.3 (new context → own PIV), App. E.1, RFC 8613 §4.1.3.5.2
        let own_piv = prepared.notification
            || rekeyed
            || self.params.sync == ReplaySync::BestEffort
            || !binding.core.take_request_nonce();
        let own = if own_piv {
            let mut buf = [0u8; MAX_PARTIAL_IV_LEN];
            let len = encode_partial_iv(self.take_ssn()?, &mut buf);
            Some(buf.get(..len).unwrap_or(&[]).to_vec())
        } else {
            None
        };
        let option = OscoreOption {
            partial_iv: own.clone(),
            kid_context: rekeyed.then(|| self.current.gid.clone()),
            kid: Some(sender_id.clone()),
            pairwise,
            ..OscoreOption::default()
        };
        let option_value = option.encode()?;
        let (nonce_id, nonce_piv) = match &own {
            Some(piv) => (sender_id.clone(), piv.clone()),
            None => (binding.client_kid.clone(), binding.partial_iv.clone()),
        };
        let peer = binding.client_kid.clone();
        let payload = self.seal_message(
            &mut prepared,
            &binding.client_kid.clone(),
            &binding.partial_iv.clone(),
            &nonce_id,
            &nonce_piv,
            pairwise.then_some(peer.as_slice()),
            &option_value,
            false,
        )?;
        Ok(assemble_protected(response, &prepared, &option_value, payload))
    }

    /// Verifies one member's response to `request` (§7.4; optimized §9.2;
    /// pairwise G.3). Each member may send one final response, or
    /// notifications with increasing Partial IVs for an observation.
    ///
    /// A response is tried with the context its kid context names, else with
    /// the request's context and then the other one (current or retained,
    /// §10.4.1).
    ///
    /// # Errors
    /// The reason the response is dropped.
    pub fn verify_response(
        &mut self,
        response: &Packet,
        request: &mut GroupRequest,
        now: u64,
    ) -> Result<GroupResponse, GroupError> {
        self.expire_old(now);
        if !matches!(response.header.code, MessageClass::Response(_) | MessageClass::Reserved(_)) {
            return Err(CoreError::MalformedMessage("not a response").into());
        }
        let option = decode_oscore_option(response)?;
        // ref: groupcomm-08 §4.2 (kid always present in responses)
        let kid = option.kid.clone().ok_or(CoreError::MalformedOption("group response without kid"))?;
        if option.pairwise && (!self.params.pairwise || self.agreement.is_none()) {
            return Err(GroupError::PairwiseUnsupported);
        }
        if request.pairwise_with.as_ref().is_some_and(|p| *p != kid) {
            return Err(GroupError::ResponseMismatch);
        }
        let old_gid = self.old.as_ref().map(|o| o.epoch.gid.clone());
        let candidates: Vec<bool> = match &option.kid_context {
            Some(g) if *g == self.current.gid => vec![true],
            Some(g) if old_gid.as_ref() == Some(g) => vec![false],
            Some(_) => return Err(GroupError::UnknownGroup),
            None if old_gid.as_ref() == Some(&request.gid) => vec![false, true],
            None if self.old.is_some() => vec![true, false],
            None => vec![true],
        };
        let mut first_error = None;
        for use_current in candidates {
            match self.verify_response_in(use_current, response, &option, &kid, request) {
                Ok(r) => return Ok(r),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or(GroupError::UnknownGroup))
    }

    fn verify_response_in(
        &mut self,
        use_current: bool,
        response: &Packet,
        option: &OscoreOption,
        kid: &[u8],
        request: &mut GroupRequest,
    ) -> Result<GroupResponse, GroupError> {
        let created = self.ensure_recipient(use_current, kid)?;
        let epoch_gid = if use_current {
            self.current.gid.clone()
        } else {
            self.old.as_ref().map(|o| o.epoch.gid.clone()).unwrap_or_default()
        };
        let current_gid = self.current.gid.clone();
        let result = (|| {
            let seq = option.partial_iv.as_deref().map(decode_partial_iv).transpose()?;
            let fresh = || RequestBinding::new(&request.kid, &request.partial_iv, request.observe);
            // Notification Numbers compare Partial IVs of one Sender Context:
            // a response under a newer group context starts a new sequence,
            // one under an older context than the last accepted is stale.
            // ref: RFC 8613 §7.4.1; groupcomm-08 §7.3.1, §7.4.1
            let keep = match request.responders.get(kid) {
                None => false,
                Some((gid, b)) if *gid == epoch_gid => {
                    b.check_fresh(seq)?;
                    true
                }
                Some((_, b)) if b.is_completed() => {
                    return Err(CoreError::Replay(ReplayOutcome::Replayed).into());
                }
                Some((gid, _)) if *gid == current_gid => {
                    return Err(CoreError::Replay(ReplayOutcome::TooOld).into());
                }
                Some(_) => false,
            };
            if !keep {
                fresh().check_fresh(seq)?;
            }
            if option.pairwise {
                self.ensure_pairwise(use_current, kid, false)?;
            }
            let (nonce_id, nonce_piv) = match option.partial_iv.as_deref() {
                Some(piv) => (kid, piv),
                None => (request.kid.as_slice(), request.partial_iv.as_slice()),
            };
            let plaintext = self.open_message(
                use_current,
                response,
                option.pairwise,
                kid,
                (nonce_id, nonce_piv),
                &request.kid,
                &request.partial_iv,
                false,
            )?;
            let restored = restore_response(response, &plaintext, option.partial_iv.as_deref())?;
            let mut binding = match request.responders.remove(kid) {
                Some((_, b)) if keep => b,
                other => {
                    // Put a replaced entry back until this response is recorded.
                    if let Some(entry) = other {
                        request.responders.insert(kid.to_vec(), entry);
                    }
                    fresh()
                }
            };
            let recorded = binding.record(seq, restored.inner_observe);
            if recorded.is_ok() || keep {
                request.responders.insert(kid.to_vec(), (epoch_gid.clone(), binding));
            }
            recorded?;
            Ok(GroupResponse { message: restored.message, kid: kid.to_vec(), pairwise: option.pairwise })
        })();
        match &result {
            Ok(_) => {
                if use_current {
                    self.current.touch(kid);
                }
            }
            Err(_) if created => {
                let epoch = if use_current {
                    Some(&mut self.current)
                } else {
                    self.old.as_mut().map(|o| &mut o.epoch)
                };
                if let Some(e) = epoch {
                    e.recipients.remove(kid);
                }
            }
            Err(_) => {}
        }
        result
    }
}

/// Builds a Gid from a Group Prefix and a Group Epoch (Appendix C): the
/// prefix bytes followed by the epoch as a big-endian unsigned integer of
/// `epoch_len` bytes (the epoch wraps modulo 2^(8·epoch_len)).
pub fn gid_from_prefix_epoch(prefix: &[u8], epoch: u64, epoch_len: usize) -> Vec<u8> {
    let bytes = epoch.to_be_bytes();
    let len = epoch_len.min(bytes.len());
    let mut gid = prefix.to_vec();
    gid.extend_from_slice(bytes.get(bytes.len() - len..).unwrap_or(&[]));
    gid
}
