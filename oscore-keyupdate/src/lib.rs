//! OSCORE key-usage limits and key update (draft-hoeglund-core-oscore-key-limits-01).
#![no_std]
