//! The durable [`Persistence`] of oscore-keyupdate on the redb [`StateDb`]:
//! one store per security context a key update establishes, and the saved
//! key-update session.
//!
//! Rows, for a configured context whose row key is `K` (see
//! [`context_key`]):
//! - `K` in `oscore_contexts`: the configured context itself (its Master
//!   Salt is the one of the file), as before key update existed, so existing
//!   state directories keep their sequence numbers;
//! - `K/ku/hex(N)` in `oscore_contexts`: a context made by `updateCtx()`,
//!   whose Master Salt N = R1|R2 is fresh randomness of both peers;
//! - `K` in `oscore_keyupdate_sessions`: the [`SessionState`] (current,
//!   pending and retained contexts, an offered R1). It holds Master Secrets
//!   of updated contexts: the database file is made readable by its owner
//!   only.
//!
//! Rows of old contexts are kept (about 50 bytes each, one per update):
//! deleting one that could be used again would restart its sequence number.

use std::sync::Arc;

use oscore_core::crypto::AlgorithmId;
use oscore_core::store::{Store, StoreError};
use oscore_core::{ContextParams, KeyLimits};
use oscore_keyupdate::{Persistence, SessionState, StoreFactory};
use zeroize::Zeroizing;

use crate::store::{RedbStore, StateDb, context_key};

const SESSION_VERSION: u8 = 1;

/// [`Persistence`] for one configured context inside a [`StateDb`].
#[derive(Debug)]
pub struct RedbPersistence {
    db: Arc<StateDb>,
    key: String,
    initial_salt: Vec<u8>,
}

impl RedbPersistence {
    /// The persistence of the context configured as `initial`.
    pub fn new(db: Arc<StateDb>, initial: &ContextParams) -> Self {
        Self { db, key: context_key(initial), initial_salt: initial.master_salt.clone() }
    }
}

impl StoreFactory for RedbPersistence {
    fn context_store(&mut self, master_salt: &[u8]) -> Result<Box<dyn Store>, StoreError> {
        let key = if master_salt == self.initial_salt.as_slice() {
            self.key.clone()
        } else {
            format!("{}/ku/{}", self.key, hex::encode(master_salt))
        };
        Ok(Box::new(RedbStore::with_key(Arc::clone(&self.db), key)))
    }
}

impl Persistence for RedbPersistence {
    fn load_session(&mut self) -> Result<Option<SessionState>, StoreError> {
        match self.db.read_session(&self.key)? {
            None => Ok(None),
            Some(bytes) => decode_session(&bytes).map(Some),
        }
    }

    fn save_session(&mut self, session: &SessionState) -> Result<(), StoreError> {
        self.db.write_session(&self.key, &encode_session(session))
    }
}

/// Encodes a session: a version byte, then each field; byte strings are
/// u16-length-prefixed, options a 0/1 tag, integers big-endian.
pub fn encode_session(s: &SessionState) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(vec![SESSION_VERSION]);
    put_params(&mut out, &s.current);
    put_opt(&mut out, s.pending.as_ref(), put_params);
    put_opt(&mut out, s.pending_r1_seq.as_ref(), |o, v| o.extend_from_slice(&v.to_be_bytes()));
    put_opt(&mut out, s.retained.as_ref(), |o, (p, until)| {
        put_params(o, p);
        o.extend_from_slice(&until.to_be_bytes());
    });
    put_opt(&mut out, s.offered_r1.as_ref(), |o, (r1, n)| {
        put_bytes(o, r1);
        o.extend_from_slice(&n.to_be_bytes());
    });
    out
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    // Every byte string here is an OSCORE parameter of at most a few dozen
    // bytes; a longer one is cut, and then fails to decode.
    let len = u16::try_from(b.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(b.get(..usize::from(len)).unwrap_or(b));
}

fn put_opt<T>(out: &mut Vec<u8>, v: Option<&T>, put: impl FnOnce(&mut Vec<u8>, &T)) {
    match v {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            put(out, v);
        }
    }
}

fn put_params(out: &mut Vec<u8>, p: &ContextParams) {
    put_bytes(out, &p.master_secret);
    put_bytes(out, &p.master_salt);
    put_bytes(out, &p.sender_id);
    put_bytes(out, &p.recipient_id);
    put_opt(out, p.id_context.as_ref(), |o, c| put_bytes(o, c));
    out.extend_from_slice(&p.aead.0.to_be_bytes());
    out.extend_from_slice(&p.hkdf.0.to_be_bytes());
    out.extend_from_slice(&p.replay_window.to_be_bytes());
    out.extend_from_slice(&p.persist_step.to_be_bytes());
    out.extend_from_slice(&p.limits.limit_q.to_be_bytes());
    out.extend_from_slice(&p.limits.limit_v.to_be_bytes());
    put_opt(out, p.limits.exp.as_ref(), |o, e| o.extend_from_slice(&e.to_be_bytes()));
}

struct Reader<'a>(&'a [u8]);

