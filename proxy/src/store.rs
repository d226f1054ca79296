//! The durable [`Store`] of oscore-core on redb.
//!
//! It lives in this crate rather than behind a feature of oscore-core because
//! oscore-core is `no_std` and sans-IO; a file-backed store is I/O.
//!
//! One database file, `oscore-state.redb`, per `state_dir`, with one row per
//! security context keyed by `hex(sender_id) "/" hex(recipient_id) "/"
//! hex(id_context)` (`-` for an absent ID Context). Every `save` is a redb
//! write transaction committed with [`redb::Durability::Immediate`]: it
//! returns only when the data is on disk, which is what oscore-core relies on
//! to never reuse a nonce after a crash (RFC 8613 App. B.1.1). redb's
//! copy-on-write commit means a `kill -9` leaves either the old or the new
//! row, never a torn one.
//!
//! Changing the Master Secret or Salt of a context without changing its IDs
//! keeps its stored state: the resumed sequence number is then merely higher
//! than needed, but the replay window may refuse the first requests under
//! the new keys. Clear the `state_dir` when re-keying by hand.

use std::path::Path;
use std::sync::Arc;

use oscore_core::ContextParams;
use oscore_core::replay::ReplayState;
use oscore_core::store::{PersistedState, Store, StoreError};
use redb::{Database, Durability, ReadableDatabase, TableDefinition};

const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("oscore_contexts");
/// Key-update sessions (oscore-keyupdate's `SessionState`), one row per
/// configured context, keyed like [`TABLE`].
const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("oscore_keyupdate_sessions");

/// The file name inside a `state_dir`.
pub const DB_FILE: &str = "oscore-state.redb";

const FORMAT_VERSION: u8 = 1;
/// Length of an encoded [`PersistedState`].
pub const ENCODED_LEN: usize = 1 + 8 * 3 + 1 + 8 + 16;

/// A redb database holding the state of any number of contexts.
pub struct StateDb {
    db: Database,
}

impl std::fmt::Debug for StateDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateDb").finish_non_exhaustive()
    }
}

impl StateDb {
    /// Opens (or creates) `dir/oscore-state.redb`, creating `dir` if needed.
    ///
    /// # Errors
    /// The directory cannot be created, or the database cannot be opened
    /// (e.g. another process has it open).
    pub fn open(dir: &Path) -> Result<Self, std::io::Error> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(DB_FILE);
        let db = Database::create(&path).map_err(std::io::Error::other)?;
        // Key-update sessions hold Master Secrets (see `persistence`).
        #[cfg(unix)]
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        Ok(Self { db })
    }

    fn read(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read_from(TABLE, key)
    }

    fn write(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.write_to(TABLE, key, value)
    }

    fn read_from(
        &self,
        table: TableDefinition<&str, &[u8]>,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(|_| StoreError("redb: cannot begin read"))?;
        let table = match txn.open_table(table) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(_) => return Err(StoreError("redb: cannot open table")),
        };
        let value = table.get(key).map_err(|_| StoreError("redb: read failed"))?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    fn write_to(
        &self,
        table: TableDefinition<&str, &[u8]>,
        key: &str,
        value: &[u8],
    ) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write().map_err(|_| StoreError("redb: cannot begin write"))?;
        txn.set_durability(Durability::Immediate).map_err(|_| StoreError("redb: durability"))?;
        {
            let mut table = txn.open_table(table).map_err(|_| StoreError("redb: cannot open table"))?;
            table.insert(key, value).map_err(|_| StoreError("redb: write failed"))?;
        }
        txn.commit().map_err(|_| StoreError("redb: commit failed"))
    }
}

impl StateDb {
    /// The key-update session saved under `key`.
    pub(crate) fn read_session(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read_from(SESSIONS, key)
    }

    /// Saves a key-update session under `key` (fsync'ed commit).
    pub(crate) fn write_session(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.write_to(SESSIONS, key, value)
    }
}

/// The row key of a context.
pub fn context_key(params: &ContextParams) -> String {
    format!(
        "{}/{}/{}",
        hex::encode(&params.sender_id),
        hex::encode(&params.recipient_id),
        params.id_context.as_deref().map_or_else(|| "-".to_owned(), hex::encode)
    )
}

/// The [`Store`] of one security context inside a [`StateDb`].
#[derive(Debug)]
pub struct RedbStore {
    db: Arc<StateDb>,
    key: String,
    /// Number of successful saves (each one an fsync'ed commit).
    pub saves: u64,
}

impl RedbStore {
    /// The store of the context with these parameters.
    pub fn new(db: Arc<StateDb>, params: &ContextParams) -> Self {
        Self { db, key: context_key(params), saves: 0 }
    }
}

impl RedbStore {
    /// The store of the row `key` (see [`RedbPersistence`](crate::persistence::RedbPersistence)).
    pub fn with_key(db: Arc<StateDb>, key: String) -> Self {
        Self { db, key, saves: 0 }
    }
}

impl Store for RedbStore {
    fn load(&mut self) -> Result<Option<PersistedState>, StoreError> {
        match self.db.read(&self.key)? {
            None => Ok(None),
            Some(bytes) => decode_state(&bytes).map(Some),
        }
    }

    fn save(&mut self, state: &PersistedState) -> Result<(), StoreError> {
        self.db.write(&self.key, &encode_state(state))?;
        self.saves = self.saves.saturating_add(1);
        Ok(())
    }
}

