//! Test doubles for exercising the facade's policies: an in-memory backend, a local-folder
//! backend and a fault-injecting wrapper. They are not a replacement for a real store's own
//! tests; every adapter runs [`crate::conformance`] against its real store.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;

use crate::backend::{Backend, ByteStream, Capabilities, Progress, StagedBlob};
use crate::error::{ErrorKind, MediaError, Operation, Result};
use crate::id::MediaId;
use crate::location::{BackendKind, Location};
use crate::range::ByteRange;

/// Size of the pieces test backends stream in (not chunk aligned on purpose).
const PIECE: usize = 200_000;

/// The location a test backend named `name` of `kind` gives the blob `id`.
pub fn test_location(kind: BackendKind, name: &str, id: &MediaId) -> Location {
    let hex = id.to_string();
    if kind == BackendKind::CDN {
        Location::cdn(format!("memory://{name}/{hex}"), hex)
    } else if kind == BackendKind::IPFS {
        Location::ipfs(format!("memory-{name}-{hex}"))
    } else if kind == BackendKind::TORRENT {
        Location::torrent(
            format!("magnet:?xt=urn:btih:{}&dn={name}", &hex[..40]),
            &hex[..40],
        )
    } else {
        Location::new(kind, format!("memory://{name}/{hex}"))
    }
}

fn lock<'a, T>(m: &'a Mutex<T>, op: Operation) -> Result<MutexGuard<'a, T>> {
    m.lock()
        .map_err(|_| MediaError::internal(op, "test backend lock poisoned"))
}

fn check_kind(name: &str, kind: &BackendKind, location: &Location, op: Operation) -> Result<()> {
    if location.kind() != kind {
        return Err(MediaError::invalid_input(
            op,
            format!(
                "a {kind} backend cannot read a {} location",
                location.kind()
            ),
        )
        .with_backend(name));
    }
    Ok(())
}

/// A backend that keeps blobs in memory. Holds whole blobs: use [`DirBackend`] for large ones.
#[derive(Debug)]
pub struct MemoryBackend {
    name: String,
    kind: BackendKind,
    capabilities: Capabilities,
    blobs: Mutex<HashMap<String, Bytes>>,
}

impl MemoryBackend {
    /// An empty in-memory store named `name` that acts as a store of `kind`.
    pub fn new(name: impl Into<String>, kind: BackendKind) -> Self {
        MemoryBackend {
            name: name.into(),
            capabilities: Capabilities::full()
                .with_peer_to_peer(kind == BackendKind::IPFS || kind == BackendKind::TORRENT),
            kind,
            blobs: Mutex::new(HashMap::new()),
        }
    }

    /// Declare other capabilities (e.g. no range reads).
    #[must_use]
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Number of blobs held.
    pub fn len(&self) -> usize {
        self.blobs.lock().map(|b| b.len()).unwrap_or(0)
    }

    /// Whether no blob is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Overwrite the stored bytes at `location` (to simulate corruption at rest).
    pub fn replace(&self, location: &Location, bytes: Bytes) -> Result<()> {
        lock(&self.blobs, Operation::Put)?.insert(location.address().to_owned(), bytes);
        Ok(())
    }
}

#[async_trait]
impl Backend for MemoryBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> BackendKind {
        self.kind.clone()
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    async fn put(&self, blob: &StagedBlob, progress: Progress) -> Result<Location> {
        let bytes = std::fs::read(&blob.path)
            .map_err(|e| MediaError::io(Operation::Put, "reading staged blob", e))?;
        progress.report(bytes.len() as u64);
        let location = test_location(self.kind.clone(), &self.name, &blob.id());
        lock(&self.blobs, Operation::Put)?.insert(location.address().to_owned(), bytes.into());
        Ok(location)
    }

