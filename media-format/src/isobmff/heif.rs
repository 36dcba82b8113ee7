//! HEIF (HEIC, AVIF): lossless removal of the `Exif` and XMP items, and the size of the
//! primary image for decoders that must be bounded before they start.
//!
//! A HEIF file is an index (`meta`: item infos `iinf`, their locations `iloc`, references
//! `iref`, properties `iprp`) over coded bytes in `mdat` (or in the index's own `idat`).
//! Cleaning rewrites the index without the metadata items (`Exif`, `mime` such as XMP, `uri `)
//! and every reference and property association that names them, writes it where the old
//! one was, fills the bytes it no longer needs with a top-level `free` box, and zeroes the
//! metadata payloads where they lay. Nothing else moves: every image item's coded bytes stay
//! where `iloc` says they are, byte for byte, and properties (`irot`, `imir`, `ispe`, colour,
//! auxiliary types) are untouched, so the decoded pixels are identical.
//!
//! Everything is checked before a byte is written: a file refused half-way is left as it was.

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;

use super::{be16, be32, boxes, read_body, BoxHeader};
use crate::error::{malformed, too_large, FormatError};
use crate::exif::{facts, mentions_gps, MAX_EXIF_READ};
use crate::strip::StripReport;

/// Largest `meta` read into memory. A phone's HEIC index (a 48-tile grid, gain map, depth
/// map) is a few KiB; an `idat` carrying small items adds little more.
pub const MAX_META: u64 = 16 << 20;
/// Most items one file may list (a 12 MP grid of 512-pixel tiles has 48).
const MAX_ITEMS: usize = 1 << 14;
/// Most extents in all `iloc` entries.
const MAX_EXTENTS: usize = 1 << 16;

/// Boxes of the index kept (rewritten without the metadata items where they name them);
/// any other box in `meta` is dropped.
const KEEP_IN_META: &[&[u8; 4]] = &[
    b"hdlr", b"pitm", b"iloc", b"iinf", b"iref", b"iprp", b"idat", b"dinf", b"grpl",
];

/// Item types that are metadata, not pictures: removed.
fn is_metadata_item(kind: &[u8; 4]) -> bool {
    matches!(kind, b"Exif" | b"mime" | b"uri ")
}

/// One `infe` entry: its id, type, MIME content type, and where it lies in `iinf`'s body.
#[derive(Debug)]
struct ItemInfo {
    id: u32,
    kind: [u8; 4],
    content_type: String,
    raw: Range<usize>,
}

/// One `iloc` entry.
#[derive(Debug)]
struct Location {
    id: u32,
    method: u8,
    base: u64,
    extents: Vec<(u64, u64)>,
    raw: Range<usize>,
}

/// A parsed `meta` body (offsets relative to the body, version/flags word included).
#[derive(Debug)]
struct Meta<'a> {
    body: &'a [u8],
    /// Each child of `meta`: header with offsets in `body`.
    children: Vec<BoxHeader>,
    primary: Option<u32>,
    items: Vec<ItemInfo>,
    iinf: Option<BoxHeader>,
    locations: Vec<Location>,
    iloc: Option<BoxHeader>,
    /// Where `idat`'s body lies in `body`.
    idat: Option<Range<usize>>,
}

fn child_bytes<'a>(body: &'a [u8], h: &BoxHeader) -> &'a [u8] {
    &body[h.body().start as usize..h.end() as usize]
}

/// A reader of big-endian fields of 0, 2, 4 or 8 bytes in a box body.
struct Fields<'a> {
    data: &'a [u8],
    at: usize,
}

impl Fields<'_> {
    fn uint(&mut self, size: usize) -> Result<u64, FormatError> {
        let bytes = self
            .data
            .get(self.at..self.at.saturating_add(size))
            .ok_or_else(|| malformed("a HEIF item table is cut short"))?;
        self.at += size;
        Ok(bytes.iter().fold(0u64, |v, b| (v << 8) | u64::from(*b)))
    }

    fn cstring(&mut self) -> Result<String, FormatError> {
        let rest = self.data.get(self.at..).unwrap_or_default();
        let end =
            memchr::memchr(0, rest).ok_or_else(|| malformed("a HEIF item name has no end"))?;
        self.at += end + 1;
        Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
    }
}

