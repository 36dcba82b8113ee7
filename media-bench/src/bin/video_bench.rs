//! `video_bench CLIP TTFF_SCRIPT RATE RTT_MS RUNS`: time to first frame in Chromium of a clip whose
//! `moov` is at the end, stored as-is and stored faststart, for `cargo xtask bench video`.
//!
//! An embedded stack stores CLIP twice: once with `MetadataPolicy::Keep` (the bytes as given,
//! index last) and once with the default policy (remuxed to faststart at upload). Both are
//! served by the same embedded S3 server; the node script TTFF_SCRIPT (run with
//! `MEDIA_NODE_BIN`, Chromium from `MEDIA_CHROMIUM`) plays each through a proxy capped at RATE
//! bytes/s that answers each request RTT_MS late, RUNS times, and the medians are printed as
//! one JSON line.

use media_bench::median;
use std::time::Duration;

use media_facade::media_privacy::MetadataPolicy;
use media_facade::{EmbeddedStack, StackConfig, UploadRequest};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn numbers(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect())
        .unwrap_or_default()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [clip, script, rate, rtt, runs] = args.as_slice() else {
        return Err("usage: video_bench CLIP TTFF_SCRIPT RATE RTT_MS RUNS".into());
    };
    let node = std::env::var("MEDIA_NODE_BIN").map_err(|_| "MEDIA_NODE_BIN is not set")?;
    let dir = tempfile::tempdir()?;
    let config = StackConfig::from_toml("", &dir.path().join("node"))?
        .with_p2p_timeout(Duration::from_secs(10));
    let stack = EmbeddedStack::start(config).await?;
    let as_is = stack
        .store
        .upload(UploadRequest::path(clip).with_metadata_policy(MetadataPolicy::Keep))
        .await?;
    let faststart = stack.store.upload(UploadRequest::path(clip)).await?;
    if as_is.remuxed_from.is_some() || faststart.remuxed_from.is_none() {
        return Err("expected one copy as given and one remuxed to faststart".into());
    }
    let url = |f: &media_core::MediaFile| -> Res<String> {
        Ok(f.cdn_url().ok_or("no CDN URL in the record")?.to_owned())
    };
    let config_path = dir.path().join("ttff.json");
    std::fs::write(
        &config_path,
        serde_json::json!({
            "asIs": url(&as_is)?,
            "faststart": url(&faststart)?,
            "rate": rate.parse::<f64>()?,
            "rtt": rtt.parse::<f64>()?,
            "runs": runs.parse::<u32>()?,
        })
        .to_string(),
    )?;
    let out = tokio::process::Command::new(node)
        .arg(script)
        .arg(&config_path)
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "ttff script failed: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let r: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())?;
    if let Some(e) = r["error"].as_str() {
        return Err(format!("in Chromium: {e}").into());
    }
    println!(
        "{}",
        serde_json::json!({
            "size": as_is.size,
            "as_is_ms": median(numbers(&r["asIs"])),
            "faststart_ms": median(numbers(&r["faststart"])),
            "as_is_bytes": median(numbers(&r["asIsBytes"])),
            "faststart_bytes": median(numbers(&r["faststartBytes"])),
            "as_is_requests": median(numbers(&r["asIsRequests"])),
            "faststart_requests": median(numbers(&r["faststartRequests"])),
            "as_is_runs": r["asIs"],
            "faststart_runs": r["faststart"],
        })
    );
    Ok(())
}
