//! HEIC and AVIF made by tools no one here wrote (`pillow-heif` from PyPI writes a grid HEIC
//! with a thumbnail, EXIF and XMP; Debian's `heif-enc` writes an AVIF; `exiftool` adds GPS,
//! camera, serial, dates and XMP) are cleaned losslessly: afterwards `exiftool -a -G1` finds
//! none of it, `pillow-heif` decodes the identical primary image and thumbnail, and
//! `heif-info` lists the same images and properties minus the metadata.

use std::path::Path;
use std::process::Command;

use media_format::strip::{inspect, strip_in_place};

/// Makes fixtures and digests decoded pixels with pillow-heif.
const PY: &str = r#"
import hashlib, sys, pillow_heif, PIL.Image as I
pillow_heif.register_heif_opener()
cmd, path = sys.argv[1], sys.argv[2]
if cmd in ('make', 'make-alpha'):
    pillow_heif.options.GRID_TILE_SIZE = 128
    alpha = cmd == 'make-alpha'
    im = I.new('RGBA' if alpha else 'RGB', (320, 240))
    px = im.load()
    for y in range(240):
        for x in range(320):
            c = (x * 255 // 320, y * 255 // 240, (x * y) % 256)
            px[x, y] = c + ((x + y) % 256,) if alpha else c
    exif = I.Exif()
    exif[0x010F] = 'PhoneMaker'
    exif[0x0110] = 'Phone 15'
    gps = exif.get_ifd(0x8825)
    gps[1] = 'N'; gps[2] = (48.0, 51.0, 30.0); gps[3] = 'E'; gps[4] = (2.0, 17.0, 40.0)
    xmp = (b'<?xpacket begin=""?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
           b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
           b'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48,51.5N"/>'
           b'</rdf:RDF></x:xmpmeta><?xpacket end="w"?>')
    heif = pillow_heif.from_pillow(im)
    heif.info['exif'] = exif.tobytes()
    heif.info['xmp'] = xmp
    heif.info['thumbnails'] = [64]
    heif.save(path, quality=90)
elif cmd == 'png':
    im = I.new('RGB', (96, 64))
    px = im.load()
    for y in range(64):
        for x in range(96):
            px[x, y] = (x * 2, y * 3, (x ^ y) & 255)
    im.save(path)
elif path.endswith('.avif'):
    # pillow-heif leaves AVIF to Pillow's own decoder (libavif).
    im = I.open(path)
    print(im.mode, str(im.size), hashlib.sha256(im.tobytes()).hexdigest())
else:
    f = pillow_heif.open_heif(path, convert_hdr_to_8bit=False)
    out = [f.mode, str(f.size), hashlib.sha256(f.data).hexdigest()]
    for i, _ in enumerate(f.info.get('thumbnails', [])):
        t = f[0].get_thumbnail(i)
        out.append('thumb %s %s' % (str(t.size), hashlib.sha256(t.data).hexdigest()))
    out.append('tiling %s' % str(f.info.get('tiling')))
    print(' '.join(out))
"#;

use media_core::testing::{heif_enc, pillow_heif_path as python};

fn tool(name: &str, probe: &str) {
    let found = Command::new(name)
        .arg(probe)
        .output()
        .is_ok_and(|o| !o.stdout.is_empty() || !o.stderr.is_empty());
    assert!(
        found,
        "{name} is required: run the tests with `cargo xtask test` (it installs Debian's packages), or install it yourself"
    );
}

fn py(path_env: &Path, args: &[&str]) -> String {
    let out = Command::new("python3")
        .env("PYTHONPATH", path_env)
        .arg("-c")
        .arg(PY)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pillow-heif {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn run(cmd: &str, args: &[&str], file: &Path) -> String {
    let out = Command::new(cmd).args(args).arg(file).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// exiftool's `-a -G1 -s` listing, one `[group] name : value` per line.
fn tags(file: &Path) -> Vec<String> {
    run("exiftool", &["-a", "-G1", "-s"], file)
        .lines()
        .filter(|l| !l.starts_with("[System]") && !l.starts_with("[ExifTool]"))
        .map(str::to_owned)
        .collect()
}

/// Tags that give away a place, a device, a person or a moment.
fn revealing(tags: &[String]) -> Vec<String> {
    const NAMES: &[&str] = &[
        "Make",
        "Model",
        "SerialNumber",
        "DateTimeOriginal",
        "CreateDate",
        "Artist",
        "Creator",
        "Description",
        "MakerNotes",
        "MakerNoteVersion",
        "LensModel",
    ];
    tags.iter()
        .filter(|l| {
            let name = l
                .split(']')
                .nth(1)
                .and_then(|r| r.split(':').next())
                .unwrap_or("")
                .trim();
            name.starts_with("GPS") || NAMES.contains(&name) || l.starts_with("[XMP")
        })
        .cloned()
        .collect()
}

const PERSONAL: &[&str] = &[
    "-overwrite_original",
    "-GPSLatitude=48.8584",
    "-GPSLatitudeRef=N",
    "-GPSLongitude=2.2945",
    "-GPSLongitudeRef=E",
    "-Make=Apple",
    "-Model=iPhone 15 Pro",
    "-SerialNumber=SN-0042",
    "-LensModel=iPhone 15 Pro back camera",
    "-DateTimeOriginal=2026:06:01 20:15:00",
    "-XMP-dc:Creator=Jane Doe",
    "-XMP-dc:Description=our new flat",
];

/// `heif-info` without its metadata lines: what must stay the same.
fn structure(file: &Path) -> Vec<String> {
    run("heif-info", &[], file)
        .lines()
        .filter(|l| {
            let t = l.trim();
            !(t.starts_with("Exif")
                || t.starts_with("XMP")
                || t.starts_with("metadata")
                || t == "none")
        })
        .map(str::to_owned)
        .collect()
}

fn check(pythonpath: &Path, file: &Path) {
    run("exiftool", PERSONAL, file);
    let before = tags(file);
    let revealed = revealing(&before);
    assert!(
        revealed.len() >= 8,
        "exiftool wrote too little: {before:#?}"
    );
    let pixels = py(pythonpath, &["digest", file.to_str().unwrap()]);
    let shape = structure(file);
    assert!(
        run("heif-info", &[], file).contains("Exif"),
        "heif-info sees no Exif before"
    );

    let found = inspect(file).unwrap();
    assert!(found.had_location, "{found:?}");
    let report = strip_in_place(file).unwrap();
    assert!(report.removed.contains(&"EXIF".to_owned()), "{report:?}");
    assert!(report.removed.contains(&"XMP".to_owned()), "{report:?}");

    let after = tags(file);
    assert!(
        revealing(&after).is_empty(),
        "left after cleaning: {:#?}\nbefore: {revealed:#?}",
        revealing(&after)
    );
    assert_eq!(
        py(pythonpath, &["digest", file.to_str().unwrap()]),
        pixels,
        "decoded pixels changed"
    );
    let info = run("heif-info", &[], file);
    assert!(!info.contains("Exif:") && !info.contains("XMP:"), "{info}");
    assert_eq!(structure(file), shape, "heif-info lists other items");
    assert!(
        !inspect(file).unwrap().changed(),
        "a second pass found more"
    );
    eprintln!(
        "{}: removed {:?}; before {} revealing tags: {revealed:?}",
        file.display(),
        report.removed,
        revealed.len()
    );
}

#[test]
fn a_grid_heic_with_a_thumbnail_loses_exif_and_xmp_and_keeps_every_pixel() {
    let Some(pythonpath) = python() else { return };
    tool("exiftool", "-ver");
    tool("heif-info", "--help");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("grid.heic");
    py(&pythonpath, &["make", file.to_str().unwrap()]);
    let bytes = std::fs::read(&file).unwrap();
    assert!(
        bytes.windows(4).any(|w| w == b"grid") && bytes.windows(4).any(|w| w == b"thmb"),
        "pillow-heif wrote no grid with a thumbnail"
    );
    check(&pythonpath, &file);
}

#[test]
fn a_heic_with_an_auxiliary_alpha_image_and_a_thumbnail_keeps_both() {
    let Some(pythonpath) = python() else { return };
    tool("exiftool", "-ver");
    tool("heif-info", "--help");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alpha.heic");
    py(&pythonpath, &["make-alpha", file.to_str().unwrap()]);
    let bytes = std::fs::read(&file).unwrap();
    assert!(
        bytes.windows(4).any(|w| w == b"auxl") && bytes.windows(4).any(|w| w == b"auxC"),
        "pillow-heif wrote no auxiliary image"
    );
    assert!(run("heif-info", &[], &file).contains("alpha channel: yes"));
    check(&pythonpath, &file);
    assert!(run("heif-info", &[], &file).contains("alpha channel: yes"));
}

#[test]
fn an_avif_from_heif_enc_loses_what_exiftool_wrote() {
    let Some(pythonpath) = python() else { return };
    tool("exiftool", "-ver");
    tool("heif-enc", "--help");
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("in.png");
    py(&pythonpath, &["png", png.to_str().unwrap()]);
    let file = dir.path().join("photo.avif");
    heif_enc(&png, &file, 80, true);
    assert_eq!(
        media_format::sniff_file(&file).unwrap(),
        Some(media_format::Format::Avif)
    );
    check(&pythonpath, &file);
}

#[test]
fn an_hevc_mov_from_ffmpeg_loses_its_location_keys_and_still_plays() {
    tool("exiftool", "-ver");
    let dir = tempfile::tempdir().unwrap();
    let mov = dir.path().join("clip.mov");
    let out = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=10:duration=1",
        ])
        .args([
            "-c:v",
            "libx265",
            "-x265-params",
            "log-level=error",
            "-tag:v",
            "hvc1",
        ])
        .args(["-movflags", "use_metadata_tags"])
        .args([
            "-metadata",
            "com.apple.quicktime.location.ISO6709=+48.8584+002.2945+035.000/",
        ])
        .args(["-metadata", "com.apple.quicktime.make=Apple"])
        .args(["-metadata", "com.apple.quicktime.model=iPhone 15 Pro"])
        .arg(&mov)
        .output()
        .expect("ffmpeg is required: run the tests with `cargo xtask test` (Debian ffmpeg)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = tags(&mov);
    assert!(
        before
            .iter()
            .any(|l| l.contains("GPS") || l.contains("Location")),
        "ffmpeg wrote no location: {before:#?}"
    );
    assert!(inspect(&mov).unwrap().had_location);
    strip_in_place(&mov).unwrap();
    let after = tags(&mov);
    let left: Vec<&String> = after
        .iter()
        .filter(|l| {
            l.contains("GPS")
                || l.contains("Location")
                || l.contains("iPhone")
                || l.contains(" Make ")
                || l.contains(" Model ")
        })
        .collect();
    assert!(left.is_empty(), "left: {left:#?}");
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=codec_name,nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(&mov)
        .output()
        .unwrap();
    assert!(
        probe.status.success(),
        "{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&probe.stdout).trim(), "hevc,10");
}
