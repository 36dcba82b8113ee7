//! [`TorrentNode`]: a librqbit session that seeds what we store and fetches by magnet;
//! [`TorrentBackend`]: its [`media_core::Backend`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use librqbit::api::TorrentIdOrHash;
use librqbit::dht::Id20;
use librqbit::{
    AddTorrent, AddTorrentOptions, ListenerMode, ListenerOptions, ManagedTorrent, Session,
    SessionOptions, SessionPersistenceConfig,
};
use media_core::stream::{range_stream, RangeReadFailure};
use media_core::{
    Backend, BackendKind, ByteRange, ByteStream, Capabilities, Digests, Location, MediaError,
    MediaId, Operation, Progress, Result, StagedBlob,
};
use tokio::io::AsyncRead;
use tracing::{debug, info, warn};

use crate::config::TorrentConfig;
use crate::error::TorrentError;
use crate::metainfo::{torrent_name, with_exact_source, MagnetLink, Metainfo};

/// Read granularity of streamed ranges.
const READ_PIECE: usize = 256 * 1024;

/// A reader that reports how many bytes went through it.
struct ProgressReader<R> {
    inner: R,
    done: u64,
    progress: Progress,
}

impl<R: std::io::Read> std::io::Read for ProgressReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        self.progress.report(self.done);
        Ok(n)
    }
}

/// Whether a tracker URL from a magnet is outside `reach`: librqbit connects to it by
/// itself, so `media_http`'s one host check decides (see [`media_http::check_host`]).
async fn tracker_refused(reach: &media_core::Reach, tracker: &str) -> bool {
    media_http::check_host(reach, tracker, Duration::from_secs(5))
        .await
        .is_err()
}

/// What we seed: the file on disk and the metainfo it came from.
#[derive(Debug, Clone)]
struct Seeded {
    meta: Metainfo,
    file: PathBuf,
}

struct Inner {
    session: Arc<Session>,
    config: TorrentConfig,
    addr: SocketAddr,
    seeded: Mutex<HashMap<String, Seeded>>,
    /// Readers of each fetched (not seeded) torrent; the last one to finish removes it.
    readers: Mutex<HashMap<String, usize>>,
}

/// Counts one reader of a fetched torrent; when the last reader is dropped the torrent and
/// its fetched data are removed (nothing fetched from a stranger stays on disk or is seeded
/// on without being asked).
struct FetchedReader {
    node: TorrentNode,
    hex: String,
}

impl FetchedReader {
    fn new(node: &TorrentNode, hex: &str) -> Self {
        if let Ok(mut readers) = node.inner.readers.lock() {
            *readers.entry(hex.to_owned()).or_default() += 1;
        }
        FetchedReader {
            node: node.clone(),
            hex: hex.to_owned(),
        }
    }
}

impl Drop for FetchedReader {
    fn drop(&mut self) {
        let last = match self.node.inner.readers.lock() {
            Ok(mut readers) => {
                let n = readers.entry(self.hex.clone()).or_default();
                *n = n.saturating_sub(1);
                let last = *n == 0;
                if last {
                    readers.remove(&self.hex);
                }
                last
            }
            Err(_) => false,
        };
        if !last || self.node.seeded().contains_key(&self.hex) {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (node, hex) = (self.node.clone(), self.hex.clone());
            rt.spawn(async move {
                if node
                    .inner
                    .readers
                    .lock()
                    .is_ok_and(|r| r.contains_key(&hex))
                {
                    return; // a new reader came meanwhile
                }
                if let Some(handle) = node.torrent_handle(&hex) {
                    let _ = node
                        .inner
                        .session
                        .delete(TorrentIdOrHash::Id(handle.id()), true)
                        .await;
                }
            });
        }
    }
}

/// A BitTorrent node: seeds stored media and downloads by magnet. Cheap to clone.
#[derive(Clone)]
pub struct TorrentNode {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TorrentNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TorrentNode")
            .field("addr", &self.inner.addr)
            .finish_non_exhaustive()
    }
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> TorrentError {
    TorrentError::Unavailable(format!("{what}: {e:#}"))
}

