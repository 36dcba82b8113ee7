//! [`Format`]: the one table of what the first bytes of a file say it is. The node's MIME
//! guess (`media_core::sniff_mime`), the strippers, faststart and the thumbnailers all read it.

/// How many leading bytes [`Format::sniff`] looks at.
pub const SNIFF_LEN: usize = 32;

/// A container format the node knows by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// JPEG (`FF D8 FF`).
    Jpeg,
    /// PNG.
    Png,
    /// GIF 87a/89a.
    Gif,
    /// WebP (RIFF).
    Webp,
    /// ISO-BMFF video: MP4 and its relatives (M4V, 3GP).
    Mp4,
    /// QuickTime movie (brand `qt  `, or an old file without `ftyp`).
    QuickTime,
    /// HEIF images with HEVC (HEIC).
    Heic,
    /// HEIF images with AV1 (AVIF).
    Avif,
    /// Matroska/WebM.
    Webm,
    /// TIFF, and the raw formats built on it (DNG).
    Tiff,
}

/// ISO-BMFF major brands of HEIC images.
const HEIC_BRANDS: &[&[u8; 4]] = &[
    b"heic", b"heix", b"hevc", b"heim", b"heis", b"hevx", b"mif1", b"msf1",
];
/// ISO-BMFF major brands of AVIF images.
const AVIF_BRANDS: &[&[u8; 4]] = &[b"avif", b"avis"];
/// Top-level boxes an old QuickTime file may start with, without `ftyp`.
const BARE_QUICKTIME: &[&[u8; 4]] = &[b"moov", b"mdat", b"wide", b"free"];

impl Format {
    /// Every format, in the order [`Format::sniff`] tries them.
    pub const ALL: [Format; 10] = [
        Format::Jpeg,
        Format::Png,
        Format::Gif,
        Format::Webp,
        Format::Mp4,
        Format::QuickTime,
        Format::Heic,
        Format::Avif,
        Format::Webm,
        Format::Tiff,
    ];

    /// The format the first bytes of a file announce (look at [`SNIFF_LEN`] of them), or
    /// `None`.
    ///
    /// ```
    /// use media_format::Format;
    /// assert_eq!(Format::sniff(b"\xFF\xD8\xFF\xE0\0\x10JFIF"), Some(Format::Jpeg));
    /// assert_eq!(Format::sniff(b"\0\0\0\x18ftypheic\0\0\0\0"), Some(Format::Heic));
    /// assert_eq!(Format::sniff(b"plain text"), None);
    /// ```
    pub fn sniff(head: &[u8]) -> Option<Format> {
        let at = |from: usize, sig: &[u8]| head.get(from..from + sig.len()) == Some(sig);
        if at(0, b"\xFF\xD8\xFF") {
            return Some(Format::Jpeg);
        }
        if at(0, b"\x89PNG\r\n\x1a\n") {
            return Some(Format::Png);
        }
        if at(0, b"GIF87a") || at(0, b"GIF89a") {
            return Some(Format::Gif);
        }
        if at(0, b"RIFF") && at(8, b"WEBP") {
            return Some(Format::Webp);
        }
        if at(0, b"\x1a\x45\xdf\xa3") {
            return Some(Format::Webm);
        }
        if at(0, b"II*\0") || at(0, b"MM\0*") {
            return Some(Format::Tiff);
        }
        if at(4, b"ftyp") {
            let brand: [u8; 4] = head.get(8..12)?.try_into().ok()?;
            // The major brand, then the compatible brands within the sniffed bytes (an AVIF
            // may call itself `isom` first).
            let declared = |brands: &[&[u8; 4]]| {
                brands.contains(&&brand)
                    || head[..head.len().min(SNIFF_LEN)]
                        .get(16..)
                        .unwrap_or_default()
                        .chunks_exact(4)
                        .any(|b| brands.iter().any(|x| &x[..] == b))
            };
            return Some(
                if AVIF_BRANDS.contains(&&brand)
                    || (!HEIC_BRANDS.contains(&&brand) && declared(AVIF_BRANDS))
                {
                    Format::Avif
                } else if declared(HEIC_BRANDS) {
                    Format::Heic
                } else if &brand == b"qt  " {
                    Format::QuickTime
                } else {
                    Format::Mp4
                },
            );
        }
        let kind: [u8; 4] = head.get(4..8)?.try_into().ok()?;
        if BARE_QUICKTIME.contains(&&kind) {
            return Some(Format::QuickTime);
        }
        None
    }

