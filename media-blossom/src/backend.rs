//! [`BlossomBackend`]: a store on one or more remote Blossom servers. Puts sign a BUD-01
//! `upload` authorization with the configured nostr key; the location is a BUD-10 URI
//! `blossom:<sha256>.<ext>?xs=<server>&sz=<size>` naming every server that took the blob.

use std::time::Duration;

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use media_core::{
    Backend, BackendKind, ByteRange, ByteStream, Capabilities, ErrorKind, Location, MediaError,
    MediaId, Operation, Progress, Reach, Result, StagedBlob,
};
use tracing::{debug, warn};

use crate::auth::{unix_now, NostrKeys};
use crate::server::extension_for;

/// The kind of Blossom locations.
pub const BLOSSOM: BackendKind = BackendKind::from_static("blossom");

/// How long a signed authorization stays valid.
/// (An authorization is checked when its request starts; strict servers refuse long ones.)
const AUTH_VALID_SECS: u64 = 60;

/// Where and how a [`BlossomBackend`] stores.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BlossomStoreConfig {
    /// Servers to upload to (`https://blossom.example.com`), in order of preference.
    pub servers: Vec<String>,
    /// The key that signs uploads and deletes.
    pub keys: NostrKeys,
    /// Servers named by a stranger's location are read only within this reach (configured
    /// servers are trusted).
    pub reach: Reach,
    /// Deadline of one request, connect to last byte (a 2 GiB upload needs a long one).
    pub request_timeout: Duration,
}

impl BlossomStoreConfig {
    /// Upload to `servers`, signing with `keys`.
    pub fn new(servers: Vec<String>, keys: NostrKeys) -> Self {
        BlossomStoreConfig {
            servers: servers
                .into_iter()
                .map(|s| s.trim_end_matches('/').to_owned())
                .collect(),
            keys,
            reach: Reach::public_only(),
            request_timeout: Duration::from_secs(3600),
        }
    }

    /// Read strangers' servers within `reach`.
    #[must_use]
    pub fn with_reach(mut self, reach: Reach) -> Self {
        self.reach = reach;
        self
    }
}

/// A store on remote Blossom servers.
#[derive(Debug, Clone)]
pub struct BlossomBackend {
    name: String,
    config: BlossomStoreConfig,
    http: media_http::Client,
}

fn unavailable(op: Operation, what: impl Into<String>) -> MediaError {
    MediaError::new(ErrorKind::Unavailable, op, what)
}

/// A parsed BUD-10 `blossom:` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlossomUri {
    /// The blob's SHA-256.
    pub sha256: MediaId,
    /// The extension (with its dot) or empty.
    pub ext: String,
    /// Server hints (`xs`), as URLs.
    pub servers: Vec<String>,
    /// The size (`sz`), when given.
    pub size: Option<u64>,
}

impl BlossomUri {
    /// Parse `blossom:<sha256>[.ext]?xs=…&sz=…`.
    pub fn parse(uri: &str) -> Result<Self> {
        let bad = |why: &str| {
            MediaError::invalid_input(Operation::Download, format!("blossom URI: {why}"))
        };
        let rest = uri
            .strip_prefix("blossom:")
            .ok_or_else(|| bad("no blossom: scheme"))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (hash, ext) = match path.split_once('.') {
            Some((h, e)) => (h, format!(".{e}")),
            None => (path, String::new()),
        };
        if hash.len() != 64
            || ext.len() > 16
            || !ext.chars().skip(1).all(|c| c.is_ascii_alphanumeric())
        {
            return Err(bad("not <sha256>.<ext>"));
        }
        let sha256: MediaId = hash
            .to_ascii_lowercase()
            .parse()
            .map_err(|_| bad("not a sha256"))?;
        let mut servers = Vec::new();
        let mut size = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value).ok_or_else(|| bad("bad percent-encoding"))?;
            match key {
                "xs" => servers.push(server_url(&value)),
                "sz" => size = Some(value.parse().map_err(|_| bad("sz is not a number"))?),
                _ => {}
            }
        }
        Ok(BlossomUri {
            sha256,
            ext,
            servers,
            size,
        })
    }

    /// The URI text.
    pub fn to_uri(&self) -> String {
        let mut uri = format!("blossom:{}{}", self.sha256, self.ext);
        let mut sep = '?';
        for server in &self.servers {
            uri.push(sep);
            uri.push_str("xs=");
            uri.push_str(&percent_encode(server));
            sep = '&';
        }
        if let Some(size) = self.size {
            uri.push(sep);
            uri.push_str(&format!("sz={size}"));
        }
        uri
    }
}

