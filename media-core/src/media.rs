//! The record of a stored piece of media.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::digest::{ChunkLayout, Digests, CHUNK_SIZE};
use crate::id::{Digest32, MediaId};
use crate::location::{BackendKind, Location};

/// Milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        Timestamp::from(SystemTime::now())
    }

    /// This time plus `d`.
    #[must_use]
    pub fn plus(self, d: Duration) -> Self {
        Timestamp(self.0.saturating_add(d.as_millis() as u64))
    }

    /// Milliseconds since the epoch.
    pub fn as_millis(self) -> u64 {
        self.0
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        Timestamp(
            t.duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
        )
    }
}

/// A small preview image stored inline in the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Thumbnail {
    /// MIME type, e.g. `image/webp`.
    pub mime: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// SHA-256 of `bytes`, so the thumbnail can also be fetched as its own verified blob.
    pub sha256: Digest32,
    /// The encoded image.
    #[serde(with = "hex_bytes")]
    pub bytes: Vec<u8>,
    /// A BlurHash placeholder, if computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blurhash: Option<String>,
    /// Width of the original image as displayed, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_width: Option<u32>,
    /// Height of the original image as displayed, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_height: Option<u32>,
}

impl Thumbnail {
    /// A thumbnail record for encoded `bytes`.
    pub fn new(mime: impl Into<String>, width: u32, height: u32, bytes: Vec<u8>) -> Self {
        Thumbnail {
            mime: mime.into(),
            width,
            height,
            sha256: Digest32::sha256(&bytes),
            bytes,
            blurhash: None,
            source_width: None,
            source_height: None,
        }
    }

    /// Whether `bytes` still match `sha256`.
    pub fn verify(&self) -> bool {
        Digest32::sha256(&self.bytes) == self.sha256
    }
}

/// What the index of a video says, kept in its record so that apps can lay out a player
/// before any byte of the video arrives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VideoInfo {
    /// The first video track's sample entry type: `avc1` (H.264), `hvc1` (HEVC), `vp09`, `av01`, …
    pub codec: String,
    /// Duration in milliseconds.
    pub duration_ms: u64,
    /// Width as displayed (after the track's rotation).
    pub width: u32,
    /// Height as displayed.
    pub height: u32,
    /// Why the record has no poster thumbnail, when it has none (for example HEVC, which no
    /// decoder here reads). The upload itself is never affected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_poster: Option<String>,
}

impl VideoInfo {
    /// A video of `codec`, `width`×`height` as displayed, `duration_ms` long.
    pub fn new(codec: impl Into<String>, duration_ms: u64, width: u32, height: u32) -> Self {
        VideoInfo {
            codec: codec.into(),
            duration_ms,
            width,
            height,
            no_poster: None,
        }
    }
}

/// What an upload's [`Thumbnailer`] found: a thumbnail (a photo's, or a video's poster) and,
/// for videos, what the index says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Preview {
    /// The inline thumbnail.
    pub thumbnail: Option<Thumbnail>,
    /// For videos: codec, duration and size.
    pub video: Option<VideoInfo>,
    /// A picture for viewers that cannot show the original (a JPEG of a HEIC photo, for
    /// browsers): the upload stores it as media of its own and lists it in the record as
    /// [`MediaFile::display`].
    pub rendition: Option<Rendition>,
    /// The PDQ hash of the picture (a video's poster frame) as displayed.
    pub pdq: Option<crate::Pdq>,
    /// Other hashes the same picture has to a viewer: its seven mirrored and rotated forms
    /// (PDQ's dihedral hashes, from the same transform), and for a transparent picture the
    /// hashes of it shown over black. The safety gate matches every one.
    pub pdq_variants: Vec<crate::PdqHash>,
}

/// An encoded picture derived from an upload for display (see [`Preview::rendition`]).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rendition {
    /// MIME type, e.g. `image/jpeg`.
    pub mime: String,
    /// Width in pixels (upright).
    pub width: u32,
    /// Height in pixels (upright).
    pub height: u32,
    /// The encoded picture.
    pub bytes: Vec<u8>,
}

impl Rendition {
    /// A rendition of `width`×`height` encoded as `mime`.
    pub fn new(mime: impl Into<String>, width: u32, height: u32, bytes: Vec<u8>) -> Self {
        Rendition {
            mime: mime.into(),
            width,
            height,
            bytes,
        }
    }
}

impl std::fmt::Debug for Rendition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rendition")
            .field("mime", &self.mime)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// Where a record's display rendition is: media of its own, read and verified by its id like
