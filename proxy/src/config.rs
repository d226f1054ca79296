//! The TOML configuration file (DESIGN.md, "Configuration file").
//!
//! One `[context]` table, or several `[[context]]` tables for an endpoint
//! that talks to several peers. Byte strings are hex; an empty string is an
//! empty identifier. Tables of other subcommands (`[group]`, `[proxy]`) are
//! ignored here; unknown keys inside `[context]` are errors, so that a typo
//! never silently falls back to a default.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use oscore_core::crypto::{AlgorithmId, CryptoProvider};
use oscore_core::store::StoreError;
use oscore_core::{ContextParams, KeyLimits, SecurityContext};
use oscore_keyupdate::limits::{self, UsageLimits};
use oscore_keyupdate::{
    AutoStart, ClientEndpoint, EphemeralPersistence, KeyUpdater, Persistence, ServerEndpoint,
};
use serde::Deserialize;

use crate::persistence::RedbPersistence;
use crate::store::StateDb;

/// A configuration problem: unreadable file, bad TOML, bad hex, bad value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML does not parse or does not have the expected shape.
    #[error("invalid configuration: {0}")]
    Toml(#[from] toml::de::Error),
    /// A value is invalid (bad hex, empty file, ...).
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// The state store could not be opened.
    #[error("state store: {0}")]
    Store(String),
    /// The context could not be derived (unsupported algorithm, bad ID lengths).
    #[error("security context: {0}")]
    Context(oscore_core::Error),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(Box<ContextToml>),
    Many(Vec<ContextToml>),
}

#[derive(Deserialize)]
struct FileToml {
    context: Option<OneOrMany>,
}

/// One `[context]` table as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContextToml {
    master_secret: String,
    #[serde(default)]
    master_salt: String,
    sender_id: String,
    recipient_id: String,
    id_context: Option<String>,
    aead: Option<i32>,
    hkdf: Option<i32>,
    state_dir: Option<PathBuf>,
    replay_window: Option<u32>,
    persist_step: Option<u64>,
    limit_q: Option<u64>,
    limit_v: Option<u64>,
    exp: Option<u64>,
    lifetime: Option<u64>,
    key_update_fraction: Option<f64>,
    key_update_retention: Option<u64>,
    crypto: Option<String>,
}

/// One security context of the configuration, ready to be derived.
#[derive(Clone)]
pub struct ContextConfig {
    /// The parameters (the Master Secret inside is zeroized on drop).
    pub params: ContextParams,
    /// Where sequence numbers and the replay window are persisted; `None`
    /// keeps them in memory.
    pub state_dir: Option<PathBuf>,
    /// Key-usage limits and key update.
    pub key_update: KeyUpdatePolicy,
    /// The crypto provider (key `crypto`: "rustcrypto", "ring" or "fastest").
    pub provider: &'static CryptoProvider,
}

/// Key-usage limits and key update of one context (key-limits-01): the keys
/// `limit_q`, `limit_v`, `exp`, `lifetime`, `key_update_fraction` and
/// `key_update_retention`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct KeyUpdatePolicy {
    /// Limits, lifetime and retention of every context the endpoint uses
    /// (`limits: None` = the recommendation of key-limits-01 §2.1.1).
    pub config: oscore_keyupdate::Config,
    /// When the endpoint starts a key update on its own.
    pub auto: AutoStart,
}

impl std::fmt::Debug for ContextConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // ContextParams' Debug redacts the Master Secret.
        f.debug_struct("ContextConfig")
            .field("params", &self.params)
            .field("state_dir", &self.state_dir)
            .field("key_update", &self.key_update)
            .field("provider", &self.provider)
            .finish()
    }
}

/// The provider named by the `crypto` key (default "rustcrypto").
fn provider(name: Option<&str>) -> Result<&'static CryptoProvider, ConfigError> {
    let name = name.unwrap_or("rustcrypto");
    crypto_backends::provider_by_name(name).ok_or_else(|| {
        ConfigError::Invalid(format!(
            "crypto: unknown provider {name:?} (this build knows {})",
            crypto_backends::PROVIDER_NAMES.join(", ")
        ))
    })
}