impl<'a> Meta<'a> {
    fn parse(body: &'a [u8]) -> Result<Meta<'a>, FormatError> {
        if body.len() < 4 {
            return Err(malformed("a HEIF meta box is cut short"));
        }
        let mut children = Vec::new();
        for child in boxes(&body[4..]) {
            let mut h = child?.header;
            h.offset += 4;
            children.push(h);
        }
        let mut meta = Meta {
            body,
            children,
            primary: None,
            items: Vec::new(),
            iinf: None,
            locations: Vec::new(),
            iloc: None,
            idat: None,
        };
        for h in meta.children.clone() {
            let data = child_bytes(body, &h);
            match &h.kind {
                b"pitm" => {
                    meta.primary = Some(if data.first() == Some(&0) {
                        u32::from(be16(data, 4)?)
                    } else {
                        be32(data, 4)?
                    })
                }
                b"iinf" if meta.iinf.is_none() => {
                    meta.items = item_infos(data)?;
                    meta.iinf = Some(h);
                }
                b"iloc" if meta.iloc.is_none() => {
                    meta.locations = locations(data)?;
                    meta.iloc = Some(h);
                }
                b"idat" if meta.idat.is_none() => {
                    meta.idat = Some(h.body().start as usize..h.end() as usize)
                }
                b"iinf" | b"iloc" | b"idat" => {
                    return Err(malformed(format!("a HEIF meta box with two {}", h.name())))
                }
                _ => {}
            }
        }
        Ok(meta)
    }
}

/// The entries of `iinf` (body given), with their raw ranges in it.
fn item_infos(iinf: &[u8]) -> Result<Vec<ItemInfo>, FormatError> {
    let version = *iinf.first().ok_or_else(|| malformed("empty iinf"))?;
    let start = if version == 0 { 6 } else { 8 };
    if iinf.len() < start {
        return Err(malformed("a HEIF iinf box is cut short"));
    }
    let mut items = Vec::new();
    for child in boxes(&iinf[start..]) {
        let child = child?;
        if &child.header.kind != b"infe" {
            continue;
        }
        if items.len() >= MAX_ITEMS {
            return Err(too_large(format!("more than {MAX_ITEMS} HEIF items")));
        }
        let e = child.body;
        let version = *e.first().ok_or_else(|| malformed("empty infe"))?;
        if version < 2 {
            // Item infos before version 2 have no item type: an `Exif` item could not be
            // told from a picture.
            return Err(FormatError::Unsupported(
                "HEIF with item infos of version 0 or 1",
            ));
        }
        let mut f = Fields { data: e, at: 4 };
        let id = f.uint(if version == 2 { 2 } else { 4 })? as u32;
        let _protection = f.uint(2)?;
        let kind: [u8; 4] = (f.uint(4)? as u32).to_be_bytes();
        let _name = f.cstring()?;
        let content_type = if &kind == b"mime" {
            f.cstring().unwrap_or_default()
        } else {
            String::new()
        };
        let raw = start + child.header.offset as usize..start + child.header.end() as usize;
        if items.iter().any(|i: &ItemInfo| i.id == id) {
            // Which of the two would a reader take? Neither is guessed.
            return Err(malformed(format!("two HEIF item infos for item {id}")));
        }
        items.push(ItemInfo {
            id,
            kind,
            content_type,
            raw,
        });
    }
    Ok(items)
}

/// The entries of `iloc` (body given), with their raw ranges in it.
fn locations(iloc: &[u8]) -> Result<Vec<Location>, FormatError> {
    let mut f = Fields { data: iloc, at: 0 };
    let version = f.uint(1)? as u8;
    if version > 2 {
        return Err(malformed(format!("iloc version {version}")));
    }
    f.uint(3)?;
    let sizes = f.uint(2)? as u16;
    let (offset_size, length_size, base_size) = (
        usize::from(sizes >> 12),
        usize::from((sizes >> 8) & 15),
        usize::from((sizes >> 4) & 15),
    );
    let index_size = if version == 0 {
        0
    } else {
        usize::from(sizes & 15)
    };
    for size in [offset_size, length_size, base_size, index_size] {
        if !matches!(size, 0 | 4 | 8) {
            return Err(malformed(format!("iloc field size {size}")));
        }
    }
    let count = f.uint(if version < 2 { 2 } else { 4 })? as usize;
    if count > MAX_ITEMS {
        return Err(too_large(format!("more than {MAX_ITEMS} HEIF items")));
    }
    let mut out = Vec::with_capacity(count);
    let mut extents_seen = 0usize;
    for _ in 0..count {
        let start = f.at;
        let id = f.uint(if version < 2 { 2 } else { 4 })? as u32;
        let method = if version == 0 {
            0
        } else {
            (f.uint(2)? & 15) as u8
        };
        // The data reference index: ignored, as libheif ignores it.
        f.uint(2)?;
        let base = f.uint(base_size)?;
        let extent_count = f.uint(2)? as usize;
        extents_seen += extent_count;
        if extents_seen > MAX_EXTENTS {
            return Err(too_large(format!("more than {MAX_EXTENTS} HEIF extents")));
        }
        let mut extents = Vec::with_capacity(extent_count.min(64));
        for _ in 0..extent_count {
            f.uint(index_size)?;
            let offset = f.uint(offset_size)?;
            let length = f.uint(length_size)?;
            extents.push((offset, length));
        }
        if out.iter().any(|l: &Location| l.id == id) {
            return Err(malformed(format!("two HEIF locations for item {id}")));
        }
        out.push(Location {
            id,
            method,
            base,
            extents,
            raw: start..f.at,
        });
    }
    Ok(out)
}

impl Location {
    /// The extents as absolute ranges (in the file for method 0, in `idat` for method 1),
    /// checked not to overflow. A length of 0 ("to the end") is refused for metadata.
    fn ranges(&self) -> Result<Vec<Range<u64>>, FormatError> {
        self.extents
            .iter()
            .map(|&(offset, length)| {
                let start = self
                    .base
                    .checked_add(offset)
                    .ok_or_else(|| malformed("a HEIF extent overflows"))?;
                let end = start
                    .checked_add(length)
                    .ok_or_else(|| malformed("a HEIF extent overflows"))?;
                Ok(start..end)
            })
            .collect()
    }
}

fn overlaps(a: &Range<u64>, b: &Range<u64>) -> bool {
    a.start < b.end && b.start < a.end
}

/// A removed item's bytes: where they are, to read and zero them.
#[derive(Debug)]
enum Payload {
    /// In the file (absolute ranges).
    File(Vec<Range<u64>>),
    /// In `idat` (ranges relative to its body).
    Idat(Vec<Range<u64>>),
    /// Elsewhere (another file, or another item's bytes): nothing of ours to zero.
    None,
}

/// Clean the top-level `meta` of a HEIF file (`header`), in `file` of `len` bytes whose
/// top-level boxes are `top`. Writes only when `write`; the report says what was (or would
/// be) removed.
pub(crate) fn clean_meta<F: Read + Write + Seek>(
    file: &mut F,
    header: &BoxHeader,
    top: &[BoxHeader],
    write: bool,
    report: &mut StripReport,
) -> Result<(), FormatError> {
    let body = read_body(file, header, MAX_META)?;
    let meta = Meta::parse(&body)?;
    let removed: HashSet<u32> = meta
        .items
        .iter()
        .filter(|i| is_metadata_item(&i.kind))
        .map(|i| i.id)
        .collect();
    let idat_len = meta.idat.as_ref().map_or(0, |r| (r.end - r.start) as u64);
    let mdats: Vec<Range<u64>> = top
        .iter()
        .filter(|h| &h.kind == b"mdat")
        .map(|h| h.body())
        .collect();

    // Where every kept item's bytes are: in an `mdat` (any other top-level box may be blanked
    // as metadata, and the index itself is rewritten), and never shared with a payload that
    // is zeroed.
    let mut kept_file = Vec::new();
    let mut kept_idat = Vec::new();
    // The data reference is ignored, as libheif ignores it: every extent counts as this file's.
    for loc in meta.locations.iter().filter(|l| !removed.contains(&l.id)) {
        match loc.method {
            0 => {
                for r in loc.ranges()? {
                    // The `mdat`s are in file order and do not overlap: one binary search.
                    let i = mdats.partition_point(|m| m.end <= r.start);
                    let Some(m) = mdats
                        .get(i)
                        .filter(|m| r.start >= m.start && r.end <= m.end)
                    else {
                        return Err(FormatError::Unsupported(
                            "HEIF with picture data outside its mdat boxes",
                        ));
                    };
                    // A length of 0 means "to the end": of its mdat, at least.
                    kept_file.push(if r.is_empty() { r.start..m.end } else { r });
                }
            }
            1 => kept_idat.extend(loc.ranges()?),
            _ => {}
        }
    }
    if meta.items.iter().any(|i| &i.kind == b"jpeg") {
        // A JPEG-coded item carries its own APP segments (EXIF, GPS) inside picture bytes that
        // cannot move.
        return Err(FormatError::Unsupported("HEIF with JPEG-coded items"));
    }
    // Boxes in the index that are not about pictures (`keys`/`ilst` with Apple's location
    // key, `xml `/`bxml` XMP, vendor boxes): dropped from the rewritten index.
    let dropped: Vec<&BoxHeader> = meta
        .children
        .iter()
        .filter(|h| !KEEP_IN_META.contains(&&h.kind))
        .collect();
    // Bytes of the `mdat`s no picture and no sequence track uses (where a removed item's
    // payload was, or what a second index in some other box pointed at): zeroed too.
    let hidden = {
        // Every item's extents count as used here (the removed ones are zeroed below), and
        // so do the samples of an image sequence's tracks (`moov`).
        let mut named = kept_file.clone();
        for loc in meta.locations.iter().filter(|l| l.method == 0) {
            named.extend(loc.ranges()?.into_iter().filter(|r| !r.is_empty()));
        }
        for moov in top.iter().filter(|h| &h.kind == b"moov") {
            let len = top.last().map_or(0, BoxHeader::end);
            let body = read_body(file, moov, super::MAX_MOOV)?;
            super::scrub::track_samples(&body, len, &mut named)?;
        }
        unreferenced(file, &mdats, &named, report)?
    };
    if removed.is_empty() && dropped.is_empty() {
        if write {
            for r in &hidden {
                super::scrub::zero(file, r.start, r.end - r.start)?;
            }
        }
        return Ok(());
    }
    for h in &dropped {
        let data = child_bytes(&body, h);
        report.remove(&h.name());
        report.had_location |= super::scrub::tells_location(data);
    }
    if meta.primary.is_some_and(|p| removed.contains(&p)) {
        return Err(malformed(
            "the primary HEIF item is metadata, not a picture",
        ));
    }
    let (iinf, iloc) = match (meta.iinf, meta.iloc) {
        (Some(a), Some(b)) => (a, b),
        _ => return Err(malformed("a HEIF file without iinf or iloc")),
    };

    // Each removed item's payload, checked to lie where zeroing it harms nothing else.
    let mut payloads = Vec::new();
    for item in meta.items.iter().filter(|i| removed.contains(&i.id)) {
        let Some(loc) = meta.locations.iter().find(|l| l.id == item.id) else {
            payloads.push((item, Payload::None));
            continue;
        };
        let ranges = loc.ranges()?;
        if ranges.iter().any(|r| r.is_empty()) {
            return Err(malformed("a HEIF metadata item with an open-ended extent"));
        }
        let payload = match loc.method {
            0 => {
                for r in &ranges {
                    // In a data box; never inside the index (whose kept boxes are copied).
                    let inside = top.iter().any(|h| {
                        matches!(&h.kind, b"mdat" | b"free" | b"skip")
                            && r.start >= h.body().start
                            && r.end <= h.end()
                    });
                    if !inside || kept_file.iter().any(|k| overlaps(k, r)) {
                        return Err(malformed(format!(
                            "HEIF {} item bytes lie outside the data or over a picture",
                            item.kind.escape_ascii()
                        )));
                    }
                }
                Payload::File(ranges)
            }
            1 => {
                for r in &ranges {
                    if r.end > idat_len || kept_idat.iter().any(|k| overlaps(k, r)) {
                        return Err(malformed(
                            "HEIF metadata in idat lies outside it or over a picture",
                        ));
                    }
                }
                Payload::Idat(ranges)
            }
            _ => Payload::None,
        };
        payloads.push((item, payload));
    }

    // What the payloads say: a location?
    for (item, payload) in &payloads {
        let name = match &item.kind {
            b"Exif" => "EXIF",
            b"mime" if item.content_type.contains("rdf+xml") => "XMP",
            b"mime" => "mime",
            _ => "uri",
        };
        report.remove(name);
        let (data, whole) = read_payload(file, &body, meta.idat.as_ref(), payload)?;
        report.had_location |= match &item.kind {
            b"Exif" => {
                // Four bytes give the offset of the TIFF header within the payload.
                let skip = data
                    .get(..4)
                    .map_or(0, |b| be32(b, 0).unwrap_or(0) as usize);
                let tiff = data.get(4usize.saturating_add(skip)..).unwrap_or_default();
                // Writers disagree on the offset word (some leave it out, some add
                // `Exif\0\0`): the payload read either way.
                facts(tiff).1
                    || facts(&data).1
                    || facts(data.get(4..).unwrap_or_default()).1
                    || !whole
            }
            _ => mentions_gps(&data) || !whole,
        };
    }

    let new_meta = rewrite(&meta, &removed, iinf, iloc, &payloads)?;
    let new_len = new_meta.len() as u64 + 8;
    let gap = header.size - new_len.min(header.size);
    if new_len > header.size || (gap > 0 && gap < 8) || new_len > u64::from(u32::MAX) {
        return Err(malformed(
            "the cleaned HEIF index does not fit where the old one was",
        ));
    }
    if !write {
        return Ok(());
    }
    file.seek(SeekFrom::Start(header.offset))?;
    file.write_all(&(new_len as u32).to_be_bytes())?;
    file.write_all(b"meta")?;
    file.write_all(&new_meta)?;
    if gap > 0 {
        let mut free = (gap as u32).to_be_bytes().to_vec();
        free.extend_from_slice(b"free");
        file.write_all(&free)?;
        super::scrub::zero(file, header.offset + new_len + 8, gap - 8)?;
    }
    // Each byte once, however many extents name it: no more writing than the file is long.
    let mut ranges: Vec<Range<u64>> = payloads
        .iter()
        .filter_map(|(_, p)| match p {
            Payload::File(r) => Some(r.iter().cloned()),
            _ => None,
        })
        .flatten()
        .chain(hidden)
        .collect();
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<u64>> = Vec::new();
    for r in ranges {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    for r in merged {
        super::scrub::zero(file, r.start, r.end - r.start)?;
    }
    Ok(())
}

/// The parts of `mdats` no kept picture extent covers and that hold something other than
/// zeros: noted in the report (as a location when they look like one, or when they are too
/// long to look at), to be zeroed.
fn unreferenced<F: Read + Seek>(
    file: &mut F,
    mdats: &[Range<u64>],
    kept: &[Range<u64>],
    report: &mut StripReport,
) -> Result<Vec<Range<u64>>, FormatError> {
    // Sorted and merged, the used ranges' ends rise too: each `mdat` finds its first one by a
    // binary search and walks only those it overlaps (linear in all, not mdats × extents).
    let mut sorted: Vec<Range<u64>> = kept.to_vec();
    sorted.sort_by_key(|r| r.start);
    let mut used: Vec<Range<u64>> = Vec::with_capacity(sorted.len());
    for r in sorted {
        match used.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => used.push(r),
        }
    }
    let mut gaps = Vec::new();
    for m in mdats {
        let mut at = m.start;
        let first = used.partition_point(|k| k.end <= m.start);
        for k in used[first..].iter().take_while(|k| k.start < m.end) {
            if k.start > at {
                gaps.push(at..k.start);
            }
            at = at.max(k.end);
        }
        if at < m.end {
            gaps.push(at..m.end);
        }
    }
    let mut found = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    for gap in gaps {
        file.seek(SeekFrom::Start(gap.start))?;
        let mut left = gap.end - gap.start;
        let mut content = false;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            crate::io::fill(file, &mut buf[..n], "an mdat box")?;
            if buf[..n].iter().any(|&b| b != 0) {
                report.had_location |= content
                    || n as u64 == buf.len() as u64
                    || super::scrub::tells_location(&buf[..n]);
                content = true;
            }
            left -= n as u64;
        }
        if content {
            report.remove("unreferenced data");
            found.push(gap);
        }
    }
    Ok(found)
}

