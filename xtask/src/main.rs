//! `cargo xtask <task>`: project automation through std::process.
//!
//! - `cargo xtask bench [--quick] [--filter F] [--instructions] [--compare aiocoap] [--no-timing]`:
//!   runs the benchmark suite of the `benches` crate and writes
//!   `target/bench-report.md` and `target/bench-report.json` (see [`bench`]).

mod bench;
mod callgrind;
mod report;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.split_first() {
        Some((task, rest)) if task == "bench" => bench::run(rest),
        _ => Err(format!("usage: cargo xtask bench [OPTIONS]\n\n{}", bench::USAGE)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