fn hex_field(name: &str, value: &str) -> Result<Vec<u8>, ConfigError> {
    hex::decode(value.trim()).map_err(|e| ConfigError::Invalid(format!("{name}: not hex ({e})")))
}

impl ContextToml {
    fn into_config(self, base: &Path) -> Result<ContextConfig, ConfigError> {
        let secret = zeroize::Zeroizing::new(hex_field("master_secret", &self.master_secret)?);
        if secret.is_empty() {
            return Err(ConfigError::Invalid("master_secret: must not be empty".into()));
        }
        let mut params = ContextParams::new(
            &secret,
            &hex_field("sender_id", &self.sender_id)?,
            &hex_field("recipient_id", &self.recipient_id)?,
        )
        .with_master_salt(&hex_field("master_salt", &self.master_salt)?);
        // ref: RFC 8613 §3.1: an absent ID Context differs from an empty one
        // (CBOR nil vs. empty bstr in the HKDF info); "" is the empty one.
        if let Some(ctx) = &self.id_context {
            params = params.with_id_context(Some(&hex_field("id_context", ctx)?));
        }
        if let Some(aead) = self.aead {
            params = params.with_aead(AlgorithmId(aead));
        }
        if let Some(hkdf) = self.hkdf {
            params.hkdf = AlgorithmId(hkdf);
        }
        if let Some(w) = self.replay_window {
            params.replay_window = w;
        }
        if let Some(k) = self.persist_step {
            if k == 0 {
                return Err(ConfigError::Invalid("persist_step: must be at least 1".into()));
            }
            params.persist_step = k;
        }
        let key_update = self.key_update_policy(&mut params)?;
        let provider = provider(self.crypto.as_deref())?;
        let state_dir = self.state_dir.map(|d| if d.is_absolute() { d } else { base.join(d) });
        Ok(ContextConfig { params, state_dir, key_update, provider })
    }

    /// The limits (checked against the bounds of key-limits-01 §2.1.1) and
    /// the key-update policy; `exp` goes into `params`.
    fn key_update_policy(&self, params: &mut ContextParams) -> Result<KeyUpdatePolicy, ConfigError> {
        let invalid = |key: &str, e: &dyn std::fmt::Display| ConfigError::Invalid(format!("{key}: {e}"));
        let mut config = oscore_keyupdate::Config::default();
        if self.limit_q.is_some() || self.limit_v.is_some() {
            let base = UsageLimits::recommended(params.aead).map_err(|e| invalid("aead", &e))?;
            // ref: key-limits-01 §2.2 ('limit_v': the highest value count_v may
            // reach), oscore-keyupdate's `UsageLimits::key_limits` (v = limit_v + 1)
            let defaults = base.key_limits(None);
            let triple = UsageLimits::from_key_limits(
                &KeyLimits {
                    limit_q: self.limit_q.unwrap_or(defaults.limit_q),
                    limit_v: self.limit_v.unwrap_or(defaults.limit_v),
                    exp: None,
                },
                base.l,
            );
            limits::check(params.aead, &triple).map_err(|e| invalid("limit_q/limit_v", &e))?;
            config.limits = Some(triple);
        }
        params.limits = KeyLimits { exp: self.exp, ..KeyLimits::default() };
        if self.lifetime == Some(0) {
            return Err(ConfigError::Invalid("lifetime: must be at least 1".into()));
        }
        config.lifetime = self.lifetime;
        if let Some(r) = self.key_update_retention {
            config.retention = r;
        }
        let fraction = self.key_update_fraction.unwrap_or(oscore_keyupdate::autostart::DEFAULT_FRACTION);
        if !(fraction > 0.0 && fraction <= 1.0) {
            return Err(ConfigError::Invalid("key_update_fraction: must be in (0, 1]".into()));
        }
        Ok(KeyUpdatePolicy { config, auto: AutoStart::with_lifetime(fraction, self.lifetime) })
    }
}

