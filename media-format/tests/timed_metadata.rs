//! GPS in MP4/MOV timed-metadata tracks: a GoPro-style `gpmd` track muxed by `ffmpeg` next to
//! an H.264 video (its samples interleaved with the video's in `mdat`, as cameras write them)
//! comes out of `strip_in_place` with every metadata sample zeroed in place, `had_location`
//! reported before (so the `reject` policy refuses it), the video packets identical as
//! `ffmpeg` reads them, and a second strip changing nothing.

use std::path::Path;

use media_core::testing::{ffmpeg, have_ffmpeg};
use media_format::strip::{inspect, strip_in_place};

fn bx(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut b = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
    b.extend_from_slice(kind);
    b.extend_from_slice(payload);
    b
}

fn full(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    bx(kind, &[&[0u8, 0, 0, 0][..], payload].concat())
}

fn be(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_be_bytes()).collect()
}

/// One GPMF sample: a `DEVC` with a `GPS5` entry (latitude, longitude, altitude, speeds).
fn gpmf_sample(i: u32) -> Vec<u8> {
    let gps5: Vec<u8> = be(&[488_584_000 + i, 22_945_000 + i, 35_000, 100, 100]);
    let mut klv = b"GPS5".to_vec();
    klv.extend_from_slice(&[b'l', 20, 0, 1]);
    klv.extend_from_slice(&gps5);
    let mut devc = b"DEVC".to_vec();
    devc.extend_from_slice(&[0, 1, 0, klv.len() as u8]);
    devc.extend_from_slice(&klv);
    devc
}

/// An MP4 with one GoPro `gpmd` track (handler `meta`) and nothing else: what `ffmpeg` then
/// muxes beside a video.
fn gpmd_only(path: &Path, count: u32) {
    let samples: Vec<Vec<u8>> = (0..count).map(gpmf_sample).collect();
    let ftyp = bx(b"ftyp", b"isom\0\0\x02\0isomiso2mp41");
    let first = (ftyp.len() + 8) as u32;
    let mdat = bx(b"mdat", &samples.concat());
    let mut mvhd = be(&[0, 0, 1000, 1000 * count, 0x10000]);
    mvhd.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    mvhd.extend(be(&[0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x4000_0000]));
    mvhd.extend([0u8; 24]);
    mvhd.extend(be(&[2]));
    let mut tkhd_flags = vec![0u8, 0, 0, 3];
    tkhd_flags.extend(be(&[0, 0, 1, 0, 1000 * count, 0, 0, 0, 0]));
    tkhd_flags.extend(be(&[0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x4000_0000, 0, 0]));
    let tkhd = bx(b"tkhd", &tkhd_flags);
    let mdhd = full(
        b"mdhd",
        &[be(&[0, 0, 1000, 1000 * count]), vec![0x55, 0xc4, 0, 0]].concat(),
    );
    let hdlr = full(
        b"hdlr",
        &[&[0u8; 4][..], b"meta", &[0; 12], b"GoPro MET\0"].concat(),
    );
    let entry = bx(b"gpmd", &[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
    let stsd = full(b"stsd", &[be(&[1]), entry].concat());
    let stts = full(b"stts", &be(&[1, count, 1000]));
    let stsc = full(b"stsc", &be(&[1, 1, 1, 1]));
    let sizes: Vec<u32> = samples.iter().map(|s| s.len() as u32).collect();
    let stsz = full(b"stsz", &[be(&[0, count]), be(&sizes)].concat());
    let mut offsets = vec![count];
    let mut at = first;
    for size in &sizes {
        offsets.push(at);
        at += size;
    }
    let stco = full(b"stco", &be(&offsets));
    let stbl = bx(b"stbl", &[stsd, stts, stsc, stsz, stco].concat());
    let dinf = bx(
        b"dinf",
        &full(b"dref", &[be(&[1]), full(b"url ", &[])].concat()),
    );
    let minf = bx(b"minf", &[full(b"nmhd", &[]), dinf, stbl].concat());
    let trak = bx(
        b"trak",
        &[tkhd, bx(b"mdia", &[mdhd, hdlr, minf].concat())].concat(),
    );
    let moov = bx(b"moov", &[full(b"mvhd", &mvhd), trak].concat());
    std::fs::write(path, [ftyp, mdat, moov].concat()).unwrap();
}

/// The metadata track's packets and the video's frame checksums, as `ffmpeg` reads them.
fn streams(path: &Path) -> (Vec<u8>, String) {
    let p = path.to_str().unwrap();
    let data = ffmpeg(&["-i", p, "-map", "0:d", "-c", "copy", "-f", "data", "-"]);
    let video = String::from_utf8_lossy(&ffmpeg(&[
        "-i", p, "-map", "0:v", "-c", "copy", "-f", "framemd5", "-",
    ]))
    .lines()
    .filter(|l| !l.starts_with('#'))
    .collect::<Vec<_>>()
    .join("\n");
    (data, video)
}

#[test]
fn gps_in_a_gpmd_track_muxed_by_ffmpeg_is_zeroed_in_place() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name);
    gpmd_only(&d("gpmd.mp4"), 20);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=96x64:rate=10:duration=2",
        "-c:v",
        "libx264",
        "-g",
        "5",
        "-pix_fmt",
        "yuv420p",
        d("video.mp4").to_str().unwrap(),
    ]);
    for (name, format) in [("gopro.mp4", "mp4"), ("gopro.mov", "mov")] {
        let path = d(name);
        ffmpeg(&[
            "-i",
            d("video.mp4").to_str().unwrap(),
            "-i",
            d("gpmd.mp4").to_str().unwrap(),
            "-map",
            "0:v",
            "-map",
            "1:d",
            "-c",
            "copy",
            "-tag:d",
            "gpmd",
            "-f",
            format,
            path.to_str().unwrap(),
        ]);
        let (data, video) = streams(&path);
        let gps: Vec<u8> = (0..20).flat_map(gpmf_sample).collect();
        assert_eq!(data, gps, "{name}: ffmpeg reads the GPS samples it muxed");
        let size = std::fs::metadata(&path).unwrap().len();

        let found = inspect(&path).unwrap();
        assert!(found.had_location, "{name}: {found:?}");
        assert!(
            found.removed.contains(&"gpmd".to_owned()),
            "{name}: {found:?}"
        );
        let report = strip_in_place(&path).unwrap();
        assert!(
            report.had_location && report.changed(),
            "{name}: {report:?}"
        );

        let (data_after, video_after) = streams(&path);
        assert_eq!(
            data_after.len(),
            gps.len(),
            "{name}: the track keeps its samples"
        );
        assert!(
            data_after.iter().all(|&b| b == 0),
            "{name}: GPS left in the samples"
        );
        assert_eq!(video_after, video, "{name}: the video packets changed");
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            size,
            "{name}: size"
        );
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(4).any(|w| w == b"GPS5"),
            "{name}: GPS5 still in the file"
        );

        // Stripping again changes nothing, and no location is left to refuse.
        let again = inspect(&path).unwrap();
        assert!(!again.changed() && !again.had_location, "{name}: {again:?}");
        let before = std::fs::read(&path).unwrap();
        assert!(!strip_in_place(&path).unwrap().changed());
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }
}