/// The first bytes of a payload (at most [`MAX_EXIF_READ`]) and whether that is all of it.
fn read_payload<F: Read + Seek>(
    file: &mut F,
    body: &[u8],
    idat: Option<&Range<usize>>,
    payload: &Payload,
) -> Result<(Vec<u8>, bool), FormatError> {
    let mut data = Vec::new();
    let mut whole = true;
    let (ranges, in_idat) = match payload {
        Payload::File(r) => (r, false),
        Payload::Idat(r) => (r, true),
        Payload::None => return Ok((data, true)),
    };
    for r in ranges {
        let room = MAX_EXIF_READ - data.len();
        let want = (r.end - r.start).min(room as u64) as usize;
        if want < (r.end - r.start) as usize {
            whole = false;
        }
        if in_idat {
            let base = idat.map_or(0, |i| i.start);
            let at = base + r.start as usize;
            data.extend_from_slice(body.get(at..at + want).unwrap_or_default());
        } else {
            file.seek(SeekFrom::Start(r.start))?;
            let at = data.len();
            data.resize(at + want, 0);
            crate::io::fill(file, &mut data[at..], "a HEIF metadata item")?;
        }
        if data.len() >= MAX_EXIF_READ {
            break;
        }
    }
    Ok((data, whole))
}

