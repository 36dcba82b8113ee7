//! The demo `cargo xtask demo` runs, on the embedded default stack: node A runs an in-process
//! S3 server (CDN), an IPFS node (iroh + Trustless Gateway) and a BitTorrent seeder on
//! 127.0.0.1; it uploads a generated photo and a video-sized file to all three. Node B, with
//! nothing but the `MediaFile` records, downloads each file through every store alone and
//! through every policy, then failures are drilled on A: the CDN killed, a corrupted CDN
//! object, the torrent seeder gone. A plain HTTP client uploads to A's Blossom server and B
//! serves the blob by hash from its own. Exits non-zero if any byte did not verify.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use media_core::{
    ByteRange, DownloadPolicy, Fastest, Hedge, MediaEvent, MediaFile, MediaId, PreferCdn, PreferP2p,
};
use media_facade::{EmbeddedStack, MediaStore, ReadOptions, StackConfig, UploadRequest};

struct Row {
    step: String,
    ok: bool,
    detail: String,
}

/// Both nodes run on 127.0.0.1 and read each other's stores there: allowed on purpose (a
/// node's default reaches public addresses only).
fn loopback() -> media_core::Reach {
    media_core::Reach::public_only().allow_private(true)
}

fn sample(len: usize, seed: u64) -> Vec<u8> {
    media_core::sample_bytes(len as u64, seed)
}

/// A real 3000×2000 JPEG (gradients and rings), so the upload makes a real thumbnail.
fn sample_photo() -> Vec<u8> {
    let (w, h) = (3000u32, 2000u32);
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        let ring = (((fx - 0.5).powi(2) + (fy - 0.5).powi(2)).sqrt() * 60.0).sin();
        image::Rgb([
            (fx * 255.0) as u8,
            (fy * 255.0) as u8,
            ((ring * 0.5 + 0.5) * 255.0) as u8,
        ])
    });
    let mut out = Vec::new();
    let encoded =
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 88).encode_image(&img);
    if encoded.is_err() {
        return sample(2_400_000, 7);
    }
    out
}

/// A read from the stores: the steps and drills are about them, so B's local cache is
/// bypassed here (`cache_drill` shows the cache).
async fn read(
    store: &MediaStore,
    file: &MediaFile,
    opts: ReadOptions,
) -> Result<(Vec<u8>, Duration), String> {
    read_with_cache(store, file, opts.bypass_cache()).await
}