    async fn get(&self, location: &Location, range: ByteRange) -> Result<ByteStream> {
        check_kind(&self.name, &self.kind, location, Operation::Get)?;
        let bytes = lock(&self.blobs, Operation::Get)?
            .get(location.address())
            .cloned()
            .ok_or_else(|| {
                MediaError::not_found(Operation::Get, format!("no blob at {location}"))
                    .with_backend(&self.name)
            })?;
        let range = if self.capabilities.range_reads {
            range
        } else {
            ByteRange::full()
        };
        let r = range
            .resolve(bytes.len() as u64)
            .map_err(|e| e.with_backend(&self.name))?;
        let slice = bytes.slice(r.start as usize..r.end as usize);
        let pieces: Vec<Result<Bytes>> = (0..slice.len())
            .step_by(PIECE)
            .map(|at| Ok(slice.slice(at..(at + PIECE).min(slice.len()))))
            .collect();
        Ok(futures::stream::iter(pieces).boxed())
    }

    async fn delete(&self, location: &Location) -> Result<()> {
        if !self.capabilities.delete {
            return Err(MediaError::new(
                ErrorKind::Unsupported,
                Operation::Delete,
                "delete not supported",
            )
            .with_backend(&self.name));
        }
        lock(&self.blobs, Operation::Delete)?.remove(location.address());
        Ok(())
    }

    async fn health(&self) -> Result<()> {
        Ok(())
    }
}

/// A backend that keeps blobs as files in a folder and streams them by offset, so memory stays
/// flat whatever the blob size.
#[derive(Debug)]
pub struct DirBackend {
    name: String,
    kind: BackendKind,
    dir: PathBuf,
}

impl DirBackend {
    /// A store in `dir` (created if missing) acting as a store of `kind`.
    pub fn new(name: impl Into<String>, kind: BackendKind, dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir)
            .map_err(|e| MediaError::io(Operation::Configure, "creating store folder", e))?;
        Ok(DirBackend {
            name: name.into(),
            kind,
            dir,
        })
    }

    fn file_for(&self, location: &Location) -> PathBuf {
        // Addresses are derived from hex ids; hashing again keeps odd characters out of paths.
        let key = crate::id::Digest32::sha256(location.address().as_bytes());
        self.dir.join(key.to_hex())
    }
}

#[async_trait]
impl Backend for DirBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> BackendKind {
        self.kind.clone()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::full()
            .with_peer_to_peer(self.kind == BackendKind::IPFS || self.kind == BackendKind::TORRENT)
    }

    async fn put(&self, blob: &StagedBlob, progress: Progress) -> Result<Location> {
        let location = test_location(self.kind.clone(), &self.name, &blob.id());
        let target = self.file_for(&location);
        if !target.exists() {
            let tmp = target.with_extension(format!("tmp{}", std::process::id()));
            std::fs::copy(&blob.path, &tmp)
                .and_then(|_| std::fs::rename(&tmp, &target))
                .map_err(|e| {
                    MediaError::io(Operation::Put, "copying blob", e).with_backend(&self.name)
                })?;
        }
        progress.report(blob.size());
        Ok(location)
    }

    async fn get(&self, location: &Location, range: ByteRange) -> Result<ByteStream> {
        check_kind(&self.name, &self.kind, location, Operation::Get)?;
        let path = self.file_for(location);
        let name = self.name.clone();
        let io_err = move |e| MediaError::io(Operation::Get, "reading blob", e).with_backend(&name);
        let mut file = std::fs::File::open(&path).map_err(&io_err)?;
        let size = file.metadata().map_err(&io_err)?.len();
        let r = range
            .resolve(size)
            .map_err(|e| e.with_backend(&self.name))?;
        file.seek(SeekFrom::Start(r.start)).map_err(&io_err)?;
        let remaining = r.end - r.start;
        let stream = futures::stream::unfold(
            (file, remaining, io_err),
            |(mut file, remaining, io_err)| async move {
                if remaining == 0 {
                    return None;
                }
                let n = (PIECE as u64).min(remaining) as usize;
                let mut buf = vec![0u8; n];
                match file.read_exact(&mut buf) {
                    Ok(()) => Some((Ok(Bytes::from(buf)), (file, remaining - n as u64, io_err))),
                    Err(e) => Some((Err(io_err(e)), (file, 0, io_err))),
                }
            },
        );
        Ok(stream.boxed())
    }

    async fn delete(&self, location: &Location) -> Result<()> {
        match std::fs::remove_file(self.file_for(location)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => {
                Err(MediaError::io(Operation::Delete, "removing blob", e).with_backend(&self.name))
            }
        }
    }

    async fn health(&self) -> Result<()> {
        std::fs::metadata(&self.dir).map(|_| ()).map_err(|e| {
            MediaError::io(Operation::Health, "store folder", e).with_backend(&self.name)
        })
    }
}

