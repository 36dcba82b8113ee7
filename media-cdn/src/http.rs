//! Ranged HTTP GETs that stream and resume after a mid-stream failure.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use media_core::{ByteStream, ErrorKind, MediaError, Operation, Result};
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, RANGE};
use reqwest::StatusCode;
use tokio::sync::mpsc;
use tracing::debug;

use crate::error::{classify, http_error};

/// Bytes one connection must deliver before its failure no longer counts against the attempts.
const PROGRESS_RESETS_ATTEMPTS: u64 = 4 << 20;

/// Pieces buffered between the HTTP body and the reader.
const BUFFERED: usize = 8;

/// One ranged download: `url`, bytes `start..end` (`None`: to the end of the object).
#[derive(Debug, Clone)]
pub(crate) struct RangedGet {
    pub backend: String,
    pub url: String,
    pub start: u64,
    pub end: Option<u64>,
    pub attempts: u32,
    pub read_timeout: Duration,
}

struct Opened {
    response: reqwest::Response,
    /// One past the last byte this response will deliver.
    end: u64,
}

impl RangedGet {
    fn error(&self, kind: ErrorKind, message: String) -> MediaError {
        MediaError::new(kind, Operation::Get, message).with_backend(&self.backend)
    }

    /// Request bytes `from..end`, checking the status and the range the server answered with.
    async fn request(&self, client: &media_http::Client, from: u64) -> Result<Opened> {
        let mut req = client
            .get(&self.url)
            .map_err(|e| e.with_backend(&self.backend))?;
        let whole = from == 0 && self.end.is_none();
        if !whole {
            let range = match self.end {
                Some(end) => format!("bytes={from}-{}", end - 1),
                None => format!("bytes={from}-"),
            };
            req = req.header(RANGE, range);
        }
        let response = req.send().await.map_err(|e| {
            http_error(
                &self.backend,
                &format!("GET {}", media_core::redact_url(&self.url)),
                e,
            )
        })?;
        let status = response.status();
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        match status {
            StatusCode::OK if from == 0 => {
                let len = header(CONTENT_LENGTH)
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or_else(|| {
                        self.error(ErrorKind::Unavailable, "no Content-Length".into())
                    })?;
                let end = self.end.unwrap_or(len);
                if end > len {
                    return Err(self.error(
                        ErrorKind::InvalidInput,
                        format!("range end {end} past the object's {len} bytes"),
                    ));
                }
                Ok(Opened { response, end })
            }
            StatusCode::PARTIAL_CONTENT => {
                let (first, last, _total) = header(CONTENT_RANGE)
                    .as_deref()
                    .and_then(parse_content_range)
                    .ok_or_else(|| {
                        self.error(
                            ErrorKind::Integrity,
                            "206 without a valid Content-Range".into(),
                        )
                    })?;
                if first != from || self.end.is_some_and(|e| last + 1 != e) {
                    return Err(self.error(
                        ErrorKind::Integrity,
                        format!("asked for bytes {from}.., server sent {first}-{last}"),
                    ));
                }
                Ok(Opened {
                    response,
                    end: last + 1,
                })
            }
            StatusCode::RANGE_NOT_SATISFIABLE if self.end.is_none() || self.end == Some(from) => {
                // An empty range at the end of the object.
                Ok(Opened {
                    response,
                    end: from,
                })
            }
            other => Err(self.error(
                classify(Some(other.as_u16()), None),
                format!("GET {} answered {other}", media_core::redact_url(&self.url)),
            )),
        }
    }

