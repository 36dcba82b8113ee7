//! Upload a file to S3 and print its key, URL and SHA-256.
//!
//! `cargo run -p media-cdn --example put -- FILE [--endpoint URL --bucket B --access-key K
//! --secret-key S --public-base URL] [--no-wait]`
//!
//! Without `--endpoint` it starts the embedded S3 server over `./media-s3` and keeps serving
//! (so the printed URL works) until interrupted, unless `--no-wait`.

use std::sync::Arc;

use media_cdn::{EmbeddedS3, S3Backend, S3Config};
use media_core::{digest_copy, sniff_mime, Backend, Progress, StagedBlob};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let file = args.first().filter(|a| !a.starts_with("--")).ok_or(
        "usage: put FILE [--endpoint URL --bucket B --access-key K --secret-key S --public-base URL] [--no-wait]",
    )?;
    let mut server = None;
    let mut config = match arg(&args, "--endpoint") {
        Some(endpoint) => S3Config::new(
            arg(&args, "--bucket").ok_or("--bucket is required with --endpoint")?,
            arg(&args, "--access-key").ok_or("--access-key is required with --endpoint")?,
            arg(&args, "--secret-key").ok_or("--secret-key is required with --endpoint")?,
        )
        .with_endpoint(endpoint),
        None => {
            let s = EmbeddedS3::start("media-s3", "media").await?;
            eprintln!("embedded S3 server at {} (folder ./media-s3)", s.endpoint());
            let c = s.config();
            server = Some(s);
            c
        }
    };
    if let Some(base) = arg(&args, "--public-base") {
        config = config.with_public_base_url(base);
    }
    let backend = S3Backend::new(config)?;

    // Stage a copy and hash it in one pass, as the media store does.
    let staging = tempfile::tempdir()?;
    let staged = staging.path().join("blob");
    let digests = digest_copy(
        std::fs::File::open(file)?,
        std::fs::File::create(&staged)?,
        None,
    )?;
    let mut head = vec![0u8; 32];
    let n = std::io::Read::read(&mut std::fs::File::open(file)?, &mut head)?;
    let mime = sniff_mime(&head[..n], file);
    let blob = StagedBlob::new(&staged, file.as_str(), mime, Arc::new(digests));
    let location = backend
        .put(&blob, Progress::new(|n| eprint!("\ruploaded {n} bytes")))
        .await?;
    eprintln!();
    let (Some(url), Some(key)) = (location.cdn_url(), location.key()) else {
        return Err("unexpected location".into());
    };
    println!("key     {key}");
    println!("url     {url}");
    println!("sha256  {}", blob.digests.sha256);
    if server.is_some() && !args.iter().any(|a| a == "--no-wait") {
        eprintln!("serving until interrupted (Ctrl-C)");
        tokio::signal::ctrl_c().await?;
    }
    Ok(())
}
