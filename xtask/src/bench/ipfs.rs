//! `cargo xtask bench ipfs`.

#[allow(unused_imports)]
use std::path::{Path, PathBuf};
#[allow(unused_imports)]
use std::process::{Command, Stdio};

#[allow(unused_imports)]
use crate::tools::ensure_node_tools;
#[allow(unused_imports)]
use crate::util::*;

/// CID computation of our `cid` example against Helia's `addBytes` on the same file, then a
/// verified gateway fetch (our `fetch` example) against `curl` of the same gateway and file.
pub(crate) fn bench(mib: u64) -> Res {
    if !have("curl", "--version") {
        return Err("the IPFS benchmark compares against curl: install curl".into());
    }
    let (npm_dir, node) = ensure_node_tools()?;
    let cid_exe = release_example("media-ipfs", &[], "cid")?;
    let serve_exe = release_example("media-ipfs", &[], "serve")?;
    let fetch_exe = release_example("media-ipfs", &[], "fetch")?;
    let file = bench_file(mib)?;
    let script = npm_dir.join("helia_cids.mjs");
    std::fs::copy(root().join("media-ipfs/tests/js/helia_cids.mjs"), &script)
        .map_err(|e| format!("copying the Helia script: {e}"))?;
    let mb = (mib << 20) as f64 / 1e6;

    let (mut ours, mut helia_wall, mut helia_add) = (Vec::new(), Vec::new(), Vec::new());
    let mut cid = String::new();
    for _ in 0..3 {
        let (s, out, _) = timed(Command::new(&cid_exe).arg(&file))?;
        ours.push(s);
        cid = out.trim().to_owned();
        let (s, out, _) = timed(
            Command::new(&node)
                .arg(&script)
                .arg(&file)
                .env("HELIA_ADD_BYTES", "1"),
        )?;
        helia_wall.push(s);
        let mut words = out.split_whitespace().skip(1);
        let theirs = words.next().unwrap_or_default().to_owned();
        if theirs != cid {
            return Err(format!("CIDs differ: ours {cid}, Helia {theirs}"));
        }
        helia_add.push(
            words
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(f64::NAN)
                / 1e3,
        );
    }
    let (o, hw, ha) = (median(ours), median(helia_wall), median(helia_add));
    println!("\nIPFS benchmark, {mib} MiB file, median of 3, same run (CID {cid})");
    println!(
        "  Helia addBytes (in-process time)        {ha:7.3} s  {:8.1} MB/s",
        mb / ha
    );
    println!(
        "  node helia_cids.mjs (read + addBytes)   {hw:7.3} s  {:8.1} MB/s",
        mb / hw
    );
    println!(
        "  cid FILE (our example, streaming)       {o:7.3} s  {:8.1} MB/s   {:.2}x Helia's addBytes speed",
        mb / o,
        ha / o
    );

    // Gateway fetch: one server, two clients, same file.
    let data = bench_dir()?.join("ipfs-serve");
    let _ = std::fs::remove_dir_all(&data);
    let mut server = Command::new(&serve_exe)
        .arg(&file)
        .arg("--data")
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("starting serve: {e}"))?;
    let gateway = {
        use std::io::BufRead;
        let stdout = server.stdout.take().ok_or("serve has no stdout")?;
        let mut url = None;
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.map_err(|e| e.to_string())?;
            if let Some(u) = line.strip_prefix("gateway ") {
                url = Some(u.to_owned());
                break;
            }
        }
        url.ok_or("serve printed no gateway URL")?
    };
    let out = bench_dir()?.join("ipfs-fetched.bin");
    let curl_out = bench_dir()?.join("ipfs-curled.bin");
    let result = (|| -> Res<(f64, f64)> {
        let (mut ours, mut curl) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            let (s, _, _) = timed(
                Command::new(&fetch_exe)
                    .arg(&cid)
                    .args(["--gateway", &gateway, "--out"])
                    .arg(&out),
            )?;
            ours.push(s);
            // Both write the file out: the same work after the bytes arrive.
            let (s, _, _) = timed(
                Command::new("curl")
                    .args(["-sf", "-o"])
                    .arg(&curl_out)
                    .arg(format!("{gateway}/ipfs/{cid}")),
            )?;
            curl.push(s);
        }
        Ok((median(ours), median(curl)))
    })();
    let _ = server.kill();
    let _ = server.wait();
    let (f, c) = result?;
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(&curl_out);
    println!(
        "  curl -o FILE GATEWAY/ipfs/CID (bytes)   {c:7.3} s  {:8.1} MB/s",
        mb / c
    );
    println!(
        "  fetch CID --out FILE (one CAR, verified) {f:7.3} s  {:8.1} MB/s   {:.2}x curl's speed",
        mb / f,
        c / f
    );
    Ok(())
}