/// any other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DisplayRendition {
    /// The rendition's id (the SHA-256 of its bytes).
    pub id: MediaId,
    /// Its MIME type, e.g. `image/jpeg`.
    pub mime: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl DisplayRendition {
    /// A reference to the rendition stored as `id`.
    pub fn new(id: MediaId, mime: impl Into<String>, width: u32, height: u32) -> Self {
        DisplayRendition {
            id,
            mime: mime.into(),
            width,
            height,
        }
    }
}

impl Preview {
    /// A preview with this thumbnail and no video information.
    pub fn thumbnail(thumbnail: Option<Thumbnail>) -> Self {
        Preview {
            thumbnail,
            video: None,
            rendition: None,
            pdq: None,
            pdq_variants: Vec::new(),
        }
    }
}

/// Makes the inline thumbnail of uploaded media. Called once per upload, on a blocking thread,
/// with the staged file; returning `Ok(None)` means "no thumbnail for this media".
pub trait Thumbnailer: Send + Sync + std::fmt::Debug {
    /// A thumbnail of the staged file at `path` with MIME type `mime`.
    fn thumbnail(&self, path: &std::path::Path, mime: &str) -> crate::Result<Option<Thumbnail>>;

    /// The thumbnail and, for videos, what the index says. The upload calls this; the
    /// default is [`Thumbnailer::thumbnail`] without video information.
    fn preview(&self, path: &std::path::Path, mime: &str) -> crate::Result<Preview> {
        self.thumbnail(path, mime).map(Preview::thumbnail)
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        hex::decode(s.as_bytes()).map_err(serde::de::Error::custom)
    }
}

/// Everything known about one stored piece of media: identity, digests for verification, and
/// where each store holds it. This is what peers hand each other to share media.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MediaFile {
    /// SHA-256 of the bytes, hex.
    pub id: MediaId,
    /// Original file name (display only; never used as a path).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// MIME type.
    pub mime: String,
    /// SHA-256 of the bytes (equal to `id`).
    pub sha256: Digest32,
    /// BLAKE3 of the bytes.
    pub blake3: Digest32,
    /// Chunk size the chunk digests were computed with (always [`CHUNK_SIZE`] today).
    pub chunk_size: u64,
    /// SHA-256 of each chunk, in order.
    pub chunks: Vec<Digest32>,
    /// One entry per store that holds the bytes.
    pub locations: Vec<Location>,
    /// Inline thumbnail for images.
    pub thumbnail: Option<Thumbnail>,
    /// When the upload finished.
    pub uploaded_at: Timestamp,
    /// When the media should disappear, if ever.
    pub expires_at: Option<Timestamp>,
    /// Metadata removed from the original before it was stored (`EXIF`, `XMP`, `udta`, ...):
    /// the id is the SHA-256 of the cleaned bytes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata_removed: Vec<String>,
    /// `Some("age")` when the stored bytes are an age file (private media): the digests are
    /// the ciphertext's, and readers need an identity to get the media.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<String>,
    /// For age-encrypted media: the age header (recipient stanzas and MAC) and the payload
    /// nonce, exactly as they begin the stored bytes. Public in the stored object anyway; kept
    /// here so a range read fetches only the chunks it needs. A header that does not match
    /// the stored bytes makes decryption fail, never succeed wrongly.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "hex_bytes")]
    pub age_header: Vec<u8>,
    /// The SHA-256 of the upload as it came, when it was an MP4/MOV remuxed losslessly to
    /// faststart (`moov` first, so players start at once) before it was stored; the id is the
    /// SHA-256 of the remuxed bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remuxed_from: Option<crate::Digest32>,
    /// For videos: codec, duration and displayed size (the poster, if any, is `thumbnail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<VideoInfo>,
    /// For formats browsers do not show (HEIC): a JPEG derived at upload, stored as media of
    /// its own; the original stays as it was uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<DisplayRendition>,
    /// The PDQ perceptual hash of the picture (a video's poster frame), with its quality: how
    /// the safety denylist matches re-encoded copies. Computed by this node at upload; absent
    /// for private media (it would say what the ciphertext hides) and for what could not be
    /// decoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdq: Option<crate::Pdq>,
}

impl MediaFile {
    /// A record for bytes with `digests`, with no locations yet.
    pub fn new(
        name: impl Into<String>,
        mime: impl Into<String>,
        digests: &Digests,
        uploaded_at: Timestamp,
    ) -> Self {
        MediaFile {
            id: digests.id(),
            name: name.into(),
            size: digests.size,
            mime: mime.into(),
            sha256: digests.sha256,
            blake3: digests.blake3,
            chunk_size: CHUNK_SIZE,
            chunks: digests.chunks.clone(),
            locations: Vec::new(),
            thumbnail: None,
            uploaded_at,
            expires_at: None,
            metadata_removed: Vec::new(),
            remuxed_from: None,
            encryption: None,
            age_header: Vec::new(),
            video: None,
            display: None,
            pdq: None,
        }
    }

