//! Instruction counts per operation, with valgrind's callgrind: noise-free
//! figures for regression checks (perf counters are not available on every
//! machine; valgrind is).
//!
//! Method: the `instructions` bench binary runs each operation of one
//! configuration N times through an `#[inline(never)]` function of
//! `benches::ops` that nothing else calls. One valgrind process per
//! configuration (two at a time) writes a callgrind profile; the inclusive
//! cost of `benches::ops::<module>::<function>` (its own instructions and
//! everything it calls) divided by N is the count per operation. Fixture
//! setup, input preparation and the harness lie outside those functions.
//! The profile is read directly: the inclusive cost of a function is the sum
//! of every cost line in its `fn=` blocks (own costs and call costs),
//! written with `--compress-strings=no --compress-pos=no`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::bench::{Options, add_instructions, output};
use crate::report::{Data, Key};

/// Counts instructions for every selected configuration.
pub fn run(exe: &Path, target: &Path, opts: &Options, data: &mut Data) -> Result<(), String> {
    output(Command::new("valgrind").arg("--version"))
        .map_err(|e| format!("--instructions needs valgrind (apt-get install valgrind): {e}"))?;
    let mut list_cmd = Command::new(exe);
    list_cmd.arg("list");
    if opts.quick {
        list_cmd.env("OSCORE_BENCH_QUICK", "1");
    }
    let list = output(&mut list_cmd)?;
    let selected: Vec<&str> = list
        .lines()
        .filter_map(|line| {
            let (id, functions) = line.split_once('\t')?;
            let (group, param) = split_id(id);
            let any = functions.split(',').any(|f| {
                opts.selects(&format!("{group}/{f}{}", param.map(|p| format!("/{p}")).unwrap_or_default()))
            });
            any.then_some(id)
        })
        .collect();
    let dir = target.join("callgrind");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    eprintln!("xtask: counting instructions of {} configurations under callgrind", selected.len());
    for pair in selected.chunks(2) {
        let running: Vec<(&str, PathBuf, Child)> = pair
            .iter()
            .map(|id| {
                let profile = dir.join(format!("{}.out", id.replace('/', "_")));
                let child = Command::new("valgrind")
                    .args(["--tool=callgrind", "--compress-strings=no", "--compress-pos=no"])
                    .arg(format!("--callgrind-out-file={}", profile.display()))
                    .arg(exe)
                    .args(["run", id])
                    .envs(opts.quick.then_some(("OSCORE_BENCH_QUICK", "1")))
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .map_err(|e| format!("cannot start valgrind: {e}"))?;
                Ok((*id, profile, child))
            })
            .collect::<Result<_, String>>()?;
        for (id, profile, child) in running {
            let out = child.wait_with_output().map_err(|e| format!("valgrind for {id}: {e}"))?;
            if !out.status.success() {
                return Err(format!("valgrind for {id} failed:\n{}", String::from_utf8_lossy(&out.stderr)));
            }
            let costs = inclusive_costs(&profile)?;
            let (group, parameter) = split_id(id);
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let mut words = line.split_whitespace();
                let (Some("measured"), Some(function), Some(n)) = (words.next(), words.next(), words.next())
                else {
                    continue;
                };
                let n: f64 = n.parse().map_err(|_| format!("bad iteration count in {line:?}"))?;
                let suffix = format!("::{function}");
                let total: u64 = costs
                    .iter()
                    .filter(|(name, _)| name.starts_with("benches::ops::") && name.ends_with(&suffix))
                    .map(|(_, c)| *c)
                    .sum();
                if total == 0 {
                    return Err(format!(
                        "no callgrind cost for benches::ops::*{suffix} in {}",
                        profile.display()
                    ));
                }
                let key = Key {
                    group: group.to_owned(),
                    function: function.to_owned(),
                    parameter: parameter.map(str::to_owned),
                };
                add_instructions(data, key, total as f64 / n.max(1.0));
            }
        }
    }
    Ok(())
}

/// `group/parameter` → (group, parameter).
fn split_id(id: &str) -> (&str, Option<&str>) {
    match id.split_once('/') {
        Some((g, p)) => (g, Some(p)),
        None => (id, None),
    }
}

/// Inclusive instruction count (event `Ir`) per function name.
fn inclusive_costs(profile: &Path) -> Result<HashMap<String, u64>, String> {
    let text =
        std::fs::read_to_string(profile).map_err(|e| format!("cannot read {}: {e}", profile.display()))?;
    let mut costs: HashMap<String, u64> = HashMap::new();
    let mut positions = 1;
    let mut current: Option<&str> = None;
    for line in text.lines() {
        if let Some(p) = line.strip_prefix("positions:") {
            positions = p.split_whitespace().count();
        } else if let Some(name) = line.strip_prefix("fn=") {
            current = Some(name);
        } else if line.starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '-' || c == '*') {
            let ir = line.split_whitespace().nth(positions).and_then(|v| v.parse::<u64>().ok());
            if let (Some(name), Some(ir)) = (current, ir) {
                *costs.entry(name.to_owned()).or_default() += ir;
            }
        }
    }
    Ok(costs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inclusive cost = own cost lines + call cost lines of every `fn=` block.
    #[test]
    fn inclusive_cost_sums_own_and_call_lines() {
        let profile = "\
positions: line
events: Ir
fn=benches::ops::msg::protect_request
10 5
cfn=oscore_core::protect::protect_request
calls=2 40
11 100
fn=oscore_core::protect::protect_request
40 100
fn=benches::ops::msg::protect_request
12 7
";
        let path = std::env::temp_dir().join(format!("xtask-callgrind-test-{}.out", std::process::id()));
        std::fs::write(&path, profile).unwrap();
        let costs = inclusive_costs(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(costs["benches::ops::msg::protect_request"], 5 + 100 + 7);
        assert_eq!(costs["oscore_core::protect::protect_request"], 100);
    }

    #[test]
    fn ids_split_into_group_and_parameter() {
        assert_eq!(split_id("msg_A128GCM/64"), ("msg_A128GCM", Some("64")));
        assert_eq!(split_id("keyupdate_ring"), ("keyupdate_ring", None));
    }
}
