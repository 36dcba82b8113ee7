//! Where [`MediaFile`] records are kept.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::error::{MediaError, Operation, Result};
use crate::id::MediaId;
use crate::media::MediaFile;

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
}

/// A catalog in memory, for tests and throwaway stores.
#[derive(Debug, Default)]
pub struct MemoryCatalog {
    records: Mutex<BTreeMap<MediaId, MediaFile>>,
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
}
