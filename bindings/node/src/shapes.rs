//! The JavaScript shapes: the seed's `MediaFile`, `MediaUploadOptions`,
//! `MediaDownloadOptions` and `MediaStorageStats`, the manager's options and the events.
//! Each is a `#[napi(object)]`, so its TypeScript interface is generated from this file.

use media_facade::media_core::{self, MediaFile as Record};
use media_facade::StatsSnapshot;

use crate::errors;

/// One stored media file, as the app sees it: the seed's fields first, then ours. Hand it
/// back to `downloadMedia` on this or another manager; `record` carries everything a reader
/// needs to verify the bytes.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct MediaFile {
    /// The media id: the SHA-256 of the stored bytes, hex.
    pub id: String,
    /// The original file name (display only).
    pub name: String,
    /// Size in bytes.
    pub size: f64,
    /// The MIME type.
    #[napi(js_name = "type")]
    pub mime: String,
    /// The SHA-256 of the stored bytes, hex (equal to `id`).
    pub hash: String,
    /// The CDN URL, when a CDN holds it.
    pub url: Option<String>,
    /// The magnet link, when BitTorrent seeds it.
    pub torrent_magnet: Option<String>,
    /// The IPFS CID, when IPFS holds it.
    pub ipfs_cid: Option<String>,
    /// The inline thumbnail as a `data:` URL (images and video posters).
    pub thumbnail: Option<String>,
    /// The thumbnail's BlurHash placeholder.
    pub blurhash: Option<String>,
    /// When the upload finished, in milliseconds since the epoch (as `Date.now()`).
    pub uploaded_at: f64,
    /// When the media expires, in milliseconds since the epoch.
    pub expires_at: Option<f64>,
    /// The self-verifying reference to share with peers (`media:…`).
    pub reference: String,
    /// The Blossom URL, when a Blossom server holds it.
    pub blossom_url: Option<String>,
    /// `"age"` for private media (the stored bytes are an age file).
    pub encryption: Option<String>,
    /// Metadata removed from the original before it was stored (`EXIF`, `XMP`, ...).
    pub metadata_removed: Vec<String>,
    /// Every store that holds the bytes.
    pub locations: Vec<MediaLocation>,
    /// The engine's full record (JSON): digests, chunk hashes, locations. Readers verify
    /// against it; a changed record fails verification, it never yields other bytes.
    pub record: String,
}

/// Where one store holds the bytes.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct MediaLocation {
    /// The store's kind: `cdn`, `ipfs`, `torrent`, `blossom`.
    pub kind: String,
    /// The store's address for the bytes (URL, `ipfs://CID`, magnet).
    pub uri: String,
}

impl From<&Record> for MediaFile {
    fn from(file: &Record) -> Self {
        let thumbnail = file.thumbnail.as_ref();
        MediaFile {
            id: file.id.to_string(),
            name: file.name.clone(),
            size: file.size as f64,
            mime: file.mime.clone(),
            hash: hex::encode(file.sha256.0),
            url: file.cdn_url().map(str::to_owned),
            torrent_magnet: file.magnet().map(str::to_owned),
            ipfs_cid: file.cid().map(str::to_owned),
            thumbnail: thumbnail.map(|t| {
                use base64::Engine;
                let encoded = base64::engine::general_purpose::STANDARD.encode(&t.bytes);
                format!("data:{};base64,{encoded}", t.mime)
            }),
            blurhash: thumbnail.and_then(|t| t.blurhash.clone()),
            uploaded_at: file.uploaded_at.as_millis() as f64,
            expires_at: file.expires_at.map(|t| t.as_millis() as f64),
            reference: file.reference().to_string(),
            blossom_url: file
                .locations
                .iter()
                .find(|l| l.kind.as_str() == "blossom")
                .map(|l| l.uri.clone()),
            encryption: file.encryption.clone(),
            metadata_removed: file.metadata_removed.clone(),
            locations: file
                .locations
                .iter()
                .map(|l| MediaLocation {
                    kind: l.kind.to_string(),
                    uri: l.uri.clone(),
                })
                .collect(),
            record: serde_json::to_string(file).unwrap_or_default(),
        }
    }
}