async fn read_with_cache(
    store: &MediaStore,
    file: &MediaFile,
    opts: ReadOptions,
) -> Result<(Vec<u8>, Duration), String> {
    let t = Instant::now();
    let reader = store
        .open_file(file, opts)
        .await
        .map_err(|e| e.to_string())?;
    let bytes = reader.read_to_end().await.map_err(|e| e.to_string())?;
    Ok((bytes, t.elapsed()))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    match run().await {
        Ok(rows) => {
            println!("\n{:<52} {:<6} detail", "step", "result");
            println!("{}", "-".repeat(104));
            for r in &rows {
                println!(
                    "{:<52} {:<6} {}",
                    r.step,
                    if r.ok { "ok" } else { "FAILED" },
                    r.detail
                );
            }
            let failed = rows.iter().filter(|r| !r.ok).count();
            println!("\n{} steps, {} failed", rows.len(), failed);
            if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("demo failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn print_events(store: &MediaStore, node: &'static str) -> tokio::task::JoinHandle<()> {
    let mut events = store.subscribe();
    tokio::spawn(async move {
        while let Ok(e) = events.recv().await {
            match e {
                MediaEvent::UploadProgress {
                    backend,
                    bytes,
                    total,
                    ..
                } => println!(
                    "  [{node}] upload {backend:<8} {:>5.1}%",
                    100.0 * bytes as f64 / total.max(1) as f64
                ),
                MediaEvent::Fallback {
                    from, to, reason, ..
                } => println!(
                    "  [{node}] fallback {from} -> {}: {}",
                    to.unwrap_or_else(|| "none".into()),
                    reason.message
                ),
                MediaEvent::IntegrityFailure { backend, chunk, .. } => {
                    println!("  [{node}] integrity failure from {backend} at chunk {chunk}")
                }
                _ => {}
            }
        }
    })
}

async fn run() -> Result<Vec<Row>, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let timeout = Duration::from_secs(10);
    println!("starting node A (S3 server, IPFS node + gateway, BitTorrent seeder on 127.0.0.1)");
    let a = EmbeddedStack::start_with(
        StackConfig::new(dir.path().join("a"))
            .with_reach(loopback())
            .with_p2p_timeout(timeout),
        |builder| builder.attempt_timeout(timeout),
    )
    .await?;
    println!("starting node B (its own stores; it knows A only through the records)");
    let b = EmbeddedStack::start_with(
        StackConfig::new(dir.path().join("b"))
            .with_reach(loopback())
            .with_p2p_timeout(timeout),
        |builder| builder.download_policy(PreferP2p).attempt_timeout(timeout),
    )
    .await?;
    let printers = [print_events(&a.store, "A"), print_events(&b.store, "B")];

    let mut rows = Vec::new();
    let photo = sample_photo();
    let video = sample(24 * 1024 * 1024 + 12_345, 99);
    let mut files = Vec::new();
    for (name, bytes) in [("photo.jpg", &photo), ("clip.mp4", &video)] {
        println!(
            "A uploads {name} ({} bytes) to cdn, ipfs, torrent",
            bytes.len()
        );
        let t = Instant::now();
        let file = a
            .store
            .upload(UploadRequest::bytes(name, bytes.clone()))
            .await?;
        println!("{}", serde_json::to_string_pretty(&summary(&file))?);
        rows.push(Row {
            step: format!("A uploads {name}"),
            ok: file.locations.len() == 3 && file.id == MediaId::for_bytes(bytes),
            detail: format!("{} stores in {:?}", file.locations.len(), t.elapsed()),
        });
        if name == "photo.jpg" {
            let thumb = a.store.thumbnail(&file.id).await;
            rows.push(Row {
                step: "thumbnail of photo.jpg".into(),
                ok: thumb.as_ref().is_ok_and(|t| t.verify()),
                detail: match &thumb {
                    Ok(t) => format!(
                        "{}×{} {} ({} bytes), verified",
                        t.width,
                        t.height,
                        t.mime,
                        t.bytes.len()
                    ),
                    Err(e) => e.to_string(),
                },
            });
        }
        // B learns of the file the way peers do: the record, plus the short reference that
        // travels through the app's trusted channel and anchors the record's chunk list.
        b.store.import_ref(&file, &file.reference()).await?;
        files.push((file, bytes.clone()));
    }

    let policies: Vec<(&str, Arc<dyn DownloadPolicy>)> = vec![
        ("prefer-p2p", Arc::new(PreferP2p)),
        ("prefer-cdn", Arc::new(PreferCdn)),
        (
            "hedged",
            Arc::new(Hedge::new(PreferP2p, Duration::from_millis(300))),
        ),
        ("fastest", Arc::new(Fastest)),
    ];
    for (file, bytes) in &files {
        for backend in ["cdn", "ipfs", "torrent"] {
            let r = read(&b.store, file, ReadOptions::new().only_backend(backend)).await;
            rows.push(check(
                format!("B gets {} via {backend} alone", file.name),
                r,
                bytes,
            ));
        }
        for (pname, policy) in &policies {
            let r = read(
                &b.store,
                file,
                ReadOptions::new().policy(Arc::clone(policy)),
            )
            .await;
            rows.push(check(
                format!("B gets {} with {pname}", file.name),
                r,
                bytes,
            ));
        }
    }
    let (video_file, video_bytes) = &files[1];
    let seek = ByteRange::new(5_000_000, 9_000_000);
    let r = read(&b.store, video_file, ReadOptions::new().range(seek)).await;
    rows.push(check(
        "B seeks clip.mp4 5 MB..9 MB".into(),
        r,
        &video_bytes[5_000_000..9_000_000],
    ));

    println!("cache: B reads clip.mp4 twice; the second read asks no store");
    rows.push(cache_drill(&b.store, video_file, video_bytes).await);

    println!("drill: a stranger hands B a forged record of clip.mp4 (real id, forged chunks)");
    rows.push(forged_record_drill(&b.store, video_file, video_bytes, dir.path()).await);

    println!("blossom: a plain HTTP client uploads to A's Blossom server; B serves it by hash");
    rows.push(blossom_drill(&a, &b).await);

    println!("drill: a stranger signs a Blossom DELETE of A's photo");
    rows.push(stranger_delete_drill(&a, &files[0].0, &files[0].1).await);

    println!("drill: B reads a stranger's forged record of a new clip, then its owner uploads the genuine one");
    rows.push(forged_then_genuine_drill(&b.store, dir.path()).await);

    println!("privacy: A shares a private photo with B only");
    rows.push(private_drill(&a, &b, &photo).await);

    println!("drill: A's CDN is killed");
    let s3 = a
        .service::<media_facade::media_cdn::EmbeddedS3>()
        .ok_or("node A runs no S3 server")?;
    let (s3_root, s3_addr) = (s3.root().to_path_buf(), s3.addr());
    media_core::Service::shutdown(s3).await;
    let r = read(&b.store, video_file, ReadOptions::new().policy(PreferCdn)).await;
    rows.push(check("CDN killed -> P2P serves".into(), r, video_bytes));
    // Back on the same address, so the URLs in the records work again.
    let _s3_again =
        media_facade::media_cdn::EmbeddedS3::start_on(&s3_root, "media", s3_addr).await?;

    println!("drill: a byte of A's CDN object is corrupted on disk");
    let object = s3_root
        .join("media")
        .join("media")
        .join(video_file.id.to_string());
    let original = std::fs::read(&object)?;
    let mut corrupted = original.clone();
    corrupted[7_777_777] ^= 0x5A;
    std::fs::write(&object, &corrupted)?;
    let before = b.store.stats().integrity_failures;
    let r = read(&b.store, video_file, ReadOptions::new().policy(PreferCdn)).await;
    let detected = b.store.stats().integrity_failures > before;
    let mut row = check(
        "corrupt CDN object -> detected, fallback".into(),
        r,
        video_bytes,
    );
    row.ok &= detected;
    if !detected {
        row.detail
            .push_str(" (but no integrity failure was counted)");
    }
    rows.push(row);
    std::fs::write(&object, &original)?;

    println!("drill: A's torrent seeder is gone");
    if let Some(t) = a.service::<media_facade::media_torrent::TorrentNode>() {
        t.shutdown().await;
    }
    // B drops its own copy of the torrent, so only a seeder could serve it.
    if let Some(loc) = video_file.location(&media_core::BackendKind::TORRENT) {
        if let Some(bt) = b.store.backends().iter().find(|x| x.name() == "torrent") {
            let _ = bt.delete(loc).await;
        }
    }
    let alone = read(
        &b.store,
        video_file,
        ReadOptions::new().only_backend("torrent"),
    )
    .await;
    rows.push(Row {
        step: "seeder gone -> torrent alone fails".into(),
        ok: alone.is_err(),
        detail: match alone {
            Err(e) => e,
            Ok(_) => "served although the seeder is gone".into(),
        },
    });
    let r = read(&b.store, video_file, ReadOptions::new().policy(PreferP2p)).await;
    rows.push(check(
        "seeder gone -> IPFS or CDN serves".into(),
        r,
        video_bytes,
    ));

    println!(
        "\nB's statistics:\n{}",
        serde_json::to_string_pretty(&b.store.stats())?
    );
    for p in printers {
        p.abort();
    }
    b.shutdown().await;
    a.shutdown().await;
    Ok(rows)
}

/// A stranger's record: the id of `file`, chunk digests of other bytes, and a location (on
/// B's own CDN store) serving exactly those bytes. B must refuse it, and the honest record
/// must still read.
async fn forged_record_drill(
    b: &MediaStore,
    file: &MediaFile,
    bytes: &[u8],
    scratch: &std::path::Path,
) -> Row {
    let step = "forged record -> refused, honest record still reads".to_owned();
    let outcome: Result<String, String> = async {
        let mut forged_bytes = bytes.to_vec();
        forged_bytes[6_000_000] ^= 0xFF;
        let forged = forged_on_cdn(
            b,
            &file.digests(),
            &forged_bytes,
            &scratch.join("forged.bin"),
        )
        .await?;
        let refused_import = b.import(&forged).await.err().ok_or("import accepted it")?;
        let refused_read = read(
            b,
            &forged,
            ReadOptions::new().range(ByteRange::new(5_000_000, 7_000_000)),
        )
        .await
        .err()
        .ok_or("a range of it was served")?;
        let (honest, _) = read(
            b,
            file,
            ReadOptions::new().range(ByteRange::new(5_000_000, 7_000_000)),
        )
        .await?;
        if honest != bytes[5_000_000..7_000_000] {
            return Err("the honest record no longer reads".into());
        }
        Ok(format!("import: {refused_import}; read: {refused_read}"))
    }
    .await;
    drill_row(step, outcome)
}

/// A stranger with a fresh nostr key reads A's photo from A's Blossom server, re-uploads it
/// and signs a `DELETE`: the upload and the delete are refused (writes are closed to keys A
/// did not list, and the photo is A's own), and the photo still reads, verified.
async fn stranger_delete_drill(a: &EmbeddedStack, file: &MediaFile, bytes: &[u8]) -> Row {
    let step = "stranger's Blossom DELETE of A's photo -> refused, photo still reads".to_owned();
    let outcome: Result<String, String> = async {
        use media_facade::media_blossom::{auth::unix_now, NostrKeys};
        let url = a.endpoint("blossom").ok_or("no Blossom server")?;
        let id = file.id.to_string();
        let stranger = NostrKeys::generate().map_err(|e| e.to_string())?;
        let sign = |verb: &str| {
            stranger
                .authorize(verb, &[&id], "mine now", unix_now(), 300)
                .map(|e| e.to_header())
                .map_err(|e| e.to_string())
        };
        let (status, public) = http(&url, "GET", &format!("/{id}"), &[], &[]).await?;
        if status != 200 || MediaId::for_bytes(&public) != file.id {
            return Err(format!("the public read answered {status}"));
        }
        let (upload, _) = http(
            &url,
            "PUT",
            "/upload",
            &[
                ("Authorization", sign("upload")?),
                ("X-SHA-256", id.clone()),
            ],
            &public,
        )
        .await?;
        let (delete, _) = http(
            &url,
            "DELETE",
            &format!("/{id}"),
            &[("Authorization", sign("delete")?)],
            &[],
        )
        .await?;
        if upload / 100 != 4 || delete / 100 != 4 {
            return Err(format!("upload answered {upload}, delete {delete}"));
        }
        let after = a
            .store
            .read_all(&file.id)
            .await
            .map_err(|e| e.to_string())?;
        if after != bytes {
            return Err("A's photo no longer reads".into());
        }
        Ok(format!(
            "upload {upload}, delete {delete}; the photo reads, {} bytes verified",
            after.len()
        ))
    }
    .await;
    drill_row(step, outcome)
}

/// A stranger hands B a forged record of a clip B has never seen (its real id, chunks of
/// other bytes that a store serves): the whole read fails with nothing released. Then the
/// clip's owner uploads the genuine bytes to B, and every read of the id (whole, a range,
/// and again from the cache) is the genuine clip: the failed read poisoned nothing.
async fn forged_then_genuine_drill(b: &MediaStore, scratch: &std::path::Path) -> Row {
    let step = "forged read, then the genuine upload -> genuine bytes served".to_owned();
    let outcome: Result<String, String> = async {
        let genuine = sample(3 * 1024 * 1024 + 77, 123);
        let forged_bytes = sample(genuine.len(), 124);
        let real = media_core::Digests::of_bytes(&genuine);
        let forged =
            forged_on_cdn(b, &real, &forged_bytes, &scratch.join("forged-new.bin")).await?;
        b.import(&forged).await.map_err(|e| e.to_string())?;
        let refused = b
            .read_all(&forged.id)
            .await
            .err()
            .ok_or("the forged read was released")?;
        let put = b
            .upload(UploadRequest::bytes("clip.mp4", genuine.clone()))
            .await
            .map_err(|e| e.to_string())?;
        let whole = b.read_all(&put.id).await.map_err(|e| e.to_string())?;
        let (range, _) = read(
            b,
            &put,
            ReadOptions::new().range(ByteRange::new(1_000_000, 2_100_000)),
        )
        .await?;
        let again = b.read_all(&put.id).await.map_err(|e| e.to_string())?;
        if whole != genuine || range != genuine[1_000_000..2_100_000] || again != genuine {
            return Err("the node served other bytes than the genuine clip".into());
        }
        Ok(format!(
            "forged read: {}; genuine read whole, by range and again from the cache",
            refused.kind
        ))
    }
    .await;
    drill_row(step, outcome)
}

/// What a stranger hands over: a record of the media `real` describes (its id, size and
/// whole-file digests) whose chunk digests are those of `forged_bytes`, which B's own CDN
/// store is made to hold at the record's location.
async fn forged_on_cdn(
    b: &MediaStore,
    real: &media_core::Digests,
    forged_bytes: &[u8],
    path: &std::path::Path,
) -> Result<MediaFile, String> {
    let digests = media_core::Digests::of_bytes(forged_bytes);
    std::fs::write(path, forged_bytes).map_err(|e| e.to_string())?;
    let cdn = b
        .backends()
        .iter()
        .find(|x| x.name() == "cdn")
        .ok_or("B has no CDN store")?;
    let blob =
        media_core::StagedBlob::new(path, "clip.mp4", "video/mp4", Arc::new(digests.clone()));
    let location = cdn
        .put(&blob, media_core::Progress::none())
        .await
        .map_err(|e| e.to_string())?;
    let mut forged = MediaFile::new(
        "clip.mp4",
        "video/mp4",
        &digests,
        media_core::Timestamp::now(),
    );
    forged.id = real.id();
    forged.sha256 = real.sha256;
    forged.blake3 = real.blake3;
    forged.locations.push(location);
    Ok(forged)
}

/// One HTTP/1.1 request on a fresh connection, as curl would send it: status and body.
async fn http(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Result<(u16, Vec<u8>), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .map_err(|e| e.to_string())?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    stream.write_all(body).await.map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut response))
        .await
        .map_err(|_| "no answer in 60 s".to_owned())?
        .map_err(|e| e.to_string())?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no HTTP header in the answer")?;
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no status line")?;
    let mut body = response[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body)?;
    }
    Ok((status, body))
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("bad chunked body")?;
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&data[..line_end])
                .split(';')
                .next()
                .unwrap_or("")
                .trim(),
            16,
        )
        .map_err(|e| e.to_string())?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(data.get(..size).ok_or("short chunk")?);
        data = data.get(size + 2..).ok_or("short chunk")?;
    }
}

