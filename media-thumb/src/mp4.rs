//! Just enough of an MP4/MOV demuxer for a poster: the first video track's codec, size,
//! rotation and duration, and where its first key frame lies in the file.
//!
//! The input is untrusted: every box size is checked against its parent, tables are read
//! only as far as the first key frame needs, and the `moov` box is read into memory only up
//! to [`MAX_MOOV`].

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use crate::ThumbError;

/// Largest `moov` box read (the index of a long phone video is a few MiB).
pub const MAX_MOOV: u64 = 64 << 20;
/// Largest key frame read for a poster.
pub const MAX_SAMPLE: u32 = 32 << 20;

/// What the index says about the first video track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoTrack {
    /// Sample entry type: `avc1`, `hvc1`, `vp09`, …
    pub codec: String,
    /// Coded width and height (before rotation).
    pub width: u32,
    /// See `width`.
    pub height: u32,
    /// EXIF-style orientation from the track matrix: 1, 3, 6 or 8.
    pub orientation: u8,
    /// Movie duration in milliseconds.
    pub duration_ms: u64,
    /// Whether the samples are in movie fragments (`moof`) rather than in the index.
    pub fragmented: bool,
    /// For `avc1`/`avc3`: the decoder configuration and the first key frame.
    pub avc: Option<AvcKeyFrame>,
}

/// The first H.264 key frame of a track and what decoding it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcKeyFrame {
    /// Sequence and picture parameter sets (NAL units without start codes).
    pub parameter_sets: Vec<Vec<u8>>,
    /// Bytes of the NAL length prefix in samples (1, 2 or 4).
    pub nal_length_size: u8,
    /// Where the key frame's sample starts in the file.
    pub offset: u64,
    /// Its size in bytes.
    pub size: u32,
}

impl VideoTrack {
    /// Width as displayed (after rotation).
    pub fn display_width(&self) -> u32 {
        if matches!(self.orientation, 6 | 8) {
            self.height
        } else {
            self.width
        }
    }

    /// Height as displayed (after rotation).
    pub fn display_height(&self) -> u32 {
        if matches!(self.orientation, 6 | 8) {
            self.width
        } else {
            self.height
        }
    }
}

fn corrupt(what: impl Into<String>) -> ThumbError {
    ThumbError::Corrupt(what.into())
}

/// A box inside a buffer: its type and body.
struct Child<'a> {
    kind: [u8; 4],
    body: &'a [u8],
}

/// The boxes inside `buf`, each checked to fit.
fn children(mut buf: &[u8]) -> Result<Vec<Child<'_>>, ThumbError> {
    let mut out = Vec::new();
    while buf.len() >= 8 {
        let mut size = u64::from(be32(buf, 0)?);
        let kind = [buf[4], buf[5], buf[6], buf[7]];
        let mut head = 8usize;
        if size == 1 {
            size = be64(buf, 8)?;
            head = 16;
        } else if size == 0 {
            size = buf.len() as u64;
        }
        if size < head as u64 || size > buf.len() as u64 {
            return Err(corrupt(format!(
                "MP4 box {} overruns its parent",
                String::from_utf8_lossy(&kind)
            )));
        }
        let size = size as usize;
        out.push(Child {
            kind,
            body: &buf[head..size],
        });
        buf = &buf[size..];
    }
    Ok(out)
}

/// The body of the first box of `kind`.
fn find<'a>(boxes: &[Child<'a>], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes.iter().find(|b| &b.kind == kind).map(|b| b.body)
}

fn inside<'a>(body: &'a [u8], path: &[&[u8; 4]]) -> Result<Option<&'a [u8]>, ThumbError> {
    let mut body = body;
    for kind in path {
        let boxes = children(body)?;
        match find(&boxes, kind) {
            Some(b) => body = b,
            None => return Ok(None),
        }
    }
    Ok(Some(body))
}

fn be16(b: &[u8], at: usize) -> Result<u16, ThumbError> {
    b.get(at..at + 2)
        .map(|s| u16::from_be_bytes([s[0], s[1]]))
        .ok_or_else(|| corrupt("MP4 box cut short"))
}

fn be32(b: &[u8], at: usize) -> Result<u32, ThumbError> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| corrupt("MP4 box cut short"))
}

fn be64(b: &[u8], at: usize) -> Result<u64, ThumbError> {
    b.get(at..at + 8)
        .map(|s| u64::from_be_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]))
        .ok_or_else(|| corrupt("MP4 box cut short"))
}

