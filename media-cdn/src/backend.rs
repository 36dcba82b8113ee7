//! [`S3Backend`]: content-addressed objects in an S3 bucket, read back over HTTP(S).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream as SdkBody;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use base64::Engine as _;
use futures::{StreamExt, TryStreamExt};
use media_core::{
    Backend, BackendKind, ByteRange, ByteStream, Capabilities, ErrorKind, Location, MediaError,
    Operation, Progress, Result, StagedBlob,
};
use sha2::Digest as _;
use tracing::{debug, info, warn};

use crate::bucket::Bucket;
use crate::config::S3Config;
use crate::error::{is_precondition_failed, sdk_error};
use crate::http::RangedGet;

/// Stores media in an S3 bucket under `<prefix>/<sha256 hex>` and reads it back over HTTP
/// from the public CDN URL (or a presigned URL for private buckets), with ranges.
///
/// ```no_run
/// # async fn demo() -> media_core::Result<()> {
/// use media_cdn::{S3Backend, S3Config};
/// let config = S3Config::new("media", "key", "secret").with_endpoint("http://127.0.0.1:8333");
/// let backend = S3Backend::new(config)?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct S3Backend {
    bucket: Arc<Bucket>,
    /// Multipart uploads we started that may still exist on the server, by key.
    unfinished: Arc<Mutex<HashMap<String, Vec<String>>>>,
}

/// User metadata holding the hex SHA-256 of an object's bytes (`x-amz-meta-sha256`).
const SHA256_META: &str = "sha256";

/// How long a losing concurrent writer waits for the winner's object to become visible.
const SETTLE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// S3's limit on the number of parts of one multipart upload.
const MAX_PARTS: u64 = 10_000;

/// What a content-addressed key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Existing {
    /// Nothing.
    Absent,
    /// These very bytes (proven by checksum or our metadata).
    Same,
    /// Something else, or something we cannot prove to be these bytes.
    Other,
}

fn b64(digest: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(digest)
}