/// Encodes a state: version 1, three u64 bounds, a replay tag (0 no window,
/// 1 empty window, 2 window with a highest number), the highest number and
/// the 128-bit bitmap, all big-endian.
pub fn encode_state(state: &PersistedState) -> [u8; ENCODED_LEN] {
    let mut out = [0u8; ENCODED_LEN];
    let (tag, highest, bitmap) = match state.replay {
        None => (0u8, 0u64, 0u128),
        Some(ReplayState { highest: None, .. }) => (1, 0, 0),
        Some(ReplayState { highest: Some(h), bitmap }) => (2, h, bitmap),
    };
    let mut w = Writer { buf: &mut out, pos: 0 };
    w.put(&[FORMAT_VERSION]);
    w.put(&state.ssn_bound.to_be_bytes());
    w.put(&state.count_q_bound.to_be_bytes());
    w.put(&state.count_v_bound.to_be_bytes());
    w.put(&[tag]);
    w.put(&highest.to_be_bytes());
    w.put(&bitmap.to_be_bytes());
    out
}

struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.buf.get_mut(self.pos..self.pos + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        self.pos += bytes.len();
    }
}

/// Decodes what [`encode_state`] wrote. The file is local, but a corrupted
/// or foreign row must fail cleanly, never panic or yield a smaller bound.
///
/// # Errors
/// [`StoreError`] for a wrong length, version or tag.
pub fn decode_state(bytes: &[u8]) -> Result<PersistedState, StoreError> {
    let bytes: &[u8; ENCODED_LEN] =
        bytes.try_into().map_err(|_| StoreError("stored state has the wrong length"))?;
    let (version, rest) = bytes.split_first_chunk::<1>().ok_or(StoreError("short state"))?;
    if version[0] != FORMAT_VERSION {
        return Err(StoreError("stored state has an unknown version"));
    }
    let (ssn, rest) = rest.split_first_chunk::<8>().ok_or(StoreError("short state"))?;
    let (q, rest) = rest.split_first_chunk::<8>().ok_or(StoreError("short state"))?;
    let (v, rest) = rest.split_first_chunk::<8>().ok_or(StoreError("short state"))?;
    let (tag, rest) = rest.split_first_chunk::<1>().ok_or(StoreError("short state"))?;
    let (highest, rest) = rest.split_first_chunk::<8>().ok_or(StoreError("short state"))?;
    let (bitmap, _) = rest.split_first_chunk::<16>().ok_or(StoreError("short state"))?;
    let highest = u64::from_be_bytes(*highest);
    let bitmap = u128::from_be_bytes(*bitmap);
    let replay = match tag[0] {
        0 if highest == 0 && bitmap == 0 => None,
        1 if highest == 0 && bitmap == 0 => Some(ReplayState { highest: None, bitmap: 0 }),
        2 => Some(ReplayState { highest: Some(highest), bitmap }),
        _ => return Err(StoreError("stored state has an invalid replay tag")),
    };
    Ok(PersistedState {
        ssn_bound: u64::from_be_bytes(*ssn),
        count_q_bound: u64::from_be_bytes(*q),
        count_v_bound: u64::from_be_bytes(*v),
        replay,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).unwrap();
        std::env::temp_dir().join(format!("oscore-proxy-{name}-{}", hex::encode(b)))
    }

    #[test]
    fn save_load_reopen() {
        let dir = temp_dir("store");
        let params = ContextParams::new(&[1; 16], b"", b"\x01");
        let state = PersistedState {
            ssn_bound: 64,
            count_q_bound: 65,
            count_v_bound: 3,
            replay: Some(ReplayState { highest: Some(9), bitmap: 0b1011 }),
        };
        {
            let db = Arc::new(StateDb::open(&dir).unwrap());
            let mut s = RedbStore::new(Arc::clone(&db), &params);
            assert_eq!(s.load().unwrap(), None);
            s.save(&state).unwrap();
            let other = ContextParams::new(&[1; 16], b"\x02", b"\x01");
            assert_eq!(RedbStore::new(db, &other).load().unwrap(), None);
        }
        let db = Arc::new(StateDb::open(&dir).unwrap());
        assert_eq!(RedbStore::new(db, &params).load().unwrap(), Some(state));
        let _ = std::fs::remove_dir_all(dir);
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = decode_state(&bytes);
        }

        #[test]
        fn round_trip(ssn in any::<u64>(), q in any::<u64>(), v in any::<u64>(),
                      tag in 0u8..3, highest in any::<u64>(), bitmap in any::<u128>()) {
            let replay = match tag {
                0 => None,
                1 => Some(ReplayState { highest: None, bitmap: 0 }),
                _ => Some(ReplayState { highest: Some(highest), bitmap }),
            };
            let s = PersistedState { ssn_bound: ssn, count_q_bound: q, count_v_bound: v, replay };
            prop_assert_eq!(decode_state(&encode_state(&s)).unwrap(), s);
        }

        #[test]
        fn corrupted_byte_is_detected_or_harmless(idx in 0..ENCODED_LEN, flip in 1u8..=255) {
            let s = PersistedState { ssn_bound: 5, count_q_bound: 5, count_v_bound: 0, replay: None };
            let mut bytes = encode_state(&s);
            bytes[idx] ^= flip;
            // Either refused, or decoded to *some* state: never a panic.
            let _ = decode_state(&bytes);
        }
    }
}