/// A photo app's upload over plain HTTP to A's Blossom server with a signed nostr event;
/// B, handed the record and its reference, serves the same blob by hash from its own
/// Blossom server, fetched from A's stores (P2P first) and verified.
async fn blossom_drill(a: &EmbeddedStack, b: &EmbeddedStack) -> Row {
    let step = "Blossom: HTTP upload to A, B serves it by hash".to_owned();
    let outcome: Result<String, String> = async {
        use media_facade::media_blossom::{auth::unix_now, load_or_create_keys};
        let url = |stack: &EmbeddedStack| {
            stack
                .endpoint("blossom")
                .ok_or_else(|| "no Blossom server".to_owned())
        };
        let (a_url, b_url) = (url(a)?, url(b)?);
        let bytes = sample(3 * 1024 * 1024 + 333, 15);
        let id = MediaId::for_bytes(&bytes);
        // A's own key: A's Blossom server takes writes from it (and listed keys) only.
        let keys = load_or_create_keys(&a.store.data_dir().join("secrets").join("nostr.key"))
            .map_err(|e| e.to_string())?;
        let auth = keys
            .authorize(
                "upload",
                &[&id.to_string()],
                "Upload voice note",
                unix_now(),
                300,
            )
            .map_err(|e| e.to_string())?;
        let (status, descriptor) = http(
            &a_url,
            "PUT",
            "/upload",
            &[
                ("Authorization", auth.to_header()),
                ("X-SHA-256", id.to_string()),
                ("Content-Type", "audio/mpeg".to_owned()),
            ],
            &bytes,
        )
        .await?;
        if status != 201 {
            return Err(format!(
                "A answered {status}: {}",
                String::from_utf8_lossy(&descriptor)
            ));
        }
        let descriptor: serde_json::Value =
            serde_json::from_slice(&descriptor).map_err(|e| e.to_string())?;
        let record = a
            .store
            .get(&id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("A has no record of the blob")?;
        b.store
            .import_ref(&record, &record.reference())
            .await
            .map_err(|e| e.to_string())?;
        let t = Instant::now();
        let (status, served) = http(&b_url, "GET", &format!("/{id}.mp3"), &[], &[]).await?;
        if status != 200 || MediaId::for_bytes(&served) != id {
            return Err(format!("B answered {status} with {} bytes", served.len()));
        }
        Ok(format!(
            "201 from A ({} stores; info hash {}); B served {} bytes in {:?}, sha256 verified",
            record.locations.len(),
            descriptor["infohash"].as_str().unwrap_or("-"),
            served.len(),
            t.elapsed()
        ))
    }
    .await;
    drill_row(step, outcome)
}

/// A private photo, encrypted to B's age recipient: the CDN object (fetched over plain HTTP)
/// and the torrent payload are age ciphertext, B reads the photo with its identity, and a
/// reader without it (or with another identity) gets a clear refusal.
async fn private_drill(a: &EmbeddedStack, b: &EmbeddedStack, photo: &[u8]) -> Row {
    let step = "private photo: B decrypts, others refused".to_owned();
    let outcome: Result<String, String> = async {
        use futures::StreamExt;
        use media_facade::media_privacy::Identity;
        let b_identity = Identity::generate();
        let file = a
            .store
            .upload(
                UploadRequest::bytes("me-at-home.jpg", photo.to_vec())
                    .encrypt_to(vec![b_identity.recipient()])
                    .share_p2p(true),
            )
            .await
            .map_err(|e| e.to_string())?;
        if file.name != "private" || file.thumbnail.is_some() {
            return Err("the private record describes its content".into());
        }
        // The CDN object, as anyone fetching its URL sees it.
        let url = file.cdn_url().ok_or("no CDN URL")?;
        let (base, path) = url
            .strip_prefix("http://")
            .and_then(|u| u.split_once('/'))
            .ok_or("odd CDN URL")?;
        let (status, object) = http(&format!("http://{base}"), "GET", &format!("/{path}"), &[], &[]).await?;
        let sealed = status == 200
            && object.starts_with(b"age-encryption.org/v1")
            && !object.windows(64).any(|w| w == &photo[100_000..100_064]);
        if !sealed {
            return Err(format!("the CDN object is not age ciphertext (status {status})"));
        }
        // The stock `age` tool decrypts the object with B's key to the very photo.
        age_cli_decrypts(&object, &b_identity, photo)?;
        // The torrent payload: the same ciphertext (the record's chunks are its digests).
        let via_torrent = read(
            &a.store,
            &file,
            ReadOptions::new().only_backend("torrent").ciphertext(),
        )
        .await?;
        if via_torrent.0 != object {
            return Err("the torrent payload differs from the CDN object".into());
        }
        b.store
            .import_ref(&file, &file.reference())
            .await
            .map_err(|e| e.to_string())?;
        let mut stream = b
            .store
            .open_private(&file.id, ByteRange::full(), &b_identity)
            .await
            .map_err(|e| e.to_string())?;
        let mut plain = Vec::new();
        while let Some(piece) = stream.next().await {
            plain.extend_from_slice(&piece.map_err(|e| e.to_string())?);
        }
        if plain != photo {
            return Err("B's decrypted photo differs".into());
        }
        let without = b.store.read_all(&file.id).await.err().ok_or("read without identity")?;
        let stranger = b
            .store
            .open_private(&file.id, ByteRange::full(), &Identity::generate())
            .await
            .err()
            .ok_or("a stranger's identity opened it")?;
        Ok(format!(
            "CDN object and torrent payload are age ciphertext ({} bytes, `age -d` with B's key gives the photo); B decrypted {} bytes; no identity: {without}; wrong identity: {stranger}",
            object.len(),
            plain.len()
        ))
    }
    .await;
    drill_row(step, outcome)
}

/// `age -d -i KEY OBJECT` (Debian's `age`, which `cargo xtask demo` installs) gives `photo`.
fn age_cli_decrypts(
    object: &[u8],
    identity: &media_facade::media_privacy::Identity,
    photo: &[u8],
) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (key, sealed, out) = (
        dir.path().join("key.txt"),
        dir.path().join("photo.age"),
        dir.path().join("photo.jpg"),
    );
    media_core::write_private(&key, identity.to_secret_string().as_bytes())
        .map_err(|e| e.to_string())?;
    std::fs::write(&sealed, object).map_err(|e| e.to_string())?;
    let status = std::process::Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&key)
        .arg("-o")
        .arg(&out)
        .arg(&sealed)
        .status()
        .map_err(|e| {
            format!("the `age` tool could not run ({e}): `cargo xtask demo` installs it (Debian package `age`)")
        })?;
    let plain = std::fs::read(&out).unwrap_or_default();
    if !status.success() || plain != photo {
        return Err(format!(
            "`age -d` with B's key did not give the photo ({status})"
        ));
    }
    Ok(())
}

