//! `cargo xtask <task>`: project automation with std::process only.

fn main() -> std::process::ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    eprintln!("unknown task {task:?}; tasks arrive with their issues (bench, interop)");
    std::process::ExitCode::FAILURE
}