/// The new `meta` body: every child as it was but `iinf`, `iloc`, `iref`, `iprp` (its
/// `ipma`) without the removed items, and `idat` with their bytes zeroed.
fn rewrite(
    meta: &Meta<'_>,
    removed: &HashSet<u32>,
    iinf: BoxHeader,
    iloc: BoxHeader,
    payloads: &[(&ItemInfo, Payload)],
) -> Result<Vec<u8>, FormatError> {
    let body = meta.body;
    let mut out = body[..4].to_vec();
    for h in meta
        .children
        .iter()
        .filter(|h| KEEP_IN_META.contains(&&h.kind))
    {
        let data = child_bytes(body, h);
        let new_body = if h.offset == iinf.offset {
            let version = data[0];
            let start = if version == 0 { 6 } else { 8 };
            let kept: Vec<&ItemInfo> = meta
                .items
                .iter()
                .filter(|i| !removed.contains(&i.id))
                .collect();
            let mut b = data[..4].to_vec();
            if version == 0 {
                b.extend_from_slice(&(kept.len() as u16).to_be_bytes());
            } else {
                b.extend_from_slice(&(kept.len() as u32).to_be_bytes());
            }
            for item in kept {
                b.extend_from_slice(&data[item.raw.clone()]);
            }
            // Anything after the entries (nothing, in a valid file) is left out.
            let _ = start;
            b
        } else if h.offset == iloc.offset {
            let version = data[0];
            let count_at = 6;
            let count_len = if version < 2 { 2 } else { 4 };
            let kept: Vec<&Location> = meta
                .locations
                .iter()
                .filter(|l| !removed.contains(&l.id))
                .collect();
            let mut b = data[..count_at].to_vec();
            if version < 2 {
                b.extend_from_slice(&(kept.len() as u16).to_be_bytes());
            } else {
                b.extend_from_slice(&(kept.len() as u32).to_be_bytes());
            }
            let _ = count_len;
            for loc in kept {
                b.extend_from_slice(&data[loc.raw.clone()]);
            }
            b
        } else if &h.kind == b"iref" {
            iref_without(data, removed)?
        } else if &h.kind == b"iprp" {
            iprp_without(data, removed)?
        } else if meta
            .idat
            .as_ref()
            .is_some_and(|r| r.start as u64 == h.body().start)
        {
            let mut b = data.to_vec();
            for (_, payload) in payloads {
                if let Payload::Idat(ranges) = payload {
                    for r in ranges {
                        b[r.start as usize..r.end as usize].fill(0);
                    }
                }
            }
            b
        } else {
            data.to_vec()
        };
        out.extend_from_slice(&((new_body.len() + 8) as u32).to_be_bytes());
        out.extend_from_slice(&h.kind);
        out.extend_from_slice(&new_body);
    }
    Ok(out)
}

