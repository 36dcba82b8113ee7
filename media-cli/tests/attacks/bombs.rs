//! Finding 8 (Medium): memory and CPU amplification. A 190 KB PNG of 14 000² grey pixels took
//! the node to 813 MB, a 377 KB 16-bit one to about 1 GB, and 64 MiB of 8-byte MP4 boxes to
//! 247 MB and 17 s. Each bomb is uploaded here by the owner (the review's door: a hostile
//! file a user re-posts) to a real `media serve`, after a normal photo; the node's peak
//! resident memory may not grow by more than 64 MiB over what the normal upload took, and
//! the node answers afterwards.

use crate::node::Node;

/// The most a bomb may add to the node's peak memory over a normal upload.
const BUDGET_MIB: u64 = 64;

/// A `side`² grey PNG (8 or 16 bits), white top-left quarter, streamed out.
fn png_bomb(side: u32, depth: png::BitDepth) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(depth);
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header().unwrap();
        let mut stream = writer.stream_writer().unwrap();
        let bytes_per_px = if depth == png::BitDepth::Sixteen {
            2
        } else {
            1
        };
        let half = side as usize / 2 * bytes_per_px;
        let mut row = vec![0u8; side as usize * bytes_per_px];
        for y in 0..side as usize {
            row.fill(0);
            if y < side as usize / 2 {
                row[..half].fill(0xFF);
            }
            std::io::Write::write_all(&mut stream, &row).unwrap();
        }
        stream.finish().unwrap();
    }
    out
}

fn bx(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut b = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
    b.extend_from_slice(kind);
    b.extend_from_slice(payload);
    b
}

/// `ftyp`, an `mdat`, then a `moov` of 300 000 nested `trak` headers (finding 7's file).
fn nested_mp4() -> Vec<u8> {
    let levels = 300_000u32;
    let mut nested = Vec::with_capacity(levels as usize * 8);
    for n in (1..=levels).rev() {
        nested.extend_from_slice(&(8 * n).to_be_bytes());
        nested.extend_from_slice(b"trak");
    }
    [
        bx(b"ftyp", b"isom\0\0\0\0isom"),
        bx(b"mdat", &[0u8; 64]),
        bx(b"moov", &nested),
    ]
    .concat()
}

/// `ftyp`, then 64 MiB of empty 8-byte `free` boxes.
fn tiny_boxes_mp4() -> Vec<u8> {
    let mut file = bx(b"ftyp", b"isom\0\0\0\0isom");
    file.extend(b"\0\0\0\x08free".repeat((64 << 20) / 8));
    file
}

/// A 6-megapixel camera-like JPEG: what a normal upload is.
fn photo() -> Vec<u8> {
    let img = image::RgbImage::from_fn(3000, 2000, |x, y| {
        image::Rgb([(x / 12) as u8, (y / 8) as u8, ((x ^ y) & 0xFF) as u8])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&img)
        .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bombs_do_not_grow_the_node_past_a_normal_upload() {
    let node = Node::start("");
    let (status, _) = node.api_put("photo.jpg", photo()).await;
    assert!((200..300).contains(&status), "a normal upload: {status}");
    let normal = node.peak_rss_mib();
    let bombs: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "14 000² grey PNG",
            "bomb.png",
            png_bomb(14_000, png::BitDepth::Eight),
        ),
        (
            "14 100² 16-bit PNG",
            "bomb16.png",
            png_bomb(14_100, png::BitDepth::Sixteen),
        ),
        ("300 000 nested boxes", "nested.mp4", nested_mp4()),
        ("64 MiB of 8-byte boxes", "tinyboxes.mp4", tiny_boxes_mp4()),
    ];
    for (what, name, file) in bombs {
        let started = std::time::Instant::now();
        let (status, body) = node.api_put(name, file).await;
        assert!(
            status < 500,
            "{what}: {status} {}",
            &body[..body.len().min(300)]
        );
        assert!(node.is_up().await, "{what}: the node went down");
        let grown = node.peak_rss_mib().saturating_sub(normal);
        eprintln!(
            "{what}: HTTP {status} in {:.1} s, peak memory {grown} MiB over a normal upload",
            started.elapsed().as_secs_f64()
        );
        assert!(grown <= BUDGET_MIB, "{what}: the node grew by {grown} MiB");
    }
}
