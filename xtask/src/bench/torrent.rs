//! `cargo xtask bench torrent`.

#[allow(unused_imports)]
use std::path::{Path, PathBuf};
#[allow(unused_imports)]
use std::process::{Command, Stdio};

#[allow(unused_imports)]
use crate::tools::ensure_node_tools;
#[allow(unused_imports)]
use crate::util::*;

/// Loopback download of one file from our seeder: our `fetch` example against `aria2c` on the
/// same torrent (aria2c ignores `x.pe`, so both find the seeder through a local tracker).
pub(crate) fn bench(mib: u64) -> Res {
    if !have("aria2c", "--version") {
        return Err(
            "the BitTorrent benchmark compares against aria2c: install Debian's aria2".into(),
        );
    }
    let (npm_dir, node) = ensure_node_tools()?;
    let seed_exe = release_example("media-torrent", &[], "seed")?;
    let fetch_exe = release_example("media-torrent", &[], "fetch")?;
    let file = bench_file(mib)?;
    for s in ["tracker.mjs", "no-webrtc.mjs"] {
        std::fs::copy(
            root().join("media-torrent/tests/js").join(s),
            npm_dir.join(s),
        )
        .map_err(|e| format!("copying {s}: {e}"))?;
    }
    let (_tracker, lines) = spawn_lines(
        Command::new(&node).current_dir(&npm_dir).args([
            "--import",
            "./no-webrtc.mjs",
            "tracker.mjs",
        ]),
        1,
    )?;
    let announce = lines[0]
        .split('"')
        .nth(3)
        .ok_or(format!("tracker printed {:?}", lines[0]))?
        .to_owned();
    let data = bench_dir()?.join("torrent-seed");
    let _ = std::fs::remove_dir_all(&data);
    let (_seeder, lines) = spawn_lines(
        Command::new(&seed_exe)
            .arg(&file)
            .args(["--tracker", &announce, "--data"])
            .arg(&data),
        3,
    )?;
    let magnet = lines[0].clone();
    let torrent = lines[1].trim_start_matches("torrent ").to_owned();
    let out = bench_dir()?.join("torrent-out");
    let mb = (mib << 20) as f64 / 1e6;
    let (mut ours, mut aria) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let _ = std::fs::remove_dir_all(&out);
        let (s, _, _) = timed(Command::new(&fetch_exe).arg(&magnet).arg("--out").arg(&out))?;
        ours.push(s);
        let _ = std::fs::remove_dir_all(&out);
        let (s, _, _) = timed(
            Command::new("aria2c")
                .args([
                    "--enable-dht=false",
                    "--enable-dht6=false",
                    "--bt-enable-lpd=false",
                    "--enable-peer-exchange=false",
                    "--seed-time=0",
                    "--quiet=true",
                    "--file-allocation=none",
                    "--check-integrity=false",
                    "-d",
                ])
                .arg(&out)
                .arg(&torrent),
        )?;
        aria.push(s);
    }
    let _ = std::fs::remove_dir_all(&out);
    let (o, a) = (median(ours), median(aria));
    println!(
        "\nBitTorrent benchmark, {mib} MiB file from our librqbit seeder on loopback, median of 3"
    );
    println!(
        "  aria2c FILE.torrent (local tracker)      {a:7.3} s  {:8.1} MB/s",
        mb / a
    );
    println!(
        "  fetch MAGNET (our node, x.pe)            {o:7.3} s  {:8.1} MB/s   {:.2}x aria2c's speed",
        mb / o,
        a / o
    );
    Ok(())
}
