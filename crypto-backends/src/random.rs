//! The operating system's random source.

use core::fmt;
use oscore_core::crypto::{CryptoError, SecureRandom};

/// The operating system random source ([`OsRandom`]).
pub static SYSTEM_RANDOM: OsRandom = OsRandom;

/// Random bytes from the operating system, through `getrandom::fill`.
#[derive(Clone, Copy, Default)]
pub struct OsRandom;

impl fmt::Debug for OsRandom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OsRandom")
    }
}

impl SecureRandom for OsRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), CryptoError> {
        getrandom::fill(buf).map_err(|_| CryptoError)
    }
}
