//! The media store as a Blossom [`BlobHost`]: what the node's Blossom server serves. A blob is
//! a media record whose id is its SHA-256; uploads go to every store by the upload policy,
//! and reads come verified from whichever store answers, including blobs this node never
//! held but whose record it has (imported, or in the shared catalog).

use async_trait::async_trait;
use media_blossom::{BlobHost, BlobInfo, IncomingBlob};
use media_core::{ByteRange, ByteStream, MediaFile, MediaId, Result};

use crate::{MediaStore, UploadRequest};

fn info(file: &MediaFile) -> BlobInfo {
    let mut info = BlobInfo::new(
        file.id,
        file.size,
        file.mime.clone(),
        file.uploaded_at.as_millis() / 1000,
    );
    if let Some(magnet) = file.magnet() {
        info.also_at.push(("magnet".to_owned(), magnet.to_owned()));
    }
    if let Some(hash) = file.locations.iter().find_map(|l| l.info_hash()) {
        info.also_at.push(("infohash".to_owned(), hash.to_owned()));
    }
    if let Some(cid) = file.cid() {
        info.also_at.push(("ipfs".to_owned(), cid.to_owned()));
    }
    info
}

#[async_trait]
impl BlobHost for MediaStore {
    async fn describe(&self, sha256: &MediaId) -> Result<Option<BlobInfo>> {
        Ok(self
            .get(sha256)
            .await?
            .filter(|file| self.inner.safety.listed(file).is_none())
            .map(|file| info(&file)))
    }

    async fn read(&self, sha256: &MediaId, range: ByteRange) -> Result<ByteStream> {
        // A blob is the bytes as stored: private media is served as its age ciphertext.
        let options = crate::ReadOptions::new().range(range).ciphertext();
        Ok(Box::pin(self.open_with(sha256, options).await?))
    }

    async fn store(&self, blob: IncomingBlob) -> Result<BlobInfo> {
        // BUD-02: the bytes are stored as sent (their hash is the blob's name); metadata
        // removal is what `PUT /media` is for.
        let mut request = UploadRequest::reader(blob.expected.to_string(), blob.body)
            .for_blossom()
            .expect_sha256(blob.expected)
            .with_max_size(blob.max_size)
            .as_given();
        if let Some(mime) = blob.mime {
            request = request.with_mime(mime);
        }
        let file = self.upload(request).await?;
        Ok(info(&file))
    }

    async fn delete(&self, sha256: &MediaId) -> Result<()> {
        self.delete_for_blossom(sha256).await
    }

    async fn report(&self, report: media_safety::Report, peer: Option<String>) -> Result<()> {
        self.inner.safety.reports.add(&report, peer.as_deref())
    }

    /// The node's own media, and any record its owner catalogued that no Blossom signer
    /// uploaded (an import, a record from the shared catalog): a Blossom upload of the same
    /// bytes changes none of them and makes nobody their owner.
    async fn owned_by_host(&self, sha256: &MediaId) -> Result<bool> {
        Ok(!self.inner.ownership.blossom_only(sha256) && self.get(sha256).await?.is_some())
    }
}

/// Start the node's Blossom server over `store` from the `[blossom]` section, unless it says
/// `serve = false`.
pub(crate) async fn start_server(
    store: &MediaStore,
    section: Option<serde_json::Value>,
    ctx: &media_core::StartContext,
) -> Result<Option<std::sync::Arc<dyn media_core::Service>>> {
    let section: media_blossom::BlossomSection =
        media_core::parse_section(media_blossom::BlossomProvider::SECTION_NAME, section)?;
    if !section.serves() {
        return Ok(None);
    }
    let listen = ctx.addr_or_stable(section.listen, "blossom", media_core::Transport::Tcp)?;
    #[allow(unused_mut)]
    let mut config =
        section.server_config(ctx.data_dir(), listen, ctx.reach(), ctx.cors_origins())?;
    #[cfg(feature = "thumb")]
    {
        config = config.with_optimizer(std::sync::Arc::new(ThumbOptimizer));
    }
    let server =
        media_blossom::BlossomServer::start(config, std::sync::Arc::new(store.clone())).await?;
    Ok(Some(std::sync::Arc::new(server)))
}

/// BUD-05 with media-thumb: the image decoded (within the decoder's limits), turned upright,
/// at most 4096 pixels on its long side, re-encoded as JPEG without any metadata.
#[cfg(feature = "thumb")]
#[derive(Debug)]
struct ThumbOptimizer;

#[cfg(feature = "thumb")]
impl media_blossom::MediaOptimizer for ThumbOptimizer {
    fn optimize(&self, path: &std::path::Path) -> Result<(Vec<u8>, String)> {
        use media_thumb::{make_thumbnails_from_file, ThumbFormat, ThumbnailOptions};
        let mut options = ThumbnailOptions::default()
            .with_sizes(&[4096])
            .with_format(ThumbFormat::Jpeg)
            .with_quality(85);
        options.blurhash = false;
        let made = make_thumbnails_from_file(path, &options).map_err(|e| {
            media_core::MediaError::invalid_input(
                media_core::Operation::Upload,
                format!("not an image this server can optimize: {e}"),
            )
        })?;
        let variant = made.variants.into_iter().next().ok_or_else(|| {
            media_core::MediaError::internal(media_core::Operation::Upload, "no variant made")
        })?;
        Ok((variant.bytes, variant.mime.to_owned()))
    }
}