/// The row of a drill: its detail on success, its error otherwise.
fn drill_row(step: String, outcome: Result<String, String>) -> Row {
    let ok = outcome.is_ok();
    let detail = outcome.unwrap_or_else(|e| e);
    Row { step, ok, detail }
}

/// B reads the clip with its cache on: the first read fills the cache, the second is served
/// from it (verified) without asking any store.
async fn cache_drill(store: &MediaStore, file: &MediaFile, bytes: &[u8]) -> Row {
    let step = "B reads clip.mp4 again: from its local cache".to_owned();
    if let Err(e) = read_with_cache(store, file, ReadOptions::new()).await {
        return Row {
            step,
            ok: false,
            detail: e,
        };
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.cached_bytes() < file.size && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut events = store.subscribe();
    let r = read_with_cache(store, file, ReadOptions::new()).await;
    let mut asked = 0;
    while let Ok(event) = events.try_recv() {
        if matches!(event, media_core::MediaEvent::DownloadAttempt { .. }) {
            asked += 1;
        }
    }
    let mut row = check(step, r, bytes);
    if asked > 0 {
        row.ok = false;
        row.detail
            .push_str(&format!(" (but {asked} stores were asked)"));
    } else {
        row.detail.push_str(", no store asked");
    }
    row
}

fn check(step: String, r: Result<(Vec<u8>, Duration), String>, expected: &[u8]) -> Row {
    match r {
        Ok((bytes, took)) => {
            let ok = bytes == expected;
            Row {
                step,
                ok,
                detail: if ok {
                    format!("{} bytes verified in {took:?}", bytes.len())
                } else {
                    "bytes differ".into()
                },
            }
        }
        Err(e) => Row {
            step,
            ok: false,
            detail: e,
        },
    }
}

fn summary(file: &MediaFile) -> serde_json::Value {
    serde_json::json!({
        "id": file.id,
        "name": file.name,
        "size": file.size,
        "mime": file.mime,
        "url": file.cdn_url(),
        "cid": file.cid(),
        "magnet": file.magnet(),
        "chunks": file.chunks.len(),
        "thumbnail": file.thumbnail.as_ref().map(|t| format!("{}×{} {} bytes", t.width, t.height, t.bytes.len())),
    })
}