/// `xs` may be a bare domain (BUD-10): such a hint means https.
fn server_url(hint: &str) -> String {
    if hint.contains("://") {
        hint.trim_end_matches('/').to_owned()
    } else {
        format!("https://{}", hint.trim_end_matches('/'))
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl BlossomBackend {
    /// A backend named `name`.
    pub fn new(name: impl Into<String>, config: BlossomStoreConfig) -> Result<Self> {
        if config.servers.is_empty() {
            return Err(MediaError::invalid_input(
                Operation::Configure,
                "a Blossom store needs at least one server",
            ));
        }
        for server in &config.servers {
            Reach::url_host_port(server).map_err(|e| {
                MediaError::invalid_input(Operation::Configure, format!("Blossom server: {e}"))
            })?;
        }
        // Configured servers are trusted; a stranger's hint is reached only within reach,
        // every address checked by the node's one outbound client.
        let mut options = media_http::ClientOptions::new(config.reach.clone())
            // Uploads stream up to gigabytes before the answer: one deadline for the whole.
            .with_read_timeout(None)
            .with_total_timeout(Some(config.request_timeout));
        for server in &config.servers {
            options = options.trust_url(server);
        }
        let http = options.build()?;
        Ok(BlossomBackend {
            name: name.into(),
            config,
            http,
        })
    }

    /// A fresh authorization for one request. Besides BUD-01's `t`, `x` and `expiration`, it
    /// binds the event to the server, URL and method (`server`, `u`, `method` tags), which
    /// stricter servers (blossom-rs) require and others ignore.
    fn auth(
        &self,
        verb: &str,
        sha256: &MediaId,
        server: &str,
        url: &str,
        method: &str,
        op: Operation,
    ) -> Result<String> {
        let x = sha256.to_string();
        let now = unix_now();
        let tags = vec![
            vec!["t".to_owned(), verb.to_owned()],
            vec!["x".to_owned(), x.clone()],
            vec!["expiration".to_owned(), (now + AUTH_VALID_SECS).to_string()],
            vec!["server".to_owned(), server.to_owned()],
            vec!["u".to_owned(), url.to_owned()],
            vec!["method".to_owned(), method.to_owned()],
        ];
        // A nonce in the content gives every request its own event id: servers that keep
        // used events (replay protection) refuse a second upload of one blob in one second.
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(|e| MediaError::internal(op, e.to_string()))?;
        let content = format!("{verb} {x} ({})", hex::encode(nonce));
        self.config
            .keys
            .sign(crate::auth::AUTH_KIND, tags, &content, now)
            .map(|e| e.to_header())
            .map_err(|e| MediaError::internal(op, e.to_string()))
    }

    fn configured(&self, server: &str) -> bool {
        self.config.servers.iter().any(|s| s == server)
    }

    async fn put_one(&self, server: &str, blob: &StagedBlob, progress: &Progress) -> Result<()> {
        let id = blob.id();
        let file = tokio::fs::File::open(&blob.path)
            .await
            .map_err(|e| MediaError::io(Operation::Upload, "opening the staged file", e))?;
        let progress = progress.clone();
        let mut sent = 0u64;
        let body = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024).inspect_ok(
            move |piece| {
                sent += piece.len() as u64;
                progress.report(sent);
            },
        );
        let url = format!("{server}/upload");
        let auth = self.auth("upload", &id, server, &url, "PUT", Operation::Upload)?;
        let response = self
            .http
            .put(&url)?
            .header("authorization", auth)
            .header("x-sha-256", id.to_string())
            .header("content-type", blob.mime.as_str())
            .header("content-length", blob.size())
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await
            .map_err(|e| media_http::client_error(Operation::Upload, server, e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(refused(Operation::Upload, server, response).await);
        }
        let descriptor: serde_json::Value = response
            .json()
            .await
            .map_err(|e| unavailable(Operation::Upload, format!("{server}: descriptor: {e}")))?;
        if descriptor.get("sha256").and_then(|v| v.as_str()) != Some(id.to_string().as_str()) {
            return Err(MediaError::new(
                ErrorKind::Integrity,
                Operation::Upload,
                format!("{server} described another blob than {id}"),
            ));
        }
        Ok(())
    }
}

/// The refusal of a Blossom server, with its `X-Reason` (or the JSON `message` of its body,
/// read up to 4 KiB).
async fn refused(op: Operation, server: &str, response: reqwest::Response) -> MediaError {
    let status = response.status();
    let mut reason = response
        .headers()
        .get("x-reason")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if reason.is_empty() {
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(Ok(piece)) = stream.next().await {
            body.extend_from_slice(&piece);
            if body.len() > 4096 {
                break;
            }
        }
        reason = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                let field = v.get("message").or_else(|| v.get("error"))?;
                field.as_str().map(str::to_owned)
            })
            .unwrap_or_default();
    }
    let reason: String = reason.chars().take(200).collect();
    let kind = match status.as_u16() {
        404 => ErrorKind::NotFound,
        401 | 403 => ErrorKind::PermissionDenied,
        409 => ErrorKind::Integrity,
        400 | 411 | 413 | 415 | 416 => ErrorKind::InvalidInput,
        _ => ErrorKind::Unavailable,
    };
    MediaError::new(kind, op, format!("{server} answered {status}: {reason}"))
}

