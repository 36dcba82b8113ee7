//! `cargo xtask demo | test | bench`: the project's task runner, one module per job.
//!
//! - `demo`: the main job on the default stack, end to end, in one command.
//! - `test`: every test of the workspace (formatting, lints, unit, integration, doc tests),
//!   after installing whatever the tests need into a cache folder ([`tools`]).
//! - `bench`: benchmarks, reported as ratios against established tools run side by side.
//! - `fuzz`: every parser under libFuzzer for a bounded time (also part of `test`).

mod bench;
mod demo;
mod fuzz;
mod node_package;
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
        Some("fuzz") => fuzz::fuzz(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <demo|test|bench|fuzz>\n\n  demo   run the end-to-end demo on the embedded stack\n  test   run every test (installs what tests need)\n  bench  run benchmarks against established tools (e.g. `bench ingest --size-mib 1024`)\n  fuzz   fuzz every parser for a bounded time (`fuzz --seconds 60 strip`)"
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
