//! Property tests: the option codec, protect→verify round trips for every
//! AEAD, tampering, and the replay window against a simple model.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeSet;

use coap_lite::{CoapOption, MessageClass, MessageType, Packet};
use crypto_backends::RUSTCRYPTO;
use oscore_core::crypto::AlgorithmId;
use oscore_core::message::{MessageView, parse_udp, to_bytes};
use oscore_core::option::OscoreOption;
use oscore_core::protect::restore_request;
use oscore_core::replay::{ReplayOutcome, ReplayWindow};
use oscore_core::{ContextParams, Error, ResponsePiv, SecurityContext};
use proptest::prelude::*;

const AEADS: [AlgorithmId; 5] = [
    AlgorithmId::AES_CCM_16_64_128,
    AlgorithmId::AES_CCM_16_128_128,
    AlgorithmId::A128GCM,
    AlgorithmId::A256GCM,
    AlgorithmId::CHACHA20_POLY1305,
];

fn option_strategy() -> impl Strategy<Value = OscoreOption> {
    (
        proptest::option::of(proptest::collection::vec(any::<u8>(), 1..=5)),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..=40)),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..=10)),
        any::<bool>(),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..=16)),
        any::<bool>(),
    )
        .prop_map(|(partial_iv, kid_context, kid, pairwise, id_detail, ext)| OscoreOption {
            extension_1: ext || id_detail.is_some(),
            partial_iv,
            kid_context,
            kid,
            pairwise,
            id_detail,
        })
}

fn pair(alg: AlgorithmId, secret: &[u8], id_context: Option<&[u8]>) -> (SecurityContext, SecurityContext) {
    let c = ContextParams::new(secret, b"\x01", b"\x02").with_aead(alg).with_id_context(id_context);
    let s = ContextParams::new(secret, b"\x02", b"\x01").with_aead(alg).with_id_context(id_context);
    (SecurityContext::derive(&RUSTCRYPTO, &c).unwrap(), SecurityContext::derive(&RUSTCRYPTO, &s).unwrap())
}

/// Options an application may put in a message: Class E (known and unknown)
/// and Class U ones; not Observe, OSCORE or Proxy-Uri, which are tested apart.
const OPTION_NUMBERS: [u16; 21] =
    [1, 3, 4, 5, 7, 8, 11, 12, 14, 15, 17, 20, 23, 27, 28, 39, 60, 252, 258, 292, 2049];

fn packet_strategy(codes: Vec<u8>) -> impl Strategy<Value = Packet> {
    (
        proptest::sample::select(codes),
        proptest::collection::vec(any::<u8>(), 0..=8),
        any::<u16>(),
        proptest::collection::vec(
            (
                proptest::sample::select(OPTION_NUMBERS.to_vec()),
                proptest::collection::vec(any::<u8>(), 0..=20),
            ),
            0..6,
        ),
        proptest::collection::vec(any::<u8>(), 0..300),
        any::<bool>(),
    )
        .prop_map(|(code, token, mid, options, payload, con)| {
            let mut p = Packet::new();
            p.header.code = MessageClass::from(code);
            p.header.message_id = mid;
            p.header.set_type(if con { MessageType::Confirmable } else { MessageType::NonConfirmable });
            p.set_token(token);
            for (n, v) in options {
                p.add_option(CoapOption::from(n), v);
            }
            p.payload = payload;
            p
        })
}

/// The message with one bit flipped in its OSCORE option value or payload
/// (the parts OSCORE protects), chosen by `target`.
fn flip_protected_bit(protected: &Packet, target: prop::sample::Index) -> Packet {
    let option = protected.get_first_option(CoapOption::Oscore).cloned().unwrap_or_default();
    let bit = target.index((option.len() + protected.payload.len()) * 8);
    let mut tampered = protected.clone();
    if bit < option.len() * 8 {
        let mut o = option;
        o[bit / 8] ^= 1 << (bit % 8);
        tampered.clear_option(CoapOption::Oscore);
        tampered.add_option(CoapOption::Oscore, o);
    } else {
        let b = bit - option.len() * 8;
        tampered.payload[b / 8] ^= 1 << (b % 8);
    }
    tampered
}

