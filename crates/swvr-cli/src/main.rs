//! The `swvr` command line: argument parsing, progress bars, exit codes and
//! terminal output. Only this crate writes to the terminal.

mod cli;
mod config;
mod fieldwork;
mod manifest;
mod out;
mod progress;
mod report;
mod run;
mod summary;
mod verify;

/// The effective questionnaire in `OUT/ingest/`.
pub(crate) const QUESTIONNAIRE_FILE: &str = "questionnaire.toml";
/// The effective weighting scheme in `OUT/weight/`.
pub(crate) const SCHEME_FILE: &str = "scheme.toml";
/// The effective model specification in `OUT/model/`.
pub(crate) const SPEC_FILE: &str = "spec.toml";

use std::io::Write;

/// mimalloc keeps freed pages for reuse: the stages allocate and free large
/// column buffers, and the system allocator returns them to the kernel, which
/// must zero fresh pages on every reuse (a quarter of the model stage's time
/// at 1e7 respondents went to `clear_page`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "swvr: error: {}", one_line(&err));
            ExitCode::FAILURE
        }
    }
}

/// The error chain on one line, skipping causes whose text the message
/// already contains (library errors often embed their source).
fn one_line(err: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if msg.contains(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg.replace('\n', " ")
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
