//! `cargo xtask demo | test | bench`: the project's task runner, one module per job.
//!
//! - `demo`: the main job on the default stack, end to end, in one command.
//! - `test`: every test of the workspace (formatting, lints, unit, integration, doc tests),
//!   after installing whatever the tests need into a cache folder ([`tools`]).
//! - `bench`: benchmarks, reported as ratios against established tools run side by side.

mod bench;
mod demo;
mod test;
mod tools;
mod util;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo::run(),
        Some("test") => test::test(&args[1..]),
        Some("bench") => bench::bench(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <demo|test|bench>\n\n  demo   run the end-to-end demo on the embedded stack\n  test   run every test (installs what tests need)\n  bench  run benchmarks against established tools (e.g. `bench ingest --size-mib 1024`)"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