/// The `moov` box of `file` and whether the file is fragmented (`moof`: its samples are not
/// in the index), or `None` when the file is not an MP4/MOV.
fn read_moov(file: &mut File) -> Result<Option<(Vec<u8>, bool)>, ThumbError> {
    let len = file.metadata().map_err(ThumbError::Io)?.len();
    let mut at = 0u64;
    let mut saw_ftyp = false;
    let mut fragmented = false;
    let mut moov = None;
    while at + 8 <= len {
        file.seek(SeekFrom::Start(at)).map_err(ThumbError::Io)?;
        let mut head = [0u8; 16];
        let n = read_up_to(file, &mut head)?;
        let mut size = u64::from(be32(&head, 0)?);
        let kind = [head[4], head[5], head[6], head[7]];
        let mut header = 8u64;
        if size == 1 {
            if n < 16 {
                return Err(corrupt("an MP4 box's 64-bit size is cut short"));
            }
            size = be64(&head, 8)?;
            header = 16;
        } else if size == 0 {
            size = len - at;
        }
        if at == 0 {
            if &kind != b"ftyp" {
                return Ok(None);
            }
            saw_ftyp = true;
        }
        if size < header || at + size > len {
            return Err(corrupt(format!(
                "MP4 box {} at {at} overruns the file",
                String::from_utf8_lossy(&kind)
            )));
        }
        match &kind {
            b"moov" => {
                let body = size - header;
                if body > MAX_MOOV {
                    return Err(ThumbError::TooLarge {
                        width: 0,
                        height: 0,
                        limit: format!("moov box of {body} bytes (at most {MAX_MOOV})"),
                    });
                }
                file.seek(SeekFrom::Start(at + header))
                    .map_err(ThumbError::Io)?;
                let mut buf = vec![0u8; body as usize];
                file.read_exact(&mut buf).map_err(ThumbError::Io)?;
                moov = Some(buf);
            }
            b"moof" => fragmented = true,
            _ => {}
        }
        // The index and the first fragment are all a poster needs.
        if moov.is_some() && (fragmented || kind == *b"mdat") {
            break;
        }
        at += size;
    }
    match moov {
        Some(m) => Ok(Some((m, fragmented))),
        None if saw_ftyp => Err(corrupt("MP4 without a moov box")),
        None => Ok(None),
    }
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> Result<usize, ThumbError> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]).map_err(ThumbError::Io)? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// The first video track of the MP4/MOV file `file`; `None` when the file is not an MP4/MOV
/// or has no video track.
pub fn first_video_track(file: &mut File) -> Result<Option<VideoTrack>, ThumbError> {
    let Some((moov, fragmented)) = read_moov(file)? else {
        return Ok(None);
    };
    let top = children(&moov)?;
    let duration_ms = match find(&top, b"mvhd") {
        Some(mvhd) => movie_duration_ms(mvhd)?,
        None => 0,
    };
    for trak in top.iter().filter(|b| &b.kind == b"trak") {
        let handler = inside(trak.body, &[b"mdia", b"hdlr"])?;
        if handler.and_then(|h| h.get(8..12)) != Some(b"vide") {
            continue;
        }
        return track(trak.body, duration_ms, fragmented).map(Some);
    }
    Ok(None)
}

fn movie_duration_ms(mvhd: &[u8]) -> Result<u64, ThumbError> {
    let (timescale, duration) = if mvhd.first() == Some(&1) {
        (be32(mvhd, 20)?, be64(mvhd, 24)?)
    } else {
        (be32(mvhd, 12)?, u64::from(be32(mvhd, 16)?))
    };
    if timescale == 0 {
        return Ok(0);
    }
    Ok((u128::from(duration) * 1000 / u128::from(timescale)).min(u128::from(u64::MAX)) as u64)
}