/// What `initialize()` opens.
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct ManagerOptions {
    /// The data directory (catalog, stores, keys). One manager per directory at a time.
    pub data_dir: String,
    /// A `media.toml` configuration file (the same file `media serve --config` reads);
    /// without one, every store of the embedded stack runs on 127.0.0.1.
    pub config_file: Option<String>,
    /// Only these stores of the embedded stack (`cdn`, `ipfs`, `torrent`, `blossom`).
    pub stores: Option<Vec<String>>,
    /// Peer-to-peer consent: `on` (default), `download` (read from peers, never seed) or
    /// `off` (no P2P store runs).
    #[napi(js_name = "p2p")]
    pub p2p: Option<String>,
    /// How long one store may stall a read before the policy moves on, in milliseconds
    /// (at most a day).
    pub attempt_timeout_ms: Option<f64>,
    /// Let reads reach loopback and private addresses (LAN setups and tests; default: no).
    pub allow_private_addresses: Option<bool>,
}

/// How to store one upload (the seed's `MediaUploadOptions`).
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct MediaUploadOptions {
    /// The name to record (default: the file's name, or `upload`).
    pub name: Option<String>,
    /// The MIME type (default: sniffed from the bytes).
    pub mime_type: Option<String>,
    /// Expire the media after this many seconds.
    pub expires_in: Option<f64>,
    /// Expire the media at this time, in milliseconds since the epoch.
    pub expires_at: Option<f64>,
    /// Private media: age recipients (`age1…`) the bytes are encrypted to before any store
    /// sees them.
    pub private_to: Option<Vec<String>>,
    /// Store on peer-to-peer stores too (default: yes for public media when the manager's
    /// P2P consent is `on`).
    pub share_p2p: Option<bool>,
    /// Store the bytes exactly as given: no metadata removed, no video remux.
    pub keep_original: Option<bool>,
    /// The SHA-256 the bytes must have (hex); any other bytes fail the upload.
    pub expected_hash: Option<String>,
    /// A stream upload fails when no chunk arrives for this long, in milliseconds
    /// (default 60 000, at most a day).
    pub idle_timeout: Option<f64>,
}

/// How to read (the seed's `MediaDownloadOptions`).
#[napi(object)]
#[derive(Clone, Default)]
pub struct MediaDownloadOptions {
    /// Ask peers first (the `p2p` policy, hedged to the CDN); `false` asks the CDN first.
    #[napi(js_name = "preferP2P")]
    pub prefer_p2p: Option<bool>,
    /// A named read policy (`p2p`, `cdn`, `fastest`, `swarm`, `hedged-cdn`, ...); wins over
    /// `preferP2P`.
    pub policy: Option<String>,
    /// How long one store may stall before the policy moves on, in milliseconds (at most a
    /// day).
    pub timeout: Option<f64>,
    /// The whole read fails once it has taken this long, in milliseconds (at most a day;
    /// default: no limit but the stores' own).
    pub deadline: Option<f64>,
    /// Delay before a hedged policy asks the next store, in milliseconds.
    pub hedge_after_ms: Option<f64>,
    /// First byte to read (default 0).
    pub start: Option<f64>,
    /// Last byte to read, inclusive (default: the last).
    pub end: Option<f64>,
    /// Read only from the store of this name.
    pub only_store: Option<String>,
    /// For private media: the age identity (`AGE-SECRET-KEY-1…`, or an identity file's text).
    pub identity: Option<String>,
    /// The reference (`media:…?root=…`) of a peer's record, from a channel the app trusts
    /// for it (the media's owner, a signed message). It anchors the record's chunk list so a
    /// range or private media can be verified chunk by chunk, and adds the record to the
    /// catalog. Never taken from the record's own `MediaFile`: a stranger's reference would
    /// vouch for his own chunk list.
    pub reference: Option<String>,
}

// By hand: the identity is a secret and stays out of `Debug` (and so out of logs).
impl std::fmt::Debug for MediaDownloadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaDownloadOptions")
            .field("prefer_p2p", &self.prefer_p2p)
            .field("policy", &self.policy)
            .field("timeout", &self.timeout)
            .field("deadline", &self.deadline)
            .field("hedge_after_ms", &self.hedge_after_ms)
            .field("start", &self.start)
            .field("end", &self.end)
            .field("only_store", &self.only_store)
            .field("identity", &self.identity.as_ref().map(|_| "<secret>"))
            .field("reference", &self.reference)
            .finish()
    }
}

