//! Finding 8 (Medium): memory and CPU amplification. A 190 KB PNG of 14 000² grey pixels took
//! the node to 813 MB, a 377 KB 16-bit one to about 1 GB, and 64 MiB of 8-byte MP4 boxes to
//! 247 MB and 17 s. Each bomb is uploaded here by the owner (the review's door: a hostile
//! file a user re-posts) to a real `media serve`, after a normal photo; the node's peak
//! resident memory may not grow by more than 64 MiB over what the normal upload took, and
//! the node answers afterwards.

use media_core::testing::{nested_boxes_mp4, png_bomb, tiny_boxes_mp4};

use crate::node::Node;

/// The most a bomb may add to the node's peak memory over a normal upload.
const BUDGET_MIB: u64 = 64;

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
        ("14 000² grey PNG", "bomb.png", png_bomb(14_000, false)),
        ("14 100² 16-bit PNG", "bomb16.png", png_bomb(14_100, true)),
        (
            "300 000 nested boxes",
            "nested.mp4",
            nested_boxes_mp4(300_000),
        ),
        (
            "64 MiB of 8-byte boxes",
            "tinyboxes.mp4",
            tiny_boxes_mp4(64),
        ),
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
