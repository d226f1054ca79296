//! The bench report: `target/bench-report.md` (tables) and
//! `target/bench-report.json` (the same figures, machine-readable).
//!
//! Per benchmark: criterion's median time (and its 95 % confidence
//! interval in the JSON), throughput (operations per second and, for
//! messages, payload MiB/s), the baseline it is compared with and the ratio of
//! the medians, heap allocations per operation, and with `--instructions` the
//! instruction count per operation and its ratio to the baseline's.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::bench::Options;

/// A benchmark: criterion group, function and parameter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    /// Criterion group (`derive`, `msg_<AEAD>`, `group_<sig>`, `pairwise_<sig>`).
    pub group: String,
    /// Function (`raw_*` are baselines).
    pub function: String,
    /// Parameter (payload bytes or AEAD), if any.
    pub parameter: Option<String>,
}

impl Key {
    /// `group/function[/parameter]`, as criterion names it.
    pub fn id(&self) -> String {
        match &self.parameter {
            Some(p) => format!("{}/{}/{p}", self.group, self.function),
            None => format!("{}/{}", self.group, self.function),
        }
    }

    /// The payload size, for message and group benchmarks.
    fn payload(&self) -> Option<u64> {
        let sized = self.group.starts_with("msg_") || self.group.starts_with("group_");
        self.parameter.as_deref().filter(|_| sized).and_then(|p| p.parse().ok())
    }

    fn is_baseline(&self) -> bool {
        self.function.starts_with("raw_")
    }

    /// Report order: groups in suite order, then parameter (numerically),
    /// measured operations before baselines.
    fn order(&self) -> (u8, String, u64, String, bool, String) {
        let rank = ["derive", "msg_", "group_", "pairwise_", "keyupdate"]
            .iter()
            .position(|p| self.group.starts_with(p))
            .and_then(|i| u8::try_from(i).ok())
            .unwrap_or(u8::MAX);
        let param = self.parameter.clone().unwrap_or_default();
        let numeric = param.parse().unwrap_or(u64::MAX);
        (rank, self.group.clone(), numeric, param, self.is_baseline(), self.function.clone())
    }
}

/// What was measured of one benchmark.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// Median time per operation, ns.
    pub median_ns: Option<f64>,
    /// 95 % confidence interval of the median, ns.
    pub median_ci_ns: Option<(f64, f64)>,
    /// Mean time per operation, ns.
    pub mean_ns: Option<f64>,
    /// Heap allocations per operation.
    pub allocations: Option<f64>,
    /// Reallocations per operation.
    pub reallocations: Option<f64>,
    /// Bytes allocated per operation.
    pub bytes_allocated: Option<f64>,
    /// Instructions per operation.
    pub instructions: Option<f64>,
}

/// Everything one run collected.
#[derive(Debug)]
pub struct Data {
    opts: Options,
    /// `(group prefix, function, baseline function)`.
    pub baselines: Vec<(String, String, String)>,
    rows: BTreeMap<Key, Row>,
    /// aiocoap's results (`benches/aiocoap/oscore_bench.py`).
    pub aiocoap: Option<Value>,
}

impl Data {
    /// An empty collection for a run with `opts`.
    pub fn new(opts: &Options) -> Self {
        Self { opts: opts.clone(), baselines: Vec::new(), rows: BTreeMap::new(), aiocoap: None }
    }

    /// The row of `key`, created empty if needed; rows outside the filter are
    /// kept out of the report by [`write`].
    pub fn row(&mut self, key: Key) -> &mut Row {
        self.rows.entry(key).or_default()
    }

    fn baseline_of(&self, key: &Key) -> Option<Key> {
        self.baselines
            .iter()
            .find(|(prefix, f, _)| key.group.starts_with(prefix.as_str()) && *f == key.function)
            .map(|(_, _, b)| Key {
                group: key.group.clone(),
                function: b.clone(),
                parameter: key.parameter.clone(),
            })
    }

    fn get(&self, group: &str, function: &str, parameter: Option<&str>) -> Option<&Row> {
        let key = Key {
            group: group.to_owned(),
            function: function.to_owned(),
            parameter: parameter.map(str::to_owned),
        };
        self.rows.get(&key)
    }

