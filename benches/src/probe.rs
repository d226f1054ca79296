//! The benchmark configurations, and a driver that runs every operation of
//! one configuration a fixed number of times, for the binaries that count
//! (allocations, instructions) rather than time.
//!
//! Inputs that an operation consumes (a fresh protected message to verify, a
//! request binding to answer) are all made before the operation's runs, so
//! only the operation itself is inside [`Probe::measure`].

use coap_lite::Packet;
use oscore_core::crypto::AlgorithmId;
use oscore_core::{RequestBinding, ResponsePiv};

use crate::fixtures::{
    AEADS, FIRST_SSN, GROUP_PAYLOAD, GroupFixture, KeyUpdateFixture, NOW, PairwiseFixture, Provider, RawAead,
    RawDerivation, SIGNATURES, c1_params, pair, payload_sizes, protected_request_bytes,
    protected_response_bytes, providers, request, request_binding, request_bytes, response, response_bytes,
};
use crate::ops;
use oscore_core::protect::PROTECT_OVERHEAD;

/// What a configuration measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Context derivation for one AEAD.
    Derive(AlgorithmId, &'static str),
    /// Request and response protection for one AEAD and payload size.
    Msg(AlgorithmId, &'static str, usize),
    /// Group signature mode for one signature algorithm and payload size.
    Group(AlgorithmId, &'static str, usize),
    /// Pairwise-key derivation for one signature algorithm.
    Pairwise(AlgorithmId, &'static str),
    /// Key update: `updateCtx()` and the exchange.
    KeyUpdate,
}

/// One benchmark configuration: a criterion group and parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// The crypto provider.
    pub provider: Provider,
    /// What is measured.
    pub kind: Kind,
}

impl Config {
    /// Every configuration of this run, for every provider and what it
    /// offers (quick mode has fewer payload sizes).
    pub fn all() -> Vec<Config> {
        let mut all = Vec::new();
        for &provider in providers() {
            let aeads: Vec<(AlgorithmId, &'static str)> =
                AEADS.iter().copied().filter(|(a, _)| provider.offers_aead(*a)).collect();
            let kinds = aeads
                .iter()
                .map(|&(a, n)| Kind::Derive(a, n))
                .chain(
                    aeads.iter().flat_map(|&(a, n)| payload_sizes().iter().map(move |&s| Kind::Msg(a, n, s))),
                )
                .chain(SIGNATURES.iter().map(|&(a, n)| Kind::Group(a, n, GROUP_PAYLOAD)))
                .chain(SIGNATURES.iter().map(|&(a, n)| Kind::Pairwise(a, n)))
                .chain(std::iter::once(Kind::KeyUpdate));
            all.extend(kinds.map(|kind| Config { provider, kind }));
        }
        all
    }

    /// The configuration with this [`id`](Self::id).
    pub fn parse(id: &str) -> Option<Config> {
        Self::all().into_iter().find(|c| c.id() == id)
    }

    /// The criterion group name.
    pub fn group(&self) -> String {
        let base = match self.kind {
            Kind::Derive(..) => "derive".to_owned(),
            Kind::Msg(_, name, _) => format!("msg_{name}"),
            Kind::Group(_, name, _) => format!("group_{name}"),
            Kind::Pairwise(_, name) => format!("pairwise_{name}"),
            Kind::KeyUpdate => "keyupdate".to_owned(),
        };
        format!("{base}{}", self.provider.suffix)
    }

    /// The criterion parameter, if any.
    pub fn parameter(&self) -> Option<String> {
        match self.kind {
            Kind::Derive(_, name) => Some(name.to_owned()),
            Kind::Msg(.., size) | Kind::Group(.., size) => Some(size.to_string()),
            Kind::Pairwise(..) | Kind::KeyUpdate => None,
        }
    }

    /// `group/parameter`, or `group` without a parameter.
    pub fn id(&self) -> String {
        match self.parameter() {
            Some(p) => format!("{}/{p}", self.group()),
            None => self.group(),
        }
    }

    /// The functions [`run`] measures for this configuration, in order.
    pub fn functions(&self) -> &'static [&'static str] {
        match self.kind {
            Kind::Derive(..) => &["derive_context", "derive_keys", "raw_hkdf3_prepare2", "raw_hkdf3"],
            Kind::Msg(..) => &[
                "protect_request",
                "verify_request",
                "protect_verify_request",
                "protect_response",
                "verify_response",
                "protect_request_bytes",
                "verify_request_bytes",
                "protect_verify_request_bytes",
                "protect_response_bytes",
                "verify_response_bytes",
                "verify_request_in_place",
                "protect_verify_request_in_place",
                "verify_response_in_place",
                "raw_seal_request",
                "raw_open_request",
                "raw_seal_open_request",
                "raw_seal_response",
                "raw_open_response",
            ],
            Kind::Group(..) => {
                &["protect_request", "verify_request", "check_request", "raw_sign", "raw_verify"]
            }
            Kind::Pairwise(..) => &["derive_cold", "derive_warm", "raw_ecdh_hkdf", "raw_hkdf"],
            Kind::KeyUpdate => &["update_ctx", "exchange", "raw_hkdf_expand", "raw_exchange"],
        }
    }

    /// How many times each operation runs (signatures are slow under valgrind).
    pub fn iterations(&self) -> usize {
        match self.kind {
            Kind::Derive(..) | Kind::Msg(..) => 256,
            Kind::Group(..) | Kind::Pairwise(..) | Kind::KeyUpdate => 32,
        }
    }
}

/// What is done around each operation's runs.
pub trait Probe {
    /// Runs `body`, which performs `function` `iterations` times.
    fn measure(&mut self, function: &str, iterations: usize, body: &mut dyn FnMut());
}

/// Runs every operation of `config` `n` times under `probe`.
pub fn run(config: Config, n: usize, probe: &mut dyn Probe) {
    let p = config.provider;
    match config.kind {
        Kind::Derive(aead, _) => run_derive(p, aead, n, probe),
        Kind::Msg(aead, _, size) => run_msg(p, aead, size, n, probe),
        Kind::Group(alg, _, size) => run_group(p, alg, size, n, probe),
        Kind::Pairwise(alg, _) => run_pairwise(p, alg, n, probe),
        Kind::KeyUpdate => run_keyupdate(p, n, probe),
    }
}

fn run_derive(p: Provider, aead: AlgorithmId, n: usize, probe: &mut dyn Probe) {
    use ops::derive::*;
    let params = c1_params("C.1.1", aead);
    let raw = RawDerivation::new(p, aead);
    probe.measure("derive_context", n, &mut || (0..n).for_each(|_| derive_context(p.provider, &params)));
    probe.measure("derive_keys", n, &mut || (0..n).for_each(|_| derive_keys(p.provider, &params)));
    probe.measure("raw_hkdf3_prepare2", n, &mut || (0..n).for_each(|_| raw_hkdf3_prepare2(&raw)));
    probe.measure("raw_hkdf3", n, &mut || (0..n).for_each(|_| raw_hkdf3(&raw)));
}

#[allow(clippy::expect_used)] // fixtures: a failure is a broken build
fn run_msg(p: Provider, aead: AlgorithmId, size: usize, n: usize, probe: &mut dyn Probe) {
    use ops::msg::*;
    let (mut client, mut server) = pair(p, aead);
    let (req, resp) = (request(size), response(size));

    probe.measure("protect_request", n, &mut || (0..n).for_each(|_| protect_request(&mut client, &req)));

    let fresh: Vec<Packet> =
        (0..n).map(|_| client.protect_request(&req, NOW).expect("request protects").0).collect();
    probe.measure("verify_request", n, &mut || fresh.iter().for_each(|p| verify_request(&mut server, p)));
    drop(fresh);

    probe.measure("protect_verify_request", n, &mut || {
        (0..n).for_each(|_| protect_verify_request(&mut client, &mut server, &req));
    });

    let mut bindings: Vec<RequestBinding> = (0..n as u64).map(|i| request_binding(FIRST_SSN + i)).collect();
    probe.measure("protect_response", n, &mut || {
        bindings.iter_mut().for_each(|b| protect_response(&mut server, &resp, b));
    });

    let mut answered: Vec<(Packet, RequestBinding)> = (0..n as u64)
        .map(|i| {
            let protected = server
                .protect_response(&resp, &mut request_binding(FIRST_SSN + i), ResponsePiv::Auto, NOW)
                .expect("response protects");
            (protected, request_binding(FIRST_SSN + i))
        })
        .collect();
    probe.measure("verify_response", n, &mut || {
        answered.iter_mut().for_each(|(p, b)| verify_response(&mut client, p, b));
    });
    drop(answered);

    let (req, resp) = (request_bytes(size), response_bytes(size));
    let mut out = Vec::with_capacity(req.len().max(resp.len()) + PROTECT_OVERHEAD);
    let mut wire = Vec::with_capacity(out.capacity());
    probe.measure("protect_request_bytes", n, &mut || {
        (0..n).for_each(|_| protect_request_bytes(&mut client, &req, &mut out));
    });
    let mut fresh: Vec<Vec<u8>> = (0..n).map(|_| protected_request_bytes(&mut client, &req)).collect();
    probe.measure("verify_request_bytes", n, &mut || {
        fresh.iter_mut().for_each(|p| verify_request_bytes(&mut server, p, &mut out));
    });
    drop(fresh);
    probe.measure("protect_verify_request_bytes", n, &mut || {
        (0..n)
            .for_each(|_| protect_verify_request_bytes(&mut client, &mut server, &req, &mut wire, &mut out));
    });
    let mut bindings: Vec<RequestBinding> =
        (0..n as u64).map(|i| request_binding(FIRST_SSN + n as u64 + i)).collect();
    probe.measure("protect_response_bytes", n, &mut || {
        bindings.iter_mut().for_each(|b| protect_response_bytes(&mut server, &resp, b, &mut out));
    });
    let mut answered: Vec<(Vec<u8>, RequestBinding)> = (0..n as u64)
        .map(|i| protected_response_bytes(&mut server, &resp, FIRST_SSN + 2 * n as u64 + i))
        .collect();
    probe.measure("verify_response_bytes", n, &mut || {
        answered.iter_mut().for_each(|(p, b)| verify_response_bytes(&mut client, p, b, &mut out));
    });

    let mut fresh: Vec<Vec<u8>> = (0..n).map(|_| protected_request_bytes(&mut client, &req)).collect();
    probe.measure("verify_request_in_place", n, &mut || {
        fresh.iter_mut().for_each(|p| verify_request_in_place(&mut server, p));
    });
    drop(fresh);
    probe.measure("protect_verify_request_in_place", n, &mut || {
        (0..n).for_each(|_| protect_verify_request_in_place(&mut client, &mut server, &req, &mut wire));
    });
    let mut answered: Vec<(Vec<u8>, RequestBinding)> = (0..n as u64)
        .map(|i| protected_response_bytes(&mut server, &resp, FIRST_SSN + 3 * n as u64 + i))
        .collect();
    probe.measure("verify_response_in_place", n, &mut || {
        answered.iter_mut().for_each(|(p, b)| verify_response_in_place(&mut client, p, b));
    });

    let mut raw = RawAead::for_request(p, aead, size);
    probe.measure("raw_seal_request", n, &mut || (0..n).for_each(|_| raw_seal_request(&mut raw)));
    probe.measure("raw_open_request", n, &mut || (0..n).for_each(|_| raw_open_request(&mut raw)));
    probe.measure("raw_seal_open_request", n, &mut || (0..n).for_each(|_| raw_seal_open_request(&mut raw)));
    let mut raw = RawAead::for_response(p, aead, size);
    probe.measure("raw_seal_response", n, &mut || (0..n).for_each(|_| raw_seal_response(&mut raw)));
    probe.measure("raw_open_response", n, &mut || (0..n).for_each(|_| raw_open_response(&mut raw)));
}

#[allow(clippy::expect_used)] // fixtures: a failure is a broken build
fn run_group(p: Provider, alg: AlgorithmId, size: usize, n: usize, probe: &mut dyn Probe) {
    use ops::group::*;
    let mut fx = GroupFixture::new(p, alg, size);
    let req = fx.request.clone();
    probe.measure("protect_request", n, &mut || (0..n).for_each(|_| protect_request(&mut fx.client, &req)));
    let fresh: Vec<Packet> = (0..n)
        .map(|_| {
            fx.client
                .protect_request(&req, oscore_group::RequestMode::Group, NOW)
                .expect("request protects")
                .0
        })
        .collect();
    probe.measure("verify_request", n, &mut || fresh.iter().for_each(|p| verify_request(&mut fx.server, p)));
    let protected = fx.protected.clone();
    probe
        .measure("check_request", n, &mut || (0..n).for_each(|_| check_request(&mut fx.checker, &protected)));
    probe.measure("raw_sign", n, &mut || (0..n).for_each(|_| raw_sign(&*fx.signing_key, &fx.to_be_signed)));
    probe.measure("raw_verify", n, &mut || {
        (0..n).for_each(|_| raw_verify(&*fx.verifying_key, &fx.to_be_signed, &fx.signature));
    });
}

fn run_pairwise(p: Provider, alg: AlgorithmId, n: usize, probe: &mut dyn Probe) {
    use ops::pairwise::*;
    let mut fx = PairwiseFixture::new(p, alg);
    probe.measure("derive_cold", n, &mut || (0..n).for_each(|_| derive_cold(&mut fx)));
    // Cold runs left the cache holding the peer again: warm from here on.
    probe.measure("derive_warm", n, &mut || (0..n).for_each(|_| derive_warm(&mut fx)));
    probe.measure("raw_ecdh_hkdf", n, &mut || (0..n).for_each(|_| raw_ecdh_hkdf(&fx)));
    probe.measure("raw_hkdf", n, &mut || (0..n).for_each(|_| raw_hkdf(&fx)));
}

fn run_keyupdate(p: Provider, n: usize, probe: &mut dyn Probe) {
    use ops::keyupdate::*;
    let mut fx = KeyUpdateFixture::new(p);
    probe.measure("update_ctx", n, &mut || (0..n).for_each(|_| update_ctx(&fx)));
    probe.measure("exchange", n, &mut || (0..n).for_each(|_| exchange(&mut fx)));
    probe.measure("raw_hkdf_expand", n, &mut || (0..n).for_each(|_| raw_hkdf_expand(&fx)));
    probe.measure("raw_exchange", n, &mut || (0..n).for_each(|_| raw_exchange(&mut fx)));
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Names(Vec<String>);

    impl Probe for Names {
        fn measure(&mut self, function: &str, _: usize, body: &mut dyn FnMut()) {
            body();
            self.0.push(function.to_owned());
        }
    }

    /// Every configuration runs, and measures exactly the functions it lists
    /// (which `cargo xtask bench` matches with criterion's and callgrind's names).
    #[test]
    fn every_configuration_runs_its_listed_functions() {
        for config in Config::all() {
            let mut names = Names(Vec::new());
            run(config, 2, &mut names);
            assert_eq!(names.0, config.functions(), "{}", config.id());
            assert_eq!(Config::parse(&config.id()), Some(config));
        }
    }

    /// Every measured function has a baseline in its configuration.
    #[test]
    fn every_measured_function_has_a_baseline_beside_it() {
        for config in Config::all() {
            for f in config.functions().iter().filter(|f| !f.starts_with("raw_")) {
                let baseline = crate::BASELINES
                    .iter()
                    .find(|(g, m, _)| config.group().starts_with(g) && m == f)
                    .map(|(_, _, b)| *b);
                assert!(
                    baseline.is_some_and(|b| config.functions().contains(&b)),
                    "{}/{f} has no baseline",
                    config.id()
                );
            }
        }
    }
}
