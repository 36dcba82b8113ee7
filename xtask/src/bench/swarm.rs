//! `cargo xtask bench swarm`.

use crate::util::*;

/// One read from the three stores at once (the `swarm` policy) against the fastest store
/// alone: with each store behind a token bucket of `--mb-per-s` (a simulated WAN link), and
/// uncapped on loopback.
pub(crate) fn bench(mib: u64, mb_per_s: u64) -> Res {
    let exe = release_bench("swarm_bench")?;
    let file = bench_file(mib)?;
    let clip = bench_file(24)?;
    let (_, out, _) = timed(
        std::process::Command::new(&exe)
            .arg(&file)
            .arg(mb_per_s.to_string())
            .arg(&clip),
    )?;
    let line = out.lines().last().unwrap_or_default();
    let f =
        |name: &str| json_field(line, name).ok_or(format!("swarm_bench printed no {name}: {line}"));
    let mb = (mib << 20) as f64 / 1e6;
    println!("\nSwarm benchmark, {mib} MiB, embedded stack (CDN, IPFS, BitTorrent), cache off");
    for (prefix, title) in [
        (
            "capped",
            format!("each store capped at {mb_per_s} MB/s (token bucket)"),
        ),
        (
            "loopback",
            "uncapped, loopback (after a warm-up round)".to_owned(),
        ),
    ] {
        println!("  {title}:");
        for store in ["cdn", "ipfs", "torrent"] {
            let s = f(&format!("{prefix}_{store}_s"))?;
            println!("    {store:<8} alone  {s:7.3} s  {:7.1} MB/s", mb / s);
        }
        let (swarm, fastest) = (
            f(&format!("{prefix}_swarm_s"))?,
            f(&format!("{prefix}_fastest_s"))?,
        );
        let (sf, ff) = (
            f(&format!("{prefix}_swarm_first_s"))?,
            f(&format!("{prefix}_fastest_first_s"))?,
        );
        println!(
            "    swarm         {swarm:7.3} s  {:7.1} MB/s   {:.2}x the speed of the fastest store alone",
            mb / swarm,
            fastest / swarm
        );
        println!(
            "    first verified byte: swarm {:.1} ms, fastest store alone {:.1} ms",
            sf * 1e3,
            ff * 1e3
        );
    }
    println!("  goals: capped >= 2.5x, loopback >= 1.0x, first byte not later");
    let (first, second, cat) = (f("cache_first_s")?, f("cache_second_s")?, f("cat_s")?);
    println!("\nLocal cache, 24 MiB clip (second read: median of 5)");
    println!("  first read (from the stores)   {:8.1} ms", first * 1e3);
    println!(
        "  second read (from the cache)   {:8.1} ms   {:.3}x the first read's time (goal <= 0.1x)",
        second * 1e3,
        second / first
    );
    println!(
        "  cat of the same bytes          {:8.1} ms   the second read takes {:.2}x cat's time (goal <= 2x)",
        cat * 1e3,
        second / cat
    );
    Ok(())
}