    /// (time ratio, instruction ratio) of `key` to its baseline.
    fn ratios(&self, key: &Key) -> (Option<f64>, Option<f64>) {
        let Some(row) = self.rows.get(key) else { return (None, None) };
        let Some(base) = self.baseline_of(key).and_then(|b| self.rows.get(&b)) else { return (None, None) };
        let ratio = |a: Option<f64>, b: Option<f64>| a.zip(b).filter(|(_, b)| *b > 0.0).map(|(a, b)| a / b);
        (ratio(row.median_ns, base.median_ns), ratio(row.instructions, base.instructions))
    }
}

/// `12.3 ns`, `4.56 µs`, `1.23 ms`.
fn fmt_time(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

/// Operations per second: `1.23 M/s`, `456 k/s`, `78 /s`.
fn fmt_rate(per_s: f64) -> String {
    if per_s >= 1e6 {
        format!("{:.2} M/s", per_s / 1e6)
    } else if per_s >= 1e3 {
        format!("{:.1} k/s", per_s / 1e3)
    } else {
        format!("{per_s:.0} /s")
    }
}

fn fmt_count(v: f64) -> String {
    if (v - v.round()).abs() < 0.005 { format!("{v:.0}") } else { format!("{v:.2}") }
}

fn fmt_instructions(v: f64) -> String {
    let whole = format!("{:.0}", v.round());
    let digits: Vec<char> = whole.chars().collect();
    let mut out = String::new();
    for (i, c) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(*c);
    }
    out
}

fn or_dash(v: Option<String>) -> String {
    v.unwrap_or_else(|| "—".to_owned())
}

/// The output of a command, trimmed, or "unknown".
fn command_text(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(|| "unknown".to_owned(), |o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!("{cpu}, {cores} cores available, {}", command_text("uname", &["-sr"]))
}

/// One line of the targets table.
struct Target {
    what: String,
    limit: String,
    measured: String,
    /// Met by the median times.
    met: Option<bool>,
    /// Met by the instruction counts (noise-free; CPU time may differ where
    /// the instruction mix differs, e.g. AES-NI against bookkeeping).
    met_instructions: Option<bool>,
}

fn targets(data: &Data) -> Vec<Target> {
    let mut out = Vec::new();
    let groups: Vec<String> = {
        let mut g: Vec<String> = data.rows.keys().map(|k| k.group.clone()).collect();
        g.dedup();
        g
    };
    for (size, limit) in [("64", 2.0), ("1024", 1.2)] {
        for g in groups.iter().filter(|g| g.starts_with("msg_")) {
            let key = |function: &str| Key {
                group: g.clone(),
                function: function.to_owned(),
                parameter: Some(size.to_owned()),
            };
            // The target is met or missed by the fastest complete API
            // (protect to bytes, verify in place); the copying byte-level API
            // and the coap-lite `Packet` API (layers over it) are shown beside.
            let (time, instr) = data.ratios(&key("protect_verify_request_in_place"));
            let (bytes_time, _) = data.ratios(&key("protect_verify_request_bytes"));
            let (packet_time, _) = data.ratios(&key("protect_verify_request"));
            if time.is_none() && instr.is_none() {
                continue;
            }
            let packet = [("bytes API", bytes_time), ("Packet API", packet_time)]
                .iter()
                .filter_map(|(api, t)| t.map(|r| format!("; {api} {r:.2}×")))
                .collect::<String>();
            out.push(Target {
                what: format!(
                    "{} protect+verify request {size} B / raw seal+open",
                    g.trim_start_matches("msg_")
                ),
                limit: format!("≤ {limit:.1}×"),
                measured: format!("{}{packet}", ratio_text(time, instr)),
                met: time.map(|r| r <= limit),
                met_instructions: instr.map(|r| r <= limit),
            });
        }
    }
    for g in groups.iter().filter(|g| g.starts_with("group_")) {
        for function in ["verify_request", "check_request"] {
            let key =
                Key { group: g.clone(), function: function.to_owned(), parameter: Some("64".to_owned()) };
            let (time, instr) = data.ratios(&key);
            if time.is_none() && instr.is_none() {
                continue;
            }
            let what =
                if function == "verify_request" { "signature-mode verify" } else { "SignatureChecker" };
            out.push(Target {
                what: format!("{} {what} / raw verify", g.trim_start_matches("group_")),
                limit: if function == "verify_request" {
                    "≤ 1.1×".to_owned()
                } else {
                    "(none set)".to_owned()
                },
                measured: ratio_text(time, instr),
                met: (function == "verify_request").then(|| time.map(|r| r <= 1.1)).flatten(),
                met_instructions: (function == "verify_request").then(|| instr.map(|r| r <= 1.1)).flatten(),
            });
        }
    }
    let hot = ["protect_request", "verify_request", "protect_response", "verify_response"];
    for (api, suffix, goal) in
        [("verify in place", "_in_place", true), ("bytes API", "_bytes", true), ("Packet API", "", false)]
    {
        let allocs: Vec<f64> = data
            .rows
            .iter()
            .filter(|(k, _)| {
                k.group.starts_with("msg_")
                    && hot.iter().any(|h| k.function.strip_suffix(suffix).is_some_and(|f| f == *h))
            })
            .filter_map(|(_, r)| r.allocations.map(|a| a + r.reallocations.unwrap_or(0.0)))
            .collect();
        if allocs.is_empty() {
            continue;
        }
        let max = allocs.iter().copied().fold(0.0, f64::max);
        let min = allocs.iter().copied().fold(f64::INFINITY, f64::min);
        out.push(Target {
            what: format!("heap allocations per protect / verify, {api} (all AEADs and sizes)"),
            limit: if goal { "0 (goal)".to_owned() } else { "(none set)".to_owned() },
            measured: format!("{} – {}", fmt_count(min), fmt_count(max)),
            met: goal.then_some(max == 0.0),
            met_instructions: None,
        });
    }
    for (aead, size, speedup) in aiocoap_speedups(data) {
        out.push(Target {
            what: format!("aiocoap {aead} protect+verify {size} B / ours"),
            limit: "≥ 100×".to_owned(),
            measured: format!("{speedup:.0}×"),
            met: Some(speedup >= 100.0),
            met_instructions: None,
        });
    }
    out
}

fn ratio_text(time: Option<f64>, instr: Option<f64>) -> String {
    match (time, instr) {
        (Some(t), Some(i)) => format!("{t:.2}× (instructions {i:.2}×)"),
        (Some(t), None) => format!("{t:.2}×"),
        (None, Some(i)) => format!("instructions {i:.2}×"),
        (None, None) => "—".to_owned(),
    }
}

/// The benchmark group of an AEAD named as aiocoap names it.
fn group_of_aiocoap_aead(aead: &str) -> String {
    format!("msg_{}", aead.replace('/', "-"))
}

/// One aiocoap measurement beside ours.
struct AiocoapRow<'d> {
    aead: String,
    /// Our provider measured (the faster of this run).
    provider: &'static str,
    size: String,
    record: &'d Value,
    /// Our protect+verify median: protection to bytes, verification in place.
    ours: Option<f64>,
    /// Our protect+verify median with the Packet API.
    packet: Option<f64>,
}