/// Faults a [`FaultyBackend`] injects. All off by default.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Faults {
    /// `put` fails with this kind.
    pub fail_put: Option<ErrorKind>,
    /// `get` fails with this kind before any byte.
    pub fail_get: Option<ErrorKind>,
    /// Wait this long before `put` does anything.
    pub put_delay: Option<Duration>,
    /// Wait this long before the first byte of a `get`.
    pub first_byte_delay: Option<Duration>,
    /// Wait this long before every later piece of a `get` (a slow store).
    pub piece_delay: Option<Duration>,
    /// The `get` stream never yields anything (a hung store).
    pub stall: bool,
    /// Flip a bit of the byte at this absolute offset.
    pub corrupt_at: Option<u64>,
    /// The stream fails (as `Unavailable`) once it reaches this absolute offset.
    pub die_at: Option<u64>,
    /// The stream ends cleanly, early, at this absolute offset (truncated data).
    pub truncate_at: Option<u64>,
}

/// Counters of a [`FaultyBackend`].
#[derive(Debug, Default)]
pub struct CallCounts {
    /// `put` calls.
    pub puts: AtomicU64,
    /// `get` calls.
    pub gets: AtomicU64,
    /// `delete` calls.
    pub deletes: AtomicU64,
}

/// Wraps a backend and injects [`Faults`], counting calls and recording requested ranges.
#[derive(Debug)]
pub struct FaultyBackend {
    inner: Arc<dyn Backend>,
    faults: Mutex<Faults>,
    counts: CallCounts,
    ranges: Mutex<Vec<ByteRange>>,
}

impl FaultyBackend {
    /// Wrap `inner` with no faults.
    pub fn new(inner: Arc<dyn Backend>) -> Self {
        FaultyBackend {
            inner,
            faults: Mutex::new(Faults::default()),
            counts: CallCounts::default(),
            ranges: Mutex::new(Vec::new()),
        }
    }

    /// Wrap an in-memory backend.
    pub fn memory(name: &str, kind: BackendKind) -> Self {
        Self::new(Arc::new(MemoryBackend::new(name, kind)))
    }

    /// Change the faults (applies to calls that start afterwards).
    pub fn set_faults(&self, f: impl FnOnce(&mut Faults)) {
        if let Ok(mut faults) = self.faults.lock() {
            f(&mut faults);
        }
    }

    /// Remove every fault.
    pub fn heal(&self) {
        self.set_faults(|f| *f = Faults::default());
    }

    /// Call counters.
    pub fn counts(&self) -> &CallCounts {
        &self.counts
    }

    /// Number of `put` calls so far.
    pub fn puts(&self) -> u64 {
        self.counts.puts.load(Ordering::SeqCst)
    }

    /// Number of `get` calls so far.
    pub fn gets(&self) -> u64 {
        self.counts.gets.load(Ordering::SeqCst)
    }

    /// Every range asked of `get`, in order.
    pub fn requested_ranges(&self) -> Vec<ByteRange> {
        self.ranges.lock().map(|r| r.clone()).unwrap_or_default()
    }

    fn faults(&self) -> Faults {
        self.faults.lock().map(|f| f.clone()).unwrap_or_default()
    }

    fn injected(&self, kind: ErrorKind, op: Operation) -> MediaError {
        MediaError::new(kind, op, "injected fault").with_backend(self.inner.name())
    }
}

struct FaultState {
    inner: ByteStream,
    pos: u64,
    first: bool,
    failed: bool,
    faults: Faults,
    name: String,
}

#[async_trait]
impl Backend for FaultyBackend {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn kind(&self) -> BackendKind {
        self.inner.kind()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn refuse(&self, id: &MediaId) {
        self.inner.refuse(id);
    }

