//! `cargo xtask bench`: runs the `benches` crate and writes the report.
//!
//! The three bench binaries are built with one `cargo bench --no-run` and
//! then run directly, so cargo's build lock is not held while measuring.
//!
//! 1. Timings: the `oscore` bench binary (criterion), with
//!    `CRITERION_HOME=target/criterion/oscore-benches` so that other criterion
//!    runs in the workspace cannot mix in; the results are read from
//!    `target/criterion/oscore-benches/**/new/{benchmark,estimates}.json`
//!    written by this run (older files are ignored), never from stdout.
//! 2. Allocations: the `allocs` bench binary, which has a
//!    counting global allocator, which writes `target/bench-allocs.json`
//!    (also the table of which baseline each operation is compared with).
//! 3. With `--instructions`: instruction counts under callgrind (see
//!    [`crate::callgrind`]).
//! 4. With `--compare aiocoap`: aiocoap's OSCORE in a pinned Python venv,
//!    `benches/aiocoap/oscore_bench.py`, on the same message and context.
//!
//! Then [`crate::report`] writes `target/bench-report.md` and `.json`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use serde_json::Value;

use crate::report::{Data, Key, Row};

/// Help text.
pub const USAGE: &str = "\
OPTIONS
  --quick             short warm-up and measurement, payloads of 64 and 1024 bytes only
                      (under 5 minutes on 2 cores)
  --filter F          only benchmarks whose id group/function/parameter contains F
                      (criterion reads F as a regex; ids hold no metacharacters)
  --instructions      also count instructions per operation with valgrind --tool=callgrind
  --compare aiocoap   also measure aiocoap's OSCORE protect/verify of the same message
                      (Python venv with a pinned aiocoap in target/aiocoap-venv)
  --no-timing         skip the criterion timings (with --instructions: a noise-free run)
Writes target/bench-report.md and target/bench-report.json.";

/// Command-line options.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--quick`.
    pub quick: bool,
    /// `--filter F`.
    pub filter: Option<String>,
    /// `--instructions`.
    pub instructions: bool,
    /// `--compare aiocoap`.
    pub aiocoap: bool,
    /// Not `--no-timing`.
    pub timing: bool,
    /// The command as typed, for the report.
    pub command: String,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut o = Options {
            quick: false,
            filter: None,
            instructions: false,
            aiocoap: false,
            timing: true,
            command: std::iter::once("cargo xtask bench")
                .chain(args.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" "),
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--quick" => o.quick = true,
                "--filter" => o.filter = Some(it.next().ok_or("--filter needs a value")?.clone()),
                "--instructions" => o.instructions = true,
                "--no-timing" => o.timing = false,
                "--compare" => match it.next().map(String::as_str) {
                    Some("aiocoap") => o.aiocoap = true,
                    other => return Err(format!("--compare: only `aiocoap` is known, not {other:?}")),
                },
                "-h" | "--help" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown option {other:?}\n\n{USAGE}")),
            }
        }
        Ok(o)
    }

    /// True when the benchmark id `group/function[/parameter]` passes the filter.
    pub fn selects(&self, id: &str) -> bool {
        self.filter.as_deref().is_none_or(|f| id.contains(f))
    }

    /// The criterion options of this mode.
    fn criterion_args(&self) -> Vec<&'static str> {
        if self.quick {
            vec![
                "--warm-up-time",
                "0.2",
                "--measurement-time",
                "0.5",
                "--sample-size",
                "20",
                "--nresamples",
                "5000",
            ]
        } else {
            vec!["--warm-up-time", "1", "--measurement-time", "3", "--sample-size", "50"]
        }
    }

    /// A line for the report saying what this mode measures with.
    pub fn mode(&self) -> String {
        let timing = self.criterion_args().join(" ");
        let sizes = if self.quick { "64, 1024" } else { "0, 64, 256, 1024" };
        format!(
            "{} (criterion {timing}); payload sizes {sizes} bytes",
            if self.quick { "quick" } else { "full" }
        )
    }
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The cargo target directory.
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// `cargo` with this mode's environment, in the workspace root.
pub fn cargo(root: &Path, opts: &Options) -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root);
    if opts.quick {
        cmd.env("OSCORE_BENCH_QUICK", "1");
    } else {
        cmd.env_remove("OSCORE_BENCH_QUICK");
    }
    cmd
}