fn track(trak: &[u8], duration_ms: u64, fragmented: bool) -> Result<VideoTrack, ThumbError> {
    let tkhd = inside(trak, &[b"tkhd"])?.ok_or_else(|| corrupt("video track without tkhd"))?;
    // Version 1 has 64-bit times: the matrix sits 12 bytes further.
    let matrix_at = if tkhd.first() == Some(&1) { 52 } else { 40 };
    let a = be32(tkhd, matrix_at)? as i32;
    let b = be32(tkhd, matrix_at + 4)? as i32;
    let c = be32(tkhd, matrix_at + 12)? as i32;
    let d = be32(tkhd, matrix_at + 16)? as i32;
    let orientation = orientation_of(a, b, c, d);

    let stbl = inside(trak, &[b"mdia", b"minf", b"stbl"])?
        .ok_or_else(|| corrupt("video track without a sample table"))?;
    let tables = children(stbl)?;
    let stsd = find(&tables, b"stsd").ok_or_else(|| corrupt("video track without stsd"))?;
    // Full box (4) + entry count (4), then the first sample entry.
    let entries = children(stsd.get(8..).ok_or_else(|| corrupt("stsd cut short"))?)?;
    let entry = entries
        .first()
        .ok_or_else(|| corrupt("stsd without a sample entry"))?;
    let codec = String::from_utf8_lossy(&entry.kind).into_owned();
    // VisualSampleEntry: 8 bytes of SampleEntry, 16 reserved, then width and height.
    let width = u32::from(be16(entry.body, 24)?);
    let height = u32::from(be16(entry.body, 26)?);
    let avc = if matches!(&entry.kind, b"avc1" | b"avc3") && !fragmented {
        let config = entry
            .body
            .get(78..)
            .map(children)
            .transpose()?
            .and_then(|boxes| find(&boxes, b"avcC").map(<[u8]>::to_vec))
            .ok_or_else(|| corrupt("H.264 track without avcC"))?;
        let (parameter_sets, nal_length_size) = avc_config(&config)?;
        let (offset, size) = first_key_frame(&tables)?;
        Some(AvcKeyFrame {
            parameter_sets,
            nal_length_size,
            offset,
            size,
        })
    } else {
        None
    };
    Ok(VideoTrack {
        codec,
        width,
        height,
        orientation,
        duration_ms,
        fragmented,
        avc,
    })
}

/// The track matrix's rotation as an EXIF orientation (mirrored matrices count as upright).
fn orientation_of(a: i32, b: i32, c: i32, d: i32) -> u8 {
    const ONE: i32 = 0x1_0000;
    match (a, b, c, d) {
        (0, ONE, x, 0) if x == -ONE => 6,
        (x, 0, 0, y) if x == -ONE && y == -ONE => 3,
        (0, x, ONE, 0) if x == -ONE => 8,
        _ => 1,
    }
}

/// SPS and PPS from an `avcC` record, and the NAL length size.
fn avc_config(c: &[u8]) -> Result<(Vec<Vec<u8>>, u8), ThumbError> {
    let short = || corrupt("avcC cut short");
    let nal_length_size = (c.get(4).ok_or_else(short)? & 0b11) + 1;
    if nal_length_size == 3 {
        return Err(corrupt("avcC: a 3-byte NAL length is not allowed"));
    }
    let mut sets = Vec::new();
    let mut at = 5usize;
    for count_mask in [0x1f_u8, 0xff] {
        let count = c.get(at).ok_or_else(short)? & count_mask;
        at += 1;
        for _ in 0..count {
            let len = usize::from(be16(c, at)?);
            let set = c.get(at + 2..at + 2 + len).ok_or_else(short)?;
            sets.push(set.to_vec());
            at += 2 + len;
        }
    }
    Ok((sets, nal_length_size))
}