impl BlossomBackend {
    async fn put_inner(&self, blob: &StagedBlob, progress: Progress) -> Result<Location> {
        if blob.size() == 0 {
            return Err(MediaError::new(
                ErrorKind::Unsupported,
                Operation::Upload,
                "empty blobs are not sent to Blossom servers (some refuse them)",
            ));
        }
        let mut stored = Vec::new();
        let mut last_error = None;
        for server in &self.config.servers {
            match self.put_one(server, blob, &progress).await {
                Ok(()) => stored.push(server.clone()),
                Err(e) => {
                    warn!(%server, error = %e, "Blossom upload failed");
                    last_error = Some(e);
                }
            }
        }
        if stored.is_empty() {
            return Err(
                last_error.unwrap_or_else(|| unavailable(Operation::Upload, "no Blossom server"))
            );
        }
        let uri = BlossomUri {
            sha256: blob.id(),
            ext: extension_for(&blob.mime).to_owned(),
            servers: stored,
            size: Some(blob.size()),
        };
        Ok(Location::new(self.kind(), uri.to_uri()))
    }

    async fn get_inner(&self, location: &Location, range: ByteRange) -> Result<ByteStream> {
        let uri = BlossomUri::parse(&location.uri)?;
        let mut last_error = None;
        for server in &uri.servers {
            // A stranger's hint is reached only within reach (configured servers are
            // trusted by the client).
            let mut request = match self.http.get(&format!("{server}/{}", uri.sha256)) {
                Ok(request) => request,
                Err(e) => {
                    debug!(%server, error = %e, "Blossom server hint outside reach");
                    last_error = Some(e);
                    continue;
                }
            };
            if !range.is_full() {
                let header = match range.end {
                    Some(end) if end > range.start => format!("bytes={}-{}", range.start, end - 1),
                    Some(_) => return Ok(Box::pin(futures::stream::empty())),
                    None => format!("bytes={}-", range.start),
                };
                request = request.header("range", header);
            }
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) => {
                    last_error = Some(media_http::client_error(Operation::Download, server, e));
                    continue;
                }
            };
            let status = response.status().as_u16();
            if status != 200 && status != 206 {
                last_error = Some(refused(Operation::Download, server, response).await);
                continue;
            }
            let server = server.clone();
            let name = self.name.clone();
            let bytes = response.bytes_stream().map(move |piece| {
                piece.map_err(|e| {
                    unavailable(Operation::Download, format!("{server}: {e}")).with_backend(&name)
                })
            });
            if status == 206 || range.is_full() {
                return Ok(Box::pin(bytes));
            }
            // Range support is a SHOULD in BUD-01: from a server that sent the whole blob,
            // skip to the range and stop at its end (the bytes are verified all the same).
            return Ok(Box::pin(slice_stream(bytes, range.start, range.end)));
        }
        Err(last_error.unwrap_or_else(|| {
            MediaError::not_found(
                Operation::Download,
                format!("{} names no server", location.uri),
            )
        }))
    }

    async fn delete_inner(&self, location: &Location) -> Result<()> {
        let uri = BlossomUri::parse(&location.uri)?;
        let mut deleted = false;
        let mut last_error = None;
        for server in uri.servers.iter().filter(|s| self.configured(s)) {
            let url = format!("{server}/{}", uri.sha256);
            let auth = self.auth(
                "delete",
                &uri.sha256,
                server,
                &url,
                "DELETE",
                Operation::Delete,
            )?;
            let response = self
                .http
                .delete(&url)?
                .header("authorization", auth)
                .send()
                .await
                .map_err(|e| media_http::client_error(Operation::Delete, server, e))?;
            if response.status().is_success() {
                deleted = true;
            } else {
                let mut error = refused(Operation::Delete, server, response).await;
                // Some servers refuse to delete what no one owns rather than say it is gone.
                if error.kind == ErrorKind::PermissionDenied {
                    let gone = self.http.head(&url)?.send().await;
                    if gone.is_ok_and(|r| r.status() == reqwest::StatusCode::NOT_FOUND) {
                        error = MediaError::not_found(
                            Operation::Delete,
                            format!("{server} does not hold {}", uri.sha256),
                        );
                    }
                }
                last_error = Some(error);
            }
        }
        if deleted {
            Ok(())
        } else {
            Err(last_error.unwrap_or_else(|| {
                MediaError::not_found(Operation::Delete, "none of this store's servers holds it")
            }))
        }
    }

    async fn health_inner(&self) -> Result<()> {
        let mut last_error = None;
        for server in &self.config.servers {
            // `HEAD /` is only a SHOULD (BUD-11); any answer but a server error means it is up.
            let probe = match self.http.head(&format!("{server}/")) {
                Ok(request) => request.send().await,
                Err(e) => {
                    last_error = Some(e);
                    continue;
                }
            };
            match probe {
                Ok(r) if !r.status().is_server_error() => return Ok(()),
                Ok(r) => last_error = Some(refused(Operation::Health, server, r).await),
                Err(e) => last_error = Some(media_http::client_error(Operation::Health, server, e)),
            }
        }
        Err(last_error.unwrap_or_else(|| unavailable(Operation::Health, "no Blossom server")))
    }
}