/// The manager's counters and what its catalog holds (the seed's `MediaStorageStats`).
#[napi(object)]
#[derive(Debug, Clone)]
pub struct MediaStorageStats {
    /// Media files in the catalog.
    pub total_files: f64,
    /// Their bytes.
    pub total_size: f64,
    /// Files a CDN holds.
    pub cdn_files: f64,
    /// Files a peer-to-peer store (BitTorrent or IPFS) holds.
    #[napi(js_name = "p2pFiles")]
    pub p2p_files: f64,
    /// Private (encrypted) files.
    pub private_files: f64,
    /// Uploads started / completed / failed, and how many were already stored.
    pub uploads_started: f64,
    /// Uploads that completed.
    pub uploads_completed: f64,
    /// Uploads that failed.
    pub uploads_failed: f64,
    /// Uploads whose bytes were already stored.
    pub deduplicated: f64,
    /// Bytes uploaded.
    pub bytes_uploaded: f64,
    /// Downloads started.
    pub downloads_started: f64,
    /// Downloads that completed, verified.
    pub downloads_completed: f64,
    /// Downloads that failed.
    pub downloads_failed: f64,
    /// Bytes downloaded (verified).
    pub bytes_downloaded: f64,
    /// Times a read moved on to another store.
    pub fallbacks: f64,
    /// Chunks a store served that did not match their hash (never released).
    pub integrity_failures: f64,
    /// Bytes in the verified read cache.
    pub cached_bytes: f64,
    /// Uploads and downloads running now.
    pub active_operations: f64,
    /// Per store.
    pub stores: Vec<StoreStats>,
}

/// One store's counters.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct StoreStats {
    /// The store's name.
    pub name: String,
    /// Successful and failed writes.
    pub puts_ok: f64,
    /// Failed writes.
    pub puts_failed: f64,
    /// Successful reads.
    pub gets_ok: f64,
    /// Failed reads.
    pub gets_failed: f64,
    /// Verified bytes it served.
    pub bytes_served: f64,
    /// Chunks it served that did not match.
    pub integrity_failures: f64,
    /// Recent read throughput, bytes per second.
    pub throughput: Option<f64>,
}

/// What the catalog holds, counted while paging through it.
#[derive(Debug, Default)]
pub(crate) struct CatalogCounts {
    pub files: u64,
    pub bytes: u64,
    pub cdn: u64,
    pub p2p: u64,
    pub private: u64,
}

impl CatalogCounts {
    pub(crate) fn add(&mut self, file: &Record) {
        self.files += 1;
        self.bytes += file.size;
        let has = |kind: &media_core::BackendKind| file.location(kind).is_some();
        if has(&media_core::BackendKind::CDN) {
            self.cdn += 1;
        }
        if has(&media_core::BackendKind::TORRENT) || has(&media_core::BackendKind::IPFS) {
            self.p2p += 1;
        }
        if file.encryption.is_some() {
            self.private += 1;
        }
    }
}

pub(crate) fn stats(
    snapshot: StatsSnapshot,
    counts: CatalogCounts,
    cached: u64,
) -> MediaStorageStats {
    let n = |v: u64| v as f64;
    MediaStorageStats {
        total_files: n(counts.files),
        total_size: n(counts.bytes),
        cdn_files: n(counts.cdn),
        p2p_files: n(counts.p2p),
        private_files: n(counts.private),
        uploads_started: n(snapshot.uploads_started),
        uploads_completed: n(snapshot.uploads_completed),
        uploads_failed: n(snapshot.uploads_failed),
        deduplicated: n(snapshot.deduplicated),
        bytes_uploaded: n(snapshot.bytes_uploaded),
        downloads_started: n(snapshot.downloads_started),
        downloads_completed: n(snapshot.downloads_completed),
        downloads_failed: n(snapshot.downloads_failed),
        bytes_downloaded: n(snapshot.bytes_downloaded),
        fallbacks: n(snapshot.fallbacks),
        integrity_failures: n(snapshot.integrity_failures),
        cached_bytes: n(cached),
        active_operations: n(snapshot.active_operations),
        stores: snapshot
            .backends
            .into_iter()
            .map(|(name, b)| StoreStats {
                name,
                puts_ok: n(b.puts_ok),
                puts_failed: n(b.puts_failed),
                gets_ok: n(b.gets_ok),
                gets_failed: n(b.gets_failed),
                bytes_served: n(b.bytes_served),
                integrity_failures: n(b.integrity_failures),
                throughput: b.throughput,
            })
            .collect(),
    }
}

/// One engine event. `event` is the engine's name (`upload_progress`, `fallback`, ...);
/// `name` is the name the manager emits it under (`uploadProgress`, `uploadComplete`,
/// `downloadProgress`, `downloadComplete`, `fallback`, ...). Fields an event does not have
/// are absent.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct MediaEvent {
    /// The engine's event name.
    pub event: String,
    /// The name the manager emits it under.
    pub name: MediaEventName,
    /// Whether the event reports a failure (the manager also emits it as `error` when
    /// someone listens for `error`).
    pub is_error: bool,
    /// The operation (upload or download) it belongs to.
    pub operation: Option<u32>,
    /// The media id.
    pub id: Option<String>,
    /// The upload's name.
    pub file_name: Option<String>,
    /// The store involved.
    pub store: Option<String>,
    /// Bytes so far (progress) or in all (finished reads).
    pub bytes: Option<f64>,
    /// Bytes expected in all.
    pub total: Option<f64>,
    /// A fallback's store given up on, and the one tried next.
    pub from: Option<String>,
    /// The store tried next after a fallback.
    pub to: Option<String>,
    /// Stores that hold the upload, or served the read, or were cleared by a delete.
    pub stores: Vec<String>,
    /// Whether an upload found its bytes already stored.
    pub deduplicated: Option<bool>,
    /// What went wrong, for failures and fallbacks.
    pub error: Option<EventError>,
    /// The engine's event as JSON, with every field.
    pub json: String,
}

