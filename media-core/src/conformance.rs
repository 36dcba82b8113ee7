//! The behaviour suite every backend adapter runs against its real store.
//!
//! Each adapter calls [`run_all`] (or single checks) from its own tests with a live backend.
//! The suite tests what the backend declares in [`Capabilities`](crate::Capabilities).
//! Checks panic with a message naming the backend and the check, like assertions.
//!
//! ```no_run
//! # async fn demo(backend: std::sync::Arc<dyn media_core::Backend>) {
//! use media_core::conformance::{run_all, Suite};
//! let missing = media_core::Location::ipfs("bafkqaaa");
//! run_all(&Suite::new(backend, missing)).await;
//! # }
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use futures::StreamExt;

use crate::backend::{Backend, Progress, StagedBlob};
use crate::digest::{Digests, CHUNK_SIZE};
use crate::error::ErrorKind;
use crate::location::Location;
use crate::range::ByteRange;

/// A field of a JSON line that an interop script (Helia, WebTorrent, libtorrent) printed, as
/// text (strings unquoted). Panics with the line when it is not JSON or lacks the field.
pub fn json_field(line: &str, name: &str) -> String {
    let value: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    match &value[name] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => panic!("no {name} in {line}"),
        other => other.to_string(),
    }
}

/// Deterministic test bytes (the workspace's one generator, [`crate::sample_bytes`]).
pub use crate::sample::sample_bytes as test_bytes;

/// What the suite needs: the backend, a location of its kind that holds nothing, and a folder
/// for staged files.
#[derive(Debug)]
pub struct Suite {
    backend: Arc<dyn Backend>,
    missing: Location,
    dir: tempfile::TempDir,
    salt: u8,
}

impl Suite {
    /// A suite for `backend`; `missing` must be a well-formed location of the backend's kind
    /// that holds no blob.
    pub fn new(backend: Arc<dyn Backend>, missing: Location) -> Self {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("conformance: cannot create a temporary folder: {e}"),
        };
        Suite {
            backend,
            missing,
            dir,
            salt: 0,
        }
    }

    /// Use different bytes than another suite run against the same store.
    #[must_use]
    pub fn with_salt(mut self, salt: u8) -> Self {
        self.salt = salt;
        self
    }

    fn name(&self) -> &str {
        self.backend.name()
    }

    /// Deterministic, non-repeating test bytes of `len` (chunks differ from each other).
    pub fn bytes(&self, len: usize, seed: u8) -> Vec<u8> {
        test_bytes(len as u64, (u64::from(seed) << 8) ^ u64::from(self.salt))
    }

    /// Write `data` as a staged blob.
    pub fn stage(&self, data: &[u8], name: &str) -> StagedBlob {
        let digests = Digests::of_bytes(data);
        let path: PathBuf = self.dir.path().join(digests.id().to_string());
        if let Err(e) = std::fs::write(&path, data) {
            panic!("conformance: cannot write staged blob: {e}");
        }
        StagedBlob::new(path, name, "application/octet-stream", Arc::new(digests))
    }

    async fn read(&self, location: &Location, range: ByteRange) -> Vec<u8> {
        let mut stream = match self.backend.get(location, range).await {
            Ok(s) => s,
            Err(e) => panic!("[{}] get {location} {range}: {e}", self.name()),
        };
        let mut out = Vec::new();
        while let Some(piece) = stream.next().await {
            match piece {
                Ok(b) => out.extend_from_slice(&b),
                Err(e) => panic!("[{}] stream of {location} {range}: {e}", self.name()),
            }
        }
        out
    }

    async fn put(&self, blob: &StagedBlob) -> Location {
        match self.backend.put(blob, Progress::none()).await {
            Ok(l) => l,
            Err(e) => panic!("[{}] put of {} bytes: {e}", self.name(), blob.size()),
        }
    }
}

/// Every check, in order.
pub async fn run_all(suite: &Suite) {
    health(suite).await;
    roundtrip_sizes(suite).await;
    empty_blob(suite).await;
    ranged_reads(suite).await;
    unknown_location_is_not_found(suite).await;
    put_is_idempotent(suite).await;
    concurrent_puts_of_one_blob(suite).await;
    delete(suite).await;
}

/// The store answers its health check.
pub async fn health(suite: &Suite) {
    if let Err(e) = suite.backend.health().await {
        panic!("[{}] health: {e}", suite.name());
    }
}

/// Whole reads return exactly the stored bytes for sizes around chunk boundaries.
pub async fn roundtrip_sizes(suite: &Suite) {
    let c = CHUNK_SIZE as usize;
    for (i, size) in [1, 1000, c - 1, c, c + 1, 2 * c + 3]
        .into_iter()
        .enumerate()
    {
        let data = suite.bytes(size, i as u8 + 1);
        let blob = suite.stage(&data, "roundtrip.bin");
        let location = suite.put(&blob).await;
        assert_eq!(
            *location.kind(),
            suite.backend.kind(),
            "[{}] put returned a location of another kind",
            suite.name()
        );
        let back = suite.read(&location, ByteRange::full()).await;
        assert_eq!(
            back.len(),
            size,
            "[{}] size {size}: length differs",
            suite.name()
        );
        assert!(
            Digests::of_bytes(&back).sha256 == blob.digests.sha256,
            "[{}] size {size}: bytes differ",
            suite.name()
        );
    }
}

