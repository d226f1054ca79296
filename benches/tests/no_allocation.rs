//! The byte-level protection paths allocate nothing once contexts are built
//! and the output buffers have room (issue 7's allocation goal, kept by a
//! test so that a regression fails CI rather than waiting for a benchmark
//! run). The counting allocator is global to this test binary, which runs
//! its one test alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::System;

use benches::fixtures::{AEADS, NOW, Provider, pair, providers, request_bytes, response_bytes};
use oscore_core::ResponsePiv;
use oscore_core::crypto::AlgorithmId;
use oscore_core::protect::PROTECT_OVERHEAD;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Allocations (and reallocations) while `f` runs.
fn allocations(f: impl FnOnce()) -> usize {
    let region = Region::new(GLOBAL);
    f();
    let stats = region.change();
    stats.allocations + stats.reallocations
}

fn check(p: Provider, aead: AlgorithmId, size: usize) {
    let (mut client, mut server) = pair(p, aead);
    let (request, response) = (request_bytes(size), response_bytes(size));
    let mut wire = Vec::with_capacity(request.len().max(response.len()) + PROTECT_OVERHEAD);
    let mut out = Vec::with_capacity(wire.capacity());
    let mut verified = Vec::with_capacity(wire.capacity());
    let what = format!("{aead:?} {size} B");

    let mut client_binding = None;
    assert_eq!(
        allocations(|| client_binding = Some(client.protect_request_bytes(&request, &mut wire, NOW).unwrap())),
        0,
        "protect_request_bytes {what}"
    );
    verified.extend_from_slice(&wire);
    let mut server_binding = None;
    assert_eq!(
        allocations(|| server_binding = Some(server.verify_request_bytes(&mut wire, &mut out, NOW).unwrap())),
        0,
        "verify_request_bytes {what}"
    );
    assert_eq!(out, request);
    assert_eq!(
        allocations(|| assert!(server.verify_request_in_place(&mut verified, NOW).is_err())),
        0,
        "a replayed request is refused without allocating ({what})"
    );

    let (mut client_binding, mut server_binding) = (client_binding.unwrap(), server_binding.unwrap());
    wire.clear();
    assert_eq!(
        allocations(|| server
            .protect_response_bytes(&response, &mut server_binding, ResponsePiv::Auto, &mut wire, NOW)
            .unwrap()),
        0,
        "protect_response_bytes {what}"
    );
    out.clear();
    assert_eq!(
        allocations(|| client.verify_response_bytes(&mut wire, &mut client_binding, &mut out, NOW).unwrap()),
        0,
        "verify_response_bytes {what}"
    );
    assert_eq!(out, response);

    // A second request, verified in place.
    wire.clear();
    client.protect_request_bytes(&request, &mut wire, NOW).unwrap();
    assert_eq!(
        allocations(|| {
            let (message, binding) = server.verify_request_in_place(&mut wire, NOW).unwrap();
            assert_eq!(message.payload().len(), size);
            drop(binding);
        }),
        0,
        "verify_request_in_place {what}"
    );
}

#[test]
fn byte_paths_do_not_allocate() {
    for &p in providers() {
        for aead in AEADS.iter().map(|&(a, _)| a).filter(|a| p.offers_aead(*a)) {
            for size in [0, 64, 1024] {
                check(p, aead, size);
            }
        }
    }
}
