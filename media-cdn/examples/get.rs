//! Download a CDN URL (or a byte range of it) to a file, streaming, with resume.
//!
//! `cargo run -p media-cdn --example get -- URL [--range A-B] --out FILE`

use futures::StreamExt;
use media_core::ByteRange;
use tokio::io::AsyncWriteExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let url = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .ok_or("usage: get URL [--range A-B] --out FILE")?;
    let out = get("--out").ok_or("--out FILE is required")?;
    let range: ByteRange = match get("--range") {
        Some(r) => r.parse()?,
        None => ByteRange::full(),
    };
    // A URL typed by the user is trusted: whatever it names may be reached.
    let client = media_http::ClientOptions::new(media_core::Reach::public_only())
        .trust_url(url)
        .build()?;
    let mut stream = media_cdn::get_url(&client, url, range).await?;
    let mut file = tokio::fs::File::create(&out).await?;
    let mut total = 0u64;
    while let Some(piece) = stream.next().await {
        let piece = piece?;
        total += piece.len() as u64;
        file.write_all(&piece).await?;
    }
    file.flush().await?;
    println!("wrote {total} bytes to {out}");
    Ok(())
}
