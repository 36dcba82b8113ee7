//! `cargo xtask bench scale`.

use crate::tools::ensure_seaweedfs;
use crate::util::*;

/// The same photo workload (COUNT uploads of 1–8 MiB from two nodes at once, then COUNT
/// reads from a third) on one embedded S3 server and on a SeaweedFS cluster of three volume
/// servers with replication 001.
pub(crate) fn bench(count: u64) -> Res {
    let weed = ensure_seaweedfs()?;
    let exe = release_bench("scale_bench")?;
    let mut lines = Vec::new();
    for mode in ["single", "cluster"] {
        let (_, out, _) = timed(
            std::process::Command::new(&exe)
                .arg(mode)
                .arg(count.to_string())
                .env("MEDIA_WEED_BIN", &weed),
        )?;
        let line = out.lines().last().unwrap_or_default().to_owned();
        eprintln!("    {line}");
        lines.push(line);
    }
    let f = |line: &str, name: &str| {
        json_field(line, name).ok_or(format!("scale_bench printed no {name}: {line}"))
    };
    let mib = f(&lines[0], "mib")?;
    println!("\nScale benchmark: {count} photos of 1-8 MiB ({mib} MiB), 2 writer nodes at once, then 1 reader node");
    println!(
        "  {:<38} {:>9} {:>9} {:>9} {:>9}",
        "", "wall s", "MB/s", "p50 ms", "p99 ms"
    );
    for (line, title) in lines
        .iter()
        .zip(["one embedded S3 server", "SeaweedFS: 3 volume servers, 001"])
    {
        for op in ["upload", "read"] {
            println!(
                "  {:<38} {:>9.2} {:>9.1} {:>9.1} {:>9.1}",
                format!("{title}, {op}"),
                f(line, &format!("{op}_s"))?,
                f(line, &format!("{op}_mb_s"))?,
                f(line, &format!("{op}_p50_s"))? * 1e3,
                f(line, &format!("{op}_p99_s"))? * 1e3
            );
        }
    }
    for op in ["upload", "read"] {
        println!(
            "  {op}: the cluster at {:.2}x the single server's throughput",
            f(&lines[1], &format!("{op}_mb_s"))? / f(&lines[0], &format!("{op}_mb_s"))?
        );
    }
    Ok(())
}