    /// The format a file name's extension stands for (case does not matter).
    pub fn from_extension(name: &str) -> Option<Format> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        Some(match ext.as_str() {
            "jpg" | "jpeg" => Format::Jpeg,
            "png" => Format::Png,
            "gif" => Format::Gif,
            "webp" => Format::Webp,
            "mp4" | "m4v" => Format::Mp4,
            "mov" => Format::QuickTime,
            "heic" | "heif" => Format::Heic,
            "avif" => Format::Avif,
            "webm" => Format::Webm,
            "tif" | "tiff" | "dng" => Format::Tiff,
            _ => return None,
        })
    }

    /// Its MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Gif => "image/gif",
            Format::Webp => "image/webp",
            Format::Mp4 => "video/mp4",
            Format::QuickTime => "video/quicktime",
            Format::Heic => "image/heic",
            Format::Avif => "image/avif",
            Format::Webm => "video/webm",
            Format::Tiff => "image/tiff",
        }
    }

    /// A short name, as reports give it: `jpeg`, `png`, `gif`, `webp`, `mp4` (QuickTime
    /// too: one box format), `heic`, `avif`, `webm`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
            Format::Gif => "gif",
            Format::Webp => "webp",
            Format::Mp4 | Format::QuickTime => "mp4",
            Format::Heic => "heic",
            Format::Avif => "avif",
            Format::Webm => "webm",
            Format::Tiff => "tiff",
        }
    }

    /// Whether the format is ISO-BMFF boxes (MP4, QuickTime, HEIF).
    pub fn is_isobmff(self) -> bool {
        matches!(
            self,
            Format::Mp4 | Format::QuickTime | Format::Heic | Format::Avif
        )
    }
}

/// The format of the file at `path` by its first bytes; `None` for an unknown format.
pub fn sniff_file(path: &std::path::Path) -> std::io::Result<Option<Format>> {
    let mut head = [0u8; SNIFF_LEN];
    let n = crate::io::read_up_to(&mut std::fs::File::open(path)?, &mut head)?;
    Ok(Format::sniff(&head[..n]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_is_found_by_its_own_signature_and_mime() {
        let cases: &[(&[u8], Format)] = &[
            (b"\xFF\xD8\xFF\xDB", Format::Jpeg),
            (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", Format::Png),
            (b"GIF87a\x01\0", Format::Gif),
            (b"RIFF\x10\0\0\0WEBPVP8 ", Format::Webp),
            (b"\0\0\0\x18ftypisom\0\0\x02\0", Format::Mp4),
            (b"\0\0\0\x14ftypqt  \0\0\0\0", Format::QuickTime),
            (b"\0\0\0\x08wide\0\0\0\x10mdat", Format::QuickTime),
            (b"\0\0\0\x1cftypavif\0\0\0\0", Format::Avif),
            (b"\0\0\0\x1cftypmif1\0\0\0\0", Format::Heic),
            (b"\x1a\x45\xdf\xa3\x01", Format::Webm),
            (b"II*\0\x08\0\0\0", Format::Tiff),
            (b"MM\0*\0\0\0\x08", Format::Tiff),
        ];
        for (head, want) in cases {
            assert_eq!(Format::sniff(head), Some(*want), "{head:02x?}");
            let ext = match want {
                Format::QuickTime => "mov".to_owned(),
                Format::Tiff => "tif".to_owned(),
                other => other.name().to_owned(),
            };
            assert_eq!(
                Format::from_extension(&format!("x.{}", ext.to_uppercase())),
                Some(*want)
            );
        }
        // An AVIF that names `isom` first and `avif` among its compatible brands.
        assert_eq!(
            Format::sniff(b"\0\0\0\x20ftypisom\0\0\0\0isommif1avifmiaf"),
            Some(Format::Avif)
        );
        assert_eq!(Format::sniff(b"WEBP but no RIFF"), None);
        assert_eq!(Format::sniff(b"\0\0\0\x18ftyp"), None);
        assert_eq!(Format::sniff(b""), None);
    }
}
