//! Instruction counts per operation, for `valgrind --tool=callgrind`.
//!
//! `instructions list` prints the configuration ids of this run, each with
//! its functions (`ID<TAB>F1,F2,...`);
//! `instructions run ID` builds that configuration's fixtures and runs each
//! of its operations `iterations` times, printing `measured FUNCTION N` per
//! operation. Under callgrind, the inclusive cost of each
//! `benches::ops::<module>::FUNCTION` (an `#[inline(never)]` function called
//! only there) divided by N is the instruction count of one operation: setup,
//! fixtures and the harness sit outside those functions and are not counted.
//! `cargo xtask bench --instructions` runs one valgrind process per
//! configuration and reads the costs with `callgrind_annotate --inclusive=yes`.
//!
//! Without valgrind the binary just runs (a smoke test of the fixtures).

use std::process::ExitCode;

use benches::probe::{Config, Probe, run};

/// Runs the body: callgrind does the counting.
struct Announce;

impl Probe for Announce {
    fn measure(&mut self, function: &str, iterations: usize, body: &mut dyn FnMut()) {
        body();
        println!("measured {function} {iterations}");
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["list"] => {
            for config in Config::all() {
                println!("{}\t{}", config.id(), config.functions().join(","));
            }
            ExitCode::SUCCESS
        }
        ["run", id] => match Config::parse(id) {
            Some(config) => {
                run(config, config.iterations(), &mut Announce);
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("unknown configuration {id:?}; see `instructions list`");
                ExitCode::FAILURE
            }
        },
        [] => {
            for config in Config::all() {
                run(config, 1, &mut Announce);
            }
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: instructions [list | run CONFIG]");
            ExitCode::FAILURE
        }
    }
}