/// Parses a configuration file's text; relative `state_dir`s are resolved
/// against `base` (the file's directory).
///
/// # Errors
/// [`ConfigError`] for bad TOML, bad hex or a file without `[context]`.
pub fn parse(text: &str, base: &Path) -> Result<Vec<ContextConfig>, ConfigError> {
    let file: FileToml = toml::from_str(text)?;
    let tables = match file.context {
        Some(OneOrMany::One(t)) => vec![*t],
        Some(OneOrMany::Many(v)) => v,
        None => return Err(ConfigError::Invalid("no [context] table".into())),
    };
    if tables.is_empty() {
        return Err(ConfigError::Invalid("no [context] table".into()));
    }
    tables.into_iter().map(|t| t.into_config(base)).collect()
}

/// Reads and parses a configuration file.
///
/// # Errors
/// As [`parse`], or [`ConfigError::Read`].
pub fn load(path: &Path) -> Result<Vec<ContextConfig>, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse(&text, base)
}

/// A security context ready to be opened as a client or server endpoint,
/// with what the endpoint needs to know about its persisted state.
pub struct LoadedContext {
    /// The configured parameters (the endpoint resumes a saved key-update
    /// session instead, if `persistence` has one).
    pub params: ContextParams,
    /// Key-usage limits and key update.
    pub key_update: KeyUpdatePolicy,
    /// Where the endpoint keeps its contexts' state and its session.
    pub persistence: Box<dyn Persistence>,
    /// The crypto provider.
    pub provider: &'static CryptoProvider,
    /// The replay window was restored from durable state. When false, a
    /// server must re-establish it with Echo before accepting requests
    /// (RFC 8613 App. B.1.2).
    pub replay_window_known: bool,
}

impl std::fmt::Debug for LoadedContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedContext")
            .field("params", &self.params)
            .field("key_update", &self.key_update)
            .field("replay_window_known", &self.replay_window_known)
            .finish_non_exhaustive()
    }
}

impl LoadedContext {
    /// A context kept in memory, with the default key-update policy.
    pub fn in_memory(params: ContextParams, replay_window_known: bool) -> Self {
        Self {
            params,
            key_update: KeyUpdatePolicy::default(),
            persistence: Box::new(EphemeralPersistence),
            provider: &crypto_backends::RUSTCRYPTO,
            replay_window_known,
        }
    }

    /// Replaces the crypto provider.
    #[must_use]
    pub fn with_provider(mut self, provider: &'static CryptoProvider) -> Self {
        self.provider = provider;
        self
    }

    /// Replaces the key-update policy.
    #[must_use]
    pub fn with_key_update(mut self, key_update: KeyUpdatePolicy) -> Self {
        self.key_update = key_update;
        self
    }

    fn updater(&self) -> Result<KeyUpdater, oscore_keyupdate::Error> {
        KeyUpdater::new(self.provider).with_config(self.key_update.config)
    }

    /// Opens the client endpoint (resuming a saved key-update session).
    ///
    /// # Errors
    /// Store, derivation or limit errors.
    pub fn open_client(self) -> Result<ClientEndpoint, oscore_keyupdate::Error> {
        ClientEndpoint::open(self.updater()?, self.persistence, self.params)
    }

    /// Opens the server endpoint (resuming a saved key-update session).
    ///
    /// # Errors
    /// Store, derivation or limit errors.
    pub fn open_server(self) -> Result<ServerEndpoint, oscore_keyupdate::Error> {
        ServerEndpoint::open(self.updater()?, self.persistence, self.params)
    }
}

/// Whether the context an endpoint resumes from `persistence` has a saved
/// replay window.
fn window_known(persistence: &mut dyn Persistence, initial: &ContextParams) -> Result<bool, StoreError> {
    let salt = match persistence.load_session()? {
        Some(session) => session.current.master_salt,
        None => initial.master_salt.clone(),
    };
    Ok(persistence.context_store(&salt)?.load()?.is_some_and(|s| s.replay.is_some()))
}