/// Runs a command to completion; a failure is an error naming it.
pub fn status(cmd: &mut Command) -> Result<(), String> {
    let status = cmd.status().map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{cmd:?} failed: {status}")) }
}

/// Runs a command and returns its standard output.
pub fn output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{cmd:?} failed: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Reads and parses a JSON file.
pub fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// `cargo xtask bench ARGS`.
pub fn run(args: &[String]) -> Result<(), String> {
    let opts = Options::parse(args)?;
    let root = workspace_root();
    let target = target_dir(&root);
    let mut data = Data::new(&opts);
    let clock = std::time::Instant::now();
    let phase = |name: &str| eprintln!("xtask: {name} done after {:.0} s", clock.elapsed().as_secs_f64());

    let exes = build(&root, &opts)?;
    phase("build");

    if opts.timing {
        let started = SystemTime::now();
        let criterion_home = target.join("criterion").join("oscore-benches");
        let mut cmd = bench_command(&exes, "oscore", &target, &opts)?;
        cmd.env("CRITERION_HOME", &criterion_home);
        cmd.arg("--noplot").args(opts.criterion_args()).args(opts.filter.iter());
        status(&mut cmd)?;
        collect_criterion(&criterion_home, started, &mut data)?;
        phase("timings");
    }

    let allocs_file = target.join("bench-allocs.json");
    let mut cmd = bench_command(&exes, "allocs", &target, &opts)?;
    cmd.arg("--out").arg(&allocs_file);
    if let Some(f) = &opts.filter {
        cmd.args(["--filter", f]);
    }
    status(&mut cmd)?;
    collect_allocations(&read_json(&allocs_file)?, &mut data)?;
    phase("allocation counts");

    if opts.instructions {
        let exe = exes.get("instructions").ok_or("cargo built no `instructions` executable")?;
        crate::callgrind::run(exe, &target, &opts, &mut data)?;
        phase("instruction counts");
    }
    if opts.aiocoap {
        data.aiocoap = Some(aiocoap(&root, &target, &opts)?);
        phase("aiocoap comparison");
    }
    crate::report::write(&target, &data)
}

/// Builds the three bench binaries of `benches` (one cargo call, which holds
/// the build lock only while building) and returns them by target name.
fn build(root: &Path, opts: &Options) -> Result<HashMap<String, PathBuf>, String> {
    let mut cmd = cargo(root, opts);
    // The `ring` provider is measured beside RustCrypto.
    cmd.args(["bench", "-j", "2", "-p", "benches", "--features", "ring", "--no-run"]);
    cmd.arg("--message-format=json-render-diagnostics");
    cmd.stderr(std::process::Stdio::inherit());
    let messages = output(&mut cmd)?;
    let exes: HashMap<String, PathBuf> = messages
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|m| {
            let name = m.get("target")?.get("name")?.as_str()?.to_owned();
            let exe = m.get("executable")?.as_str()?;
            Some((name, PathBuf::from(exe)))
        })
        .collect();
    Ok(exes)
}

/// A bench binary, run directly (not through cargo) with this mode's
/// environment: criterion finds `target/` through `CARGO_TARGET_DIR`.
fn bench_command(
    exes: &HashMap<String, PathBuf>,
    name: &str,
    target: &Path,
    opts: &Options,
) -> Result<Command, String> {
    let exe = exes.get(name).ok_or_else(|| format!("cargo built no `{name}` bench executable"))?;
    let mut cmd = Command::new(exe);
    cmd.current_dir(workspace_root()).env("CARGO_TARGET_DIR", target).arg("--bench");
    if opts.quick {
        cmd.env("OSCORE_BENCH_QUICK", "1");
    } else {
        cmd.env_remove("OSCORE_BENCH_QUICK");
    }
    Ok(cmd)
}

/// Adds every benchmark criterion wrote since `started`.
fn collect_criterion(dir: &Path, started: SystemTime, data: &mut Data) -> Result<(), String> {
    let mut found = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| format!("cannot read {}: {e}", d.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            let bench = path.join("benchmark.json");
            let fresh = std::fs::metadata(&bench).and_then(|m| m.modified()).is_ok_and(|t| t >= started);
            if path.file_name().is_some_and(|n| n == "new") && fresh {
                add_timing(&read_json(&bench)?, &read_json(&path.join("estimates.json"))?, data);
                found += 1;
            } else {
                stack.push(path);
            }
        }
    }
    if found == 0 {
        return Err(format!("criterion wrote no results under {} (filter matched nothing?)", dir.display()));
    }
    Ok(())
}