/// The error an event reports.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct EventError {
    /// The engine's error kind (`not_found`, `timeout`, `integrity`, ...).
    pub kind: String,
    /// The operation (`upload`, `download`, ...).
    pub operation: String,
    /// The message.
    pub message: String,
    /// Whether retrying may help.
    pub retryable: bool,
}

/// The names a manager emits engine events under (the TypeScript event map is built from
/// this enum, so a new name appears in the `.d.ts` by itself).
#[napi(string_enum = "camelCase")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaEventName {
    /// An upload began reading its input.
    UploadStart,
    /// The input was read and hashed.
    Ingested,
    /// Bytes written to one store.
    UploadProgress,
    /// One store holds the upload.
    Stored,
    /// One store failed the upload (others may succeed).
    StoreFailed,
    /// The upload is stored.
    UploadComplete,
    /// The upload failed.
    UploadError,
    /// A read began.
    DownloadStart,
    /// A read asked one store.
    DownloadAttempt,
    /// One store's attempt ended.
    AttemptEnded,
    /// Verified bytes released.
    DownloadProgress,
    /// A store failed a read and the policy moved on.
    Fallback,
    /// A store served bytes that did not match their hash (never released).
    IntegrityFailure,
    /// The read completed, every byte verified.
    DownloadComplete,
    /// The read failed.
    DownloadError,
    /// Media removed at expiry.
    Expired,
    /// Media deleted.
    Deleted,
    /// An engine event this version of the package does not name (see `event`).
    Other,
}

impl MediaEventName {
    /// The name for the engine's event named `event` (its serde tag), and whether it
    /// reports a failure.
    fn of(event: &str) -> (Self, bool) {
        use MediaEventName::*;
        let name = match event {
            "upload_started" => UploadStart,
            "ingested" => Ingested,
            "upload_progress" => UploadProgress,
            "stored" => Stored,
            "store_failed" => StoreFailed,
            "upload_finished" => UploadComplete,
            "upload_failed" => UploadError,
            "download_started" => DownloadStart,
            "download_attempt" => DownloadAttempt,
            "attempt_ended" => AttemptEnded,
            "download_progress" => DownloadProgress,
            "fallback" => Fallback,
            "integrity_failure" => IntegrityFailure,
            "verified" => DownloadComplete,
            "download_failed" => DownloadError,
            "expired" => Expired,
            "deleted" => Deleted,
            _ => Other,
        };
        let failure = matches!(
            name,
            StoreFailed | UploadError | IntegrityFailure | DownloadError
        );
        (name, failure)
    }
}

impl From<&media_core::MediaEvent> for MediaEvent {
    fn from(event: &media_core::MediaEvent) -> Self {
        let value = serde_json::to_value(event).unwrap_or_default();
        let text = |key: &str| value.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let number = |key: &str| value.get(key).and_then(|v| v.as_f64());
        let kind = text("event").unwrap_or_default();
        let (name, is_error) = MediaEventName::of(&kind);
        let error = value
            .get("error")
            .or_else(|| value.get("reason"))
            .and_then(|e| serde_json::from_value::<media_core::ErrorSummary>(e.clone()).ok())
            .map(|e| EventError {
                kind: errors::kind_name(e.kind),
                operation: errors::operation_name(e.operation),
                message: e.message,
                retryable: e.retryable,
            });
        let stores = ["stored", "backends"]
            .iter()
            .filter_map(|k| value.get(*k).and_then(|v| v.as_array()))
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        MediaEvent {
            name,
            is_error,
            operation: event.operation().map(|op| op.0 as u32),
            id: text("id"),
            file_name: text("name"),
            store: text("backend"),
            bytes: number("bytes").or_else(|| number("size")),
            total: number("total"),
            from: text("from"),
            to: text("to"),
            stores,
            deduplicated: value.get("deduplicated").and_then(|v| v.as_bool()),
            error,
            json: value.to_string(),
            event: kind,
        }
    }
}
