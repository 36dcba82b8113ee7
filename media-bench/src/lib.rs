//! The benchmark programs `cargo xtask bench` builds in release mode and times side by side
//! with an established tool on the same input. Each is a binary in `src/bin/` that prints one
//! JSON line of figures; xtask turns them into ratios (see BENCHMARKS.md).

pub mod throttle;

use std::process::Command;
use std::time::Instant;

/// The median of `v` (NaN when empty).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// `curl -sS -f -o /dev/null ARGS…`: the seconds it took, or why it failed.
pub fn curl(args: &[&str]) -> Result<f64, Box<dyn std::error::Error>> {
    let t = Instant::now();
    let status = Command::new("curl")
        .args(["-sS", "-f", "-o", "/dev/null"])
        .args(args)
        .status()?;
    if !status.success() {
        return Err(format!("curl {args:?} failed").into());
    }
    Ok(t.elapsed().as_secs_f64())
}