/// The bytes `start..end` of a stream of the whole blob; reading stops at `end`.
fn slice_stream(
    whole: impl futures::Stream<Item = Result<bytes::Bytes>> + Send + 'static,
    start: u64,
    end: Option<u64>,
) -> impl futures::Stream<Item = Result<bytes::Bytes>> + Send + 'static {
    let end = end.unwrap_or(u64::MAX);
    whole
        .scan(0u64, move |offset, piece| {
            // Pieces starting at or past `end` are not needed: stop reading there.
            if *offset >= end {
                return futures::future::ready(None);
            }
            let sliced = piece.map(|mut piece| {
                let piece_start = *offset;
                let len = piece.len() as u64;
                *offset += len;
                let from = start.saturating_sub(piece_start).min(len) as usize;
                let to = end.saturating_sub(piece_start).min(len) as usize;
                if to <= from {
                    bytes::Bytes::new()
                } else {
                    piece.truncate(to);
                    piece.split_off(from)
                }
            });
            futures::future::ready(Some(sliced))
        })
        .filter(|piece| futures::future::ready(piece.as_ref().map_or(true, |p| !p.is_empty())))
}

#[async_trait]
impl Backend for BlossomBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> BackendKind {
        BLOSSOM
    }

    fn capabilities(&self) -> Capabilities {
        // Not every Blossom server takes an empty blob (blossom-rs answers 400).
        Capabilities::full().with_empty_blobs(false)
    }

    async fn put(&self, blob: &StagedBlob, progress: Progress) -> Result<Location> {
        let name = &self.name;
        self.put_inner(blob, progress)
            .await
            .map_err(|e| e.with_backend(name))
    }

    async fn get(&self, location: &Location, range: ByteRange) -> Result<ByteStream> {
        let name = &self.name;
        self.get_inner(location, range)
            .await
            .map_err(|e| e.with_backend(name))
    }

    async fn delete(&self, location: &Location) -> Result<()> {
        let name = &self.name;
        self.delete_inner(location)
            .await
            .map_err(|e| e.with_backend(name))
    }

    async fn health(&self) -> Result<()> {
        let name = &self.name;
        self.health_inner().await.map_err(|e| e.with_backend(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blossom_uris_round_trip_and_bad_ones_are_refused() {
        let sha = "b1674191a88ec5cdd733e4240a81803105dc412d6c6708d53ab94fc248f4f553";
        let uri = BlossomUri {
            sha256: sha.parse().unwrap(),
            ext: ".jpg".into(),
            servers: vec![
                "http://127.0.0.1:3000".into(),
                "https://cdn.example.com".into(),
            ],
            size: Some(1234),
        };
        let text = uri.to_uri();
        assert!(
            text.starts_with(&format!("blossom:{sha}.jpg?xs=")),
            "{text}"
        );
        assert_eq!(BlossomUri::parse(&text).unwrap(), uri);
        // A bare domain hint means https (BUD-10).
        let bare =
            BlossomUri::parse(&format!("blossom:{sha}.pdf?xs=cdn.example.com&sz=7")).unwrap();
        assert_eq!(bare.servers, vec!["https://cdn.example.com".to_owned()]);
        assert_eq!(bare.size, Some(7));
        for bad in [
            "blossom:abc.jpg",
            &format!("magnet:{sha}"),
            &format!("blossom:{sha}.j/p?xs=a"),
            &format!("blossom:{sha}?sz=x"),
            &format!("blossom:{sha}?xs=%zz"),
        ] {
            assert!(BlossomUri::parse(bad).is_err(), "{bad}");
        }
    }
}