/// A port the OS considers free on `ip` (librqbit must know the port it announces).
fn pick_port(listen: SocketAddr) -> std::result::Result<SocketAddr, TorrentError> {
    if listen.port() != 0 {
        return Ok(listen);
    }
    let probe = std::net::TcpListener::bind(listen).map_err(TorrentError::Io)?;
    probe.local_addr().map_err(TorrentError::Io)
}

impl TorrentNode {
    /// Start the session and re-seed every torrent stored under the data directory.
    pub async fn start(config: TorrentConfig) -> std::result::Result<Self, TorrentError> {
        // Data fetched by an earlier run is not tracked by anything: start with none.
        let _ = std::fs::remove_dir_all(config.data_dir.join("fetch"));
        for dir in ["torrents", "seed", "fetch"] {
            std::fs::create_dir_all(config.data_dir.join(dir)).map_err(TorrentError::Io)?;
        }
        let addr = pick_port(config.listen)?;
        let session_dir = config.data_dir.join("session");
        forget_session(&session_dir, &config.data_dir.join("torrents"))?;
        let mut options = SessionOptions {
            disable_local_service_discovery: true,
            // librqbit keeps each torrent's verified-piece bitfield under `session/`; with it
            // a restart checks a sample of pieces instead of re-hashing every seeded byte.
            fastresume: true,
            persistence: Some(SessionPersistenceConfig::Json {
                folder: Some(session_dir),
            }),
            listen: Some(ListenerOptions {
                mode: ListenerMode::TcpOnly,
                listen_addr: addr,
                enable_upnp_port_forwarding: false,
                announce_port: Some(config.public_addr.map_or(addr.port(), |a| a.port())),
                ipv4_only: addr.is_ipv4(),
                ..ListenerOptions::default()
            }),
            ipv4_only: addr.is_ipv4(),
            ..SessionOptions::default()
        };
        if !config.dht {
            options.dht = None;
        }
        // Consent to download only: librqbit chokes every peer and serves no piece.
        options.disable_upload = !config.upload;
        let session = Session::new_with_opts(config.data_dir.join("fetch"), options)
            .await
            .map_err(|e| unavailable("starting the BitTorrent session", e))?;
        let node = TorrentNode {
            inner: Arc::new(Inner {
                session,
                config,
                addr,
                seeded: Mutex::new(HashMap::new()),
                readers: Mutex::new(HashMap::new()),
            }),
        };
        node.reseed().await;
        info!(%addr, "BitTorrent node listening");
        Ok(node)
    }

    /// The peer address in our magnets.
    pub fn peer_addr(&self) -> SocketAddr {
        self.inner.config.public_addr.unwrap_or(self.inner.addr)
    }

    /// The configuration.
    pub fn config(&self) -> &TorrentConfig {
        &self.inner.config
    }

    /// A [`TorrentBackend`] named `name` over this node.
    pub fn backend(&self, name: impl Into<String>) -> TorrentBackend {
        TorrentBackend {
            name: name.into(),
            node: self.clone(),
            metadata_store: None,
        }
    }

    fn seeded(&self) -> std::sync::MutexGuard<'_, HashMap<String, Seeded>> {
        self.inner.seeded.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn torrent_path(&self, hex: &str) -> PathBuf {
        self.inner
            .config
            .data_dir
            .join("torrents")
            .join(format!("{hex}.torrent"))
    }

    fn seed_dir(&self, hex: &str) -> PathBuf {
        self.inner.config.data_dir.join("seed").join(hex)
    }

