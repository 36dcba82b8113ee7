//! `cargo xtask bench cdn`.

#[allow(unused_imports)]
use std::path::{Path, PathBuf};
#[allow(unused_imports)]
use std::process::{Command, Stdio};

#[allow(unused_imports)]
use crate::util::*;

pub(crate) fn bench(mib: u64) -> Res {
    if !have("curl", "--version") {
        return Err("the CDN benchmark compares against curl: install curl".into());
    }
    let exe = release_bench("cdn_bench")?;
    let file = bench_file(mib)?;
    let (_, out, err) = timed(with_time_v(&exe).arg(&file))?;
    let line = out.lines().last().unwrap_or_default();
    let field = |f: &str| json_field(line, f).ok_or(format!("cdn_bench printed no {f}: {line}"));
    let (up, ours, curl) = (field("upload_s")?, field("get_s")?, field("curl_s")?);
    let mb = (mib << 20) as f64 / 1e6;
    println!("\nCDN benchmark, {mib} MiB object on the embedded S3 server (loopback), median of 5, alternating which goes first");
    println!(
        "  upload (PUT/multipart, SHA-256 checked) {up:7.3} s  {:8.1} MB/s",
        mb / up
    );
    println!(
        "  curl -o /dev/null URL                   {curl:7.3} s  {:8.1} MB/s",
        mb / curl
    );
    println!("  our streaming ranged GET                {ours:7.3} s  {:8.1} MB/s   ratio vs curl: {:.2}x", mb / ours, curl / ours);
    if let Some(kb) = max_rss_kb(&err) {
        println!("  peak RSS of the whole run (server, upload, 5 downloads; /usr/bin/time -v): {:.1} MiB", kb as f64 / 1024.0);
    }
    Ok(())
}