const SHORT: StoreError = StoreError("stored key-update session is truncated");

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], StoreError> {
        let (head, rest) = self.0.split_first_chunk::<N>().ok_or(SHORT)?;
        self.0 = rest;
        Ok(*head)
    }
    fn u64(&mut self) -> Result<u64, StoreError> {
        self.take::<8>().map(u64::from_be_bytes)
    }
    fn bytes(&mut self) -> Result<Vec<u8>, StoreError> {
        let len = usize::from(u16::from_be_bytes(self.take::<2>()?));
        let (head, rest) = self.0.split_at_checked(len).ok_or(SHORT)?;
        self.0 = rest;
        Ok(head.to_vec())
    }
    fn opt<T>(
        &mut self,
        get: impl FnOnce(&mut Self) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        match self.take::<1>()? {
            [0] => Ok(None),
            [1] => get(self).map(Some),
            _ => Err(StoreError("stored key-update session has an invalid tag")),
        }
    }
    fn params(&mut self) -> Result<ContextParams, StoreError> {
        let secret = Zeroizing::new(self.bytes()?);
        let salt = self.bytes()?;
        let sender_id = self.bytes()?;
        let recipient_id = self.bytes()?;
        let id_context = self.opt(Self::bytes)?;
        let mut p = ContextParams::new(&secret, &sender_id, &recipient_id)
            .with_master_salt(&salt)
            .with_id_context(id_context.as_deref());
        p.aead = AlgorithmId(i32::from_be_bytes(self.take::<4>()?));
        p.hkdf = AlgorithmId(i32::from_be_bytes(self.take::<4>()?));
        p.replay_window = u32::from_be_bytes(self.take::<4>()?);
        p.persist_step = self.u64()?;
        let limit_q = self.u64()?;
        let limit_v = self.u64()?;
        let exp = self.opt(Self::u64)?;
        p.limits = KeyLimits { limit_q, limit_v, exp };
        Ok(p)
    }
}

/// Decodes what [`encode_session`] wrote; a corrupted row fails cleanly.
///
/// # Errors
/// [`StoreError`] for a wrong version, a bad tag or a wrong length.
pub fn decode_session(bytes: &[u8]) -> Result<SessionState, StoreError> {
    let mut r = Reader(bytes);
    if r.take::<1>()? != [SESSION_VERSION] {
        return Err(StoreError("stored key-update session has an unknown version"));
    }
    let current = r.params()?;
    let pending = r.opt(Reader::params)?;
    let pending_r1_seq = r.opt(Reader::u64)?;
    let retained = r.opt(|r| Ok((r.params()?, r.u64()?)))?;
    let offered_r1 = r.opt(|r| Ok((r.bytes()?, r.u64()?)))?;
    if !r.0.is_empty() {
        return Err(StoreError("stored key-update session has trailing bytes"));
    }
    Ok(SessionState { current, pending, pending_r1_seq, retained, offered_r1 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn params(salt: &[u8], exp: Option<u64>) -> ContextParams {
        ContextParams::new(&[3; 16], b"", b"\x01")
            .with_master_salt(salt)
            .with_id_context(Some(b"\xab"))
            .with_limits(KeyLimits { limit_q: 8, limit_v: 1023, exp })
    }

    fn same(a: &ContextParams, b: &ContextParams) -> bool {
        a.master_secret == b.master_secret
            && a.master_salt == b.master_salt
            && a.sender_id == b.sender_id
            && a.recipient_id == b.recipient_id
            && a.id_context == b.id_context
            && a.aead == b.aead
            && a.hkdf == b.hkdf
            && a.replay_window == b.replay_window
            && a.persist_step == b.persist_step
            && a.limits == b.limits
    }

    #[test]
    fn session_round_trip_and_reopen() {
        let s = SessionState {
            current: params(&[1; 16], Some(5)),
            pending: Some(params(&[2; 16], None)),
            pending_r1_seq: Some(7),
            retained: Some((params(b"", None), 99)),
            offered_r1: Some((vec![4; 8], 2)),
        };
        let d = decode_session(&encode_session(&s)).unwrap();
        assert!(same(&d.current, &s.current));
        assert!(same(d.pending.as_ref().unwrap(), s.pending.as_ref().unwrap()));
        assert_eq!(d.pending_r1_seq, Some(7));
        assert!(same(&d.retained.as_ref().unwrap().0, &s.retained.as_ref().unwrap().0));
        assert_eq!(d.retained.unwrap().1, 99);
        assert_eq!(d.offered_r1, s.offered_r1);

        let mut b = [0u8; 8];
        getrandom::fill(&mut b).unwrap();
        let dir = std::env::temp_dir().join(format!("oscore-proxy-persistence-{}", hex::encode(b)));
        let initial = params(b"\x99", None);
        {
            let mut p = RedbPersistence::new(Arc::new(StateDb::open(&dir).unwrap()), &initial);
            assert!(p.load_session().unwrap().is_none());
            p.save_session(&s).unwrap();
            let state = oscore_core::store::PersistedState {
                ssn_bound: 64,
                count_q_bound: 64,
                count_v_bound: 0,
                replay: None,
            };
            p.context_store(&[1; 16]).unwrap().save(&state).unwrap();
            assert!(p.context_store(b"\x99").unwrap().load().unwrap().is_none());
        }
        let mut p = RedbPersistence::new(Arc::new(StateDb::open(&dir).unwrap()), &initial);
        assert!(same(&p.load_session().unwrap().unwrap().current, &s.current));
        assert_eq!(p.context_store(&[1; 16]).unwrap().load().unwrap().unwrap().ssn_bound, 64);
        let _ = std::fs::remove_dir_all(dir);
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_session(&bytes);
        }
    }
}