    /// Re-add every torrent found under `torrents/` whose data is still there.
    async fn reseed(&self) {
        let Ok(entries) = std::fs::read_dir(self.inner.config.data_dir.join("torrents")) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("torrent") {
                continue;
            }
            let Some(hex) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
                continue;
            };
            let Ok(meta_path) = std::fs::read(path.with_extension("meta")) else {
                continue;
            };
            let Ok(meta) = serde_json::from_slice::<StoredMeta>(&meta_path) else {
                warn!(torrent = %path.display(), "unreadable torrent record");
                continue;
            };
            let file = self.seed_dir(&hex).join(&meta.name);
            match meta.metainfo(&file) {
                Ok(mut m) if m.info_hash_hex() == hex => {
                    m.trackers = meta.trackers;
                    m.web_seeds = meta.web_seeds;
                    if let Err(e) = self.seed(m, file).await {
                        warn!(%hex, error = %e, "could not re-seed");
                    }
                }
                Ok(_) => warn!(%hex, "seeded data changed on disk; not re-seeding"),
                Err(e) => warn!(%hex, error = %e, "seeded data missing or changed; not re-seeding"),
            }
        }
    }

    /// Add `meta` (whose file is at `file`, already complete) to the session and seed it.
    async fn seed(&self, meta: Metainfo, file: PathBuf) -> std::result::Result<(), TorrentError> {
        let hex = meta.info_hash_hex();
        let folder = file
            .parent()
            .ok_or_else(|| TorrentError::InvalidInput("seed file has no folder".into()))?
            .to_string_lossy()
            .into_owned();
        let bytes = Bytes::from(meta.to_torrent_bytes());
        let handle = self
            .inner
            .session
            .add_torrent(
                AddTorrent::from_bytes(bytes),
                Some(AddTorrentOptions {
                    overwrite: true,
                    output_folder: Some(folder),
                    disable_trackers: meta.trackers.is_empty(),
                    ..AddTorrentOptions::default()
                }),
            )
            .await
            .map_err(|e| unavailable("adding the torrent", e))?
            .into_handle()
            .ok_or_else(|| TorrentError::Unavailable("the session returned no torrent".into()))?;
        // The session checks the existing data against the piece hashes (a sample of them
        // when its bitfield from an earlier run is there); seeding starts when every piece
        // verified. Data that fails the check will not complete by itself: nobody else has it.
        tokio::time::timeout(Duration::from_secs(600), handle.wait_until_initialized())
            .await
            .map_err(|_| TorrentError::Timeout(format!("checking {hex} took too long")))?
            .map_err(|e| unavailable("checking the seeded data", e))?;
        if !handle.stats().finished {
            let _ = self
                .inner
                .session
                .delete(TorrentIdOrHash::Id(handle.id()), false)
                .await;
            return Err(TorrentError::Integrity(format!(
                "the data to seed for {hex} does not match its piece hashes"
            )));
        }
        tokio::time::timeout(Duration::from_secs(60), handle.wait_until_completed())
            .await
            .map_err(|_| TorrentError::Timeout(format!("starting to seed {hex} took too long")))?
            .map_err(|e| unavailable("checking the seeded data", e))?;
        debug!(%hex, "seeding");
        self.seeded().insert(hex, Seeded { meta, file });
        Ok(())
    }

    /// Seed the file at `path` as `name`; returns its metainfo (with trackers and web seed).
    pub async fn seed_file(
        &self,
        path: &Path,
        name: &str,
        id: Option<MediaId>,
    ) -> std::result::Result<Metainfo, TorrentError> {
        self.seed_file_with_progress(path, name, id, Progress::none())
            .await
    }

    /// Like [`TorrentNode::seed_file`], reporting the bytes hashed so far to `progress` (the
    /// pieces' SHA-1 is the work of seeding a file).
    pub async fn seed_file_with_progress(
        &self,
        path: &Path,
        name: &str,
        id: Option<MediaId>,
        progress: Progress,
    ) -> std::result::Result<Metainfo, TorrentError> {
        let name = torrent_name(name);
        let owned = path.to_path_buf();
        let hash_name = name.clone();
        let mut meta = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(&owned).map_err(TorrentError::Io)?;
            let length = file.metadata().map_err(TorrentError::Io)?.len();
            let mut reader = ProgressReader {
                inner: file,
                done: 0,
                progress,
            };
            Metainfo::from_reader(&mut reader, length, &hash_name)
        })
        .await
        .map_err(|e| unavailable("hashing task", e))??;
        let hex = meta.info_hash_hex();
        if let Some(existing) = self.seeded().get(&hex) {
            return Ok(existing.meta.clone());
        }
        meta.trackers = self.inner.config.trackers.clone();
        if let (Some(base), Some(id)) = (&self.inner.config.web_seed_base, id) {
            meta.web_seeds = vec![format!("{base}/{id}")];
        }
        let dir = self.seed_dir(&hex);
        std::fs::create_dir_all(&dir).map_err(TorrentError::Io)?;
        let file = dir.join(&name);
        if !file.exists() {
            // A hard link keeps one copy of the bytes; across file systems, copy.
            if std::fs::hard_link(path, &file).is_err() {
                std::fs::copy(path, &file).map_err(TorrentError::Io)?;
            }
        }
        let record = StoredMeta {
            name: name.clone(),
            trackers: meta.trackers.clone(),
            web_seeds: meta.web_seeds.clone(),
            length: Some(meta.length),
            pieces: Some(meta.piece_hashes_hex()),
        };
        let torrent_path = self.torrent_path(&hex);
        media_core::write_durable(&torrent_path, &meta.to_torrent_bytes())
            .map_err(TorrentError::Io)?;
        let record_json = serde_json::to_vec(&record)
            .map_err(|e| TorrentError::InvalidInput(format!("torrent record: {e}")))?;
        media_core::write_durable(&torrent_path.with_extension("meta"), &record_json)
            .map_err(TorrentError::Io)?;
        self.seed(meta.clone(), file).await?;
        Ok(meta)
    }

    /// The `.torrent` file of a torrent we seed.
    pub fn torrent_file(&self, info_hash_hex: &str) -> Option<Vec<u8>> {
        std::fs::read(self.torrent_path(info_hash_hex)).ok()
    }

    /// The magnet of a seeded torrent, with our address as `x.pe`.
    pub fn magnet(&self, meta: &Metainfo) -> String {
        meta.magnet(&[self.peer_addr()])
    }

    /// Stream `range` of the single file of the torrent behind `magnet`: from disk when we
    /// seed it, else by downloading (pieces of the range first) from the magnet's peers.
    pub async fn read(
        &self,
        magnet: &str,
        range: ByteRange,
    ) -> std::result::Result<ByteStream, TorrentError> {
        let link = MagnetLink::parse(magnet)?;
        let hex = link.info_hash_hex();
        let local = self.seeded().get(&hex).cloned();
        if let Some(seeded) = local {
            let r = range
                .resolve(seeded.meta.length)
                .map_err(|e| TorrentError::InvalidInput(e.message))?;
            let file = tokio::fs::File::open(&seeded.file)
                .await
                .map_err(TorrentError::Io)?;
            return Ok(stream_reader(file, r, None));
        }
        // Counted before the torrent is added, so a reader finishing meanwhile keeps it.
        let reader = FetchedReader::new(self, &hex);
        let handle = self.add_magnet(&link).await?;
        // The metadata must describe what the magnet (from the record) says: one file of
        // `xl` bytes. Anything else is refused and dropped before a byte is fetched for it.
        let files = handle
            .with_metadata(|m| m.file_infos.iter().map(|f| f.len).collect::<Vec<u64>>())
            .unwrap_or_default();
        let length = match (files.as_slice(), link.length) {
            ([len], Some(xl)) if *len == xl => *len,
            ([len], None) => *len,
            _ => {
                let _ = self
                    .inner
                    .session
                    .delete(TorrentIdOrHash::Id(handle.id()), true)
                    .await;
                return Err(TorrentError::Integrity(format!(
                    "{hex}: the torrent's metadata ({} files, {} bytes) does not match the magnet's one file of {:?} bytes",
                    files.len(),
                    files.iter().sum::<u64>(),
                    link.length
                )));
            }
        };
        let r = range
            .resolve(length)
            .map_err(|e| TorrentError::InvalidInput(e.message))?;
        let stream = handle
            .clone()
            .stream(0)
            .await
            .map_err(|e| unavailable("opening the torrent stream", e))?;
        let stream = stream_reader(stream, r, Some(self.inner.config.read_timeout));
        // The reader's guard lives as long as the stream.
        Ok(stream
            .map(move |piece| {
                let _reading = &reader;
                piece
            })
            .boxed())
    }

    async fn add_magnet(
        &self,
        link: &MagnetLink,
    ) -> std::result::Result<Arc<ManagedTorrent>, TorrentError> {
        let hex = link.info_hash_hex();
        if let Some(handle) = self.torrent_handle(&hex) {
            return Ok(handle);
        }
        // librqbit understands xt and tr; peers from x.pe and our configuration go in directly.
        // A magnet is a stranger's input: its trackers and peers are used only where the
        // node may connect; configured ones are trusted.
        let config = &self.inner.config;
        let mut magnet = format!("magnet:?xt=urn:btih:{hex}");
        let mut trackers = 0;
        for t in &link.trackers {
            if !config.trackers.contains(t) {
                // librqbit would follow the tracker's redirects and dial the peers it returns
                // without our checks: a stranger's tracker only when the owner opted in.
                if !config.magnet_trackers {
                    debug!(%hex, tracker = %t, "a stranger's tracker, not configured; skipped");
                    continue;
                }
                if tracker_refused(&config.reach, t).await {
                    warn!(%hex, tracker = %t, "magnet tracker outside the node's reach; skipped");
                    continue;
                }
            }
            trackers += 1;
            magnet.push_str("&tr=");
            magnet.push_str(&crate::metainfo::percent_encode(t));
        }
        let mut peers: Vec<SocketAddr> = link
            .peers
            .iter()
            .copied()
            .filter(|p| {
                let ok = config.reach.check_addr(*p).is_ok();
                if !ok {
                    warn!(%hex, peer = %p, "magnet peer outside the node's reach; skipped");
                }
                ok
            })
            .collect();
        peers.extend(config.peers.iter().copied());
        if peers.is_empty() && trackers == 0 && !config.dht {
            return Err(TorrentError::NotFound(format!(
                "{hex}: the magnet names no peer or tracker this node may reach"
            )));
        }
        peers.retain(|p| *p != self.peer_addr());
        let folder = self.inner.config.data_dir.join("fetch").join(&hex);
        let options = AddTorrentOptions {
            overwrite: true,
            output_folder: Some(folder.to_string_lossy().into_owned()),
            initial_peers: Some(peers),
            disable_trackers: trackers == 0,
            ratelimits: librqbit::limits::LimitsConfig {
                upload_bps: None,
                download_bps: self
                    .inner
                    .config
                    .download_limit
                    .and_then(std::num::NonZeroU32::new),
            },
            ..AddTorrentOptions::default()
        };
        let added = tokio::time::timeout(
            self.inner.config.metadata_timeout,
            self.inner
                .session
                .add_torrent(AddTorrent::from_url(magnet), Some(options)),
        )
        .await
        .map_err(|_| {
            TorrentError::NotFound(format!(
                "no reachable peer had the metadata of {hex} within {:?}",
                self.inner.config.metadata_timeout
            ))
        })?
        .map_err(|e| {
            // librqbit gives up at once when no peer source is left; its error is an
            // `anyhow` chain, so the adapter classifies it here, once, into a kind.
            let text = format!("{e:#}");
            if text.contains("no way to discover") || text.contains("no known way to resolve peers")
            {
                TorrentError::NotFound(format!("no reachable peer has {hex}: {text}"))
            } else {
                unavailable("adding the magnet", e)
            }
        })?;
        added
            .into_handle()
            .ok_or_else(|| TorrentError::Unavailable("the session returned no torrent".into()))
    }

    fn torrent_handle(&self, hex: &str) -> Option<Arc<ManagedTorrent>> {
        let id: Id20 = hex.parse().ok()?;
        self.inner.session.get(TorrentIdOrHash::Hash(id))
    }

    /// Stop seeding and remove the torrent and its data (seeded or fetched).
    pub async fn remove(&self, info_hash_hex: &str) -> std::result::Result<bool, TorrentError> {
        let was_seeded = self.seeded().remove(info_hash_hex).is_some();
        let mut found = was_seeded;
        if let Some(handle) = self.torrent_handle(info_hash_hex) {
            found = true;
            self.inner
                .session
                .delete(TorrentIdOrHash::Id(handle.id()), false)
                .await
                .map_err(|e| unavailable("removing the torrent", e))?;
        }
        let torrent = self.torrent_path(info_hash_hex);
        let sidecars = [
            torrent.with_extension("meta"),
            torrent.with_extension("published"),
        ];
        for path in sidecars.into_iter().chain([torrent]) {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(TorrentError::Io(e)),
            }
        }
        for dir in [
            self.seed_dir(info_hash_hex),
            self.inner.config.data_dir.join("fetch").join(info_hash_hex),
        ] {
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => found = true,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(TorrentError::Io(e)),
            }
        }
        Ok(found)
    }

    /// Info hashes we seed.
    pub fn seeding(&self) -> Vec<String> {
        self.seeded().keys().cloned().collect()
    }

    /// Stop the session.
    pub async fn shutdown(&self) {
        self.inner.session.stop().await;
    }
}

