//! The node's web page in real Chromium: `media serve` prints a page URL; the page (driven by
//! `playwright-core`, Debian's `chromium`) shows the grid with thumbnails it checked against
//! their records, uploads a photo with a progress bar, shows it, lists its links, plays a
//! video by Range, shows a HEIC through its JPEG rendition, and shows a stranger's record
//! named like markup as plain text. Screenshots
//! are saved in the target's tmp folder (`page-*.png`). `cargo xtask test` installs Chromium,
//! ffmpeg and the npm packages; without them the test fails with that hint, unless
//! `MEDIA_SKIP_INTEROP` is set.

mod common;

use std::path::Path;
use std::process::Command;

use common::{media, serve};
use sha2::{Digest, Sha256};

fn ffmpeg(args: &[&str]) {
    media_core::testing::ffmpeg(args);
}

/// `media --json ARGS…` on a running node: the JSON it printed.
fn media_json(data: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    let (ok, out, err) = media(data, &all);
    assert!(ok, "media {args:?}: {err}");
    serde_json::from_str(out.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn the_page_uploads_shows_and_plays_in_chromium() {
    let Some(media_core::testing::BrowserTools {
        npm_dir: npm,
        node,
        chromium,
    }) = media_core::testing::browser_tools()
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_node, seen) = serve(&data);
    let page = seen
        .iter()
        .find_map(|l| l.strip_prefix("page "))
        .unwrap_or_else(|| panic!("no page URL printed: {seen:?}"))
        .to_owned();
    let blossom = seen
        .iter()
        .find_map(|l| l.strip_prefix("blossom "))
        .unwrap()
        .to_owned();
    assert!(page.contains("/#token="), "{page}");

    // A 4 s H.264 clip written the way phones do (index last), and a photo for the page.
    let clip = dir.path().join("clip.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=25:duration=4",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        clip.to_str().unwrap(),
    ]);
    let photo = dir.path().join("photo.png");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=800x600",
        "-frames:v",
        "1",
        photo.to_str().unwrap(),
    ]);
    // A stranger's record whose name is markup.
    let hostile_name = "<img src=x onerror=window.pwned=1>.png";
    let hostile = dir.path().join(hostile_name);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=red:size=64x64",
        "-frames:v",
        "1",
        hostile.to_str().unwrap(),
    ]);
    // A HEIC (Debian's heif-enc), which browsers do not show: the page shows its rendition.
    let heic = dir.path().join("iphone.heic");
    media_core::testing::heif_enc(&photo, &heic, 60, false);
    let heic_record = media_json(&data, &["put", heic.to_str().unwrap()]);
    let heic_display = heic_record["display"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no display rendition: {heic_record}"))
        .to_owned();
    let clip_record = media_json(&data, &["put", clip.to_str().unwrap()]);
    let hostile_record = media_json(&data, &["put", hostile.to_str().unwrap()]);
    // A stranger reports a photo (BUD-09); the owner's page lists it for review.
    let reported = dir.path().join("reported.png");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "mandelbrot=size=320x240",
        "-frames:v",
        "1",
        reported.to_str().unwrap(),
    ]);
    let reported_record = media_json(&data, &["put", reported.to_str().unwrap()]);
    let reported_id = reported_record["id"].as_str().unwrap().to_owned();
    let reporter = media_blossom::NostrKeys::generate().unwrap();
    let event = reporter
        .sign(
            1984,
            vec![vec!["x".into(), reported_id.clone(), "nudity".into()]],
            "<img src=x onerror=window.pwnedReport=1> this is me",
            media_blossom::auth::unix_now(),
        )
        .unwrap();
    let status = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            reqwest::Client::new()
                .put(format!("{blossom}/report"))
                .json(&event)
                .send()
                .await
                .unwrap()
                .status()
        });
    assert_eq!(status, 200, "the report was not taken");

    let config = dir.path().join("page.json");
    std::fs::write(
        &config,
        serde_json::json!({
            "page": page,
            "photo": photo,
            "clipId": clip_record["id"],
            "hostileId": hostile_record["id"],
            "heicId": heic_record["id"],
            "reportedId": reported_id,
        })
        .to_string(),
    )
    .unwrap();
    let script = npm.join("page.mjs");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js/page.mjs"),
        &script,
    )
    .unwrap();
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let out = Command::new(&node)
        .arg(&script)
        .arg(&config)
        .arg(artifacts)
        .env("MEDIA_CHROMIUM", &chromium)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "page.mjs failed:\n{stderr}\n{stdout}");
    let r: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    assert!(r["error"].is_null(), "{r}\n{stderr}");
    assert_eq!(r["errors"], serde_json::json!([]), "page errors: {r}");

    // The report is shown as text and its media is taken down from every store.
    assert_eq!(r["report"]["children"], 0, "{r}");
    assert_eq!(r["report"]["pwned"], false, "{r}");
    assert!(
        r["report"]["text"].as_str().unwrap().contains("onerror"),
        "{r}"
    );
    assert_eq!(r["reportTakenDown"], true, "{r}");
    let (ok, _, _) = media(&data, &["show", &reported_id]);
    assert!(!ok, "the taken-down record is still listed");
    let (ok, _, err) = media(&data, &["put", reported.to_str().unwrap()]);
    assert!(
        !ok && err.contains("taken down"),
        "re-upload after takedown: {err}"
    );

    // The token left the address bar once read.
    assert!(!r["addressBar"].as_str().unwrap().contains("token"), "{r}");
    // The HEIC's rendition is not a tile of its own.
    assert_eq!(r["before"], 4, "{r}");
    assert_eq!(r["after"], 5, "{r}");

    let h = &r["hostile"];
    assert_eq!(h["caption"], hostile_name, "{r}");
    assert_eq!(h["children"], 0);
    assert_eq!(h["pwned"], false);
    assert_eq!(h["strayImages"], 0);

    // The uploaded photo is what the node now holds, byte for byte.
    let id = r["uploaded"]["id"].as_str().unwrap().to_owned();
    assert_eq!(r["uploaded"]["progress"], 100, "{r}");
    let fetched = dir.path().join("fetched.png");
    let (ok, _, err) = media(&data, &["get", &id, "--out", fetched.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(
        hex::encode(Sha256::digest(std::fs::read(&fetched).unwrap())),
        id
    );
    let record = media_json(&data, &["show", &id]);
    assert_eq!(record["name"], "photo.png");

    let v = &r["viewer"];
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(800), Some(600)),
        "{r}"
    );
    assert_eq!(v["title"], "photo.png");
    let links = &v["links"];
    let location = |kind: &str| {
        record["locations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["kind"] == kind)
            .and_then(|l| l["uri"].as_str())
            .unwrap()
            .to_owned()
    };
    assert_eq!(links["CDN URL"], location("cdn").as_str(), "{r}");
    assert_eq!(
        links["CID"],
        location("ipfs").trim_start_matches("ipfs://"),
        "{r}"
    );
    assert_eq!(links["magnet"], location("torrent").as_str());
    assert_eq!(links["Blossom"], format!("{blossom}/{id}"));

    let video = &r["video"];
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(640), Some(360)),
        "{r}"
    );
    assert!(
        (video["duration"].as_f64().unwrap() - 4.0).abs() < 0.2,
        "{r}"
    );
    assert!(video["at"].as_f64().unwrap() >= 1.9, "{r}");

    assert_eq!(r["cookie"]["list"], 200, "{r}");
    assert_eq!(r["cookie"]["put"], 401, "{r}");

    let h = &r["heic"];
    assert_eq!(h["rendition"], heic_display.as_str(), "{r}");
    assert_eq!(
        (h["width"].as_u64(), h["height"].as_u64()),
        (Some(800), Some(600)),
        "{r}"
    );

    for shot in ["grid", "uploaded", "viewer", "video", "heic"] {
        let png = std::fs::read(artifacts.join(format!("page-{shot}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 2000, "{shot}");
    }
}
