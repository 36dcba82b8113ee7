//! `cargo xtask bench e2e`.

#[allow(unused_imports)]
use std::path::{Path, PathBuf};
#[allow(unused_imports)]
use std::process::{Command, Stdio};

#[allow(unused_imports)]
use crate::util::*;

/// The embedded stack end to end: upload to all three stores against the slowest store alone,
/// and time to the first verified byte with the preferred store (the CDN) dead.
pub(crate) fn bench(mib: u64) -> Res {
    let exe = release_bench("e2e_bench")?;
    let file = bench_file(mib)?;
    const ROUNDS: usize = 5;
    let mut rows: Vec<[f64; 10]> = Vec::new();
    for round in 0..ROUNDS {
        // Each round puts a different upload first (see e2e_bench): every configuration meets
        // every position, so none is favoured by the machine's memory state.
        let (_, out, _) = timed(Command::new(&exe).arg(&file).arg(round.to_string()))?;
        let line = out.lines().last().unwrap_or_default();
        let f = |name: &str| {
            json_field(line, name).ok_or(format!("e2e_bench printed no {name}: {line}"))
        };
        rows.push([
            f("all_s")?,
            f("cdn_s")?,
            f("ipfs_s")?,
            f("torrent_s")?,
            f("slowest_single_s")?,
            f("ttfb_alive_s")?,
            f("ttfb_cdn_dead_hedged_s")?,
            f("ttfb_cdn_dead_prefer_cdn_s")?,
            f("all_cpu_s")?,
            f("cdn_cpu_s")?,
        ]);
        eprintln!("    round {round}: {line}");
    }
    let col = |i: usize| median(rows.iter().map(|r| r[i]).collect());
    let mb = (mib << 20) as f64 / 1e6;
    println!("\nend-to-end benchmark, embedded stack, {mib} MiB file, median of {ROUNDS}");
    println!(
        "  upload to the CDN alone                  {:7.3} s  {:8.1} MB/s",
        col(1),
        mb / col(1)
    );
    println!(
        "  upload to IPFS alone                     {:7.3} s  {:8.1} MB/s",
        col(2),
        mb / col(2)
    );
    println!(
        "  upload to BitTorrent alone               {:7.3} s  {:8.1} MB/s",
        col(3),
        mb / col(3)
    );
    let slowest = median(rows.iter().map(|r| r[1].max(r[2]).max(r[3])).collect());
    println!(
        "  upload to all three in parallel          {:7.3} s  {:8.1} MB/s   {:.2}x the slowest store alone",
        col(0),
        mb / col(0),
        col(0) / slowest
    );
    println!(
        "  CPU time: all three {:.2} s, CDN alone {:.2} s (2 cores; the stores share them)",
        col(8),
        col(9)
    );
    println!("  first verified byte on another node, CDN first, hedged after 200 ms:");
    println!(
        "    every store up                         {:7.1} ms",
        col(5) * 1e3
    );
    println!(
        "    CDN dead, hedged                       {:7.1} ms",
        col(6) * 1e3
    );
    println!(
        "    CDN dead, CDN-first without hedging    {:7.1} ms",
        col(7) * 1e3
    );
    Ok(())
}
