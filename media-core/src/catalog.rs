//! Where [`MediaFile`] records are kept.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::error::{MediaError, Operation, Result};
use crate::id::MediaId;
use crate::media::{MediaFile, Timestamp};
use crate::pdq::PdqHash;

/// What stays of media taken down: its id (an upload of the same bytes is refused), when and
/// why, and its picture's PDQ hash (near copies are refused too). Published to a shared
/// catalog, it makes every node sharing it take its own copies down.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Tombstone {
    /// The media taken down.
    pub id: MediaId,
    /// When.
    pub at: Timestamp,
    /// Why, in a few words (`takedown`, `denylist`, an operator's note); never an entry of a
    /// list.
    pub reason: String,
    /// The PDQ hash of the picture, when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdq: Option<PdqHash>,
}

impl Tombstone {
    /// A tombstone for `id`, now.
    pub fn new(id: MediaId, reason: impl Into<String>, pdq: Option<PdqHash>) -> Self {
        Tombstone {
            id,
            at: Timestamp::now(),
            reason: reason.into(),
            pdq,
        }
    }
}

/// A store of [`MediaFile`] records by id. A `put` is atomic: readers see the whole record or
/// the previous one, never half of it.
#[async_trait]
pub trait Catalog: Send + Sync + fmt::Debug {
    /// The record of `id`, if present.
    async fn get(&self, id: &MediaId) -> Result<Option<MediaFile>>;
    /// Insert or replace a record.
    async fn put(&self, file: &MediaFile) -> Result<()>;
    /// Remove a record; returns whether it was present.
    async fn delete(&self, id: &MediaId) -> Result<bool>;
    /// Every record, ordered by id.
    async fn list(&self) -> Result<Vec<MediaFile>>;

    /// At most `limit` records with ids after `after` (from the start when `None`), ordered
    /// by id: a page of the catalog. Catalogs that can seek override this; the default reads
    /// the whole list.
    async fn list_after(&self, after: Option<&MediaId>, limit: usize) -> Result<Vec<MediaFile>> {
        Ok(self
            .list()
            .await?
            .into_iter()
            .filter(|f| after.is_none_or(|a| f.id > *a))
            .take(limit)
            .collect())
    }

    /// Publish a tombstone to the nodes sharing this catalog. Catalogs that are not shared
    /// keep none (the default says so).
    async fn put_tombstone(&self, _tombstone: &Tombstone) -> Result<()> {
        Err(MediaError::new(
            crate::ErrorKind::Unsupported,
            Operation::Catalog,
            "this catalog keeps no tombstones",
        ))
    }

    /// The ids of every tombstone published here (none by default). A listing only: it is
    /// read every second by each node sharing the catalog.
    async fn tombstone_ids(&self) -> Result<Vec<MediaId>> {
        Ok(Vec::new())
    }
}

/// A catalog in memory, for tests and throwaway stores.
#[derive(Debug, Default)]
pub struct MemoryCatalog {
    records: Mutex<BTreeMap<MediaId, MediaFile>>,
    tombstones: Mutex<BTreeMap<MediaId, Tombstone>>,
}

impl MemoryCatalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    fn records(&self) -> Result<std::sync::MutexGuard<'_, BTreeMap<MediaId, MediaFile>>> {
        self.records
            .lock()
            .map_err(|_| MediaError::internal(Operation::Catalog, "catalog lock poisoned"))
    }
}

#[async_trait]
impl Catalog for MemoryCatalog {
    async fn get(&self, id: &MediaId) -> Result<Option<MediaFile>> {
        Ok(self.records()?.get(id).cloned())
    }

    async fn put(&self, file: &MediaFile) -> Result<()> {
        self.records()?.insert(file.id, file.clone());
        Ok(())
    }

    async fn delete(&self, id: &MediaId) -> Result<bool> {
        Ok(self.records()?.remove(id).is_some())
    }

    async fn list(&self) -> Result<Vec<MediaFile>> {
        Ok(self.records()?.values().cloned().collect())
    }

    async fn put_tombstone(&self, tombstone: &Tombstone) -> Result<()> {
        self.tombstones
            .lock()
            .map_err(|_| MediaError::internal(Operation::Catalog, "catalog lock poisoned"))?
            .insert(tombstone.id, tombstone.clone());
        Ok(())
    }

    async fn tombstone_ids(&self) -> Result<Vec<MediaId>> {
        Ok(self
            .tombstones
            .lock()
            .map_err(|_| MediaError::internal(Operation::Catalog, "catalog lock poisoned"))?
            .keys()
            .copied()
            .collect())
    }
}
