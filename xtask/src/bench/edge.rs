//! `cargo xtask bench edge`.

use crate::util::*;

/// The owner's Blossom upload (`curl -T`) alone and while STRANGERS uploads trickle from as
/// many peers: the ratio of the medians is the cost of the strangers.
pub(crate) fn bench(mib: u64, strangers: u64) -> Res {
    if !have("curl", "--version") {
        return Err("the edge benchmark uploads with curl: install curl".into());
    }
    let exe = release_bench("edge_bench")?;
    let file = bench_file(mib)?;
    let (_, out, _) = timed(
        std::process::Command::new(&exe)
            .arg(&file)
            .arg(strangers.to_string()),
    )?;
    let line = out.lines().last().unwrap_or_default();
    let field = |f: &str| json_field(line, f).ok_or(format!("edge_bench printed no {f}: {line}"));
    let (quiet, loaded, cut, held) = (
        field("quiet_s")?,
        field("loaded_s")?,
        field("trickles_cut")?,
        field("trickle_held_s")?,
    );
    println!("\nEdge benchmark: the owner's {mib} MiB upload (curl -T to Blossom, median of 3) alone and under {strangers} trickling strangers (one peer each, a byte every 200 ms)");
    println!("  alone                      {quiet:7.3} s");
    println!(
        "  under {strangers:3} trickles         {loaded:7.3} s   ratio {:.2}x (goal: normal time, <= 1.5x)",
        loaded / quiet
    );
    println!("  trickles cut by the server {cut:.0} of {strangers}, held {held:.1} s (median)");
    println!("  ({line})");
    Ok(())
}
