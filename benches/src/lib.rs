//! Fixtures and measured operations shared by the three benchmark binaries
//! that `cargo xtask bench` runs:
//!
//! - `benches/oscore.rs`: criterion timings, every measured operation beside
//!   its raw-primitive baseline in the same criterion group;
//! - `benches/allocs.rs`: heap allocations per operation (counting allocator);
//! - `benches/instructions.rs`: instruction counts per operation under
//!   `valgrind --tool=callgrind`.
//!
//! All three run the very same functions of [`ops`] on the same fixtures
//! ([`fixtures`]), so a time, an allocation count and an instruction count in
//! the report describe one piece of code.
//!
//! Naming: a benchmark is `group/function[/parameter]`, as criterion writes it
//! under `target/criterion`. Groups are `derive` (parameter: AEAD),
//! `msg_<AEAD>` (parameter: payload bytes), `group_<signature>` (parameter:
//! payload bytes), `pairwise_<signature>` and `keyupdate`; groups of a
//! provider other than RustCrypto end in its suffix (`msg_A128GCM_ring`, see
//! [`fixtures::providers`]). Functions whose name starts with `raw_` are
//! baselines of the same provider; which baseline a measured function is
//! compared with is listed in [`BASELINES`].

pub mod fixtures;
pub mod ops;
pub mod probe;

/// `(group prefix, measured function, baseline function)`: every measured
/// function and the raw-primitive baseline it is compared with, in the same
/// group and with the same parameter.
///
/// The `allocs` binary writes this table into its JSON output, which is
/// where `cargo xtask bench` (a crate with no workspace dependencies) reads
/// it from.
pub const BASELINES: &[(&str, &str, &str)] = &[
    ("derive", "derive_context", "raw_hkdf3_prepare2"),
    ("derive", "derive_keys", "raw_hkdf3"),
    ("msg_", "protect_request", "raw_seal_request"),
    ("msg_", "verify_request", "raw_open_request"),
    ("msg_", "protect_verify_request", "raw_seal_open_request"),
    ("msg_", "protect_response", "raw_seal_response"),
    ("msg_", "verify_response", "raw_open_response"),
    ("msg_", "protect_request_bytes", "raw_seal_request"),
    ("msg_", "verify_request_bytes", "raw_open_request"),
    ("msg_", "protect_verify_request_bytes", "raw_seal_open_request"),
    ("msg_", "protect_response_bytes", "raw_seal_response"),
    ("msg_", "verify_response_bytes", "raw_open_response"),
    ("msg_", "verify_request_in_place", "raw_open_request"),
    ("msg_", "protect_verify_request_in_place", "raw_seal_open_request"),
    ("msg_", "verify_response_in_place", "raw_open_response"),
    ("group_", "protect_request", "raw_sign"),
    ("group_", "verify_request", "raw_verify"),
    ("group_", "check_request", "raw_verify"),
    ("pairwise_", "derive_cold", "raw_ecdh_hkdf"),
    ("pairwise_", "derive_warm", "raw_hkdf"),
    ("keyupdate", "update_ctx", "raw_hkdf_expand"),
    ("keyupdate", "exchange", "raw_exchange"),
];
