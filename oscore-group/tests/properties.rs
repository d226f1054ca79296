//! proptest round trips for every mode with random payloads and options.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    clippy::cast_possible_truncation
)]

mod common;

use coap_lite::{CoapOption, MessageClass, Packet};
use common::{CLIENT, Net, SERVERS, deliver};
use oscore_core::crypto::AlgorithmId;
use oscore_group::RequestMode;
use proptest::prelude::*;

const NUMBERS: [u16; 10] = [1, 3, 4, 11, 12, 15, 17, 60, 258, 2049];

fn message(code: u8, options: &[(u16, Vec<u8>)], payload: &[u8]) -> Packet {
    let mut p = Packet::new();
    p.header.code = MessageClass::from(code);
    p.set_token(vec![1, 2, 3, 4]);
    for (n, v) in options {
        p.add_option(CoapOption::from(*n), v.clone());
    }
    p.payload = payload.to_vec();
    p
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn every_mode_round_trips(
        es256 in any::<bool>(),
        mode in 0u8..3,
        code in 1u8..=7,
        response_code in proptest::sample::select(vec![0x41u8, 0x44, 0x45, 0x84, 0xa0]),
        options in proptest::collection::vec((proptest::sample::select(NUMBERS.to_vec()), proptest::collection::vec(any::<u8>(), 0..16)), 0..5),
        payload in proptest::collection::vec(any::<u8>(), 0..200),
        response_payload in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let alg = if es256 { AlgorithmId::ES256 } else { AlgorithmId::EDDSA };
        let net = Net::new(alg);
        let optimized = mode == 2;
        let (mut client, mut servers) = net.all(&|p| p.optimized = optimized);
        let request = message(code, &options, &payload);
        let response = message(response_code, &options, &response_payload);
        let req_mode = if mode == 1 { RequestMode::Pairwise { recipient: SERVERS[0].to_vec() } } else { RequestMode::Group };
        let (protected, mut binding) = client.protect_request(&request, req_mode, 0).unwrap();
        let (got, mut sb) = deliver(servers[0].verify_request(&protected, 0).unwrap());
        prop_assert_eq!(&got, &request);
        let protected = servers[0].protect_response(&response, &mut sb, 0).unwrap();
        let got = client.verify_response(&protected, &mut binding, 0).unwrap();
        prop_assert_eq!(&got.message, &response);
        prop_assert_eq!(got.kid.as_slice(), SERVERS[0]);
        prop_assert_eq!(got.pairwise, mode != 0);
        prop_assert!(servers[0].has_recipient(CLIENT));
    }
}