/// What we keep next to each `.torrent` to re-seed it after a restart.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct StoredMeta {
    name: String,
    trackers: Vec<String>,
    web_seeds: Vec<String>,
    /// File size and piece hashes as we computed them at seeding, so a restart needs not
    /// hash the file again (absent in records written before they were kept).
    #[serde(default)]
    length: Option<u64>,
    #[serde(default)]
    pieces: Option<String>,
}

impl StoredMeta {
    /// The metainfo of `file`: from the stored piece hashes when the file still has its
    /// length, else by hashing it.
    fn metainfo(&self, file: &Path) -> std::result::Result<Metainfo, TorrentError> {
        let on_disk = std::fs::metadata(file).map_err(TorrentError::Io)?.len();
        match (self.length, &self.pieces) {
            (Some(length), Some(pieces)) if length == on_disk => {
                // librqbit's own fast-resume sample ignores a piece whose hash differs (9.1
                // counts only read errors), so the sample that guards the restart is ours.
                let meta = Metainfo::from_piece_hashes(&self.name, length, pieces)?;
                meta.check_sample(file)?;
                Ok(meta)
            }
            (Some(_), Some(_)) => Err(TorrentError::Integrity(format!(
                "{} changed size on disk",
                file.display()
            ))),
            _ => Metainfo::from_file(file, &self.name),
        }
    }
}

