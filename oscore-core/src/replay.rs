//! The replay window of a Recipient Context (RFC 8613 §7.4).
//!
//! Checking and accepting are two steps: [`ReplayWindow::check`] never moves
//! the window; [`ReplayWindow::accept`] is called only after the message
//! verified, so a forged message cannot advance it.

/// The default window size, in sequence numbers.
// ref: RFC 8613 §7.4 (a window of 32 is the typical choice; RFC 4303 §3.4.3)
pub const DEFAULT_WINDOW_SIZE: u32 = 32;

/// The largest supported window size (the bitmap is a `u128`).
pub const MAX_WINDOW_SIZE: u32 = 128;

/// What the replay window says about a Partial IV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayOutcome {
    /// Never seen, inside or above the window: may be accepted.
    Fresh,
    /// Already received.
    Replayed,
    /// Below the window: cannot tell, so refused.
    TooOld,
}

/// A sliding window over received sequence numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayWindow {
    size: u32,
    /// The highest accepted sequence number, `None` before the first one.
    highest: Option<u64>,
    /// Bit `i` set ⇔ `highest - i` was accepted (bit 0 is `highest` itself).
    bitmap: u128,
}

/// The persistable part of a replay window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayState {
    /// The highest accepted sequence number, `None` before the first one.
    pub highest: Option<u64>,
    /// Bit `i` set ⇔ `highest - i` was accepted.
    pub bitmap: u128,
}

impl Default for ReplayWindow {
    fn default() -> Self {
        Self::new(DEFAULT_WINDOW_SIZE)
    }
}

impl ReplayWindow {
    /// An empty window of `size` sequence numbers, clamped to `1..=MAX_WINDOW_SIZE`.
    pub fn new(size: u32) -> Self {
        Self { size: size.clamp(1, MAX_WINDOW_SIZE), highest: None, bitmap: 0 }
    }

    /// A window restored from persisted state.
    pub fn from_state(size: u32, state: ReplayState) -> Self {
        let mut w = Self::new(size);
        w.highest = state.highest;
        w.bitmap = if state.highest.is_some() { state.bitmap & w.mask() } else { 0 };
        w
    }

    /// The state to persist.
    pub fn state(&self) -> ReplayState {
        ReplayState { highest: self.highest, bitmap: self.bitmap }
    }

    /// The window size.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// The highest accepted sequence number.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }

    fn mask(&self) -> u128 {
        if self.size >= 128 { u128::MAX } else { (1u128 << self.size) - 1 }
    }

    /// Classifies `seq` without changing the window.
    pub fn check(&self, seq: u64) -> ReplayOutcome {
        let Some(highest) = self.highest else {
            return ReplayOutcome::Fresh;
        };
        if seq > highest {
            return ReplayOutcome::Fresh;
        }
        let offset = highest - seq;
        if offset >= u64::from(self.size) {
            return ReplayOutcome::TooOld;
        }
        if self.bitmap & (1u128 << offset) != 0 { ReplayOutcome::Replayed } else { ReplayOutcome::Fresh }
    }

    /// Records `seq` as received. Call only after the message verified and
    /// [`check`](Self::check) said `Fresh`; returns the outcome of that check
    /// and moves nothing unless it is `Fresh`.
    pub fn accept(&mut self, seq: u64) -> ReplayOutcome {
        let outcome = self.check(seq);
        if outcome != ReplayOutcome::Fresh {
            return outcome;
        }
        match self.highest {
            Some(highest) if seq <= highest => {
                self.bitmap |= 1u128 << (highest - seq);
            }
            Some(highest) => {
                let shift = seq - highest;
                self.bitmap = if shift >= 128 { 0 } else { self.bitmap << shift };
                self.bitmap = (self.bitmap | 1) & self.mask();
                self.highest = Some(seq);
            }
            None => {
                self.bitmap = 1;
                self.highest = Some(seq);
            }
        }
        ReplayOutcome::Fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_window() {
        let mut w = ReplayWindow::new(32);
        assert_eq!(w.check(5), ReplayOutcome::Fresh);
        assert_eq!(w.accept(5), ReplayOutcome::Fresh);
        assert_eq!(w.check(5), ReplayOutcome::Replayed);
        assert_eq!(w.accept(3), ReplayOutcome::Fresh);
        assert_eq!(w.check(3), ReplayOutcome::Replayed);
        assert_eq!(w.accept(100), ReplayOutcome::Fresh);
        assert_eq!(w.check(68), ReplayOutcome::TooOld);
        assert_eq!(w.check(69), ReplayOutcome::Fresh);
        assert_eq!(w.check(5), ReplayOutcome::TooOld);
    }
}
