//! In a real browser: headless Chromium (Debian `chromium`, driven by `playwright-core`) on a
//! page whose origin is none of the stores', reading one node's media the ways web apps do —
//! `fetch` with `Range` from the S3 server's public URL, the Trustless Gateway and Blossom; the
//! stock WebTorrent browser bundle through the magnet's `xs=` and `ws=` (no peer is reachable
//! from a browser); `@helia/verified-fetch`'s browser bundle through our gateway; and a
//! `<video crossorigin>` that plays an MP4 made by `ffmpeg` with its index last and stored
//! remuxed to faststart, then seeks to the middle, costing a small part of the file. `cargo xtask test` installs Chromium, ffmpeg and the npm packages;
//! without them the test fails with that hint, unless `MEDIA_SKIP_INTEROP` is set.

use std::path::Path;
use std::time::Duration;

use media_facade::{EmbeddedStack, StackConfig, UploadRequest};
use sha2::{Digest, Sha256};

/// A 20 s 720p H.264 clip at 8 Mbit/s (about 20 MB), `moov` last, as phones write them
/// (the upload remuxes it to faststart).
fn make_clip(path: &Path) {
    media_core::testing::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1280x720:rate=30",
        "-t",
        "20",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-b:v",
        "8M",
        "-maxrate",
        "8M",
        "-bufsize",
        "16M",
        "-g",
        "30",
        path.to_str().unwrap(),
    ]);
}

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_reads_every_store_from_another_origin() {
    let Some(tools) = media_core::testing::browser_tools() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = StackConfig::from_toml("[net]\nallow_private = true\n", &dir.path().join("a"))
        .unwrap()
        .with_p2p_timeout(Duration::from_secs(10));
    let stack = EmbeddedStack::start(config).await.unwrap();
    let endpoint = |name: &str| {
        stack
            .endpoints()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, url)| url)
            .unwrap()
    };

    let photo = media_core::sample_bytes(3 * 1024 * 1024 + 1234, 8);
    let file = stack
        .store
        .upload(UploadRequest::bytes("photo.bin", photo.clone()))
        .await
        .unwrap();
    let clip_path = dir.path().join("clip.mp4");
    make_clip(&clip_path);
    let clip = stack
        .store
        .upload(UploadRequest::path(&clip_path))
        .await
        .unwrap();
    // Stored faststart: the player gets the index with the first bytes.
    assert!(
        clip.remuxed_from.is_some(),
        "the clip was not remuxed: {:?}",
        clip.metadata_removed
    );
    // The record lays out the player before any byte arrives: size, duration, and a poster
    // from the first key frame with its BlurHash.
    let video = clip.video.as_ref().expect("no video facts in the record");
    assert_eq!(
        (video.codec.as_str(), video.width, video.height),
        ("avc1", 1280, 720)
    );
    assert!((19_900..=20_100).contains(&video.duration_ms), "{video:?}");
    assert_eq!(video.no_poster, None);
    let poster = clip.thumbnail.as_ref().expect("no poster");
    assert!(poster.verify() && poster.blurhash.is_some());
    assert_eq!((poster.width, poster.height), (256, 144));
    assert_eq!(
        (poster.source_width, poster.source_height),
        (Some(1280), Some(720))
    );
    let (cid, magnet) = (file.cid().unwrap(), file.magnet().unwrap());
    assert!(magnet.contains("xs=") && magnet.contains("ws="), "{magnet}");
    let gateway = endpoint("gateway");
    let config = serde_json::json!({
        "urls": {
            "s3": file.cdn_url().unwrap(),
            "gateway": format!("{gateway}/ipfs/{cid}"),
            "blossom": format!("{}/{}", endpoint("blossom"), file.sha256),
        },
        "magnet": magnet,
        "gateway": gateway,
        "cid": cid,
        "video": { "url": clip.cdn_url().unwrap(), "size": clip.size },
    });
    let config_path = dir.path().join("browser.json");
    std::fs::write(&config_path, config.to_string()).unwrap();

    // ESM resolves packages next to the script.
    let script = tools.npm_dir.join("browser.mjs");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("js/browser.mjs"),
        &script,
    )
    .unwrap();
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser.png");
    let out = tokio::process::Command::new(&tools.node)
        .arg(&script)
        .arg(&config_path)
        .arg(&screenshot)
        .env("MEDIA_CHROMIUM", &tools.chromium)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser.mjs failed:\n{stderr}\n{stdout}"
    );
    let r: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    let expected = hex_sha256(&photo);
    let size = photo.len();

    for store in ["s3", "gateway", "blossom"] {
        let f = &r["fetch"][store];
        assert_eq!(f["partStatus"], 206, "{store}: {f}\n{stderr}");
        assert_eq!(f["partLength"], 100, "{store}: {f}");
        assert_eq!(
            f["contentRange"],
            format!("bytes 100-199/{size}"),
            "{store}: {f}"
        );
        assert_eq!(f["sha256"], expected.as_str(), "{store}: {f}");
    }

    let wt = &r["webtorrent"];
    assert_eq!(
        wt["sha256"],
        expected.as_str(),
        "WebTorrent: {wt}\n{stderr}"
    );
    assert_eq!(wt["length"], size);
    assert!(wt["webSeeds"].as_u64().unwrap() >= 1, "{wt}");
    assert_eq!(wt["peers"], 0, "{wt}");

    let vf = &r["verified"];
    assert_eq!(vf["status"], 200, "verified-fetch: {vf}\n{stderr}");
    assert_eq!(vf["sha256"], expected.as_str(), "{vf}");

    let v = &r["video"];
    assert!(v["error"].is_null(), "video: {v}\n{stderr}");
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(1280), Some(720))
    );
    let duration = v["duration"].as_f64().unwrap();
    assert!((duration - 20.0).abs() < 0.5, "{v}");
    assert!(v["at"].as_f64().unwrap() >= duration / 2.0, "{v}");
    // The seek asked for the middle of the file by Range and cost a small part of it.
    let ranges: Vec<u64> = v["ranges"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| {
            r.as_str()?
                .strip_prefix("bytes=")?
                .split('-')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert!(
        ranges.iter().any(|&from| from > clip.size / 4),
        "no Range request past the first quarter: {ranges:?}: {v}"
    );
    let (start, seek) = (
        v["startBytes"].as_u64().unwrap(),
        v["seekBytes"].as_u64().unwrap(),
    );
    eprintln!(
        "video of {} bytes: {start} bytes to start, {seek} bytes for the seek; ranges {ranges:?}",
        clip.size
    );
    assert!(
        seek < clip.size / 2,
        "the seek cost {seek} of {} bytes",
        clip.size
    );
    assert!(
        start + seek < clip.size,
        "the browser read the whole file ({start} + {seek} of {})",
        clip.size
    );
    assert!(screenshot.is_file());
    stack.shutdown().await;
}