/// Start librqbit's session store empty: we re-add what we seed ourselves (a torrent fetched
/// by a run that crashed must not resume). Only the piece bitfields of torrents we still
/// seed are kept; they are what makes the restart fast.
fn forget_session(
    session_dir: &Path,
    torrents_dir: &Path,
) -> std::result::Result<(), TorrentError> {
    std::fs::create_dir_all(session_dir).map_err(TorrentError::Io)?;
    for entry in std::fs::read_dir(session_dir)
        .map_err(TorrentError::Io)?
        .flatten()
    {
        let path = entry.path();
        let is_ours_bitfield = path.extension().is_some_and(|e| e == "bitv")
            && path
                .file_stem()
                .and_then(|s| s.to_str())
                .is_some_and(|hex| torrents_dir.join(format!("{hex}.torrent")).exists());
        if !is_ours_bitfield {
            let _ = std::fs::remove_file(&path);
        }
    }
    Ok(())
}

/// Stream `range` of `reader`; with `idle`, a read that gets no byte for that long ends the
/// stream with a timeout error (a seeder that vanished mid-transfer).
fn stream_reader<R>(reader: R, range: std::ops::Range<u64>, idle: Option<Duration>) -> ByteStream
where
    R: AsyncRead + tokio::io::AsyncSeek + Unpin + Send + 'static,
{
    range_stream(reader, range, READ_PIECE, idle, |failure| {
        let e = match failure {
            RangeReadFailure::Seek(e) => TorrentError::Io(e),
            RangeReadFailure::Read(e) => TorrentError::Unavailable(format!("torrent stream: {e}")),
            RangeReadFailure::Idle(limit) => {
                TorrentError::Timeout(format!("no data for {limit:?}"))
            }
            _ => TorrentError::Unavailable("the torrent stream ended early".into()),
        };
        e.into_media(Operation::Get)
    })
}

