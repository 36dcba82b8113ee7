//! Benchmark helper for `cargo xtask bench resumable`: an embedded stack (every store) with its
//! API on loopback; FILE is uploaded by `curl` as a plain `PUT /api/v1/media` and as a tus
//! upload (`POST /api/v1/uploads`, then one `PATCH` with the whole file, the way tus-js-client
//! sends by default), alternating which goes first, the media deleted after each round so
//! that every upload stores the whole file. Prints one JSON line of timings (medians).

use std::time::Instant;

use media_bench::{curl, median};
use media_facade::{EmbeddedStack, StackConfig};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let file = args.next().ok_or("usage: resumable_bench FILE [ROUNDS]")?;
    let rounds: usize = args.next().map_or(Ok(5), |r| r.parse())?;
    let size = std::fs::metadata(&file)?.len();
    let parent = std::path::Path::new(&file)
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .to_path_buf();
    let work = tempfile::tempdir_in(&parent)?;
    let config = StackConfig::from_toml("[api]\n", work.path())?
        .with_reach(media_core::Reach::public_only().allow_private(true));
    let stack = EmbeddedStack::start(config).await?;
    let api = stack
        .service::<media_facade::api::ApiServer>()
        .ok_or("no API")?;
    let (url, auth) = (api.url(), format!("Authorization: Bearer {}", api.token()));
    let id = {
        let out = std::process::Command::new("sha256sum")
            .arg(&file)
            .output()?;
        String::from_utf8(out.stdout)?
            .split_whitespace()
            .next()
            .ok_or("sha256sum printed nothing")?
            .to_owned()
    };
    let remove = |id: String| {
        let (url, auth) = (url.clone(), auth.clone());
        async move {
            curl(&[
                "-X",
                "DELETE",
                "-H",
                &auth,
                &format!("{url}/api/v1/media/{id}"),
            ])
        }
    };
    let plain = || {
        curl(&[
            "-T",
            &file,
            "-H",
            &auth,
            &format!("{url}/api/v1/media?name=bench.bin"),
        ])
    };
    let resumable = || -> Result<f64, Box<dyn std::error::Error>> {
        let t = Instant::now();
        let out = std::process::Command::new("curl")
            .args([
                "-sS",
                "-f",
                "-o",
                "/dev/null",
                "-D",
                "-",
                "-X",
                "POST",
                "-H",
                &auth,
            ])
            .args([
                "-H",
                "Tus-Resumable: 1.0.0",
                "-H",
                &format!("Upload-Length: {size}"),
            ])
            .arg(format!("{url}/api/v1/uploads"))
            .output()?;
        let head = String::from_utf8(out.stdout)?;
        let location = head
            .lines()
            .find_map(|l| {
                l.split_once(':')
                    .filter(|(k, _)| k.eq_ignore_ascii_case("location"))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .ok_or("no Location")?;
        curl(&[
            "-X",
            "PATCH",
            "-T",
            &file,
            "-H",
            &auth,
            "-H",
            "Tus-Resumable: 1.0.0",
            "-H",
            "Upload-Offset: 0",
            "-H",
            "Content-Type: application/offset+octet-stream",
            &format!("{url}{location}"),
        ])?;
        Ok(t.elapsed().as_secs_f64())
    };
    let (mut plains, mut tuses) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        if round % 2 == 0 {
            plains.push(plain()?);
            remove(id.clone()).await?;
            tuses.push(resumable()?);
            remove(id.clone()).await?;
        } else {
            tuses.push(resumable()?);
            remove(id.clone()).await?;
            plains.push(plain()?);
            remove(id.clone()).await?;
        }
    }
    stack.shutdown().await;
    println!(
        "{{\"size\":{size},\"plain_s\":{:.4},\"resumable_s\":{:.4},\"plain_all\":{plains:?},\"resumable_all\":{tuses:?}}}",
        median(plains.clone()),
        median(tuses.clone()),
    );
    Ok(())
}
