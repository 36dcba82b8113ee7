//! [`S3Catalog`]: `MediaFile` records stored next to the objects, so every node sharing a
//! bucket can resolve an id it never saw.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream as SdkBody;
use media_core::{Catalog, ErrorKind, MediaError, MediaFile, MediaId, Operation, Result};

use crate::bucket::Bucket;

/// Largest record read from a shared bucket (records with an inline thumbnail are tens of KiB).
pub const MAX_RECORD: u64 = 1 << 20;

fn too_big(id: &MediaId) -> MediaError {
    MediaError::integrity(
        Operation::Catalog,
        format!("the record of {id} in the bucket is larger than {MAX_RECORD} bytes: refused"),
    )
}
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
}

#[async_trait]
impl Catalog for S3Catalog {
    async fn get(&self, id: &MediaId) -> Result<Option<MediaFile>> {
        let b = &self.bucket;
        let out = b
            .client
            .get_object()
            .bucket(&b.config.bucket)
            .key(self.key(id))
            .send()
            .await;
        let out = match out {
            Ok(o) => o,
            Err(e) => {
                let e = sdk_error(b.name(), Operation::Catalog, "GET record", e);
                return if e.kind == ErrorKind::NotFound {
                    Ok(None)
                } else {
                    Err(e)
                };
            }
        };
        // Anyone who can write the bucket can write a record: read at most MAX_RECORD bytes.
        if out.content_length().is_some_and(|n| n as u64 > MAX_RECORD) {
            return Err(too_big(id).with_backend(b.name()));
        }
        let mut body = out.body;
        let mut bytes = Vec::new();
        while let Some(piece) = body.try_next().await.map_err(|e| {
            MediaError::unavailable(Operation::Catalog, format!("reading record: {e}"))
                .with_backend(b.name())
        })? {
            if (bytes.len() + piece.len()) as u64 > MAX_RECORD {
                return Err(too_big(id).with_backend(b.name()));
            }
            bytes.extend_from_slice(&piece);
        }
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
        let mut ids = Vec::new();
        let mut pages = b
            .client
            .list_objects_v2()
            .bucket(&b.config.bucket)
            .prefix(&prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| sdk_error(b.name(), Operation::Catalog, "LIST records", e))?;
            for object in page.contents() {
                let Some(name) = object.key().and_then(|k| k.strip_prefix(&prefix)) else {
                    continue;
                };
                if let Some(Ok(id)) = name.strip_suffix(".json").map(str::parse::<MediaId>) {
                    ids.push(id);
                }
            }
        }
        ids.sort();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(file) = self.get(&id).await? {
                out.push(file);
            }
        }
        Ok(out)
    }
}
