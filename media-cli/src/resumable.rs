//! `media put` through a running node: a tus 1.0 upload, so that a dropped connection or a
//! node restart resumes where the node's session stands instead of starting over.

use std::io::SeekFrom;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use futures::StreamExt;
use media_core::{MediaError, MediaFile, Operation};
use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::api::Client;
use crate::progress::TransferBar;

/// Bytes per `PATCH`: below the body caps common proxies and CDNs put on a request.
const PART: u64 = 64 << 20;
/// Attempts after a failure that made no progress, before giving up.
const RETRIES: u32 = 8;

/// What the upload is called and how it is stored.
pub struct Described<'a> {
    pub name: &'a str,
    pub expires_in: Option<u64>,
    pub private_to: &'a [String],
}

fn metadata(d: &Described<'_>) -> String {
    let b64 = |v: &str| base64::engine::general_purpose::STANDARD.encode(v);
    let mut pairs = vec![format!("filename {}", b64(d.name))];
    if let Some(secs) = d.expires_in {
        pairs.push(format!("expires_in {}", b64(&secs.to_string())));
    }
    if !d.private_to.is_empty() {
        pairs.push(format!("private_to {}", b64(&d.private_to.join(","))));
    }
    pairs.join(",")
}

fn unavailable(message: String) -> MediaError {
    MediaError::unavailable(Operation::Upload, message)
}

fn offset_of(response: &reqwest::Response) -> Option<u64> {
    response
        .headers()
        .get("upload-offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Upload the file at `path` (of `size` bytes) through the node's resumable endpoint.
pub async fn put(
    client: &Client,
    path: &Path,
    size: u64,
    described: Described<'_>,
    bar: Arc<TransferBar>,
) -> Result<MediaFile, MediaError> {
    let create = client
        .request(Method::POST, "uploads")?
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", size)
        .header("Upload-Metadata", metadata(&described));
    let created = client.send(create).await?;
    let location = created
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .and_then(|l| l.rsplit('/').next())
        .map(str::to_owned)
        .ok_or_else(|| unavailable("the node opened no upload session (no Location)".into()))?;
    let session = format!("uploads/{location}");
    // A restarted node listens elsewhere: the upload follows it (its sessions survive).
    let mut moved: Option<Client> = None;
    let mut offset = 0u64;
    let mut failures = 0u32;
    loop {
        if offset == size && size > 0 {
            break;
        }
        let part = (size - offset).min(PART);
        let node = moved.as_ref().unwrap_or(client);
        let sent = send_part(node, &session, path, offset, part, &bar).await;
        match sent {
            Ok(now) if now > offset || now == size => {
                failures = 0;
                offset = now;
                if now == size {
                    break;
                }
            }
            Ok(_) | Err(_) => {
                if let Err(e) = &sent {
                    if !e.is_retryable() {
                        return Err(e.clone());
                    }
                }
                failures += 1;
                if failures > RETRIES {
                    return Err(sent.err().unwrap_or_else(|| {
                        unavailable(format!(
                            "the upload made no progress after {RETRIES} attempts"
                        ))
                    }));
                }
                tokio::time::sleep(Duration::from_millis(250 << failures.min(5))).await;
                if let Some(found) = client.rediscover().await {
                    moved = Some(found);
                }
                let node = moved.as_ref().unwrap_or(client);
                // Where the node's session stands (a restarted node resumes at its last
                // checkpoint): go on from there.
                let head = node
                    .request(Method::HEAD, &session)?
                    .header("Tus-Resumable", "1.0.0");
                if let Ok(response) = head.send().await {
                    if response.status() == StatusCode::NOT_FOUND {
                        return Err(MediaError::not_found(
                            Operation::Upload,
                            "the node no longer has this upload session (expired or cancelled)",
                        ));
                    }
                    if let Some(at) = offset_of(&response) {
                        bar.set_position(at);
                        offset = at;
                    }
                }
            }
        }
        if size == 0 {
            break;
        }
    }
    let node = moved.as_ref().unwrap_or(client);
    let status: serde_json::Value = node.json(node.request(Method::GET, &session)?).await?;
    serde_json::from_value(status["media"].clone())
        .map_err(|e| unavailable(format!("the finished session names no record: {e}")))
}

/// One `PATCH` of `len` bytes from `offset`; the node's offset after it.
async fn send_part(
    client: &Client,
    session: &str,
    path: &Path,
    offset: u64,
    len: u64,
    bar: &Arc<TransferBar>,
) -> Result<u64, MediaError> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| MediaError::io(Operation::Upload, format!("{}", path.display()), e))?;
    file.seek(SeekFrom::Start(offset))
        .await
        .map_err(|e| MediaError::io(Operation::Upload, format!("{}", path.display()), e))?;
    let counted = Arc::clone(bar);
    counted.set_position(offset);
    let body =
        tokio_util::io::ReaderStream::with_capacity(file.take(len), 1 << 20).inspect(move |r| {
            if let Ok(b) = r {
                counted.advance(b.len() as u64);
            }
        });
    let request = client
        .request(Method::PATCH, session)?
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", offset)
        .header("Content-Type", "application/offset+octet-stream")
        .header("Content-Length", len)
        .body(reqwest::Body::wrap_stream(body));
    let response = request
        .send()
        .await
        .map_err(|e| unavailable(format!("the running node: {e}")))?;
    match response.status() {
        s if s.is_success() || s == StatusCode::CONFLICT => offset_of(&response)
            .ok_or_else(|| unavailable("the node's answer has no Upload-Offset".into())),
        s if s.is_server_error() || s == StatusCode::LOCKED => {
            Err(unavailable(format!("the running node answered {s}")))
        }
        _ => Err(client.send_error(response).await),
    }
}