/// File offset and size of the first sync sample.
fn first_key_frame(tables: &[Child<'_>]) -> Result<(u64, u32), ThumbError> {
    let table = |kind: &[u8; 4]| find(tables, kind);
    // No stss: every sample is a sync sample.
    let sample = match table(b"stss") {
        Some(stss) if be32(stss, 4)? > 0 => be32(stss, 8)?,
        Some(_) => return Err(corrupt("stss lists no key frame")),
        None => 1,
    };
    if sample == 0 {
        return Err(corrupt("stss names sample 0"));
    }
    let stsz = table(b"stsz").ok_or_else(|| corrupt("no stsz"))?;
    let fixed = be32(stsz, 4)?;
    let count = be32(stsz, 8)?;
    if sample > count {
        return Err(corrupt(format!(
            "key frame {sample} past the {count} samples"
        )));
    }
    let size_of = |n: u32| -> Result<u32, ThumbError> {
        if fixed != 0 {
            Ok(fixed)
        } else {
            be32(stsz, 12 + 4 * (n as usize - 1))
        }
    };

    // stsc: runs of chunks with the same number of samples each.
    let stsc = table(b"stsc").ok_or_else(|| corrupt("no stsc"))?;
    let runs = be32(stsc, 4)? as usize;
    let (mut chunk, mut first_in_chunk) = (None, 1u64);
    for i in 0..runs {
        let first_chunk = u64::from(be32(stsc, 8 + 12 * i)?);
        let per_chunk = u64::from(be32(stsc, 12 + 12 * i)?);
        let next_chunk = if i + 1 < runs {
            u64::from(be32(stsc, 8 + 12 * (i + 1))?)
        } else {
            u64::MAX
        };
        if per_chunk == 0 || first_chunk == 0 || next_chunk <= first_chunk {
            return Err(corrupt("stsc runs out of order"));
        }
        let in_run = (next_chunk - first_chunk).saturating_mul(per_chunk);
        if u64::from(sample) < first_in_chunk.saturating_add(in_run) {
            let k = (u64::from(sample) - first_in_chunk) / per_chunk;
            chunk = Some(first_chunk + k);
            first_in_chunk += k * per_chunk;
            break;
        }
        first_in_chunk += in_run;
    }
    let chunk = chunk.ok_or_else(|| corrupt("stsc does not reach the key frame"))?;
    let index = usize::try_from(chunk - 1).map_err(|_| corrupt("chunk index"))?;
    let chunk_offset = if let Some(stco) = table(b"stco") {
        u64::from(be32(stco, 8 + 4 * index)?)
    } else if let Some(co64) = table(b"co64") {
        be64(co64, 8 + 8 * index)?
    } else {
        return Err(corrupt("no stco or co64"));
    };
    let mut offset = chunk_offset;
    for n in first_in_chunk as u32..sample {
        offset = offset.saturating_add(u64::from(size_of(n)?));
    }
    let size = size_of(sample)?;
    if size > MAX_SAMPLE {
        return Err(ThumbError::TooLarge {
            width: 0,
            height: 0,
            limit: format!("key frame of {size} bytes (at most {MAX_SAMPLE})"),
        });
    }
    Ok((offset, size))
}

/// The key frame as an Annex B stream (start codes), parameter sets first.
pub fn annex_b(file: &mut File, frame: &AvcKeyFrame) -> Result<Vec<u8>, ThumbError> {
    let len = file.metadata().map_err(ThumbError::Io)?.len();
    if frame.offset.saturating_add(u64::from(frame.size)) > len {
        return Err(corrupt("the key frame lies past the end of the file"));
    }
    let mut sample = vec![0u8; frame.size as usize];
    file.seek(SeekFrom::Start(frame.offset))
        .map_err(ThumbError::Io)?;
    file.read_exact(&mut sample).map_err(ThumbError::Io)?;

    const START: [u8; 4] = [0, 0, 0, 1];
    let mut out = Vec::with_capacity(sample.len() + 256);
    for set in &frame.parameter_sets {
        out.extend_from_slice(&START);
        out.extend_from_slice(set);
    }
    let width = usize::from(frame.nal_length_size);
    let mut rest = &sample[..];
    while !rest.is_empty() {
        let head = rest
            .get(..width)
            .ok_or_else(|| corrupt("NAL length cut short"))?;
        let n = head
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        let nal = rest
            .get(width..width + n)
            .ok_or_else(|| corrupt("a NAL unit overruns its sample"))?;
        out.extend_from_slice(&START);
        out.extend_from_slice(nal);
        rest = &rest[width + n..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_matrices_map_to_exif_orientations() {
        const ONE: i32 = 0x1_0000;
        assert_eq!(orientation_of(ONE, 0, 0, ONE), 1);
        assert_eq!(orientation_of(0, ONE, -ONE, 0), 6);
        assert_eq!(orientation_of(-ONE, 0, 0, -ONE), 3);
        assert_eq!(orientation_of(0, -ONE, ONE, 0), 8);
    }

    #[test]
    fn a_box_larger_than_its_parent_is_an_error() {
        let mut buf = Vec::new();
        buf.extend_from_slice(&100u32.to_be_bytes());
        buf.extend_from_slice(b"trak");
        buf.extend_from_slice(&[0; 8]);
        assert!(matches!(children(&buf), Err(ThumbError::Corrupt(_))));
    }

    #[test]
    fn avc_config_reads_sps_and_pps() {
        let c = [1, 100, 0, 31, 0xff, 0xe1, 0, 2, 0x67, 1, 1, 0, 1, 0x68];
        let (sets, len) = avc_config(&c).unwrap();
        assert_eq!(len, 4);
        assert_eq!(sets, vec![vec![0x67, 1], vec![0x68]]);
        assert!(avc_config(&c[..9]).is_err());
    }
}
