//! A durable embedded catalog on `redb`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use media_core::{Catalog, MediaError, MediaFile, MediaId, Operation, Result};
use redb::{Database, ReadableTable, TableDefinition};

const MEDIA: TableDefinition<&str, &[u8]> = TableDefinition::new("media_v1");

/// A [`Catalog`] in one `redb` file. Every `put` is one fsynced transaction, so a record is
/// either wholly there or not at all, whenever the process dies.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> media_core::Result<()> {
/// use media_core::{Catalog, Digests, MediaFile, Timestamp};
/// let dir = tempfile::tempdir().unwrap();
/// let catalog = media_facade::RedbCatalog::open(dir.path().join("catalog.redb"))?;
/// let file = MediaFile::new("a.txt", "text/plain", &Digests::of_bytes(b"a"), Timestamp::now());
/// catalog.put(&file).await?;
/// drop(catalog);
/// let reopened = media_facade::RedbCatalog::open(dir.path().join("catalog.redb"))?;
/// assert_eq!(reopened.get(&file.id).await?, Some(file));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedbCatalog {
    db: Arc<Database>,
    path: PathBuf,
}

impl std::fmt::Debug for RedbCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbCatalog")
            .field("path", &self.path)
            .finish()
    }
}

fn db_err(context: &str, e: impl std::fmt::Display) -> MediaError {
    MediaError::new(
        media_core::ErrorKind::Io,
        Operation::Catalog,
        format!("{context}: {e}"),
    )
}

impl RedbCatalog {
    /// Open (or create) the catalog file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| MediaError::io(Operation::Catalog, "creating catalog folder", e))?;
        }
        let db = Database::create(&path).map_err(|e| db_err("opening catalog", e))?;
        Self::with_db(path, db)
    }

    /// Like [`RedbCatalog::open`], waiting up to `wait` while another handle in this process
    /// still holds the file (a dropped store whose last background tasks have not ended).
    pub async fn open_waiting(path: impl AsRef<Path>, wait: std::time::Duration) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let deadline = tokio::time::Instant::now() + wait;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| MediaError::io(Operation::Catalog, "creating catalog folder", e))?;
        }
        loop {
            match Database::create(&path) {
                Ok(db) => return Self::with_db(path, db),
                Err(redb::DatabaseError::DatabaseAlreadyOpen)
                    if tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(e) => return Err(db_err("opening catalog", e)),
            }
        }
    }

    fn with_db(path: PathBuf, db: Database) -> Result<Self> {
        // Records name what the owner stores (and private media's recipients' stanzas): the
        // owner's alone, like every file beside the media.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| MediaError::io(Operation::Catalog, "making the catalog private", e))?;
        }
        let txn = db
            .begin_write()
            .map_err(|e| db_err("catalog transaction", e))?;
        txn.open_table(MEDIA)
            .map_err(|e| db_err("creating catalog table", e))?;
        txn.commit().map_err(|e| db_err("catalog commit", e))?;
        Ok(RedbCatalog {
            db: Arc::new(db),
            path,
        })
    }

    /// The catalog file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Database) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| MediaError::internal(Operation::Catalog, format!("catalog task: {e}")))?
    }
}

fn decode(bytes: &[u8]) -> Result<MediaFile> {
    serde_json::from_slice(bytes).map_err(|e| {
        MediaError::integrity(
            Operation::Catalog,
            format!("undecodable catalog record: {e}"),
        )
    })
}

#[async_trait]
impl Catalog for RedbCatalog {
    async fn get(&self, id: &MediaId) -> Result<Option<MediaFile>> {
        let key = id.to_string();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(|e| db_err("catalog read", e))?;
            let table = txn
                .open_table(MEDIA)
                .map_err(|e| db_err("catalog table", e))?;
            let value = table
                .get(key.as_str())
                .map_err(|e| db_err("catalog get", e))?;
            value.map(|v| decode(v.value())).transpose()
        })
        .await
    }

    async fn put(&self, file: &MediaFile) -> Result<()> {
        let key = file.id.to_string();
        let value = serde_json::to_vec(file).map_err(|e| {
            MediaError::internal(Operation::Catalog, format!("encoding record: {e}"))
        })?;
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(|e| db_err("catalog write", e))?;
            {
                let mut table = txn
                    .open_table(MEDIA)
                    .map_err(|e| db_err("catalog table", e))?;
                table
                    .insert(key.as_str(), value.as_slice())
                    .map_err(|e| db_err("catalog insert", e))?;
            }
            txn.commit().map_err(|e| db_err("catalog commit", e))
        })
        .await
    }

    async fn delete(&self, id: &MediaId) -> Result<bool> {
        let key = id.to_string();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(|e| db_err("catalog write", e))?;
            let existed = {
                let mut table = txn
                    .open_table(MEDIA)
                    .map_err(|e| db_err("catalog table", e))?;
                let removed = table
                    .remove(key.as_str())
                    .map_err(|e| db_err("catalog remove", e))?;
                removed.is_some()
            };
            txn.commit().map_err(|e| db_err("catalog commit", e))?;
            Ok(existed)
        })
        .await
    }

    async fn list_after(&self, after: Option<&MediaId>, limit: usize) -> Result<Vec<MediaFile>> {
        let after = after.map(|a| a.to_string());
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(|e| db_err("catalog read", e))?;
            let table = txn
                .open_table(MEDIA)
                .map_err(|e| db_err("catalog table", e))?;
            let range = match &after {
                Some(a) => table.range::<&str>((
                    std::ops::Bound::Excluded(a.as_str()),
                    std::ops::Bound::Unbounded,
                )),
                None => table.range::<&str>(..),
            }
            .map_err(|e| db_err("catalog scan", e))?;
            let mut out = Vec::new();
            for entry in range.take(limit) {
                let (_, value) = entry.map_err(|e| db_err("catalog scan", e))?;
                out.push(decode(value.value())?);
            }
            Ok(out)
        })
        .await
    }

    async fn list(&self) -> Result<Vec<MediaFile>> {
        self.blocking(|db| {
            let txn = db.begin_read().map_err(|e| db_err("catalog read", e))?;
            let table = txn
                .open_table(MEDIA)
                .map_err(|e| db_err("catalog table", e))?;
            let mut out = Vec::new();
            for entry in table.iter().map_err(|e| db_err("catalog scan", e))? {
                let (_, value) = entry.map_err(|e| db_err("catalog scan", e))?;
                out.push(decode(value.value())?);
            }
            Ok(out)
        })
        .await
    }
}
