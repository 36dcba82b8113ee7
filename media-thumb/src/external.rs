//! Decoders that are C code fed strangers' bytes run in a child process, never in the node:
//! libheif (with libde265 for HEVC and dav1d/aom for AV1, Debian's `heif-convert`) for
//! HEIC/HEIF/AVIF photos, and `ffmpeg` (libavcodec) for the first frame of HEVC and other
//! videos OpenH264 does not decode.
//!
//! Before a child starts, the size the file's own index declares is checked against the
//! thumbnail limits (a decoder is never asked for a 60 000 × 60 000 canvas). The child gets an
//! address-space limit ([`ChildDecoders::memory`]) and a deadline
//! ([`ChildDecoders::deadline`]) after which it is killed; a crash, an abort or a hang is
//! the child's alone and becomes a [`ThumbError`] for this one upload. Its output is a JPEG
//! in a private temporary folder, read back with the same bounded decoder as any upload.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::ThumbError;

/// The decoder programs and the bounds of each child.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ChildDecoders {
    /// libheif's converter (`MEDIA_HEIF_CONVERT`, default `heif-convert`).
    pub heif_convert: PathBuf,
    /// ffmpeg (`MEDIA_FFMPEG`, default `ffmpeg`).
    pub ffmpeg: PathBuf,
    /// Address space of the child (bytes). libheif decoding a 12 MP grid takes about 200 MiB.
    pub memory: u64,
    /// Wall-clock time before the child is killed.
    pub deadline: Duration,
    /// Largest output read back (bytes).
    pub max_output: u64,
    /// Most pixels a child is asked to decode, as the file's index declares them (tighter
    /// than the thumbnail limits: a 48 MP phone photo passes, a grid of one tile repeated
    /// into 190 MP does not).
    pub max_pixels: u64,
}

impl Default for ChildDecoders {
    fn default() -> Self {
        ChildDecoders {
            heif_convert: heif_convert(),
            ffmpeg: ffmpeg(),
            memory: 1 << 30,
            deadline: Duration::from_secs(10),
            max_pixels: 64_000_000,
            max_output: 64 << 20,
        }
    }
}

/// The program that decodes HEIF/AVIF (`MEDIA_HEIF_CONVERT`, default `heif-convert`).
fn heif_convert() -> PathBuf {
    std::env::var_os("MEDIA_HEIF_CONVERT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("heif-convert"))
}

/// The program that decodes video frames (`MEDIA_FFMPEG`, default `ffmpeg`).
fn ffmpeg() -> PathBuf {
    std::env::var_os("MEDIA_FFMPEG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("ffmpeg"))
}

/// The primary image of the HEIF/AVIF file at `input`, upright (`irot`/`imir` applied by
/// libheif), as a JPEG at `quality`.
pub(crate) fn heif_to_jpeg(
    input: &Path,
    quality: u8,
    limits: &ChildDecoders,
) -> Result<Vec<u8>, ThumbError> {
    let dir = tempfile::tempdir().map_err(ThumbError::Io)?;
    let out = dir.path().join("decoded.jpg");
    let mut cmd = Command::new(&limits.heif_convert);
    cmd.args(["--quiet", "-q", &quality.to_string()])
        .arg(input)
        .arg(&out);
    run(cmd, "heif-convert (libheif)", limits)?;
    read_output(&out, limits)
}

/// The first frame of the video at `input`, upright (ffmpeg applies the track's rotation),
/// scaled so its long side is at most `long_side`, as a JPEG.
pub(crate) fn video_frame_to_jpeg(
    input: &Path,
    long_side: u32,
    limits: &ChildDecoders,
) -> Result<Vec<u8>, ThumbError> {
    let dir = tempfile::tempdir().map_err(ThumbError::Io)?;
    let out = dir.path().join("poster.jpg");
    let scale = format!(
        "scale='if(gt(iw,ih),min({long_side},iw),-2)':'if(gt(iw,ih),-2,min({long_side},ih))'"
    );
    let mut cmd = Command::new(&limits.ffmpeg);
    cmd.args(["-nostdin", "-v", "error", "-threads", "1", "-i"])
        .arg(input)
        .args(["-map", "0:v:0", "-frames:v", "1", "-vf", &scale])
        .args(["-q:v", "3", "-f", "image2", "-c:v", "mjpeg"])
        .arg(&out);
    run(cmd, "ffmpeg", limits)?;
    read_output(&out, limits)
}

fn read_output(out: &Path, limits: &ChildDecoders) -> Result<Vec<u8>, ThumbError> {
    let len = std::fs::metadata(out)
        .map_err(|_| ThumbError::Corrupt("the decoder wrote no picture".into()))?
        .len();
    if len > limits.max_output {
        return Err(ThumbError::Corrupt(format!(
            "the decoder wrote {len} bytes, more than {}",
            limits.max_output
        )));
    }
    std::fs::read(out).map_err(ThumbError::Io)
}

/// Run `cmd` as a bounded child: no input, output discarded, memory limited, killed at the
/// deadline. A missing program is [`ThumbError::Unsupported`] with what to install.
fn run(mut cmd: Command, what: &str, limits: &ChildDecoders) -> Result<(), ThumbError> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    limit_memory(&mut cmd, limits.memory);
    let mut child = cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ThumbError::Unsupported(format!(
                "{what} is not installed (Debian: apt-get install {})",
                if what.starts_with("ffmpeg") {
                    "ffmpeg"
                } else {
                    "libheif-examples"
                }
            ))
        } else {
            ThumbError::Io(e)
        }
    })?;
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(ThumbError::Io)? {
            if status.success() {
                return Ok(());
            }
            return Err(ThumbError::Corrupt(format!(
                "{what} could not decode it ({})",
                describe(status)
            )));
        }
        if started.elapsed() > limits.deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(ThumbError::Corrupt(format!(
                "{what} took longer than {:?} and was stopped",
                limits.deadline
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => "stopped".to_owned(),
    }
}

#[cfg(target_os = "linux")]
fn limit_memory(cmd: &mut Command, bytes: u64) {
    use std::os::unix::process::CommandExt as _;
    let limit = libc::rlimit {
        rlim_cur: bytes as libc::rlim_t,
        rlim_max: bytes as libc::rlim_t,
    };
    // SAFETY: between fork and exec only async-signal-safe calls are allowed; setrlimit is
    // one, and `limit` is a plain value copied into the closure.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn limit_memory(_cmd: &mut Command, _bytes: u64) {}
