//! The operating system's random source through `ring::rand`.

use core::fmt;
use oscore_core::crypto::{CryptoError, SecureRandom};
use ring::rand::SecureRandom as _;

/// The operating system random source through `ring` ([`RingRandom`]).
pub static SYSTEM_RANDOM: RingRandom = RingRandom;

/// Random bytes from `ring::rand::SystemRandom` (the operating system source).
#[derive(Clone, Copy, Default)]
pub struct RingRandom;

impl fmt::Debug for RingRandom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RingRandom")
    }
}

impl SecureRandom for RingRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), CryptoError> {
        // `SystemRandom` is a zero-sized handle: constructing one is free.
        ring::rand::SystemRandom::new().fill(buf).map_err(|_| CryptoError)
    }
}
