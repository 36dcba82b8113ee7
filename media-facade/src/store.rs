//! [`MediaStore`]: the one front door. Every public method is here; the pipelines it runs
//! live beside it (`upload/`, `read/`), its shared state in `state/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::future::join_all;
use media_core::{
    Backend, ByteRange, ByteStream, ErrorKind, MediaError, MediaEvent, MediaFile, MediaId,
    MediaRef, Operation, Result, Thumbnail, Timestamp,
};
use tokio::sync::broadcast;
use tracing::warn;

use crate::builder::MediaStoreBuilder;
use crate::handle::UploadHandle;
use crate::options::ReadOptions;
use crate::reader::MediaReader;
use crate::state::anchors::{self, Trust};
use crate::state::stats::StatsSnapshot;
use crate::state::Inner;
use crate::upload::ingest::UploadRequest;
use crate::{read, upload};

/// The media store: uploads to every backend in parallel, downloads with fallback and
/// verification, dedup, events, statistics, expiry and a durable catalog.
///
/// Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct MediaStore {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for MediaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaStore")
            .field("data_dir", &self.inner.data_dir)
            .field(
                "backends",
                &self
                    .inner
                    .backends
                    .iter()
                    .map(|b| b.name())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl MediaStore {
    /// A builder storing local state under `data_dir`.
    pub fn builder(data_dir: impl Into<PathBuf>) -> MediaStoreBuilder {
        MediaStoreBuilder::new(data_dir.into())
    }

    /// The catalog of a data directory without starting any store: list, show, import and
    /// thumbnails work; uploads and downloads fail with `Unavailable`. For tools that must
    /// not start a P2P stack just to read a record.
    pub async fn open_catalog(data_dir: impl Into<PathBuf>) -> Result<MediaStore> {
        MediaStoreBuilder::new(data_dir.into())
            .without_thumbnails()
            .build_checked(false)
            .await
    }

    pub(crate) fn from_inner(inner: Arc<Inner>) -> Self {
        MediaStore { inner }
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// The backends, in registration order.
    pub fn backends(&self) -> &[Arc<dyn Backend>] {
        &self.inner.backends
    }

    /// Subscribe to every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<MediaEvent> {
        self.inner.subscribe()
    }

    /// Bytes held by the local verified cache (0 when it is off).
    pub fn cached_bytes(&self) -> u64 {
        self.inner.cache.as_ref().map_or(0, |c| c.bytes())
    }

    /// Current statistics.
    pub fn stats(&self) -> StatsSnapshot {
        let table = self
            .inner
            .throughput
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default();
        self.inner.stats.snapshot(|name| table.rate(name))
    }

    /// Start an upload. The returned handle can be awaited for the [`MediaFile`] or polled for
    /// this upload's events.
    pub fn upload(&self, request: UploadRequest) -> UploadHandle {
        let op = self.inner.next_op();
        let events = self.inner.subscribe();
        let inner = Arc::clone(&self.inner);
        let task = tokio::spawn(upload::run(inner, op, request));
        UploadHandle::new(op, events, task)
    }

    /// Open `range` of the media `id` as a verified stream, with the store's download policy.
    pub async fn open(&self, id: &MediaId, range: ByteRange) -> Result<MediaReader> {
        self.open_with(id, ReadOptions::new().range(range)).await
    }

    /// Open media by id with explicit options.
    pub async fn open_with(&self, id: &MediaId, options: ReadOptions) -> Result<MediaReader> {
        let file = self.inner.resolve(id).await?.ok_or_else(|| {
            MediaError::not_found(Operation::Download, format!("no media with id {id}"))
        })?;
        if file.is_expired_at(Timestamp::now()) {
            return Err(MediaError::new(
                ErrorKind::Expired,
                Operation::Download,
                format!("media {id} expired"),
            ));
        }
        self.open_file(&file, options).await
    }

    /// Open media described by a record that is not (necessarily) in the catalog, e.g. one a
    /// peer handed over. The record must be self-consistent.
    ///
    /// What is verified depends on whether the record's chunk list is anchored (this node's
    /// own upload, a matching [`MediaRef`], or an earlier whole read):
    /// - anchored: every chunk is checked before release, ranges included;
    /// - not anchored, whole file: the bytes are spooled to the data directory and released
    ///   only once they hash to the id (then the record is anchored);
    /// - not anchored, a range: refused with `Integrity` (nothing vouches for the chunks);
    /// - contradicting an anchored record of the same id: refused with `Integrity`.
    pub async fn open_file(&self, file: &MediaFile, options: ReadOptions) -> Result<MediaReader> {
        check_consistent(file, Operation::Download)?;
        // Taken down or listed: never served again, whichever record names it.
        if self.inner.safety.listed(file).is_some() {
            return Err(MediaError::not_found(
                Operation::Download,
                format!("media {} was taken down", file.id),
            ));
        }
        if file.encryption.is_some() && !options.ciphertext {
            return Err(MediaError::new(
                ErrorKind::PermissionDenied,
                Operation::Download,
                format!(
                    "media {} is encrypted: read it with an identity (open_private, `media get --identity`)",
                    file.id
                ),
            ));
        }
        match self.inner.anchors.trust(file) {
            Trust::Anchored => read::start(&self.inner, file, options, false),
            Trust::Conflicts => Err(anchors::conflict(file, Operation::Download)),
            Trust::Unanchored if options.range.is_full() => {
                read::start(&self.inner, file, options, true)
            }
            Trust::Unanchored => Err(anchors::unanchored(file)),
        }
    }

    /// Open `range` of the plaintext of encrypted media `id` with `identity`: a verified
    /// stream of the decrypted bytes. Only the 64 KiB age chunks holding the range are fetched,
    /// in one read (verified like any read, then authenticated by age); the header comes from
    /// the record.
    /// Not encrypted media, or an identity it was not encrypted to: an error.
    pub async fn open_private(
        &self,
        id: &MediaId,
        range: ByteRange,
        identity: &media_privacy::Identity,
    ) -> Result<ByteStream> {
        let file = self.inner.resolve(id).await?.ok_or_else(|| {
            MediaError::not_found(Operation::Download, format!("no media with id {id}"))
        })?;
        crate::read::private::open(self.clone(), file, range, identity.clone()).await
    }

    /// Read a whole (small) media file into memory, verified.
    pub async fn read_all(&self, id: &MediaId) -> Result<Vec<u8>> {
        self.open(id, ByteRange::full()).await?.read_to_end().await
    }

    /// The record of `id`, if catalogued (expired records included).
    pub async fn get(&self, id: &MediaId) -> Result<Option<MediaFile>> {
        self.inner.resolve(id).await
    }

    /// The thumbnail of `id`, checked against the digest in its record. `NotFound` when the
    /// id is unknown or has no thumbnail; `Integrity` when the bytes do not match.
    pub async fn thumbnail(&self, id: &MediaId) -> Result<Thumbnail> {
        let file = self.inner.catalog.get(id).await?.ok_or_else(|| {
            MediaError::not_found(Operation::Thumbnail, format!("no media with id {id}"))
        })?;
        let thumb = file.thumbnail.ok_or_else(|| {
            MediaError::not_found(Operation::Thumbnail, format!("media {id} has no thumbnail"))
        })?;
        if !thumb.verify() {
            return Err(MediaError::new(
                ErrorKind::Integrity,
                Operation::Thumbnail,
                format!("the thumbnail of {id} does not match its SHA-256"),
            ));
        }
        Ok(thumb)
    }

    /// A page of the catalog: at most `limit` records (capped at [`MAX_PAGE`]) with ids after
    /// `after`, ordered by id, without their inline thumbnails (fetch those with
    /// [`MediaStore::thumbnail`]). The last record's id is the cursor of the next page.
    pub async fn list_page(&self, after: Option<&MediaId>, limit: usize) -> Result<Vec<MediaFile>> {
        let mut page = self
            .inner
            .catalog
            .list_after(after, limit.clamp(1, MAX_PAGE))
            .await?;
        for f in &mut page {
            f.thumbnail = None;
        }
        Ok(page)
    }

    /// Every catalogued record (for small catalogs; page through large ones with
    /// [`MediaStore::list_page`]).
    pub async fn list(&self) -> Result<Vec<MediaFile>> {
        self.inner.catalog.list().await
    }

    /// Remember a record received from a peer, after checking it is self-consistent, so its
    /// media can be downloaded by id.
    ///
    /// The record stays *unanchored*: nothing proves its chunk digests yet, so whole reads are
    /// verified against the id before a byte is released and range reads are refused until
    /// then (see [`MediaStore::import_ref`] and SECURITY.md). A record that contradicts one
    /// this node verified is refused; a verified local record is never replaced.
    pub async fn import(&self, file: &MediaFile) -> Result<()> {
        check_consistent(file, Operation::Catalog)?;
        self.inner.safety.check_record(file, Operation::Catalog)?;
        let file = &without_derived(file);
        match self.inner.anchors.trust(file) {
            Trust::Conflicts => Err(anchors::conflict(file, Operation::Catalog)),
            // The same verified chunk list: keep the local record as it is.
            Trust::Anchored if self.inner.catalog.get(&file.id).await?.is_some() => Ok(()),
            Trust::Anchored | Trust::Unanchored => self.inner.catalog.put(file).await,
        }
    }

    /// Import a record together with the reference its sender shared through a trusted
    /// channel: the record must match the reference (id, size and every chunk digest), and is
    /// then anchored, so range reads of it are verified from the first byte.
    pub async fn import_ref(&self, file: &MediaFile, reference: &MediaRef) -> Result<()> {
        reference.check(file)?;
        self.inner.safety.check_record(file, Operation::Catalog)?;
        let file = &without_derived(file);
        if self.inner.anchors.trust(file) == Trust::Conflicts {
            return Err(anchors::conflict(file, Operation::Catalog));
        }
        self.inner.anchors.set(file)?;
        // Shared with the node's owner through a trusted channel: the node's own media,
        // which no Blossom signer may remove.
        self.inner
            .ownership
            .claim(&file.id, crate::state::ownership::Owner::Node)?;
        if self.inner.catalog.get(&file.id).await?.is_none() {
            self.inner.catalog.put(file).await?;
        }
        Ok(())
    }

    /// Open media by its shared reference: the record (from the catalog or the shared one)
    /// must match it, and is anchored before any byte is read.
    pub async fn open_ref(
        &self,
        reference: &MediaRef,
        options: ReadOptions,
    ) -> Result<MediaReader> {
        let file = self.inner.resolve(&reference.id).await?.ok_or_else(|| {
            MediaError::not_found(
                Operation::Download,
                format!("no record of {} is known here", reference.id),
            )
        })?;
        self.import_ref(&file, reference).await?;
        self.open_file(&file, options).await
    }

    /// Delete media `id`: from the stores where this node's own uploads put it (and only
    /// there: never what the record's locations or hints name), and from the catalog.
    /// Returns the names of the backends it was removed from (none for a record this node
    /// only catalogued, such as a stranger's); errors if the id is unknown.
    pub async fn delete(&self, id: &MediaId) -> Result<Vec<String>> {
        if self.inner.catalog.get(id).await?.is_none() {
            return Err(MediaError::not_found(
                Operation::Delete,
                format!("no media with id {id}"),
            ));
        }
        // What this node derived from it (a HEIC's JPEG rendition) goes with it: its own
        // index says which, never the record.
        let derived = self.inner.ownership.get(id).derived;
        let removed = self.remove_everywhere(id).await?;
        self.inner.emit(MediaEvent::Deleted {
            id: *id,
            backends: removed.clone(),
        });
        for child in derived {
            // A rendition another photo still has (same pixels) stays for it.
            match self.inner.ownership.release_derived(id, &child) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    warn!(%id, rendition = %child, error = %e, "a rendition of deleted media stays");
                    continue;
                }
            }
            match self.remove_everywhere(&child).await {
                Ok(backends) => self.inner.emit(MediaEvent::Deleted {
                    id: child,
                    backends,
                }),
                Err(e) => {
                    warn!(%id, rendition = %child, error = %e, "a rendition of deleted media stays")
                }
            }
        }
        Ok(removed)
    }

    /// What a Blossom `DELETE` may do: the Blossom signers no longer want `id`. Media the
    /// node holds for its own owner stays where it is (only Blossom's claim goes); media
    /// stored only for Blossom is deleted like [`MediaStore::delete`].
    #[cfg_attr(not(feature = "blossom"), allow(dead_code))]
    pub(crate) async fn delete_for_blossom(&self, id: &MediaId) -> Result<()> {
        if !self.inner.ownership.blossom_only(id) {
            tracing::info!(%id, "Blossom delete: the node's own media stays");
            return self.inner.ownership.release_blossom(id);
        }
        self.delete(id).await.map(|_| ())
    }

    /// Remove `id` from the stores this node put it on (its ownership index, never a
    /// record), then from the catalog, the anchors, the cache and the index.
    pub(crate) async fn remove_everywhere(&self, id: &MediaId) -> Result<Vec<String>> {
        let holding = self.inner.ownership.get(id);
        let mut removed = Vec::new();
        let mut failures = Vec::new();
        for placement in &holding.placements {
            let Some(backend) = self
                .inner
                .backends
                .iter()
                .find(|b| b.name() == placement.backend && b.kind() == placement.location.kind)
            else {
                warn!(%id, backend = %placement.backend, "a store this media was put on is not configured now; its copy stays");
                continue;
            };
            if !backend.capabilities().delete {
                continue;
            }
            match backend.delete(&placement.location).await {
                Ok(()) => removed.push(backend.name().to_owned()),
                Err(e) if e.kind == ErrorKind::NotFound => removed.push(backend.name().to_owned()),
                Err(e) => failures.push(e),
            }
        }
        if let Some(first) = failures.into_iter().next() {
            // Keep the record so the delete can be retried; nothing is orphaned.
            return Err(first);
        }
        self.inner.catalog.delete(id).await?;
        self.inner.anchors.remove(id);
        self.inner.ownership.remove(id);
        if let Some(cache) = &self.inner.cache {
            cache.remove_media(id);
        }
        Ok(removed)
    }

    /// Remove every record whose `expires_at` has passed, from the stores and the catalog.
    /// Returns the ids removed.
    pub async fn purge_expired(&self) -> Result<Vec<MediaId>> {
        let now = Timestamp::now();
        let mut purged = Vec::new();
        for file in self.inner.catalog.list().await? {
            if !file.is_expired_at(now) {
                continue;
            }
            match self.remove_everywhere(&file.id).await {
                Ok(_) => {
                    self.inner.emit(MediaEvent::Expired { id: file.id });
                    purged.push(file.id);
                }
                Err(e) => warn!(id = %file.id, error = %e, "could not remove expired media"),
            }
        }
        Ok(purged)
    }

    /// Check every backend; returns each backend's name with its result.
    pub async fn health(&self) -> Vec<(String, Result<()>)> {
        let checks = self
            .inner
            .backends
            .iter()
            .map(|b| async move { (b.name().to_owned(), b.health().await) });
        join_all(checks).await
    }
}

/// A record from someone else without what only this node's uploads say: its display
/// rendition (the reference checks only the media's own bytes; a stranger's `display` could
/// name any other media, shown in its place).
fn without_derived(file: &MediaFile) -> MediaFile {
    let mut file = file.clone();
    file.display = None;
    file
}

/// Largest page [`MediaStore::list_page`] returns.
pub const MAX_PAGE: usize = 1000;

fn check_consistent(file: &MediaFile, op: Operation) -> Result<()> {
    if file.is_consistent() {
        Ok(())
    } else {
        Err(MediaError::invalid_input(
            op,
            format!("record {} is inconsistent (digest count or id)", file.id),
        ))
    }
}