    async fn put(&self, blob: &StagedBlob, progress: Progress) -> Result<Location> {
        self.counts.puts.fetch_add(1, Ordering::SeqCst);
        let faults = self.faults();
        if let Some(d) = faults.put_delay {
            tokio::time::sleep(d).await;
        }
        if let Some(kind) = faults.fail_put {
            return Err(self.injected(kind, Operation::Put));
        }
        self.inner.put(blob, progress).await
    }

    async fn get(&self, location: &Location, range: ByteRange) -> Result<ByteStream> {
        self.counts.gets.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut ranges) = self.ranges.lock() {
            ranges.push(range);
        }
        let faults = self.faults();
        if let Some(kind) = faults.fail_get {
            return Err(self.injected(kind, Operation::Get));
        }
        let inner = self.inner.get(location, range).await?;
        let start = if self.inner.capabilities().range_reads {
            range.start
        } else {
            0
        };
        let state = FaultState {
            inner,
            pos: start,
            first: true,
            failed: false,
            faults,
            name: self.inner.name().to_owned(),
        };
        let stream = futures::stream::unfold(state, |mut st| async move {
            if st.failed {
                return None;
            }
            if st.faults.stall {
                futures::future::pending::<()>().await;
            }
            let delay = if st.first {
                st.faults.first_byte_delay
            } else {
                st.faults.piece_delay
            };
            st.first = false;
            if let Some(d) = delay {
                tokio::time::sleep(d).await;
            }
            let died = |st: &FaultState| {
                MediaError::unavailable(
                    Operation::Get,
                    format!("injected death at byte {}", st.pos),
                )
                .with_backend(&st.name)
            };
            if st.faults.die_at.is_some_and(|at| st.pos >= at) {
                st.failed = true;
                let e = died(&st);
                return Some((Err(e), st));
            }
            if st.faults.truncate_at.is_some_and(|at| st.pos >= at) {
                return None;
            }
            let mut piece = match st.inner.next().await? {
                Ok(b) => b,
                Err(e) => {
                    st.failed = true;
                    return Some((Err(e), st));
                }
            };
            let end = st.pos + piece.len() as u64;
            for cut in [st.faults.die_at, st.faults.truncate_at]
                .into_iter()
                .flatten()
            {
                if cut > st.pos && cut < end {
                    piece = piece.slice(..(cut - st.pos) as usize);
                }
            }
            if let Some(at) = st.faults.corrupt_at {
                if at >= st.pos && at < st.pos + piece.len() as u64 {
                    let mut owned = piece.to_vec();
                    owned[(at - st.pos) as usize] ^= 0x01;
                    piece = Bytes::from(owned);
                }
            }
            st.pos += piece.len() as u64;
            Some((Ok(piece), st))
        });
        Ok(stream.boxed())
    }

    async fn delete(&self, location: &Location) -> Result<()> {
        self.counts.deletes.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(location).await
    }

    async fn health(&self) -> Result<()> {
        let faults = self.faults();
        if faults.fail_get.is_some() || faults.stall {
            return Err(self.injected(ErrorKind::Unavailable, Operation::Health));
        }
        self.inner.health().await
    }
}

/// Whether the command-line tool `tool` runs (`tool VERSION_ARG` succeeds). Without it a
/// test fails with `hint`, unless `MEDIA_SKIP_INTEROP` is set: skipping is a decision someone
/// makes, never a silent default.
pub fn require_tool(tool: &str, version_arg: &str, hint: &str) -> bool {
    let found = std::process::Command::new(tool)
        .arg(version_arg)
        .output()
        .is_ok_and(|o| o.status.success());
    match found {
        true => true,
        false if std::env::var_os("MEDIA_SKIP_INTEROP").is_some() => false,
        false => {
            panic!("{tool} is required: {hint}, or set MEDIA_SKIP_INTEROP=1 to skip on purpose")
        }
    }
}

/// Whether `ffmpeg` is here (see [`require_tool`]).
pub fn have_ffmpeg() -> bool {
    require_tool(
        "ffmpeg",
        "-version",
        "run the tests with `cargo xtask test` (it installs Debian's ffmpeg) or install it",
    )
}