/// Prepares every context of a configuration, opening one redb state
/// database per distinct `state_dir`.
///
/// # Errors
/// [`ConfigError::Store`] if a state database cannot be opened (e.g. another
/// process holds it), [`ConfigError::Context`] if a context cannot be derived.
pub fn derive_all(configs: &[ContextConfig]) -> Result<Vec<LoadedContext>, ConfigError> {
    let mut dbs: HashMap<PathBuf, Arc<StateDb>> = HashMap::new();
    let mut out = Vec::with_capacity(configs.len());
    for cfg in configs {
        // Derivation errors (unsupported algorithm, bad ID lengths) show here.
        SecurityContext::derive(cfg.provider, &cfg.params).map_err(ConfigError::Context)?;
        let loaded = match &cfg.state_dir {
            None => LoadedContext::in_memory(cfg.params.clone(), false),
            Some(dir) => {
                let db = match dbs.get(dir) {
                    Some(db) => Arc::clone(db),
                    None => {
                        let db = Arc::new(StateDb::open(dir).map_err(|e| ConfigError::Store(e.to_string()))?);
                        dbs.insert(dir.clone(), Arc::clone(&db));
                        db
                    }
                };
                let mut persistence = RedbPersistence::new(db, &cfg.params);
                let known = window_known(&mut persistence, &cfg.params)
                    .map_err(|e| ConfigError::Store(e.to_string()))?;
                LoadedContext {
                    params: cfg.params.clone(),
                    key_update: KeyUpdatePolicy::default(),
                    persistence: Box::new(persistence),
                    provider: cfg.provider,
                    replay_window_known: known,
                }
            }
        };
        out.push(loaded.with_key_update(cfg.key_update).with_provider(cfg.provider));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crypto_key_selects_the_provider() {
        let file = |crypto: &str| {
            format!(
                "[context]\nmaster_secret = \"0102\"\nsender_id = \"\"\nrecipient_id = \"01\"\naead = 1\n{crypto}"
            )
        };
        let pick = |line: &str| parse(&file(line), Path::new(".")).map(|c| c[0].provider);
        assert!(std::ptr::eq(pick("").unwrap(), &crypto_backends::RUSTCRYPTO));
        assert!(std::ptr::eq(pick("crypto = \"ring\"").unwrap(), &crypto_backends::RING));
        assert!(std::ptr::eq(pick("crypto = \"fastest\"").unwrap(), &crypto_backends::FASTEST));
        assert!(matches!(pick("crypto = \"openssl\""), Err(ConfigError::Invalid(_))));
        // ring has no AES-CCM: the context is refused when it is derived.
        let ccm = parse(&file("crypto = \"ring\"").replace("aead = 1", "aead = 10"), Path::new(".")).unwrap();
        assert!(matches!(derive_all(&ccm), Err(ConfigError::Context(_))));
        let gcm = parse(&file("crypto = \"ring\""), Path::new(".")).unwrap();
        assert!(std::ptr::eq(derive_all(&gcm).unwrap()[0].provider, &crypto_backends::RING));
    }

    #[test]
    fn design_example_parses() {
        let text = r#"
[context]
master_secret = "0102030405060708090a0b0c0d0e0f10"
master_salt   = "9e7ca92223786340"
sender_id     = ""
recipient_id  = "01"
id_context    = ""
aead          = 10
hkdf          = -10
state_dir     = "state/client"
"#;
        let cfgs = parse(text, Path::new("/etc/x")).unwrap();
        assert_eq!(cfgs.len(), 1);
        let c = &cfgs[0];
        assert_eq!(c.params.sender_id, b"");
        assert_eq!(c.params.recipient_id, b"\x01");
        assert_eq!(c.params.id_context.as_deref(), Some(&b""[..]));
        assert_eq!(c.state_dir.as_deref(), Some(Path::new("/etc/x/state/client")));
        assert!(!format!("{c:?}").contains("0102030405"));
    }

    #[test]
    fn many_contexts_and_errors() {
        let text = r#"
[[context]]
master_secret = "01"
sender_id = "01"
recipient_id = "02"
[[context]]
master_secret = "02"
sender_id = "01"
recipient_id = "03"
[proxy]
listen = "ignored here"
"#;
        assert_eq!(parse(text, Path::new(".")).unwrap().len(), 2);
        assert!(
            parse("[context]\nmaster_secret='zz'\nsender_id=''\nrecipient_id='01'", Path::new(".")).is_err()
        );
        assert!(
            parse("[context]\nmaster_secret='01'\nsender_id=''\nrecipient_id='01'\ntypo=1", Path::new("."))
                .is_err()
        );
        assert!(parse("", Path::new(".")).is_err());
    }
}