/// `iref` without references from removed items, and without removed items in the lists of
/// the others (a list left empty goes too).
fn iref_without(iref: &[u8], removed: &HashSet<u32>) -> Result<Vec<u8>, FormatError> {
    let version = *iref.first().ok_or_else(|| malformed("empty iref"))?;
    let id_size = if version == 0 { 2 } else { 4 };
    let mut out = iref
        .get(..4)
        .ok_or_else(|| malformed("empty iref"))?
        .to_vec();
    for child in boxes(&iref[4..]) {
        let child = child?;
        let mut f = Fields {
            data: child.body,
            at: 0,
        };
        let from = f.uint(id_size)? as u32;
        let count = f.uint(2)? as usize;
        let mut to = Vec::with_capacity(count.min(MAX_ITEMS));
        for _ in 0..count {
            to.push(f.uint(id_size)? as u32);
        }
        if removed.contains(&from) {
            continue;
        }
        to.retain(|id| !removed.contains(id));
        if to.is_empty() {
            continue;
        }
        let mut b = Vec::new();
        push_id(&mut b, from, id_size);
        b.extend_from_slice(&(to.len() as u16).to_be_bytes());
        for id in to {
            push_id(&mut b, id, id_size);
        }
        out.extend_from_slice(&((b.len() + 8) as u32).to_be_bytes());
        out.extend_from_slice(&child.header.kind);
        out.extend_from_slice(&b);
    }
    Ok(out)
}

