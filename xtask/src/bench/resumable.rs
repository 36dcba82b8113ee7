//! `cargo xtask bench resumable`.

use crate::util::*;

/// A tus upload (create + one PATCH, by curl) against a plain `PUT` of the same file to the
/// same node, alternating, median of 5.
pub(crate) fn bench(mib: u64) -> Res {
    if !have("curl", "--version") {
        return Err("the resumable upload benchmark runs curl: install curl".into());
    }
    let exe = release_bench("resumable_bench")?;
    let file = bench_file(mib)?;
    let (_, out, _) = timed(std::process::Command::new(&exe).arg(&file))?;
    let line = out.lines().last().unwrap_or_default();
    let field =
        |f: &str| json_field(line, f).ok_or(format!("resumable_bench printed no {f}: {line}"));
    let (plain, tus) = (field("plain_s")?, field("resumable_s")?);
    let mb = (mib << 20) as f64 / 1e6;
    println!("\nResumable upload benchmark, {mib} MiB, embedded stack (CDN, IPFS, BitTorrent) on loopback, median of 5, alternating");
    println!(
        "  curl PUT /api/v1/media (plain)          {plain:7.3} s  {:8.1} MB/s",
        mb / plain
    );
    println!("  curl tus POST + PATCH /api/v1/uploads   {tus:7.3} s  {:8.1} MB/s   ratio vs plain: {:.2}x (goal <= 1.1x)", mb / tus, tus / plain);
    println!("  ({line})");
    Ok(())
}
