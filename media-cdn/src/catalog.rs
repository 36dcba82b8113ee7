//! [`S3Catalog`]: `MediaFile` records stored next to the objects, so every node sharing a
//! bucket can resolve an id it never saw.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream as SdkBody;
use media_core::{
    Catalog, ErrorKind, MediaError, MediaFile, MediaId, Operation, Result, Tombstone,
};

use crate::bucket::Bucket;

/// Largest record read from a shared bucket (records with an inline thumbnail are tens of KiB).
pub const MAX_RECORD: u64 = 1 << 20;

use crate::error::sdk_error;

/// The record key of the object at `object_key`: `<prefix>/<sha256>.json`.
pub(crate) fn record_key(object_key: &str) -> String {
    format!("{object_key}.json")
}

/// A [`Catalog`] in the bucket itself: `<prefix>/<sha256>.json` holds the record of
/// `<prefix>/<sha256>`. Writes are single PUTs, so readers see whole records only.
#[derive(Debug, Clone)]
pub struct S3Catalog {
    bucket: Arc<Bucket>,
}

impl S3Catalog {
    pub(crate) fn from_bucket(bucket: Arc<Bucket>) -> Self {
        S3Catalog { bucket }
    }

    fn key(&self, id: &MediaId) -> String {
        record_key(&self.bucket.config.key_for(&id.to_string()))
    }

    /// `<prefix>/tombstones/`: where takedowns are published to every node sharing the bucket.
    fn tombstone_prefix(&self) -> String {
        self.bucket.config.key_for("tombstones/")
    }

    /// The ids of the `<prefix><sha256>.json` objects directly under `prefix` (deeper keys,
    /// such as `tombstones/` under the records' prefix, do not parse as ids and are skipped).
    async fn json_ids_under(&self, prefix: &str, what: &str) -> Result<Vec<MediaId>> {
        let b = &self.bucket;
        let mut ids = Vec::new();
        let mut pages = b
            .client
            .list_objects_v2()
            .bucket(&b.config.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error(b.name(), Operation::Catalog, what, e))?;
            ids.extend(page.contents().iter().filter_map(|object| {
                object
                    .key()?
                    .strip_prefix(prefix)?
                    .strip_suffix(".json")?
                    .parse::<MediaId>()
                    .ok()
            }));
        }
        Ok(ids)
    }

    /// Read one small JSON object (at most [`MAX_RECORD`] bytes); `None` when absent.
    async fn read_small(&self, key: &str, what: &str) -> Result<Option<Vec<u8>>> {
        let b = &self.bucket;
        let out = b
            .client
            .get_object()
            .bucket(&b.config.bucket)
            .key(key)
            .send()
            .await;
        let out = match out {
            Ok(o) => o,
            Err(e) => {
                let e = sdk_error(b.name(), Operation::Catalog, what, e);
                return if e.kind == ErrorKind::NotFound {
                    Ok(None)
                } else {
                    Err(e)
                };
            }
        };
        let too_big = || {
            MediaError::integrity(
                Operation::Catalog,
                format!("{key} in the bucket is larger than {MAX_RECORD} bytes: refused"),
            )
            .with_backend(b.name())
        };
        // Anyone who can write the bucket can write here: read at most MAX_RECORD bytes.
        if out.content_length().is_some_and(|n| n as u64 > MAX_RECORD) {
            return Err(too_big());
        }
        let mut body = out.body;
        let mut bytes = Vec::new();
        while let Some(piece) = body.try_next().await.map_err(|e| {
            MediaError::unavailable(Operation::Catalog, format!("reading {what}: {e}"))
                .with_backend(b.name())
        })? {
            if (bytes.len() + piece.len()) as u64 > MAX_RECORD {
                return Err(too_big());
            }
            bytes.extend_from_slice(&piece);
        }
        Ok(Some(bytes))
    }
}

#[async_trait]
impl Catalog for S3Catalog {
    async fn get(&self, id: &MediaId) -> Result<Option<MediaFile>> {
        let b = &self.bucket;
        let Some(bytes) = self.read_small(&self.key(id), "GET record").await? else {
            return Ok(None);
        };
        let file: MediaFile = serde_json::from_slice(&bytes).map_err(|e| {
            MediaError::integrity(
                Operation::Catalog,
                format!("record of {id} is not valid: {e}"),
            )
            .with_backend(b.name())
        })?;
        if file.id != *id || !file.is_consistent() {
            return Err(MediaError::integrity(
                Operation::Catalog,
                format!("record stored under {id} is inconsistent"),
            )
            .with_backend(b.name()));
        }
        Ok(Some(file))
    }

    async fn put(&self, file: &MediaFile) -> Result<()> {
        let b = &self.bucket;
        let json = serde_json::to_vec(file).map_err(|e| {
            MediaError::internal(Operation::Catalog, format!("encoding record: {e}"))
        })?;
        b.client
            .put_object()
            .bucket(&b.config.bucket)
            .key(self.key(&file.id))
            .content_type("application/json")
            .body(SdkBody::from(json))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error(b.name(), Operation::Catalog, "PUT record", e))
    }

    async fn delete(&self, id: &MediaId) -> Result<bool> {
        let existed = self.get(id).await?.is_some();
        let b = &self.bucket;
        b.client
            .delete_object()
            .bucket(&b.config.bucket)
            .key(self.key(id))
            .send()
            .await
            .map_err(|e| sdk_error(b.name(), Operation::Catalog, "DELETE record", e))?;
        Ok(existed)
    }

    async fn list(&self) -> Result<Vec<MediaFile>> {
        let b = &self.bucket;
        let prefix = if b.config.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", b.config.prefix)
        };
        let mut ids = self.json_ids_under(&prefix, "LIST records").await?;
        ids.sort();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(file) = self.get(&id).await? {
                out.push(file);
            }
        }
        Ok(out)
    }

    async fn put_tombstone(&self, tombstone: &Tombstone) -> Result<()> {
        let b = &self.bucket;
        let json = serde_json::to_vec(tombstone).map_err(|e| {
            MediaError::internal(Operation::Catalog, format!("encoding tombstone: {e}"))
        })?;
        b.client
            .put_object()
            .bucket(&b.config.bucket)
            .key(format!("{}{}.json", self.tombstone_prefix(), tombstone.id))
            .content_type("application/json")
            .body(SdkBody::from(json))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error(b.name(), Operation::Catalog, "PUT tombstone", e))
    }

    async fn tombstone_ids(&self) -> Result<Vec<MediaId>> {
        let ids = self
            .json_ids_under(&self.tombstone_prefix(), "LIST tombstones")
            .await?;
        Ok(ids)
    }
}