/// aiocoap's results with ours.
fn aiocoap_rows(data: &Data) -> Vec<AiocoapRow<'_>> {
    let Some(doc) = &data.aiocoap else { return Vec::new() };
    doc.get("results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let size = r.get("payload").and_then(Value::as_u64)?.to_string();
            // Older result files measured AES-CCM-16-64-128 only and did not say.
            let aead = r.get("aead").and_then(Value::as_str).unwrap_or("AES-CCM-16-64-128").to_owned();
            // Ours with the faster provider of this run for the AEAD (what
            // crypto_backends::FASTEST picks), named in the table.
            let base = group_of_aiocoap_aead(&aead);
            let median =
                |group: &str, function| data.get(group, function, Some(&size)).and_then(|row| row.median_ns);
            let (provider, group) = [("RustCrypto", base.clone()), ("ring", format!("{base}_ring"))]
                .into_iter()
                .filter(|(_, g)| median(g, "protect_verify_request_in_place").is_some())
                .min_by(|(_, a), (_, b)| {
                    let (a, b) = (
                        median(a, "protect_verify_request_in_place"),
                        median(b, "protect_verify_request_in_place"),
                    );
                    a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal)
                })
                .unwrap_or(("RustCrypto", base));
            Some(AiocoapRow {
                ours: median(&group, "protect_verify_request_in_place"),
                packet: median(&group, "protect_verify_request"),
                provider,
                aead,
                size,
                record: r,
            })
        })
        .collect()
}

/// (AEAD, payload, aiocoap time / ours) for every compared message.
fn aiocoap_speedups(data: &Data) -> Vec<(String, String, f64)> {
    aiocoap_rows(data)
        .into_iter()
        .filter_map(|row| {
            let theirs = row.record.get("protect_verify_request_ns").and_then(Value::as_f64)?;
            Some((format!("{} (ours: {})", row.aead, row.provider), row.size, theirs / row.ours?))
        })
        .collect()
}