/// The BitTorrent [`Backend`]: `put` seeds the staged file (torrent built by us, data hard
/// linked, verified by the session) and returns its magnet; `get` reads seeded files from
/// disk and downloads others by magnet, streaming the range; `delete` stops seeding and
/// removes the data. Empty files cannot be torrents and are refused.
#[derive(Clone)]
pub struct TorrentBackend {
    name: String,
    node: TorrentNode,
    metadata_store: Option<Arc<dyn Backend>>,
}

impl std::fmt::Debug for TorrentBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TorrentBackend")
            .field("name", &self.name)
            .field("node", &self.node)
            .field(
                "metadata_store",
                &self.metadata_store.as_ref().map(|s| s.name().to_owned()),
            )
            .finish()
    }
}

impl TorrentBackend {
    /// The node under this backend.
    pub fn node(&self) -> &TorrentNode {
        &self.node
    }

    /// Publish each seeded torrent's `.torrent` file on `store` (usually the CDN backend) and
    /// add its URL to the magnet as `xs=`. A client that reaches no peer (a browser's
    /// WebTorrent, which speaks no TCP) then gets the metadata over HTTP and the bytes from the
    /// `ws=` web seed. Deleting the torrent deletes the published file too. A failed publish
    /// is logged and leaves the magnet without `xs=`; it never fails the upload.
    #[must_use]
    pub fn with_metadata_store(mut self, store: Arc<dyn Backend>) -> Self {
        self.metadata_store = Some(store);
        self
    }