impl S3Backend {
    /// A backend for the bucket described by `config` (validated here; no request is sent).
    pub fn new(config: S3Config) -> Result<Self> {
        Ok(S3Backend {
            bucket: Arc::new(Bucket::new(config)?),
            unfinished: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &S3Config {
        &self.bucket.config
    }

    /// The AWS SDK client, for operations this crate does not wrap.
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.bucket.client
    }

    /// A catalog of `MediaFile` records stored next to the objects in the same bucket.
    pub fn catalog(&self) -> crate::S3Catalog {
        crate::S3Catalog::from_bucket(Arc::clone(&self.bucket))
    }

    /// DELETE `key` (deleting what is not there succeeds, as S3 does).
    async fn delete_key(&self, key: &str, op: Operation) -> Result<()> {
        let b = &self.bucket;
        b.client
            .delete_object()
            .bucket(&b.config.bucket)
            .key(key)
            .send()
            .await
            .map(drop)
            .map_err(|e| sdk_error(b.name(), op, "DELETE object", e))
    }

    /// HEAD of `key` with its checksum, `None` when there is no such object.
    async fn head(
        &self,
        key: &str,
    ) -> Result<Option<aws_sdk_s3::operation::head_object::HeadObjectOutput>> {
        let b = &self.bucket;
        let head = b
            .client
            .head_object()
            .bucket(&b.config.bucket)
            .key(key)
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
            .send()
            .await;
        match head {
            Ok(h) => Ok(Some(h)),
            Err(e) => {
                let e = sdk_error(b.name(), Operation::Put, "HEAD object", e);
                if e.kind == ErrorKind::NotFound {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Whether `key` already holds `blob`'s bytes: decided by the SHA-256 the server checked
    /// (single PUTs) or recorded at upload (our `sha256` metadata), never by size alone.
    async fn existing(&self, key: &str, blob: &StagedBlob) -> Result<Existing> {
        let Some(head) = self.head(key).await? else {
            return Ok(Existing::Absent);
        };
        let hex = blob.digests.sha256.to_hex();
        let by_meta = head
            .metadata()
            .and_then(|m| m.get(SHA256_META))
            .is_some_and(|v| v.eq_ignore_ascii_case(&hex));
        let by_checksum =
            head.checksum_sha256() == Some(b64(blob.digests.sha256.as_bytes()).as_str());
        let size_ok = head
            .content_length()
            .is_some_and(|n| n as u64 == blob.size());
        Ok(if size_ok && (by_meta || by_checksum) {
            Existing::Same
        } else {
            Existing::Other
        })
    }

    /// What `key` holds after a conditional write lost to another writer. The winner may
    /// still be finishing (the embedded server answers the precondition while the other
    /// object is being written, before its size and checksum are visible), so an object
    /// that is not yet provably ours is looked at again for a few seconds before it counts
    /// as someone else's.
    async fn settle(&self, key: &str, blob: &StagedBlob) -> Result<Existing> {
        let deadline = tokio::time::Instant::now() + SETTLE_WAIT;
        loop {
            let found = self.existing(key, blob).await?;
            if found == Existing::Same || tokio::time::Instant::now() >= deadline {
                return Ok(found);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The size of the object at `key`, or `None` if it does not exist.
    pub async fn object_size(&self, key: &str) -> Result<Option<u64>> {
        let b = &self.bucket;
        match b
            .client
            .head_object()
            .bucket(&b.config.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(head) => Ok(Some(head.content_length().unwrap_or(0).max(0) as u64)),
            Err(e) => {
                let e = sdk_error(b.name(), Operation::Put, "HEAD object", e);
                if e.kind == ErrorKind::NotFound {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    fn location_for(&self, key: &str) -> Location {
        Location::cdn(self.bucket.config.object_url(key), key)
    }

    /// The object key a location names, if it is one of ours: `<prefix>/<sha256 hex>`. A
    /// record from a stranger cannot make us touch any other key.
    fn own_key<'a>(&self, location: &'a Location, op: Operation) -> Result<&'a str> {
        let key = location.key().ok_or_else(|| {
            MediaError::invalid_input(op, format!("an S3 backend cannot use {location}"))
                .with_backend(self.name())
        })?;
        let hex = key.rsplit('/').next().unwrap_or_default();
        let is_id = hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_id || self.bucket.config.key_for(hex) != key {
            return Err(MediaError::invalid_input(
                op,
                format!("{key:?} is not a media key of this bucket"),
            )
            .with_backend(self.name()));
        }
        Ok(key)
    }

    async fn put_single(&self, blob: &StagedBlob, key: &str) -> Result<()> {
        let b = &self.bucket;
        let body = SdkBody::from_path(&blob.path).await.map_err(|e| {
            MediaError::internal(Operation::Put, format!("reading staged file: {e}"))
        })?;
        let result = b
            .client
            .put_object()
            .bucket(&b.config.bucket)
            .key(key)
            .content_length(blob.size() as i64)
            .content_type(&blob.mime)
            .checksum_sha256(b64(blob.digests.sha256.as_bytes()))
            .metadata(SHA256_META, blob.digests.sha256.to_hex())
            .if_none_match("*")
            .body(body)
            // The signed checksum header already binds the body; signing the payload too
            // would hash every byte once more on each side.
            .customize()
            .disable_payload_signing()
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Someone stored an object at this key meanwhile: success only if it is ours.
            Err(e) if is_precondition_failed(&e) => match self.settle(key, blob).await? {
                Existing::Same => Ok(()),
                _ => Err(MediaError::integrity(
                    Operation::Put,
                    format!("another object appeared at {key} during the upload"),
                )
                .with_backend(b.name())),
            },
            Err(e) => {
                let e = sdk_error(b.name(), Operation::Put, "PUT object", e);
                if e.kind == ErrorKind::Integrity {
                    self.remove_if_corrupt(key, blob).await;
                }
                Err(e)
            }
        }
    }

    /// Some servers (s3s-fs among them) write the body before checking its checksum and keep
    /// the refused object. A content-addressed key must never hold other bytes: remove it
    /// unless the server vouches for the right SHA-256.
    async fn remove_if_corrupt(&self, key: &str, blob: &StagedBlob) {
        let expected = b64(blob.digests.sha256.as_bytes());
        // Only the checksum the server computed counts here: our own metadata travelled
        // with the refused body and proves nothing about it.
        let keep = match self.head(key).await {
            Ok(Some(h)) => h.checksum_sha256() == Some(expected.as_str()),
            Ok(None) => true,
            Err(_) => true,
        };
        if !keep {
            warn!(
                key,
                "removing an object the server stored despite a bad checksum"
            );
            let _ = self.delete_key(key, Operation::Put).await;
        }
    }

    /// Abort multipart uploads of `key` left by earlier failures (ours, and any the server
    /// lists), so a retry leaves no orphan parts behind.
    async fn abort_leftovers(&self, key: &str) {
        let b = &self.bucket;
        let mut ids = self
            .unfinished
            .lock()
            .map(|mut m| m.remove(key).unwrap_or_default())
            .unwrap_or_default();
        if let Ok(listed) = b
            .client
            .list_multipart_uploads()
            .bucket(&b.config.bucket)
            .prefix(key)
            .send()
            .await
        {
            for u in listed.uploads() {
                if u.key() == Some(key) {
                    if let Some(id) = u.upload_id() {
                        ids.push(id.to_owned());
                    }
                }
            }
        }
        ids.sort();
        ids.dedup();
        for id in ids {
            self.abort(key, &id).await;
        }
    }

    async fn abort(&self, key: &str, upload_id: &str) {
        let b = &self.bucket;
        let result = b
            .client
            .abort_multipart_upload()
            .bucket(&b.config.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await;
        match result {
            Ok(_) => debug!(key, upload_id, "aborted multipart upload"),
            Err(e) => {
                let e = sdk_error(b.name(), Operation::Put, "abort multipart upload", e);
                if e.kind != ErrorKind::NotFound {
                    warn!(key, upload_id, error = %e, "could not abort multipart upload; will retry");
                    if let Ok(mut m) = self.unfinished.lock() {
                        m.entry(key.to_owned())
                            .or_default()
                            .push(upload_id.to_owned());
                    }
                }
            }
        }
    }

    async fn put_multipart(&self, blob: &StagedBlob, key: &str, progress: &Progress) -> Result<()> {
        let b = &self.bucket;
        self.abort_leftovers(key).await;
        let created = b
            .client
            .create_multipart_upload()
            .bucket(&b.config.bucket)
            .key(key)
            .content_type(&blob.mime)
            .metadata(SHA256_META, blob.digests.sha256.to_hex())
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .send()
            .await
            .map_err(|e| sdk_error(b.name(), Operation::Put, "create multipart upload", e))?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| {
                MediaError::unavailable(Operation::Put, "server returned no upload id")
                    .with_backend(b.name())
            })?
            .to_owned();
        let result = self.upload_parts(blob, key, &upload_id, progress).await;
        let result = match result {
            Ok(parts) => {
                let done = b
                    .client
                    .complete_multipart_upload()
                    .bucket(&b.config.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .multipart_upload(
                        CompletedMultipartUpload::builder()
                            .set_parts(Some(parts))
                            .build(),
                    )
                    .send()
                    .await;
                match done {
                    Ok(_) => Ok(()),
                    Err(e) if is_precondition_failed(&e) => match self.settle(key, blob).await {
                        Ok(Existing::Same) => Ok(()),
                        Ok(_) => Err(MediaError::integrity(
                            Operation::Put,
                            format!("another object appeared at {key} during the upload"),
                        )
                        .with_backend(b.name())),
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(sdk_error(
                        b.name(),
                        Operation::Put,
                        "complete multipart upload",
                        e,
                    )),
                }
            }
            Err(e) => Err(e),
        };
        if result.is_err() {
            self.abort(key, &upload_id).await;
        }
        result
    }

    async fn upload_parts(
        &self,
        blob: &StagedBlob,
        key: &str,
        upload_id: &str,
        progress: &Progress,
    ) -> Result<Vec<CompletedPart>> {
        // S3 allows 10,000 parts: larger objects get larger parts, so the advertised maximum
        // size is real.
        let size = blob.size();
        let part_size = self.bucket.config.part_size.max(size.div_ceil(MAX_PARTS));
        let count = size.div_ceil(part_size);
        let done = AtomicU64::new(0);
        let uploads = futures::stream::iter(0..count).map(|i| {
            let offset = i * part_size;
            let len = part_size.min(size - offset);
            let done = &done;
            async move {
                let part = self
                    .upload_part(blob, key, upload_id, (i + 1) as i32, offset, len)
                    .await?;
                progress.report(done.fetch_add(len, Ordering::Relaxed) + len);
                Ok::<_, MediaError>(part)
            }
        });
        let mut parts: Vec<CompletedPart> = uploads
            // Parts are held in memory while in flight: keep that under ~256 MiB even when
            // huge objects make parts large.
            .buffer_unordered(
                self.bucket
                    .config
                    .part_concurrency
                    .min(((256 << 20) / part_size).max(1) as usize),
            )
            .try_collect()
            .await?;
        parts.sort_by_key(|p| p.part_number());
        Ok(parts)
    }

    async fn upload_part(
        &self,
        blob: &StagedBlob,
        key: &str,
        upload_id: &str,
        number: i32,
        offset: u64,
        len: u64,
    ) -> Result<CompletedPart> {
        let b = &self.bucket;
        // One read of the part: hash it and send the same bytes (bounded: part_size × in flight).
        let path = blob.path.clone();
        let (bytes, sha) = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
            use std::io::{Read, Seek, SeekFrom};
            let mut f = std::fs::File::open(path)?;
            f.seek(SeekFrom::Start(offset))?;
            let mut buf = vec![0u8; len as usize];
            f.read_exact(&mut buf)?;
            let sha = sha2::Sha256::digest(&buf);
            Ok((bytes::Bytes::from(buf), sha))
        })
        .await
        .map_err(|e| MediaError::internal(Operation::Put, format!("part reader: {e}")))?
        .map_err(|e| {
            MediaError::io(Operation::Put, "reading staged part", e).with_backend(b.name())
        })?;
        let checksum = b64(&sha);
        let out = b
            .client
            .upload_part()
            .bucket(&b.config.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .content_length(len as i64)
            .checksum_sha256(&checksum)
            .body(SdkBody::from(bytes))
            // As for single PUTs: the signed part checksum binds the body.
            .customize()
            .disable_payload_signing()
            .send()
            .await
            .map_err(|e| {
                sdk_error(
                    b.name(),
                    Operation::Put,
                    &format!("upload part {number}"),
                    e,
                )
            })?;
        Ok(CompletedPart::builder()
            .part_number(number)
            .set_e_tag(out.e_tag().map(str::to_owned))
            .checksum_sha256(checksum)
            .build())
    }

    /// The URL to read `key` from: the published URL, or a fresh presigned one.
    async fn read_url(&self, location: &Location) -> Result<String> {
        match self.bucket.config.presign_expiry {
            Some(expiry) => {
                let key = self.own_key(location, Operation::Get)?;
                self.presigned_url(key, expiry).await
            }
            None => {
                let url = location.cdn_url().ok_or_else(|| {
                    MediaError::invalid_input(
                        Operation::Get,
                        format!("an S3 backend cannot read {location}"),
                    )
                    .with_backend(self.name())
                })?;
                // A record may name any URL: outside this bucket, only where the node may go.
                let config = &self.bucket.config;
                if !url.starts_with(&config.object_url("")) {
                    config
                        .reach
                        .check_url(url)
                        .map_err(|e| e.with_backend(self.name()))?;
                }
                Ok(url.to_owned())
            }
        }
    }

    /// A presigned GET URL for `key` valid for `expiry`.
    pub async fn presigned_url(&self, key: &str, expiry: std::time::Duration) -> Result<String> {
        let b = &self.bucket;
        let presigning =
            aws_sdk_s3::presigning::PresigningConfig::expires_in(expiry).map_err(|e| {
                MediaError::invalid_input(Operation::Get, format!("presign expiry: {e}"))
            })?;
        let request = b
            .client
            .get_object()
            .bucket(&b.config.bucket)
            .key(key)
            .presigned(presigning)
            .await
            .map_err(|e| sdk_error(b.name(), Operation::Get, "presign GET", e))?;
        Ok(request.uri().to_owned())
    }
}

#[async_trait]
impl Backend for S3Backend {
    fn name(&self) -> &str {
        self.bucket.name()
    }

    fn kind(&self) -> BackendKind {
        BackendKind::CDN
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::full().with_max_size(Some(5 << 40))
    }

    async fn put(&self, blob: &StagedBlob, progress: Progress) -> Result<Location> {
        let key = self.bucket.config.key_for(&blob.id().to_string());
        let location = self.location_for(&key);
        match self.existing(&key, blob).await? {
            Existing::Same => {
                debug!(key, "object already stored");
                progress.report(blob.size());
                return Ok(location);
            }
            Existing::Absent => {}
            Existing::Other => {
                // A content-addressed key holding other (or unprovable) bytes: replace them.
                warn!(
                    key,
                    "the object at this key is not these bytes; replacing it"
                );
                self.delete_key(&key, Operation::Put).await?;
            }
        }
        if blob.size() >= self.bucket.config.multipart_threshold {
            self.put_multipart(blob, &key, &progress).await?;
        } else {
            self.put_single(blob, &key).await?;
        }
        progress.report(blob.size());
        info!(key, size = blob.size(), "stored on S3");
        Ok(location)
    }

    async fn get(&self, location: &Location, range: ByteRange) -> Result<ByteStream> {
        let url = self.read_url(location).await?;
        RangedGet {
            backend: self.name().to_owned(),
            url,
            start: range.start,
            end: range.end,
            attempts: self.bucket.config.max_attempts,
            read_timeout: self.bucket.config.read_timeout,
        }
        .open(self.bucket.http.clone())
        .await
    }

    async fn delete(&self, location: &Location) -> Result<()> {
        let key = self.own_key(location, Operation::Delete)?;
        self.delete_key(key, Operation::Delete).await?;
        self.delete_key(&crate::catalog::record_key(key), Operation::Delete)
            .await
    }

    async fn health(&self) -> Result<()> {
        let b = &self.bucket;
        b.client
            .head_bucket()
            .bucket(&b.config.bucket)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error(b.name(), Operation::Health, "HEAD bucket", e))
    }
}