fn push_id(out: &mut Vec<u8>, id: u32, size: usize) {
    if size == 2 {
        out.extend_from_slice(&(id as u16).to_be_bytes());
    } else {
        out.extend_from_slice(&id.to_be_bytes());
    }
}

/// `iprp` with its `ipma` boxes rid of removed items' associations (`ipco` as it was).
fn iprp_without(iprp: &[u8], removed: &HashSet<u32>) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::with_capacity(iprp.len());
    for child in boxes(iprp) {
        let child = child?;
        let body = if &child.header.kind == b"ipma" {
            ipma_without(child.body, removed)?
        } else {
            child.body.to_vec()
        };
        out.extend_from_slice(&((body.len() + 8) as u32).to_be_bytes());
        out.extend_from_slice(&child.header.kind);
        out.extend_from_slice(&body);
    }
    Ok(out)
}

fn ipma_without(ipma: &[u8], removed: &HashSet<u32>) -> Result<Vec<u8>, FormatError> {
    let version = *ipma.first().ok_or_else(|| malformed("empty ipma"))?;
    let wide = ipma.get(3).is_some_and(|flags| flags & 1 == 1);
    let mut f = Fields { data: ipma, at: 4 };
    let count = f.uint(4)? as usize;
    if count > MAX_ITEMS {
        return Err(too_large(format!("more than {MAX_ITEMS} HEIF items")));
    }
    let mut kept = Vec::new();
    let mut kept_count = 0u32;
    for _ in 0..count {
        let start = f.at;
        let id = f.uint(if version < 1 { 2 } else { 4 })? as u32;
        let n = f.uint(1)? as usize;
        for _ in 0..n {
            f.uint(if wide { 2 } else { 1 })?;
        }
        if !removed.contains(&id) {
            kept.extend_from_slice(&ipma[start..f.at]);
            kept_count += 1;
        }
    }
    let mut out = ipma[..4].to_vec();
    out.extend_from_slice(&kept_count.to_be_bytes());
    out.extend_from_slice(&kept);
    Ok(out)
}

/// Width and height of the primary image of a HEIF file (its `ispe`; for a grid, the whole
/// grid), read from the index alone: what a decoder would be asked to allocate, known before
/// it starts. `None` when the file says nothing.
pub fn primary_size<R: Read + Seek>(file: &mut R) -> Result<Option<(u32, u32)>, FormatError> {
    let len = file.seek(SeekFrom::End(0))?;
    let mut top = super::TopLevel::new(len);
    while let Some(h) = top.next(file)? {
        if &h.kind != b"meta" {
            continue;
        }
        let body = read_body(file, &h, MAX_META)?;
        let meta = Meta::parse(&body)?;
        let Some(primary) = meta.primary else {
            return Ok(None);
        };
        return meta_primary_size(&meta, primary);
    }
    Ok(None)
}