    /// Puts the `.torrent` of `hex` on the metadata store; returns its URL.
    async fn publish_torrent_file(&self, hex: &str, name: &str) -> Option<String> {
        let store = self.metadata_store.as_ref()?;
        let path = self.node.torrent_path(hex);
        let published = async {
            let bytes = tokio::fs::read(&path)
                .await
                .map_err(|e| MediaError::io(Operation::Put, "reading the .torrent file", e))?;
            let blob = StagedBlob::new(
                &path,
                format!("{name}.torrent"),
                "application/x-bittorrent",
                Arc::new(Digests::of_bytes(&bytes)),
            );
            let location = store.put(&blob, Progress::none()).await?;
            let url = if location.uri.starts_with("http://") || location.uri.starts_with("https://")
            {
                &location.uri
            } else {
                return Err(MediaError::invalid_input(
                    Operation::Put,
                    format!("{} gives no HTTP URL for the .torrent file", store.name()),
                ));
            };
            let record = serde_json::to_vec(&location)
                .map_err(|e| MediaError::invalid_input(Operation::Put, e.to_string()))?;
            let published = path.with_extension("published");
            tokio::task::spawn_blocking(move || media_core::write_durable(&published, &record))
                .await
                .map_err(|e| MediaError::internal(Operation::Put, e.to_string()))?
                .map_err(|e| MediaError::io(Operation::Put, "recording the .torrent's place", e))?;
            Ok(url.clone())
        };
        match published.await {
            Ok(url) => Some(url),
            Err(e) => {
                warn!(%hex, error = %e, "could not publish the .torrent file; magnet without xs=");
                None
            }
        }
    }

    /// Deletes the published `.torrent` of `hex`, if there is one.
    async fn unpublish_torrent_file(&self, hex: &str) {
        let Some(store) = &self.metadata_store else {
            return;
        };
        let record = self.node.torrent_path(hex).with_extension("published");
        let Ok(text) = tokio::fs::read(&record).await else {
            return;
        };
        match serde_json::from_slice::<Location>(&text) {
            Ok(location) => match store.delete(&location).await {
                Ok(()) => {}
                Err(e) if e.kind == media_core::ErrorKind::NotFound => {}
                Err(e) => warn!(%hex, error = %e, "could not delete the published .torrent"),
            },
            Err(e) => warn!(%hex, error = %e, "unreadable record of the published .torrent"),
        }
    }

    fn err(&self, op: Operation, e: TorrentError) -> MediaError {
        e.into_media(op).with_backend(&self.name)
    }

    fn magnet<'a>(&self, location: &'a Location, op: Operation) -> Result<&'a str> {
        location.magnet().ok_or_else(|| {
            MediaError::invalid_input(op, format!("{location} is not a torrent location"))
                .with_backend(&self.name)
        })
    }
}