/// `ffmpeg -v error -nostdin -y ARGS`: what it wrote to stdout. Panics with its stderr when
/// it fails.
pub fn ffmpeg(args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-y"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running ffmpeg: {e}"));
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `heif-enc -q QUALITY [--avif] -o OUT IN`: the picture at `input` (PNG or JPEG) encoded as
/// HEIC (or AVIF) by Debian's libheif. Panics with a hint when it is missing or fails.
pub fn heif_enc(input: &std::path::Path, out: &std::path::Path, quality: u8, avif: bool) {
    let mut cmd = std::process::Command::new("heif-enc");
    if avif {
        cmd.arg("--avif");
    }
    let made = cmd
        .args(["-q", &quality.to_string(), "-o"])
        .arg(out)
        .arg(input)
        .output()
        .unwrap_or_else(|e| panic!("heif-enc is required: run the tests with `cargo xtask test` (it installs Debian's libheif-examples): {e}"));
    assert!(
        made.status.success(),
        "heif-enc: {}",
        String::from_utf8_lossy(&made.stderr)
    );
}

/// `exiftool ARGS FILE`, checked. Panics with a hint when it is missing or fails.
pub fn exiftool(args: &[&str], file: &std::path::Path) -> String {
    let out = std::process::Command::new("exiftool")
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("exiftool is required: run the tests with `cargo xtask test` (it installs Debian's libimage-exiftool-perl): {e}"));
    assert!(
        out.status.success(),
        "exiftool {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The folder holding pillow-heif, for `PYTHONPATH` (`MEDIA_PY_HEIF`, set by `cargo xtask
/// test`); `None` only when `MEDIA_SKIP_INTEROP` asks to skip, a panic with the hint otherwise.
pub fn pillow_heif_path() -> Option<std::path::PathBuf> {
    match std::env::var_os("MEDIA_PY_HEIF") {
        Some(p) => Some(std::path::PathBuf::from(p)),
        None if std::env::var_os("MEDIA_SKIP_INTEROP").is_some() => None,
        None => panic!("pillow-heif is required: run the tests with `cargo xtask test` (it installs it from PyPI and sets MEDIA_PY_HEIF), or set MEDIA_SKIP_INTEROP=1 to skip on purpose"),
    }
}

/// The folder holding tuspy (PyPI's tus client) for `PYTHONPATH` (`MEDIA_PY_TUS`, set by
/// `cargo xtask test`); `None` only when `MEDIA_SKIP_INTEROP` is set.
pub fn tuspy_path() -> Option<std::path::PathBuf> {
    match std::env::var_os("MEDIA_PY_TUS") {
        Some(p) => Some(std::path::PathBuf::from(p)),
        None if std::env::var_os("MEDIA_SKIP_INTEROP").is_some() => None,
        None => panic!("tuspy is required: run the tests with `cargo xtask test` (it installs it from PyPI and sets MEDIA_PY_TUS), or set MEDIA_SKIP_INTEROP=1 to skip on purpose"),
    }
}

/// `PYTHONPATH` for a Python with Pillow and Meta's PDQ reference (`pdqhash` from PyPI):
/// pillow-heif's folder and pdqhash's (`MEDIA_PY_HEIF`, `MEDIA_PY_PDQ`, both set by `cargo
/// xtask test`). `None` only when `MEDIA_SKIP_INTEROP` is set; else a panic saying what to
/// install.
pub fn pdqhash_path() -> Option<std::ffi::OsString> {
    let pdq = match std::env::var_os("MEDIA_PY_PDQ") {
        Some(p) => std::path::PathBuf::from(p),
        None if std::env::var_os("MEDIA_SKIP_INTEROP").is_some() => return None,
        None => panic!("pdqhash is required: run the tests with `cargo xtask test` (it installs it from PyPI and sets MEDIA_PY_PDQ), or set MEDIA_SKIP_INTEROP=1 to skip on purpose"),
    };
    let heif = pillow_heif_path()?;
    std::env::join_paths([heif, pdq]).ok()
}

/// What a test that drives headless Chromium needs: the npm folder holding `playwright-core`
/// (`MEDIA_NODE_DIR`), Node.js (`MEDIA_NODE_BIN`), Chromium (`MEDIA_CHROMIUM`, else
/// `chromium` on the `PATH`), and `ffmpeg`.
#[derive(Debug, Clone)]
pub struct BrowserTools {
    /// The npm folder with `node_modules/playwright-core`.
    pub npm_dir: std::path::PathBuf,
    /// The `node` binary.
    pub node: std::path::PathBuf,
    /// The Chromium binary.
    pub chromium: std::path::PathBuf,
}

fn on_path(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// The [`BrowserTools`]; `None` only when `MEDIA_SKIP_INTEROP` is set, else a panic saying
/// what to install.
pub fn browser_tools() -> Option<BrowserTools> {
    let npm_dir = std::env::var_os("MEDIA_NODE_DIR").map(std::path::PathBuf::from);
    let node = std::env::var_os("MEDIA_NODE_BIN").map(std::path::PathBuf::from);
    let chromium = std::env::var_os("MEDIA_CHROMIUM")
        .map(std::path::PathBuf::from)
        .or_else(|| on_path("chromium"));
    match (npm_dir, node, chromium, on_path("ffmpeg")) {
        (Some(npm_dir), Some(node), Some(chromium), Some(_))
            if npm_dir.join("node_modules/playwright-core").is_dir() =>
        {
            Some(BrowserTools {
                npm_dir,
                node,
                chromium,
            })
        }
        // Skipping is a decision someone makes, never a silent default.
        _ if std::env::var_os("MEDIA_SKIP_INTEROP").is_some() => None,
        _ => panic!("Chromium, ffmpeg and playwright-core are required: run the tests with `cargo xtask test` (it installs Debian's chromium and ffmpeg and the npm packages), set MEDIA_NODE_DIR, MEDIA_NODE_BIN and MEDIA_CHROMIUM, or set MEDIA_SKIP_INTEROP=1 to skip the interop tests on purpose"),
    }
}

// MP4 files with GPS in a timed-metadata track, for the strippers' tests and attacks.

/// An ISO-BMFF box of `kind` around `payload`.
pub fn mp4_box(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut b = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
    b.extend_from_slice(kind);
    b.extend_from_slice(payload);
    b
}

/// A full box (version 0, no flags) of `kind` around `payload`.
pub fn mp4_full_box(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    mp4_box(kind, &[&[0u8, 0, 0, 0][..], payload].concat())
}

fn be32s(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_be_bytes()).collect()
}

/// One GoPro GPMF sample: a `DEVC` with a `GPS5` entry (latitude, longitude, altitude, speeds).
pub fn gpmf_sample(i: u32) -> Vec<u8> {
    let gps5: Vec<u8> = be32s(&[488_584_000 + i, 22_945_000 + i, 35_000, 100, 100]);
    let mut klv = b"GPS5".to_vec();
    klv.extend_from_slice(&[b'l', 20, 0, 1]);
    klv.extend_from_slice(&gps5);
    let mut devc = b"DEVC".to_vec();
    devc.extend_from_slice(&[0, 1, 0, klv.len() as u8]);
    devc.extend_from_slice(&klv);
    devc
}

/// An MP4 with one GoPro `gpmd` timed-metadata track (handler `meta`) of `count` GPS
/// samples ([`gpmf_sample`]) and nothing else: what a camera writes beside its video, and
/// what `ffmpeg -tag:d gpmd` muxes into another file.
pub fn gopro_mp4(count: u32) -> Vec<u8> {
    let samples: Vec<Vec<u8>> = (0..count).map(gpmf_sample).collect();
    let ftyp = mp4_box(b"ftyp", b"isom\0\0\x02\0isomiso2mp41");
    let first = (ftyp.len() + 8) as u32;
    let mdat = mp4_box(b"mdat", &samples.concat());
    let mut mvhd = be32s(&[0, 0, 1000, 1000 * count, 0x10000]);
    mvhd.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    mvhd.extend(be32s(&[0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x4000_0000]));
    mvhd.extend([0u8; 24]);
    mvhd.extend(be32s(&[2]));
    let mut tkhd_flags = vec![0u8, 0, 0, 3];
    tkhd_flags.extend(be32s(&[0, 0, 1, 0, 1000 * count, 0, 0, 0, 0]));
    tkhd_flags.extend(be32s(&[
        0x10000,
        0,
        0,
        0,
        0x10000,
        0,
        0,
        0,
        0x4000_0000,
        0,
        0,
    ]));
    let tkhd = mp4_box(b"tkhd", &tkhd_flags);
    let mdhd = mp4_full_box(
        b"mdhd",
        &[be32s(&[0, 0, 1000, 1000 * count]), vec![0x55, 0xc4, 0, 0]].concat(),
    );
    let hdlr = mp4_full_box(
        b"hdlr",
        &[&[0u8; 4][..], b"meta", &[0; 12], b"GoPro MET\0"].concat(),
    );
    let entry = mp4_box(b"gpmd", &[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
    let stsd = mp4_full_box(b"stsd", &[be32s(&[1]), entry].concat());
    let stts = mp4_full_box(b"stts", &be32s(&[1, count, 1000]));
    let stsc = mp4_full_box(b"stsc", &be32s(&[1, 1, 1, 1]));
    let sizes: Vec<u32> = samples.iter().map(|s| s.len() as u32).collect();
    let stsz = mp4_full_box(b"stsz", &[be32s(&[0, count]), be32s(&sizes)].concat());
    let mut offsets = vec![count];
    let mut at = first;
    for size in &sizes {
        offsets.push(at);
        at += size;
    }
    let stco = mp4_full_box(b"stco", &be32s(&offsets));
    let stbl = mp4_box(b"stbl", &[stsd, stts, stsc, stsz, stco].concat());
    let dinf = mp4_box(
        b"dinf",
        &mp4_full_box(b"dref", &[be32s(&[1]), mp4_full_box(b"url ", &[])].concat()),
    );
    let minf = mp4_box(b"minf", &[mp4_full_box(b"nmhd", &[]), dinf, stbl].concat());
    let trak = mp4_box(
        b"trak",
        &[tkhd, mp4_box(b"mdia", &[mdhd, hdlr, minf].concat())].concat(),
    );
    let moov = mp4_box(b"moov", &[mp4_full_box(b"mvhd", &mvhd), trak].concat());
    [ftyp, mdat, moov].concat()
}

// The security review's bombs (finding 8): small files that once took the node's memory.

/// A `side`² grey PNG (16 bits a sample when `sixteen_bit`), white in the top-left quarter and
/// black elsewhere, a few hundred KB that decode to `side`² pixels (the review's 14 000² and
/// 14 100² files).
pub fn png_bomb(side: u32, sixteen_bit: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let depth = if sixteen_bit {
        png::BitDepth::Sixteen
    } else {
        png::BitDepth::Eight
    };
    let bytes_per_px = if sixteen_bit { 2 } else { 1 };
    let result = (|| -> Result<(), png::EncodingError> {
        let mut encoder = png::Encoder::new(&mut out, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(depth);
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header()?;
        let mut stream = writer.stream_writer()?;
        let half = side as usize / 2 * bytes_per_px;
        let mut row = vec![0u8; side as usize * bytes_per_px];
        for y in 0..side as usize {
            row.fill(0);
            if y < side as usize / 2 {
                row[..half].fill(0xFF);
            }
            std::io::Write::write_all(&mut stream, &row)?;
        }
        stream.finish()
    })();
    result.expect("encoding a PNG into memory");
    out
}

/// `ftyp`, a small `mdat`, then a `moov` of `levels` nested `trak` headers (finding 7's file
/// has 300 000: 2.4 MB).
pub fn nested_boxes_mp4(levels: u32) -> Vec<u8> {
    let mut nested = Vec::with_capacity(levels as usize * 8);
    for n in (1..=levels).rev() {
        nested.extend_from_slice(&(8 * n).to_be_bytes());
        nested.extend_from_slice(b"trak");
    }
    [
        mp4_box(b"ftyp", b"isom\0\0\0\0isom"),
        mp4_box(b"mdat", &[0u8; 64]),
        mp4_box(b"moov", &nested),
    ]
    .concat()
}

/// `ftyp`, then `mib` MiB of empty 8-byte `free` boxes.
pub fn tiny_boxes_mp4(mib: usize) -> Vec<u8> {
    let mut file = mp4_box(b"ftyp", b"isom\0\0\0\0isom");
    file.extend(b"\0\0\0\x08free".repeat((mib << 20) / 8));
    file
}