fn request_codes() -> Vec<u8> {
    (1..=7).collect()
}

fn response_codes() -> Vec<u8> {
    vec![0x41, 0x42, 0x43, 0x44, 0x45, 0x5f, 0x80, 0x81, 0x84, 0x8d, 0xa0, 0xa3]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn option_round_trip(opt in option_strategy()) {
        let bytes = opt.encode().unwrap();
        prop_assert_eq!(OscoreOption::decode(&bytes).unwrap(), opt);
    }

    #[test]
    fn option_decode_never_panics_and_reencodes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(opt) = OscoreOption::decode(&bytes) {
            prop_assert_eq!(opt.encode().unwrap(), bytes);
        }
    }

    #[test]
    fn reserved_bits_rejected(flags in any::<u8>(), flags2 in any::<u8>(), tail in proptest::collection::vec(any::<u8>(), 0..32)) {
        let mut bytes = vec![flags];
        if flags & 0x40 != 0 {
            bytes.push(flags2);
        }
        bytes.extend_from_slice(&tail);
        let reserved = flags & 0x80 != 0
            || (flags & 0x07) >= 6
            || (flags & 0x40 != 0 && flags2 & 0xfe != 0);
        if reserved {
            prop_assert!(matches!(OscoreOption::decode(&bytes), Err(Error::MalformedOption(_))));
        }
    }

    #[test]
    fn request_response_round_trip(
        alg in proptest::sample::select(AEADS.to_vec()),
        secret in proptest::collection::vec(any::<u8>(), 1..40),
        id_context in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)),
        request in packet_strategy(request_codes()),
        response in packet_strategy(response_codes()),
        own_piv in any::<bool>(),
    ) {
        let (mut client, mut server) = pair(alg, &secret, id_context.as_deref());
        let (protected, mut cb) = client.protect_request(&request, 0).unwrap();
        // Through the wire and back.
        let protected = parse_udp(&to_bytes(&protected).unwrap()).unwrap();
        let (got, mut sb) = server.verify_request(&protected, 0).unwrap();
        prop_assert_eq!(&got, &request);
        let mode = if own_piv { ResponsePiv::Own } else { ResponsePiv::Auto };
        let protected = server.protect_response(&response, &mut sb, mode, 0).unwrap();
        let protected = parse_udp(&to_bytes(&protected).unwrap()).unwrap();
        let got = client.verify_response(&protected, &mut cb, 0).unwrap();
        prop_assert_eq!(&got, &response);
    }

    #[test]
    fn any_bit_flip_in_protected_parts_is_rejected_without_state_change(
        alg in proptest::sample::select(AEADS.to_vec()),
        request in packet_strategy(request_codes()),
        target in any::<prop::sample::Index>(),
    ) {
        let (mut client, mut server) = pair(alg, b"secret", Some(b"ctx"));
        let (protected, _) = client.protect_request(&request, 0).unwrap();
        let tampered = flip_protected_bit(&protected, target);
        let window_before = server.recipient().replay_window().clone();
        let ssn_before = server.sender().sequence_number();
        let count_v_before = server.recipient().count_v();
        let result = server.verify_request(&tampered, 0);
        prop_assert!(result.is_err());
        prop_assert_eq!(server.recipient().replay_window(), &window_before);
        prop_assert_eq!(server.sender().sequence_number(), ssn_before);
        let count_v = server.recipient().count_v();
        if matches!(result, Err(Error::DecryptionFailed)) {
            prop_assert!(count_v <= count_v_before + 1);
        } else {
            prop_assert_eq!(count_v, count_v_before);
        }
        // The genuine message still verifies: nothing moved.
        prop_assert!(server.verify_request(&protected, 0).is_ok());
    }

    #[test]
    fn response_bit_flip_rejected(
        alg in proptest::sample::select(AEADS.to_vec()),
        response in packet_strategy(response_codes()),
        own_piv in any::<bool>(),
        target in any::<prop::sample::Index>(),
    ) {
        let (mut client, mut server) = pair(alg, b"secret", None);
        let mut req = Packet::new();
        req.header.code = MessageClass::from(1);
        let (protected, mut cb) = client.protect_request(&req, 0).unwrap();
        let (_, mut sb) = server.verify_request(&protected, 0).unwrap();
        let mode = if own_piv { ResponsePiv::Own } else { ResponsePiv::Auto };
        let protected = server.protect_response(&response, &mut sb, mode, 0).unwrap();
        let tampered = flip_protected_bit(&protected, target);
        prop_assert!(client.verify_response(&tampered, &mut cb, 0).is_err());
        prop_assert!(client.verify_response(&protected, &mut cb, 0).is_ok());
    }

    #[test]
    fn replay_window_matches_model(size in 1u32..=128, ops in proptest::collection::vec(0u64..300, 1..200)) {
        let mut window = ReplayWindow::new(size);
        let mut seen = BTreeSet::new();
        let mut highest: Option<u64> = None;
        for seq in ops {
            let expected = match highest {
                None => ReplayOutcome::Fresh,
                Some(h) if seq > h => ReplayOutcome::Fresh,
                Some(h) if h - seq >= u64::from(size) => ReplayOutcome::TooOld,
                Some(_) if seen.contains(&seq) => ReplayOutcome::Replayed,
                Some(_) => ReplayOutcome::Fresh,
            };
            prop_assert_eq!(window.check(seq), expected);
            prop_assert_eq!(window.accept(seq), expected);
            if expected == ReplayOutcome::Fresh {
                seen.insert(seq);
                highest = Some(highest.map_or(seq, |h| h.max(seq)));
            }
            // Persisted state restores the same window.
            prop_assert_eq!(&ReplayWindow::from_state(size, window.state()), &window);
        }
    }

    #[test]
    fn parse_udp_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        if let Ok(p) = parse_udp(&bytes) {
            // Whatever we accept, coap-lite serialises back to the same bytes
            // or to an equivalent message.
            let again = parse_udp(&to_bytes(&p).unwrap()).unwrap();
            prop_assert_eq!(again, p);
        }
    }

    /// The byte-level API: protect to bytes, verify to bytes and in place;
    /// every path gives back the original message's bytes.
    #[test]
    fn byte_api_round_trip(
        alg in proptest::sample::select(AEADS.to_vec()),
        id_context in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)),
        request in packet_strategy(request_codes()),
        response in packet_strategy(response_codes()),
        own_piv in any::<bool>(),
    ) {
        let (mut client, mut server) = pair(alg, b"secret", id_context.as_deref());
        let request = to_bytes(&request).unwrap();
        let response = to_bytes(&response).unwrap();
        let mut wire = Vec::new();
        let mut cb = client.protect_request_bytes(&request, &mut wire, 0).unwrap();
        // The Packet API protects to the same bytes (it is a layer over this one).
        let mut twin = pair(alg, b"secret", id_context.as_deref()).0;
        let (packet, _) = twin.protect_request(&parse_udp(&request).unwrap(), 0).unwrap();
        prop_assert_eq!(&to_bytes(&packet).unwrap(), &wire);

        let mut in_place = wire.clone();
        let (message, mut sb) = server.verify_request_in_place(&mut in_place, 0).unwrap();
        let mut restored = Vec::new();
        message.write_to(&mut restored).unwrap();
        prop_assert_eq!(&restored, &request);
        // The same message again is a replay, whichever API sees it.
        let mut again = wire.clone();
        let mut out = Vec::new();
        prop_assert!(matches!(server.verify_request_bytes(&mut again, &mut out, 0), Err(Error::Replay(_))));
        prop_assert!(out.is_empty());

        let mode = if own_piv { ResponsePiv::Own } else { ResponsePiv::Auto };
        let mut wire = Vec::new();
        server.protect_response_bytes(&response, &mut sb, mode, &mut wire, 0).unwrap();
        let mut out = Vec::new();
        client.verify_response_bytes(&mut wire, &mut cb, &mut out, 0).unwrap();
        prop_assert_eq!(&out, &response);
    }

    /// Verification of arbitrary bytes never panics; whatever fails appends
    /// nothing and moves no state (a failed decryption only counts).
    #[test]
    fn byte_api_verify_of_garbage_changes_nothing(
        bytes in proptest::collection::vec(any::<u8>(), 0..120),
        as_request in any::<bool>(),
    ) {
        let (mut client, mut server) = pair(AlgorithmId::AES_CCM_16_64_128, b"secret", None);
        let mut req = Packet::new();
        req.header.code = MessageClass::from(1);
        let (_, mut binding) = client.protect_request(&req, 0).unwrap();
        let mut input = bytes.clone();
        let mut out = b"kept".to_vec();
        let (window, count_v) = (server.recipient().replay_window().clone(), server.recipient().count_v());
        let result = if as_request {
            server.verify_request_bytes(&mut input, &mut out, 0).map(|_| ())
        } else {
            client.verify_response_bytes(&mut input, &mut binding, &mut out, 0)
        };
        prop_assert!(result.is_err());
        prop_assert_eq!(&out, b"kept");
        prop_assert_eq!(server.recipient().replay_window(), &window);
        prop_assert!(server.recipient().count_v() <= count_v + 1);
        // The client's binding still accepts its real response.
        prop_assert!(!binding.is_completed());
    }

    /// A flipped bit in the ciphertext of a protected request is refused by
    /// the byte API with nothing appended and no state moved.
    #[test]
    fn byte_api_ciphertext_bit_flip_rejected(
        alg in proptest::sample::select(AEADS.to_vec()),
        request in packet_strategy(request_codes()),
        target in any::<prop::sample::Index>(),
    ) {
        let (mut client, mut server) = pair(alg, b"secret", None);
        let mut wire = Vec::new();
        client.protect_request_bytes(&to_bytes(&request).unwrap(), &mut wire, 0).unwrap();
        let ciphertext_len = MessageView::parse(&wire).unwrap().payload().len();
        let bit = target.index(ciphertext_len * 8);
        let mut tampered = wire.clone();
        let at = wire.len() - ciphertext_len + bit / 8;
        tampered[at] ^= 1 << (bit % 8);
        let window = server.recipient().replay_window().clone();
        let mut out = Vec::new();
        prop_assert!(matches!(server.verify_request_bytes(&mut tampered, &mut out, 0), Err(Error::DecryptionFailed)));
        prop_assert!(out.is_empty());
        prop_assert_eq!(server.recipient().replay_window(), &window);
        prop_assert!(server.verify_request_bytes(&mut wire, &mut out, 0).is_ok());
    }

    /// The strict byte-level parser and parse_udp agree, and the view shows
    /// what coap-lite parsed.
    #[test]
    fn message_view_agrees_with_parse_udp(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        let view = MessageView::parse(&bytes);
        let packet = parse_udp(&bytes);
        prop_assert_eq!(view.is_ok(), packet.is_ok());
        if let (Ok(view), Ok(packet)) = (view, packet) {
            prop_assert_eq!(view.code(), u8::from(packet.header.code));
            prop_assert_eq!(view.token(), packet.get_token());
            prop_assert_eq!(view.message_id(), packet.header.message_id);
            prop_assert_eq!(view.payload(), packet.payload.as_slice());
            let ours: Vec<(u16, Vec<u8>)> = view.options().map(|(n, v)| (n, v.to_vec())).collect();
            let theirs: Vec<(u16, Vec<u8>)> =
                packet.options().flat_map(|(&n, vs)| vs.iter().map(move |v| (n, v.clone()))).collect();
            prop_assert_eq!(ours, theirs);
        }
    }

    /// Restoring from an arbitrary plaintext never panics; what is accepted
    /// has a request code and no Inner OSCORE option.
    #[test]
    fn restore_from_arbitrary_plaintext(plaintext in proptest::collection::vec(any::<u8>(), 0..60)) {
        let (mut client, _) = pair(AlgorithmId::AES_CCM_16_64_128, b"secret", None);
        let mut req = Packet::new();
        req.header.code = MessageClass::from(1);
        let (protected, _) = client.protect_request(&req, 0).unwrap();
        if let Ok(restored) = restore_request(&protected, &plaintext) {
            prop_assert!(matches!(restored.message.header.code, MessageClass::Request(_)) || plaintext[0] < 32);
            prop_assert!(restored.message.get_option(CoapOption::Oscore).is_none());
        }
    }
}