    /// The digests needed to verify this media's bytes.
    pub fn digests(&self) -> Digests {
        Digests {
            size: self.size,
            sha256: self.sha256,
            blake3: self.blake3,
            chunks: self.chunks.clone(),
        }
    }

    /// Whether the record is internally consistent (id, digest count, chunk size). Records from
    /// peers must pass this before they are trusted for verification.
    pub fn is_consistent(&self) -> bool {
        self.id.sha256() == self.sha256
            && self.chunk_size == CHUNK_SIZE
            && self.chunks.len() as u64 == ChunkLayout::new(self.size).chunk_count()
            && self.age_header.len() <= Self::MAX_AGE_HEADER
            && self.age_header.len() as u64 <= self.size
    }

    /// Longest [`MediaFile::age_header`] accepted (a header with hundreds of recipients).
    pub const MAX_AGE_HEADER: usize = 64 * 1024;

    /// Whether `expires_at` has passed at `now`.
    pub fn is_expired_at(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }

    /// The first location on a store of `kind`, if any.
    pub fn location(&self, kind: &BackendKind) -> Option<&Location> {
        self.locations.iter().find(|l| l.kind == *kind)
    }

    /// Every location on stores of `kind` (two buckets give two CDN locations).
    pub fn locations_of<'a>(
        &'a self,
        kind: &'a BackendKind,
    ) -> impl Iterator<Item = &'a Location> + 'a {
        self.locations.iter().filter(move |l| l.kind == *kind)
    }

    /// Add a location unless the record already has the same one.
    pub fn add_location(&mut self, location: Location) {
        if !self.locations.contains(&location) {
            self.locations.push(location);
        }
    }

    /// The CDN URL, if stored on a CDN.
    pub fn cdn_url(&self) -> Option<&str> {
        self.locations.iter().find_map(Location::cdn_url)
    }

    /// The magnet link, if seeded on BitTorrent.
    pub fn magnet(&self) -> Option<&str> {
        self.locations.iter().find_map(Location::magnet)
    }

    /// The IPFS CID, if stored on IPFS.
    pub fn cid(&self) -> Option<&str> {
        self.locations.iter().find_map(Location::cid)
    }
}

/// Guess a MIME type from the first bytes (the table is [`media_format::Format::sniff`]),
/// falling back to the file name's extension.
///
/// ```
/// assert_eq!(media_core::sniff_mime(b"\xFF\xD8\xFF\xE0....", "x.bin"), "image/jpeg");
/// assert_eq!(media_core::sniff_mime(b"", "clip.MP4"), "video/mp4");
/// assert_eq!(media_core::sniff_mime(b"??", "noext"), "application/octet-stream");
/// ```
pub fn sniff_mime(head: &[u8], name: &str) -> &'static str {
    if let Some(format) = media_format::Format::sniff(head) {
        return format.mime();
    }
    if let Some(format) = media_format::Format::from_extension(name) {
        return format.mime();
    }
    if name.to_ascii_lowercase().ends_with(".txt") {
        return "text/plain";
    }
    "application/octet-stream"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_roundtrips_through_json_and_is_consistent() {
        let data = vec![7u8; (CHUNK_SIZE + 5) as usize];
        let digests = Digests::of_bytes(&data);
        let mut file = MediaFile::new("a.jpg", "image/jpeg", &digests, Timestamp(1));
        file.locations.push(Location::ipfs("bafkqaaa"));
        file.thumbnail = Some(Thumbnail::new("image/webp", 2, 1, vec![1, 2, 255]));
        let json = serde_json::to_string(&file).unwrap();
        let back: MediaFile = serde_json::from_str(&json).unwrap();
        assert_eq!(back, file);
        assert!(back.is_consistent());
        assert_eq!(back.cid(), Some("bafkqaaa"));
        assert_eq!(back.cdn_url(), None);
        assert_eq!(back.digests(), digests);

        let mut forged = back.clone();
        forged.chunks.pop();
        assert!(!forged.is_consistent());
    }

    #[test]
    fn expiry_is_inclusive() {
        let mut f = MediaFile::new("x", "text/plain", &Digests::of_bytes(b"x"), Timestamp(0));
        assert!(!f.is_expired_at(Timestamp(u64::MAX)));
        f.expires_at = Some(Timestamp(10));
        assert!(!f.is_expired_at(Timestamp(9)));
        assert!(f.is_expired_at(Timestamp(10)));
    }
}