/// Zero-byte blobs round-trip when declared; otherwise `put` refuses them with a typed error.
pub async fn empty_blob(suite: &Suite) {
    let blob = suite.stage(&[], "empty.bin");
    let result = suite.backend.put(&blob, Progress::none()).await;
    if suite.backend.capabilities().empty_blobs {
        let location = match result {
            Ok(l) => l,
            Err(e) => panic!("[{}] put of an empty blob: {e}", suite.name()),
        };
        let back = suite.read(&location, ByteRange::full()).await;
        assert!(
            back.is_empty(),
            "[{}] empty blob read back {} bytes",
            suite.name(),
            back.len()
        );
    } else {
        match result {
            Err(e) => assert!(
                matches!(e.kind, ErrorKind::InvalidInput | ErrorKind::Unsupported),
                "[{}] empty blob refused with unexpected kind {:?}",
                suite.name(),
                e.kind
            ),
            Ok(_) => panic!("[{}] declares no empty blobs but stored one", suite.name()),
        }
    }
}

/// Ranged reads across chunk boundaries return exactly those bytes (when declared); without
/// range support the full range must still work.
pub async fn ranged_reads(suite: &Suite) {
    let c = CHUNK_SIZE;
    let size = 3 * c + 12_345;
    let data = suite.bytes(size as usize, 77);
    let blob = suite.stage(&data, "ranged.bin");
    let location = suite.put(&blob).await;
    if !suite.backend.capabilities().range_reads {
        let back = suite.read(&location, ByteRange::full()).await;
        assert!(back == data, "[{}] full read differs", suite.name());
        return;
    }
    let ranges = [
        ByteRange::new(0, 1),
        ByteRange::new(c - 5, c + 5),
        ByteRange::new(c, 2 * c),
        ByteRange::new(2 * c - 1, 3 * c + 1),
        ByteRange::new(size - 1, size),
        ByteRange::from(3 * c),
        ByteRange::new(17, 17 + 2 * c),
    ];
    for range in ranges {
        let r = match range.resolve(size) {
            Ok(r) => r,
            Err(e) => panic!("conformance: bad range {range}: {e}"),
        };
        let back = suite.read(&location, range).await;
        assert!(
            back == data[r.start as usize..r.end as usize],
            "[{}] range {range}: {} bytes back, content differs",
            suite.name(),
            back.len()
        );
    }
}

/// A well-formed location that holds nothing gives `NotFound` (from `get` or its stream).
pub async fn unknown_location_is_not_found(suite: &Suite) {
    let kind = match suite.backend.get(&suite.missing, ByteRange::full()).await {
        Err(e) => Some(e),
        Ok(mut stream) => loop {
            match stream.next().await {
                Some(Ok(_)) => continue,
                Some(Err(e)) => break Some(e),
                None => break None,
            }
        },
    };
    match kind {
        Some(e) => {
            assert_eq!(
                e.kind,
                ErrorKind::NotFound,
                "[{}] unknown location gave {e}",
                suite.name()
            );
            assert_eq!(
                e.backend.as_deref(),
                Some(suite.name()),
                "[{}] error does not name the backend",
                suite.name()
            );
        }
        None => panic!(
            "[{}] unknown location {} was served",
            suite.name(),
            suite.missing
        ),
    }
}

/// Putting the same blob twice succeeds and gives the same location.
pub async fn put_is_idempotent(suite: &Suite) {
    let data = suite.bytes(4242, 9);
    let blob = suite.stage(&data, "twice.bin");
    let a = suite.put(&blob).await;
    let b = suite.put(&blob).await;
    assert_eq!(a, b, "[{}] second put gave another location", suite.name());
    assert!(suite.read(&b, ByteRange::full()).await == data);
}

/// Eight concurrent puts of one blob all succeed with one location and intact bytes.
pub async fn concurrent_puts_of_one_blob(suite: &Suite) {
    let data = suite.bytes(CHUNK_SIZE as usize + 99, 11);
    let blob = suite.stage(&data, "concurrent.bin");
    let puts = (0..8).map(|_| suite.backend.put(&blob, Progress::none()));
    let results = futures::future::join_all(puts).await;
    let mut locations = Vec::new();
    for r in results {
        match r {
            Ok(l) => locations.push(l),
            Err(e) => panic!("[{}] concurrent put: {e}", suite.name()),
        }
    }
    locations.dedup();
    assert_eq!(
        locations.len(),
        1,
        "[{}] concurrent puts disagree",
        suite.name()
    );
    assert!(suite.read(&locations[0], ByteRange::full()).await == data);
}

/// Delete removes the blob when declared, and says `Unsupported` otherwise.
pub async fn delete(suite: &Suite) {
    let data = suite.bytes(5000, 13);
    let blob = suite.stage(&data, "delete.bin");
    let location = suite.put(&blob).await;
    let result = suite.backend.delete(&location).await;
    if !suite.backend.capabilities().delete {
        match result {
            Err(e) => assert_eq!(
                e.kind,
                ErrorKind::Unsupported,
                "[{}] delete: {e}",
                suite.name()
            ),
            Ok(()) => panic!("[{}] declares no delete but delete succeeded", suite.name()),
        }
        return;
    }
    if let Err(e) = result {
        panic!("[{}] delete: {e}", suite.name());
    }
    let gone = match suite.backend.get(&location, ByteRange::full()).await {
        Err(e) => e.kind == ErrorKind::NotFound,
        Ok(mut s) => matches!(s.next().await, Some(Err(e)) if e.kind == ErrorKind::NotFound),
    };
    assert!(gone, "[{}] blob still readable after delete", suite.name());
    // Deleting again is not an error worse than NotFound.
    if let Err(e) = suite.backend.delete(&location).await {
        assert_eq!(
            e.kind,
            ErrorKind::NotFound,
            "[{}] second delete: {e}",
            suite.name()
        );
    }
}
