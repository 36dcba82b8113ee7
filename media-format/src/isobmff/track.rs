//! Just enough of an MP4/MOV demuxer for a poster: the first video track's codec, size,
//! rotation and duration, and where its first key frame lies in the file.
//!
//! The input is untrusted: every box size is checked against its parent, tables are read
//! only as far as the first key frame needs, the top level is read header by header (at most
//! [`MAX_BOXES`](super::MAX_BOXES)), and the `moov` box is read into memory only up to
//! [`MAX_MOOV`].

use std::io::{Read, Seek, SeekFrom};

use super::{be16, be32, be64, boxes, find, path, read_body, Child, TopLevel, MAX_MOOV};
use crate::error::{malformed, too_large};
use crate::FormatError;

/// Largest key frame read for a poster.
pub const MAX_SAMPLE: u32 = 32 << 20;

fn corrupt(what: impl Into<String>) -> FormatError {
    malformed(what)
}

/// The `moov` box of `file` and whether the file is fragmented (`moof`: its samples are not
/// in the index), or `None` when the file is not an MP4/MOV.
fn read_moov<R: Read + Seek>(file: &mut R) -> Result<Option<(Vec<u8>, bool)>, FormatError> {
    let len = file.seek(SeekFrom::End(0))?;
    let mut head = [0u8; 8];
    file.seek(SeekFrom::Start(0))?;
    if crate::io::read_up_to(file, &mut head)? < 8 || &head[4..8] != b"ftyp" {
        return Ok(None);
    }
    let mut top = TopLevel::new(len);
    let mut saw_ftyp = false;
    let mut fragmented = false;
    let mut moov = None;
    while let Some(header) = top.next(file)? {
        if header.offset == 0 {
            if &header.kind != b"ftyp" {
                return Ok(None);
            }
            saw_ftyp = true;
        }
        match &header.kind {
            b"moov" => moov = Some(read_body(file, &header, MAX_MOOV)?),
            b"moof" => fragmented = true,
            _ => {}
        }
        // The index and the first fragment are all a poster needs.
        if moov.is_some() && (fragmented || header.kind == *b"mdat") {
            break;
        }
    }
    match moov {
        Some(m) => Ok(Some((m, fragmented))),
        None if saw_ftyp => Err(corrupt("MP4 without a moov box")),
        None => Ok(None),
    }
}

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

/// The first video track of the MP4/MOV file `file` (a `File`, or bytes in a `Cursor`);
/// `None` when the file is not an MP4/MOV or has no video track.
pub fn first_video_track<R: Read + Seek>(file: &mut R) -> Result<Option<VideoTrack>, FormatError> {
    let Some((moov, fragmented)) = read_moov(file)? else {
        return Ok(None);
    };
    let duration_ms = match find(&moov, b"mvhd")? {
        Some(mvhd) => movie_duration_ms(mvhd)?,
        None => 0,
    };
    for trak in boxes(&moov) {
        let trak = trak?;
        if &trak.header.kind != b"trak" {
            continue;
        }
        let handler = path(trak.body, &[b"mdia", b"hdlr"])?;
        if handler.and_then(|h| h.get(8..12)) != Some(b"vide") {
            continue;
        }
        return track(trak.body, duration_ms, fragmented).map(Some);
    }
    Ok(None)
}