/// Writes both report files.
pub fn write(target: &Path, data: &Data) -> Result<(), String> {
    let mut keys: Vec<&Key> = data.rows.keys().filter(|k| data.opts.selects(&k.id())).collect();
    keys.sort_by_key(|k| k.order());
    let date = command_text("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let rustc = command_text("rustc", &["-V"]);
    let machine = machine();

    let mut md = String::new();
    let _ = writeln!(md, "# OSCORE benchmark report\n");
    let _ = writeln!(md, "- date: {date}");
    let _ = writeln!(md, "- command: `{}`", data.opts.command);
    let _ = writeln!(md, "- machine: {machine}; {rustc}");
    let _ = writeln!(md, "- mode: {}", data.opts.mode());
    let _ = writeln!(
        md,
        "- time: criterion median per operation; ratio = median / median of the baseline in the same group, \
         same run. Allocations: counting allocator, per operation (allocations + reallocations). \
         Instructions: callgrind, inclusive count per operation.\n"
    );

    let targets = targets(data);
    if !targets.is_empty() {
        let _ = writeln!(md, "## Targets (issue 7)\n");
        let _ = writeln!(md, "| target | limit | measured | met (time) | met (instructions) |");
        let _ = writeln!(md, "|---|---|---|---|---|");
        let yes_no = |m: Option<bool>| match m {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        };
        for t in &targets {
            let (met, met_i) = (yes_no(t.met), yes_no(t.met_instructions));
            let _ = writeln!(md, "| {} | {} | {} | {met} | {met_i} |", t.what, t.limit, t.measured);
        }
        let _ = writeln!(md);
    }

    let mut json_rows = Vec::new();
    let mut current_group = None;
    for key in &keys {
        let Some(row) = data.rows.get(key) else { continue };
        if current_group != Some(&key.group) {
            current_group = Some(&key.group);
            let _ = writeln!(md, "\n## {}\n", key.group);
            let _ = writeln!(
                md,
                "| operation | param | median | throughput | baseline | ratio | allocs/op | bytes/op | instr/op | instr ratio |"
            );
            let _ = writeln!(md, "|---|---|---:|---:|---|---:|---:|---:|---:|---:|");
        }
        let baseline = data.baseline_of(key);
        let (ratio, instr_ratio) = data.ratios(key);
        let ops_per_s = row.median_ns.filter(|m| *m > 0.0).map(|m| 1e9 / m);
        let mib_per_s =
            key.payload().filter(|p| *p > 0).zip(row.median_ns).map(|(p, m)| p as f64 / m * 1e9 / 1048576.0);
        let throughput = ops_per_s.map(|ops| match mib_per_s {
            Some(mib) => format!("{} · {mib:.1} MiB/s", fmt_rate(ops)),
            None => fmt_rate(ops),
        });
        let allocs = row.allocations.map(|a| a + row.reallocations.unwrap_or(0.0));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            key.function,
            key.parameter.as_deref().unwrap_or("—"),
            or_dash(row.median_ns.map(fmt_time)),
            or_dash(throughput),
            baseline.as_ref().map_or_else(|| "—".to_owned(), |b| b.function.clone()),
            or_dash(ratio.map(|r| format!("{r:.2}×"))),
            or_dash(allocs.map(fmt_count)),
            or_dash(row.bytes_allocated.map(|b| format!("{b:.0}"))),
            or_dash(row.instructions.map(fmt_instructions)),
            or_dash(instr_ratio.map(|r| format!("{r:.2}×"))),
        );
        json_rows.push(json!({
            "id": key.id(),
            "group": key.group,
            "function": key.function,
            "parameter": key.parameter,
            "median_ns": row.median_ns,
            "median_ci95_ns": row.median_ci_ns.map(|(l, u)| [l, u]),
            "mean_ns": row.mean_ns,
            "ops_per_s": ops_per_s,
            "payload_mib_per_s": mib_per_s,
            "baseline": baseline.as_ref().map(Key::id),
            "ratio": ratio,
            "allocations_per_op": row.allocations,
            "reallocations_per_op": row.reallocations,
            "bytes_allocated_per_op": row.bytes_allocated,
            "instructions_per_op": row.instructions,
            "instruction_ratio": instr_ratio,
        }));
    }

    let aio = aiocoap_rows(data);
    if !aio.is_empty() {
        let doc = data.aiocoap.as_ref();
        let field = |k: &str| doc.and_then(|d| d.get(k)).and_then(Value::as_str).unwrap_or("?").to_owned();
        let _ = writeln!(
            md,
            "\n## aiocoap {} (Python {}, cryptography {}), same message and C.1 context\n",
            field("aiocoap"),
            field("python"),
            field("cryptography")
        );
        let _ = writeln!(
            md,
            "| AEAD (our provider) | payload | aiocoap protect | aiocoap verify | aiocoap protect+verify | ours (in place) | faster by | ours (Packet API) | faster by |"
        );
        let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for AiocoapRow { aead, provider, size, record: r, ours, packet } in &aio {
            let t = |k: &str| or_dash(r.get(k).and_then(Value::as_f64).map(fmt_time));
            let theirs = r.get("protect_verify_request_ns").and_then(Value::as_f64);
            let speedup = |ours: Option<f64>| theirs.zip(ours).map(|(a, b)| format!("{:.0}×", a / b));
            let _ = writeln!(
                md,
                "| {aead} ({provider}) | {size} | {} | {} | {} | {} | {} | {} | {} |",
                t("protect_request_ns"),
                t("verify_request_ns"),
                t("protect_verify_request_ns"),
                or_dash(ours.map(fmt_time)),
                or_dash(speedup(*ours)),
                or_dash(packet.map(fmt_time)),
                or_dash(speedup(*packet)),
            );
        }
    }

    let doc = json!({
        "date": date,
        "command": data.opts.command,
        "machine": machine,
        "rustc": rustc,
        "mode": data.opts.mode(),
        "targets": targets.iter().map(|t| json!({
            "target": t.what, "limit": t.limit, "measured": t.measured, "met": t.met,
            "met_instructions": t.met_instructions,
        })).collect::<Vec<_>>(),
        "results": json_rows,
        "aiocoap": data.aiocoap,
        "aiocoap_speedup": aiocoap_speedups(data).into_iter().map(|(a, s, x)| json!({"aead": a, "payload": s, "speedup": x})).collect::<Vec<_>>(),
    });
    let md_path = target.join("bench-report.md");
    let json_path = target.join("bench-report.json");
    std::fs::write(&md_path, md).map_err(|e| format!("cannot write {}: {e}", md_path.display()))?;
    let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
    std::fs::write(&json_path, text).map_err(|e| format!("cannot write {}: {e}", json_path.display()))?;
    eprintln!("xtask: wrote {} and {}", md_path.display(), json_path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(group: &str, function: &str, parameter: Option<&str>) -> Key {
        Key {
            group: group.to_owned(),
            function: function.to_owned(),
            parameter: parameter.map(str::to_owned),
        }
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_instructions(1234567.4), "1,234,567");
        assert_eq!(fmt_instructions(999.0), "999");
        assert_eq!(fmt_time(1500.0), "1.50 µs");
        assert_eq!(fmt_count(3.0), "3");
        assert_eq!(fmt_count(2.5), "2.50");
    }

    #[test]
    fn order_sorts_sizes_numerically_and_baselines_last() {
        let mut keys = [
            key("msg_A128GCM", "raw_seal_request", Some("64")),
            key("msg_A128GCM", "protect_request", Some("1024")),
            key("msg_A128GCM", "protect_request", Some("64")),
            key("derive", "derive_context", Some("A128GCM")),
        ];
        keys.sort_by_key(Key::order);
        let ids: Vec<String> = keys.iter().map(Key::id).collect();
        assert_eq!(
            ids,
            [
                "derive/derive_context/A128GCM",
                "msg_A128GCM/protect_request/64",
                "msg_A128GCM/raw_seal_request/64",
                "msg_A128GCM/protect_request/1024",
            ]
        );
    }

    #[test]
    fn ratio_uses_the_baseline_of_the_same_group_and_parameter() {
        let opts = Options {
            quick: true,
            filter: None,
            instructions: false,
            aiocoap: false,
            timing: true,
            command: String::new(),
        };
        let mut data = Data::new(&opts);
        data.baselines.push(("msg_".to_owned(), "protect_request".to_owned(), "raw_seal_request".to_owned()));
        data.row(key("msg_A128GCM", "protect_request", Some("64"))).median_ns = Some(300.0);
        data.row(key("msg_A128GCM", "raw_seal_request", Some("64"))).median_ns = Some(100.0);
        data.row(key("msg_A128GCM", "raw_seal_request", Some("1024"))).median_ns = Some(1000.0);
        let (time, instr) = data.ratios(&key("msg_A128GCM", "protect_request", Some("64")));
        assert_eq!((time, instr), (Some(3.0), None));
    }
}