    /// Open the download. The first request's failure is returned here; later failures resume
    /// at the next byte up to `attempts` times before the stream yields an error.
    pub async fn open(self, client: media_http::Client) -> Result<ByteStream> {
        if self.end == Some(self.start) {
            return Ok(futures::stream::empty().boxed());
        }
        let first = self.request(&client, self.start).await?;
        let (tx, rx) = mpsc::channel::<Result<Bytes>>(BUFFERED);
        tokio::spawn(async move { self.pump(client, first, tx).await });
        Ok(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })
        .boxed())
    }

    async fn pump(
        self,
        client: media_http::Client,
        first: Opened,
        tx: mpsc::Sender<Result<Bytes>>,
    ) {
        let mut offset = self.start;
        let end = first.end;
        let mut opened = Some(first);
        let mut failures = 0u32;
        loop {
            let current = match opened.take() {
                Some(o) => Ok(o),
                None => self.request(&client, offset).await,
            };
            let problem = match current {
                Err(e) => e,
                Ok(Opened { response, .. }) => {
                    let attempt_start = offset;
                    let mut body = response.bytes_stream();
                    loop {
                        let next = tokio::time::timeout(self.read_timeout, body.next()).await;
                        match next {
                            Err(_) => {
                                break self.error(ErrorKind::Timeout, "body stalled".into());
                            }
                            Ok(None) if offset >= end => return,
                            Ok(None) => {
                                break self
                                    .error(
                                        ErrorKind::Integrity,
                                        format!("body ended at byte {offset} of {end}"),
                                    )
                                    .with_retryable(true);
                            }
                            Ok(Some(Err(e))) => break http_error(&self.backend, "reading body", e),
                            Ok(Some(Ok(mut piece))) => {
                                if offset + piece.len() as u64 > end {
                                    piece.truncate((end - offset) as usize);
                                }
                                offset += piece.len() as u64;
                                // A connection that delivered a good stretch before failing
                                // does not use up the attempts; one that keeps failing early
                                // does.
                                if offset - attempt_start >= PROGRESS_RESETS_ATTEMPTS {
                                    failures = 0;
                                }
                                if tx.send(Ok(piece)).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                }
            };
            failures += 1;
            if !problem.is_retryable() || failures >= self.attempts {
                let _ = tx.send(Err(problem)).await;
                return;
            }
            debug!(url = %media_core::redact_url(&self.url), offset, error = %problem, "download interrupted, resuming");
            tokio::time::sleep(backoff(failures)).await;
        }
    }
}

/// Read `range` of a public URL (a CDN URL from a `MediaFile`) with streaming and resume,
/// without S3 credentials, through `client` (which decides what the URL may reach). The bytes
/// are unverified: check them against the record's digests (the facade does).
pub async fn get_url(
    client: &media_http::Client,
    url: &str,
    range: media_core::ByteRange,
) -> Result<ByteStream> {
    if reqwest::Url::parse(url).is_err() {
        return Err(MediaError::invalid_input(
            Operation::Get,
            format!("{:?} is not a URL", media_core::redact_url(url)),
        ));
    }
    RangedGet {
        backend: "http".into(),
        url: url.to_owned(),
        start: range.start,
        end: range.end,
        attempts: 4,
        read_timeout: Duration::from_secs(30),
    }
    .open(client.clone())
    .await
}

/// Exponential backoff with jitter: ~100 ms, 200 ms, 400 ms ... capped at 3 s.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let base = 100u64.saturating_mul(1 << attempt.min(5)).min(3000);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let jitter = u64::from(nanos) % (base / 2 + 1);
    Duration::from_millis(base / 2 + jitter)
}

/// `bytes FIRST-LAST/TOTAL` → (first, last, total).
fn parse_content_range(v: &str) -> Option<(u64, u64, Option<u64>)> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (a, b) = range.split_once('-')?;
    let total = if total == "*" {
        None
    } else {
        Some(total.parse().ok()?)
    };
    Some((a.parse().ok()?, b.parse().ok()?, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_parses() {
        assert_eq!(
            parse_content_range("bytes 0-9/100"),
            Some((0, 9, Some(100)))
        );
        assert_eq!(parse_content_range("bytes 5-5/*"), Some((5, 5, None)));
        assert_eq!(parse_content_range("items 0-1/2"), None);
        assert!(backoff(1) <= Duration::from_millis(300));
    }
}