fn movie_duration_ms(mvhd: &[u8]) -> Result<u64, FormatError> {
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

fn track(trak: &[u8], duration_ms: u64, fragmented: bool) -> Result<VideoTrack, FormatError> {
    let tkhd = find(trak, b"tkhd")?.ok_or_else(|| corrupt("video track without tkhd"))?;
    // Version 1 has 64-bit times: the matrix sits 12 bytes further.
    let matrix_at = if tkhd.first() == Some(&1) { 52 } else { 40 };
    let a = be32(tkhd, matrix_at)? as i32;
    let b = be32(tkhd, matrix_at + 4)? as i32;
    let c = be32(tkhd, matrix_at + 12)? as i32;
    let d = be32(tkhd, matrix_at + 16)? as i32;
    let orientation = orientation_of(a, b, c, d);

    let stbl = path(trak, &[b"mdia", b"minf", b"stbl"])?
        .ok_or_else(|| corrupt("video track without a sample table"))?;
    let stsd = find(stbl, b"stsd")?.ok_or_else(|| corrupt("video track without stsd"))?;
    // Full box (4) + entry count (4), then the first sample entry.
    let entry: Child<'_> = boxes(stsd.get(8..).ok_or_else(|| corrupt("stsd cut short"))?)
        .next()
        .ok_or_else(|| corrupt("stsd without a sample entry"))??;
    let codec = entry.header.name();
    // VisualSampleEntry: 8 bytes of SampleEntry, 16 reserved, then width and height.
    let width = u32::from(be16(entry.body, 24)?);
    let height = u32::from(be16(entry.body, 26)?);
    let avc = if matches!(&entry.header.kind, b"avc1" | b"avc3") && !fragmented {
        let config = entry
            .body
            .get(78..)
            .map(|b| find(b, b"avcC"))
            .transpose()?
            .flatten()
            .ok_or_else(|| corrupt("H.264 track without avcC"))?;
        let (parameter_sets, nal_length_size) = avc_config(config)?;
        let (offset, size) = first_key_frame(stbl)?;
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
fn avc_config(c: &[u8]) -> Result<(Vec<Vec<u8>>, u8), FormatError> {
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
fn first_key_frame(stbl: &[u8]) -> Result<(u64, u32), FormatError> {
    let table = |kind: &[u8; 4]| find(stbl, kind);
    // No stss: every sample is a sync sample.
    let sample = match table(b"stss")? {
        Some(stss) if be32(stss, 4)? > 0 => be32(stss, 8)?,
        Some(_) => return Err(corrupt("stss lists no key frame")),
        None => 1,
    };
    if sample == 0 {
        return Err(corrupt("stss names sample 0"));
    }
    let stsz = table(b"stsz")?.ok_or_else(|| corrupt("no stsz"))?;
    let fixed = be32(stsz, 4)?;
    let count = be32(stsz, 8)?;
    if sample > count {
        return Err(corrupt(format!(
            "key frame {sample} past the {count} samples"
        )));
    }
    let size_of = |n: u32| -> Result<u32, FormatError> {
        if fixed != 0 {
            Ok(fixed)
        } else {
            be32(stsz, 12 + 4 * (n as usize - 1))
        }
    };

    // stsc: runs of chunks with the same number of samples each.
    let stsc = table(b"stsc")?.ok_or_else(|| corrupt("no stsc"))?;
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
    let chunk_offset = if let Some(stco) = table(b"stco")? {
        u64::from(be32(stco, 8 + 4 * index)?)
    } else if let Some(co64) = table(b"co64")? {
        be64(co64, 8 + 8 * index)?
    } else {
        return Err(corrupt("no stco or co64"));
    };
    // Samples before the key frame in its chunk: summed from the table, or multiplied when
    // every sample has one size (a loop there would run as long as a forged count says).
    let offset = if fixed != 0 {
        chunk_offset
            .saturating_add((u64::from(sample) - first_in_chunk).saturating_mul(u64::from(fixed)))
    } else {
        let mut offset = chunk_offset;
        for n in first_in_chunk as u32..sample {
            offset = offset.saturating_add(u64::from(size_of(n)?));
        }
        offset
    };
    let size = size_of(sample)?;
    if size > MAX_SAMPLE {
        return Err(too_large(format!(
            "key frame of {size} bytes (at most {MAX_SAMPLE})"
        )));
    }
    Ok((offset, size))
}

/// The key frame as an Annex B stream (start codes), parameter sets first.
pub fn annex_b<R: Read + Seek>(file: &mut R, frame: &AvcKeyFrame) -> Result<Vec<u8>, FormatError> {
    let len = file.seek(SeekFrom::End(0))?;
    if frame.offset.saturating_add(u64::from(frame.size)) > len {
        return Err(corrupt("the key frame lies past the end of the file"));
    }
    let mut sample = vec![0u8; frame.size as usize];
    file.seek(SeekFrom::Start(frame.offset))?;
    file.read_exact(&mut sample)?;

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
    fn a_forged_sample_count_costs_no_loop() {
        // stsz: every sample 1 byte, 4 billion of them; stsc: all in chunk 1; stss: the last.
        let full = |kind: &[u8; 4], payload: &[u8]| {
            super::super::bx(kind, &[&[0u8, 0, 0, 0][..], payload].concat())
        };
        let stbl = [
            full(b"stss", &[0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xF0]),
            full(b"stsz", &[0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF]),
            full(
                b"stsc",
                &[0, 0, 0, 1, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 1],
            ),
            full(b"stco", &[0, 0, 0, 1, 0, 0, 0, 0]),
        ]
        .concat();
        let started = std::time::Instant::now();
        assert_eq!(first_key_frame(&stbl).unwrap(), (0xFFFF_FFEF, 1));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
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