fn add_timing(bench: &Value, estimates: &Value, data: &mut Data) {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let Some(group) = text(bench, "group_id") else { return };
    let Some(function) = text(bench, "function_id") else { return };
    let row = data.row(Key { group, function, parameter: text(bench, "value_str") });
    let median = estimates.get("median");
    row.median_ns = median.and_then(|m| m.get("point_estimate")).and_then(Value::as_f64);
    let ci = median.and_then(|m| m.get("confidence_interval"));
    let bound = |k: &str| ci.and_then(|c| c.get(k)).and_then(Value::as_f64);
    row.median_ci_ns = bound("lower_bound").zip(bound("upper_bound"));
    row.mean_ns = estimates.get("mean").and_then(|m| m.get("point_estimate")).and_then(Value::as_f64);
}

fn collect_allocations(doc: &Value, data: &mut Data) -> Result<(), String> {
    let baselines =
        doc.get("baselines").and_then(Value::as_array).ok_or("allocation report without baselines")?;
    for b in baselines {
        let s = |i: usize| b.get(i).and_then(Value::as_str).unwrap_or_default().to_owned();
        data.baselines.push((s(0), s(1), s(2)));
    }
    for r in doc.get("results").and_then(Value::as_array).into_iter().flatten() {
        let text = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_owned);
        let num = |k: &str| r.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        let (Some(group), Some(function)) = (text("group"), text("function")) else { continue };
        let n = num("iterations").max(1.0);
        let row = data.row(Key { group, function, parameter: text("parameter") });
        row.allocations = Some(num("allocations") / n);
        row.reallocations = Some(num("reallocations") / n);
        row.bytes_allocated = Some(num("bytes_allocated") / n);
    }
    Ok(())
}

/// The aiocoap version the comparison pins (with its dependencies in
/// `benches/aiocoap/requirements.txt`).
const AIOCOAP_VERSION: &str = "0.4.17";

/// Makes the venv if needed, runs the Python benchmark, returns its JSON.
fn aiocoap(root: &Path, target: &Path, opts: &Options) -> Result<Value, String> {
    let venv = target.join("aiocoap-venv");
    let python = venv.join("bin").join("python");
    let installed = Command::new(&python)
        .args(["-c", "import importlib.metadata as m; print(m.version('aiocoap'))"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if installed.as_deref() != Some(AIOCOAP_VERSION) {
        eprintln!("xtask: installing aiocoap {AIOCOAP_VERSION} into {}", venv.display());
        status(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        status(
            Command::new(&python)
                .args(["-m", "pip", "install", "--quiet", "-r"])
                .arg(root.join("benches/aiocoap/requirements.txt")),
        )?;
    }
    let out = target.join("bench-aiocoap.json");
    let sizes = if opts.quick { "64,1024" } else { "0,64,256,1024" };
    status(
        Command::new(&python)
            .args(["-W", "ignore"])
            .arg(root.join("benches/aiocoap/oscore_bench.py"))
            .arg(root.join("test-vectors/rfc8613_appendix_c.json"))
            .arg(&out)
            .arg(sizes),
    )?;
    read_json(&out)
}

/// Adds the instruction count of one operation (used by [`crate::callgrind`]).
pub fn add_instructions(data: &mut Data, key: Key, per_op: f64) {
    let row: &mut Row = data.row(key);
    row.instructions = Some(per_op);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn options_parse() {
        let o = Options::parse(&args(&["--quick", "--filter", "msg_", "--compare", "aiocoap"])).unwrap();
        assert!(o.quick && o.aiocoap && o.timing && !o.instructions);
        assert_eq!(o.command, "cargo xtask bench --quick --filter msg_ --compare aiocoap");
        assert!(o.selects("msg_A128GCM/protect_request/64"));
        assert!(!o.selects("derive/derive_context/A128GCM"));
        assert!(Options::parse(&args(&["--compare", "libcoap"])).is_err());
        assert!(Options::parse(&args(&["--bogus"])).is_err());
    }
}
