//! `cargo run --release -p media-thumb --example thumb -- IN OUT [--size 256] [--format webp|jpeg]`
//!
//! Writes a thumbnail of IN to OUT and prints its size, the source size and the BlurHash.
//! An MP4/MOV IN gets its poster (the first H.264 key frame; build with `--features video`).

use std::process::ExitCode;

use media_thumb::{
    make_poster_from_file, make_thumbnails_from_file, ThumbFormat, ThumbnailOptions,
};

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
    let is_video = [".mp4", ".mov", ".m4v"]
        .iter()
        .any(|ext| input.to_ascii_lowercase().ends_with(ext));
    let thumbs = if is_video {
        let poster = make_poster_from_file(input.as_ref(), &options)
            .map_err(|e| e.to_string())?
            .ok_or("no video track")?;
        match poster.thumbnails {
            Some(t) => t,
            None => return Err(poster.no_poster.unwrap_or_default()),
        }
    } else {
        make_thumbnails_from_file(input.as_ref(), &options).map_err(|e| e.to_string())?
    };
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
