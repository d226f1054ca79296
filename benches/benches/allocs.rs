//! Heap allocations per operation, counted by a global allocator.
//!
//! `stats_alloc` wraps the system allocator with atomic counters behind a
//! safe `#[global_allocator]` static (no `unsafe` here; the workspace forbids
//! it). It lives in this binary only, so the timed runs of `oscore` are not
//! slowed by the counters. Each operation runs `iterations` times on the same
//! fixtures as the timings (see `benches::probe`); the counts are totals over
//! those runs, divided by `cargo xtask bench`.
//!
//! `cargo bench -p benches --bench allocs -- [--out FILE] [--filter TEXT]`
//! writes JSON (to stdout without `--out`): the baseline table
//! (`benches::BASELINES`) and one record per operation.

// Writing the result is the program's whole job: a failure stops it with a message.
#![allow(clippy::expect_used)]

use std::alloc::System;

use benches::BASELINES;
use benches::probe::{Config, Probe, run};
use serde_json::{Value, json};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

struct Counter {
    config: Config,
    filter: Option<String>,
    records: Vec<Value>,
}

impl Probe for Counter {
    fn measure(&mut self, function: &str, iterations: usize, body: &mut dyn FnMut()) {
        let id = format!(
            "{}/{function}{}",
            self.config.group(),
            self.config.parameter().map(|p| format!("/{p}")).unwrap_or_default()
        );
        if self.filter.as_deref().is_some_and(|f| !id.contains(f)) {
            return;
        }
        let region = Region::new(GLOBAL);
        body();
        let stats = region.change();
        self.records.push(json!({
            "id": id,
            "group": self.config.group(),
            "function": function,
            "parameter": self.config.parameter(),
            "iterations": iterations,
            "allocations": stats.allocations,
            "reallocations": stats.reallocations,
            "deallocations": stats.deallocations,
            "bytes_allocated": stats.bytes_allocated,
        }));
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut out, mut filter) = (None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => out = args.next(),
            "--filter" => filter = args.next(),
            // `cargo bench` passes `--bench`; nothing else is expected.
            _ => {}
        }
    }
    let mut records = Vec::new();
    for config in Config::all() {
        let mut counter = Counter { config, filter: filter.clone(), records: Vec::new() };
        run(config, config.iterations(), &mut counter);
        records.append(&mut counter.records);
    }
    let baselines: Vec<Value> = BASELINES.iter().map(|(g, f, b)| json!([g, f, b])).collect();
    let doc = json!({ "baselines": baselines, "results": records });
    let text = serde_json::to_string_pretty(&doc).expect("JSON serialises");
    match out {
        Some(path) => std::fs::write(&path, text).expect("allocation report written"),
        None => println!("{text}"),
    }
}
