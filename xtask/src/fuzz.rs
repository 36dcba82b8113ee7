//! `cargo xtask fuzz [--seconds N] [TARGET…]`: every parser fed to libFuzzer (cargo-fuzz) for a
//! bounded time each, from the seeds in `fuzz/seeds/`. `cargo xtask test` runs it too (60 s a
//! target unless `MEDIA_FUZZ_SECONDS` says otherwise).
//!
//! cargo-fuzz is installed from crates.io when missing. Its instrumentation flags are
//! nightly-only; the one stable toolchain this project has accepts them with
//! `RUSTC_BOOTSTRAP=1`, set for this run only. An input that crashes a target is copied to
//! `fuzz/regressions/` (commit it with the fix: `media-format/tests/corpus.rs` and
//! `media-thumb/tests/corpus.rs` replay it in every ordinary test run) and the run fails.

use std::path::PathBuf;
use std::process::Command;

use crate::util::{cargo, flag, have, root, run, target_dir, Res};

/// The targets in `fuzz/fuzz_targets/`.
pub(crate) const TARGETS: [&str; 5] = ["sniff", "strip", "faststart", "track", "thumbnail"];

/// Seconds per target when nothing says otherwise.
const DEFAULT_SECONDS: u64 = 60;

pub(crate) fn fuzz(args: &[String]) -> Res {
    let seconds = flag(args, "--seconds")
        .or_else(|| {
            std::env::var("MEDIA_FUZZ_SECONDS")
                .ok()
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(DEFAULT_SECONDS);
    let chosen: Vec<&str> = args
        .iter()
        .filter(|a| TARGETS.contains(&a.as_str()))
        .map(String::as_str)
        .collect();
    let targets: Vec<&str> = if chosen.is_empty() {
        TARGETS.to_vec()
    } else {
        chosen
    };
    ensure_cargo_fuzz()?;
    let fuzz_dir = root().join("fuzz");
    let work = target_dir().join("fuzz");
    // One build for every target, then the bounded runs.
    run(
        "fuzz build",
        cargo()
            .args(["fuzz", "build", "--fuzz-dir"])
            .arg(&fuzz_dir)
            .env("RUSTC_BOOTSTRAP", "1")
            .env("CARGO_TARGET_DIR", work.join("build")),
    )?;
    let mut crashed = Vec::new();
    for target in targets {
        let corpus = work.join("corpus").join(target);
        let artifacts = work.join("artifacts").join(target);
        for dir in [&corpus, &artifacts] {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let result = run(
            &format!("fuzz {target} for {seconds} s"),
            cargo()
                .args(["fuzz", "run", "--fuzz-dir"])
                .arg(&fuzz_dir)
                .arg(target)
                .arg(&corpus)
                .arg(fuzz_dir.join("seeds"))
                .arg("--")
                .arg(format!("-max_total_time={seconds}"))
                .arg("-rss_limit_mb=1024")
                .arg("-timeout=20")
                .arg("-max_len=262144")
                .arg(format!("-artifact_prefix={}/", artifacts.display()))
                .arg("-print_final_stats=1")
                .env("RUSTC_BOOTSTRAP", "1")
                .env("CARGO_TARGET_DIR", work.join("build")),
        );
        if result.is_err() {
            let kept = keep_artifacts(target, &artifacts)?;
            crashed.push(format!("{target} (inputs kept: {})", kept.join(", ")));
        }
    }
    if crashed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "fuzzing found crashes in {}; the inputs are in fuzz/regressions/, replayed by the corpus tests",
            crashed.join("; ")
        ))
    }
}

/// Copy what libFuzzer left in `artifacts` to `fuzz/regressions/TARGET-NAME`.
fn keep_artifacts(target: &str, artifacts: &std::path::Path) -> Res<Vec<String>> {
    let regressions = root().join("fuzz").join("regressions");
    std::fs::create_dir_all(&regressions).map_err(|e| e.to_string())?;
    let mut kept = Vec::new();
    for entry in std::fs::read_dir(artifacts).map_err(|e| e.to_string())? {
        let path: PathBuf = entry.map_err(|e| e.to_string())?.path();
        let name = format!(
            "{target}-{}",
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        std::fs::copy(&path, regressions.join(&name)).map_err(|e| e.to_string())?;
        kept.push(name);
    }
    Ok(kept)
}

fn ensure_cargo_fuzz() -> Res {
    let installed = || {
        Command::new("cargo")
            .args(["fuzz", "--version"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if installed() {
        return Ok(());
    }
    if !have("cargo", "--version") {
        return Err("cargo is not on PATH".into());
    }
    run(
        "install cargo-fuzz (crates.io)",
        Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]),
    )
    .map_err(|e| format!("{e}: install it yourself with `cargo install cargo-fuzz`"))?;
    if installed() {
        Ok(())
    } else {
        Err(
            "cargo-fuzz was installed but `cargo fuzz` does not run; is ~/.cargo/bin on PATH?"
                .into(),
        )
    }
}
