//! When an endpoint starts a key update on its own: before a key-usage limit
//! or 'exp' is reached.
//!
//! key-limits-01 §2.4: "It is RECOMMENDED that the peer initiating the
//! rekeying procedure starts it before reaching the 'q' or 'v' limits", else
//! the keys of the exchange itself may become invalid before it completes.
//! [`AutoStart`] says how early; the endpoints'
//! `start_key_update_if_due` apply it.

use oscore_core::SecurityContext;

/// The default fraction of `limit_q` / `limit_v` at which an update starts.
pub const DEFAULT_FRACTION: f64 = 0.75;

/// The threshold for starting a key update automatically.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AutoStart {
    /// Start once `count_q / limit_q` or `count_v / limit_v` reaches this
    /// fraction (0 < fraction ≤ 1; default 0.75).
    pub fraction: f64,
    /// Start once 'exp' is at most this many seconds away (0: not before
    /// 'exp' is reached, when the context is unusable anyway).
    pub exp_margin: u64,
}

impl Default for AutoStart {
    fn default() -> Self {
        Self { fraction: DEFAULT_FRACTION, exp_margin: 0 }
    }
}

impl AutoStart {
    /// The threshold with `exp_margin = (1 − fraction) × lifetime`: a
    /// context that lives `lifetime` seconds is renewed after the same
    /// fraction of its life as of its key-usage limits.
    pub fn with_lifetime(fraction: f64, lifetime: Option<u64>) -> Self {
        let rest = (1.0 - fraction).clamp(0.0, 1.0);
        // u64 → f64 → u64: rounding of a margin in seconds is harmless.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let exp_margin = lifetime.map_or(0, |l| (l as f64 * rest) as u64);
        Self { fraction, exp_margin }
    }

    /// True when `ctx` has used `fraction` of its Sender Key (`count_q`) or
    /// Recipient Key (`count_v`) budget, or its 'exp' is within `exp_margin`
    /// of `now`.
    // ref: key-limits-01 §2.4 (start before reaching the 'q' or 'v' limits)
    pub fn is_due(&self, ctx: &SecurityContext, now: u64) -> bool {
        let used = |count: u64, limit: u64| limit != u64::MAX && count as f64 >= limit as f64 * self.fraction;
        used(ctx.sender().count_q(), ctx.sender().limit_q())
            || used(ctx.recipient().count_v(), ctx.recipient().limit_v())
            || ctx.common().exp().is_some_and(|exp| now.saturating_add(self.exp_margin) >= exp)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use oscore_core::{ContextParams, KeyLimits};

    fn ctx(limit_q: u64, exp: Option<u64>) -> SecurityContext {
        let params =
            ContextParams::new(&[1; 16], b"", b"\x01").with_limits(KeyLimits { limit_q, limit_v: 1023, exp });
        SecurityContext::derive(&crypto_backends::RUSTCRYPTO, &params).unwrap()
    }

    #[test]
    fn due_at_the_fraction_of_limit_q() {
        let policy = AutoStart::default();
        let mut c = ctx(8, None);
        let mut get = coap_lite::Packet::new();
        get.header.code = coap_lite::MessageClass::Request(coap_lite::RequestType::Get);
        for i in 0..8 {
            assert_eq!(policy.is_due(&c, 0), i >= 6, "count_q = {i}");
            c.protect_request(&get, 0).unwrap();
        }
    }

    #[test]
    fn due_before_exp() {
        let policy = AutoStart::with_lifetime(0.75, Some(400));
        assert_eq!(policy.exp_margin, 100);
        let c = ctx(1 << 20, Some(1000));
        assert!(!policy.is_due(&c, 899));
        assert!(policy.is_due(&c, 900));
        assert!(!AutoStart::default().is_due(&ctx(u64::MAX, None), u64::MAX));
    }
}
