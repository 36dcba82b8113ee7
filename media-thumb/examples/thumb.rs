//! `cargo run --release -p media-thumb --example thumb -- IN OUT [--size 256] [--format webp|jpeg]`
//!
//! Writes a thumbnail of IN to OUT and prints its size, the source size and the BlurHash.

use std::process::ExitCode;

use media_thumb::{make_thumbnails_from_file, ThumbFormat, ThumbnailOptions};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("thumb: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let usage = "usage: thumb IN OUT [--size 256] [--format webp|jpeg]";
    let mut args = std::env::args().skip(1);
    let mut paths = Vec::new();
    let mut size = 256u32;
    let mut format = ThumbFormat::Webp;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--size" => {
                size = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--size needs a number of pixels")?;
            }
            "--format" => {
                format = args
                    .next()
                    .ok_or("--format needs webp or jpeg")?
                    .parse()
                    .map_err(|e| format!("{e}"))?;
            }
            "-h" | "--help" => {
                println!("{usage}");
                return Ok(());
            }
            _ => paths.push(arg),
        }
    }
    let [input, output] = paths.as_slice() else {
        return Err(usage.into());
    };
    let options = ThumbnailOptions::default()
        .with_sizes(&[size])
        .with_format(format);
    let thumbs = make_thumbnails_from_file(input.as_ref(), &options).map_err(|e| e.to_string())?;
    let variant = thumbs.variants.first().ok_or("no thumbnail was produced")?;
    std::fs::write(output, &variant.bytes).map_err(|e| format!("{output}: {e}"))?;
    println!(
        "{output}: {}×{} {} ({} bytes) from {}×{} {}; blurhash {}",
        variant.width,
        variant.height,
        variant.mime,
        variant.bytes.len(),
        thumbs.width,
        thumbs.height,
        thumbs.source_mime,
        thumbs.blurhash.as_deref().unwrap_or("-"),
    );
    Ok(())
}