#[async_trait]
impl Backend for TorrentBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> BackendKind {
        BackendKind::TORRENT
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::full()
            .with_empty_blobs(false)
            .with_peer_to_peer(true)
    }

    async fn put(&self, blob: &StagedBlob, progress: Progress) -> Result<Location> {
        if blob.size() == 0 {
            return Err(MediaError::new(
                media_core::ErrorKind::Unsupported,
                Operation::Put,
                "BitTorrent cannot carry an empty file",
            )
            .with_backend(&self.name));
        }
        let meta = self
            .node
            .seed_file_with_progress(&blob.path, &blob.name, Some(blob.id()), progress.clone())
            .await
            .map_err(|e| self.err(Operation::Put, e))?;
        let hex = meta.info_hash_hex();
        let mut magnet = self.node.magnet(&meta);
        if let Some(url) = self.publish_torrent_file(&hex, &meta.name).await {
            magnet = with_exact_source(&magnet, &url);
        }
        progress.report(blob.size());
        Ok(Location::torrent(magnet, hex))
    }

    async fn get(&self, location: &Location, range: ByteRange) -> Result<ByteStream> {
        let magnet = self.magnet(location, Operation::Get)?;
        let name = self.name.clone();
        let stream = self
            .node
            .read(magnet, range)
            .await
            .map_err(|e| self.err(Operation::Get, e))?;
        Ok(stream
            .map(move |r| r.map_err(|e| e.or_backend(&name)))
            .boxed())
    }

    async fn delete(&self, location: &Location) -> Result<()> {
        let magnet = self.magnet(location, Operation::Delete)?;
        let link = MagnetLink::parse(magnet).map_err(|e| self.err(Operation::Delete, e))?;
        let hex = link.info_hash_hex();
        self.unpublish_torrent_file(&hex).await;
        if self
            .node
            .remove(&hex)
            .await
            .map_err(|e| self.err(Operation::Delete, e))?
        {
            Ok(())
        } else {
            Err(
                MediaError::not_found(Operation::Delete, format!("torrent {hex} is not here"))
                    .with_backend(&self.name),
            )
        }
    }

    /// The peer listener accepts a connection.
    async fn health(&self) -> Result<()> {
        let addr = self.node.peer_addr();
        let probe = tokio::net::TcpStream::connect(addr);
        match tokio::time::timeout(std::time::Duration::from_secs(5), probe).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(MediaError::io(
                Operation::Health,
                format!("the BitTorrent listener {addr} refuses connections"),
                e,
            )
            .with_backend(&self.name)),
            Err(_) => Err(MediaError::timeout(
                Operation::Health,
                format!("the BitTorrent listener {addr} did not answer in 5 s"),
            )
            .with_backend(&self.name)),
        }
    }
}

#[async_trait]
impl media_core::Service for TorrentNode {
    fn endpoints(&self) -> Vec<(String, String)> {
        vec![(
            "bittorrent".to_owned(),
            format!("tcp://{}", self.peer_addr()),
        )]
    }

    async fn shutdown(&self) {
        TorrentNode::shutdown(self).await;
    }

    fn held(&self) -> Vec<Location> {
        self.seeding()
            .into_iter()
            .map(|hex| Location::torrent(format!("magnet:?xt=urn:btih:{hex}"), hex))
            .collect()
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use media_core::Reach;

    #[tokio::test]
    async fn magnet_trackers_are_checked_by_what_their_names_resolve_to() {
        let public = Reach::public_only();
        // A name that does not resolve is not handed to librqbit to resolve later.
        assert!(tracker_refused(&public, "http://tracker.invalid:6969/announce").await);
        assert!(tracker_refused(&public, "udp://tracker.invalid:6969").await);
        // Loopback, by address or by local name: refused unless private ranges are allowed.
        assert!(tracker_refused(&public, "http://127.0.0.1:6969/announce").await);
        assert!(tracker_refused(&public, "udp://localhost:6969").await);
        assert!(
            !tracker_refused(&public.clone().allow_private(true), "udp://localhost:6969").await
        );
        // A public address is not resolved; a name the configuration allows is trusted as is.
        assert!(!tracker_refused(&public, "udp://93.184.216.34:6969").await);
        let named = Reach::public_only().allow_host("tracker.invalid");
        assert!(!tracker_refused(&named, "http://tracker.invalid:6969/announce").await);
        // Not a tracker URL at all.
        assert!(tracker_refused(&public, "ftp://93.184.216.34/").await);
        assert!(tracker_refused(&public, "http://user@93.184.216.34/").await);
    }
}