/// Where the picture items' own bytes lie in a HEIF file in memory (file-offset extents, not
/// metadata items): what cleaning must leave byte for byte. For the fuzz property.
#[doc(hidden)]
pub fn picture_ranges(data: &[u8]) -> Vec<Range<u64>> {
    let mut out = Vec::new();
    let mut cur = std::io::Cursor::new(data);
    let mut top = super::TopLevel::new(data.len() as u64);
    while let Ok(Some(h)) = top.next(&mut cur) {
        if &h.kind != b"meta" {
            continue;
        }
        let Ok(body) = read_body(&mut cur, &h, MAX_META) else {
            return out;
        };
        let Ok(meta) = Meta::parse(&body) else {
            return out;
        };
        let pictures: HashSet<u32> = meta
            .items
            .iter()
            .filter(|i| !is_metadata_item(&i.kind))
            .map(|i| i.id)
            .collect();
        for loc in &meta.locations {
            if pictures.contains(&loc.id) && loc.method == 0 {
                out.extend(
                    loc.ranges()
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|r| r.end <= data.len() as u64),
                );
            }
        }
        return out;
    }
    out
}

fn meta_primary_size(meta: &Meta<'_>, primary: u32) -> Result<Option<(u32, u32)>, FormatError> {
    let Some(iprp) = meta
        .children
        .iter()
        .find(|h| &h.kind == b"iprp")
        .map(|h| child_bytes(meta.body, h))
    else {
        return Ok(None);
    };
    let Some(ipco) = super::find(iprp, b"ipco")? else {
        return Ok(None);
    };
    let properties: Vec<super::Child<'_>> = boxes(ipco).collect::<Result<_, _>>()?;
    let Some(ipma) = super::find(iprp, b"ipma")? else {
        return Ok(None);
    };
    let version = *ipma.first().ok_or_else(|| malformed("empty ipma"))?;
    let wide = ipma.get(3).is_some_and(|flags| flags & 1 == 1);
    let mut f = Fields { data: ipma, at: 4 };
    let count = (f.uint(4)? as usize).min(MAX_ITEMS);
    for _ in 0..count {
        let id = f.uint(if version < 1 { 2 } else { 4 })? as u32;
        let n = f.uint(1)? as usize;
        for _ in 0..n {
            let raw = f.uint(if wide { 2 } else { 1 })?;
            let index = (raw & if wide { 0x7FFF } else { 0x7F }) as usize;
            if id != primary || index == 0 {
                continue;
            }
            if let Some(p) = properties.get(index - 1) {
                if &p.header.kind == b"ispe" {
                    return Ok(Some((be32(p.body, 4)?, be32(p.body, 8)?)));
                }
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::super::bx;
    use super::*;
    use crate::strip::strip_bytes;

    fn full(kind: &[u8; 4], version: u8, payload: &[u8]) -> Vec<u8> {
        bx(kind, &[&[version, 0, 0, 0][..], payload].concat())
    }

    fn infe(id: u16, kind: &[u8; 4], extra: &[u8]) -> Vec<u8> {
        let mut p = id.to_be_bytes().to_vec();
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(kind);
        p.push(0);
        p.extend_from_slice(extra);
        full(b"infe", 2, &p)
    }

    /// A HEIF file: picture item 1 (`hvc1`, 16 bytes in mdat), Exif item 2 (with GPS), XMP
    /// item 3 in `idat`; `cdsc` from 2 and 3 to 1; `ispe` and `irot` on 1.
    pub(crate) fn sample_heic() -> (Vec<u8>, Range<usize>) {
        let picture = [0xAB_u8; 16];
        let mut tiff = b"MM\0\x2a\0\0\0\x08\0\x01".to_vec();
        tiff.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 26]);
        tiff.extend_from_slice(&[0; 4]);
        let mut exif = 0u32.to_be_bytes().to_vec();
        exif.extend_from_slice(&tiff);
        let xmp = b"<x:xmpmeta exif:GPSLatitude='48,51N'/>".to_vec();
        let ftyp = bx(b"ftyp", b"heic\0\0\0\0mif1heic");
        let build = |mdat_at: u32| {
            let hdlr = full(b"hdlr", 0, b"\0\0\0\0pict\0\0\0\0\0\0\0\0\0\0\0\0\0");
            let pitm = full(b"pitm", 0, &1u16.to_be_bytes());
            let iinf = full(
                b"iinf",
                0,
                &[
                    &3u16.to_be_bytes()[..],
                    &infe(1, b"hvc1", b""),
                    &infe(2, b"Exif", b""),
                    &infe(3, b"mime", b"application/rdf+xml\0"),
                ]
                .concat(),
            );
            // iloc v1, offset/length 4, base 0, index 0.
            let mut l = vec![0x44, 0x00];
            l.extend_from_slice(&3u16.to_be_bytes());
            let entry = |id: u16, method: u16, off: u32, len: u32| {
                let mut e = id.to_be_bytes().to_vec();
                e.extend_from_slice(&method.to_be_bytes());
                e.extend_from_slice(&[0, 0, 0, 1]);
                e.extend_from_slice(&off.to_be_bytes());
                e.extend_from_slice(&len.to_be_bytes());
                e
            };
            l.extend(entry(1, 0, mdat_at, 16));
            l.extend(entry(2, 0, mdat_at + 16, exif.len() as u32));
            l.extend(entry(3, 1, 0, xmp.len() as u32));
            let iloc = full(b"iloc", 1, &l);
            let cdsc = bx(b"cdsc", &[0, 2, 0, 1, 0, 1]);
            let cdsc3 = bx(b"cdsc", &[0, 3, 0, 1, 0, 1]);
            let iref = full(b"iref", 0, &[cdsc, cdsc3].concat());
            let ispe = full(b"ispe", 0, &[0, 0, 0, 4, 0, 0, 0, 3]);
            let irot = bx(b"irot", &[1]);
            let ipco = bx(b"ipco", &[ispe, irot].concat());
            let ipma = full(b"ipma", 0, &[0, 0, 0, 2, 0, 1, 2, 0x81, 0x02, 0, 2, 0]);
            let iprp = bx(b"iprp", &[ipco, ipma].concat());
            let idat = bx(b"idat", &xmp);
            full(
                b"meta",
                0,
                &[hdlr, pitm, iinf, iloc, iref, iprp, idat].concat(),
            )
        };
        let meta_len = build(0).len();
        let mdat_at = (ftyp.len() + meta_len + 8) as u32;
        let meta = build(mdat_at);
        let mdat = bx(b"mdat", &[&picture[..], &exif].concat());
        let file = [ftyp, meta, mdat].concat();
        let pic = mdat_at as usize..mdat_at as usize + 16;
        (file, pic)
    }

    #[test]
    fn exif_and_xmp_items_go_and_the_picture_stays_where_iloc_says() {
        let (file, pic) = sample_heic();
        assert_eq!(crate::Format::sniff(&file), Some(crate::Format::Heic));
        let (report, clean) = strip_bytes(&file).unwrap();
        assert!(report.had_location);
        assert_eq!(report.removed, ["EXIF", "XMP"]);
        assert_eq!(clean.len(), file.len());
        assert_eq!(clean[pic.clone()], file[pic.clone()]);
        // Neither the GPS IFD nor the XMP remain anywhere.
        assert!(!clean.windows(3).any(|w| w == b"GPS"));
        assert!(!clean.windows(4).any(|w| w == [0x88, 0x25, 0, 4]));
        // The index lists one item, found where it was, with its properties.
        let mut cur = std::io::Cursor::new(clean.clone());
        let len = clean.len() as u64;
        let mut top = super::super::TopLevel::new(len);
        let mut kinds = Vec::new();
        while let Some(h) = top.next(&mut cur).unwrap() {
            kinds.push(h.name());
            if &h.kind == b"meta" {
                let body = read_body(&mut cur, &h, MAX_META).unwrap();
                let meta = Meta::parse(&body).unwrap();
                assert_eq!(meta.items.len(), 1);
                assert_eq!(meta.locations.len(), 1);
                let ranges = meta.locations[0].ranges().unwrap();
                assert_eq!(ranges.len(), 1);
                assert_eq!(ranges[0], pic.start as u64..pic.end as u64);
                assert!(!body.windows(4).any(|w| w == b"cdsc"));
                assert!(body.windows(4).any(|w| w == b"irot"));
                assert_eq!(meta_primary_size(&meta, 1).unwrap(), Some((4, 3)));
            }
        }
        assert_eq!(kinds, ["ftyp", "meta", "free", "mdat"]);
        // Idempotent.
        let (again, same) = strip_bytes(&clean).unwrap();
        assert!(!again.changed());
        assert_eq!(same, clean);
        assert_eq!(
            primary_size(&mut std::io::Cursor::new(&file)).unwrap(),
            Some((4, 3))
        );
    }

    #[test]
    fn metadata_pointing_at_the_picture_is_refused_untouched() {
        let (mut file, pic) = sample_heic();
        // Point the Exif item (second iloc entry) at the picture's bytes.
        let needle = [0u8, 2, 0, 0, 0, 0, 0, 1];
        let at = file.windows(8).position(|w| w == needle).unwrap() + 8;
        file[at..at + 4].copy_from_slice(&(pic.start as u32).to_be_bytes());
        let err = strip_bytes(&file).unwrap_err();
        assert!(matches!(err, FormatError::Malformed(_)), "{err}");
    }

    #[test]
    fn cut_or_garbled_indexes_are_errors_not_panics() {
        let (file, _) = sample_heic();
        for cut in (0..file.len()).step_by(7) {
            let _ = strip_bytes(&file[..cut]);
            let mut bad = file.clone();
            bad[cut] ^= 0xFF;
            let _ = strip_bytes(&bad);
        }
    }
}
