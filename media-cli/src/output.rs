//! Where results go: [`Printer`] (for a person, or JSON) writes them to stdout one line at a
//! time, ending quietly when its reader is gone.

use std::io::Write;
use std::path::Path;

use media_core::{MediaFile, MediaId};

/// Write one line of results to stdout. When the reader has gone away (a closed pipe), the
/// command's output is no longer wanted: exit at once with success, like `yes | head -1`.
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let written = out
        .write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    if let Err(e) = written {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("media: writing to stdout: {e}");
        std::process::exit(1);
    }
}

/// How results are printed: for a person, or one JSON value a line (`--json`). Every command
/// prints through it, whether its node ran here or in a `media serve` (as ripgrep's one
/// `Printer` serves every search).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Printer {
    /// Lines a person reads.
    Human,
    /// One JSON value a line on stdout.
    Json,
}

impl Printer {
    /// `--json` or not.
    pub fn new(json: bool) -> Self {
        if json {
            Printer::Json
        } else {
            Printer::Human
        }
    }

    fn json(value: &impl serde::Serialize) {
        line(format_args!(
            "{}",
            serde_json::to_string(value).unwrap_or_default()
        ));
    }

    /// `media ls`.
    pub fn list(self, files: &[MediaFile]) {
        if self == Printer::Json {
            return Self::json(&files);
        }
        for f in files {
            let stores: Vec<&str> = f.locations.iter().map(|l| l.kind().as_str()).collect();
            line(format_args!(
                "{}  {:>12}  {:<24} {}",
                f.id,
                f.size,
                f.name,
                stores.join(",")
            ));
        }
    }

    /// `media show` (with `--ref`: the reference only).
    pub fn record(self, file: &MediaFile, only_reference: bool) {
        match (only_reference, self) {
            (true, Printer::Json) => {
                Self::json(&serde_json::json!({"reference": file.reference().to_string()}))
            }
            (true, Printer::Human) => line(format_args!("{}", file.reference())),
            (false, Printer::Json) => Self::json(file),
            (false, Printer::Human) => line(format_args!(
                "{}\nreference: {}",
                serde_json::to_string_pretty(file).unwrap_or_default(),
                file.reference()
            )),
        }
    }

    /// `media import`.
    pub fn imported(self, record: &MediaFile) {
        match self {
            Printer::Json => Self::json(record),
            Printer::Human => line(format_args!("imported {} ({})", record.id, record.name)),
        }
    }

    /// `media put`, one record.
    pub fn put(self, file: &MediaFile) {
        match self {
            Printer::Json => Self::json(file),
            Printer::Human => line(format_args!("{}", describe(file))),
        }
    }

    /// `media get` (a person reads the progress bar's last line instead).
    pub fn got(self, id: &MediaId, out: &Path, bytes: u64) {
        if self == Printer::Json {
            Self::json(
                &serde_json::json!({"id": id, "path": out, "bytes": bytes, "verified": true}),
            );
        }
    }

    /// `media stat`.
    pub fn stat(self, report: &serde_json::Value) {
        if self == Printer::Json {
            return Self::json(report);
        }
        line(format_args!(
            "{}",
            serde_json::to_string_pretty(&report["stats"]).unwrap_or_default()
        ));
        if let Some(health) = report["health"].as_object() {
            for (name, h) in health {
                line(format_args!("{name}: {}", h.as_str().unwrap_or("?")));
            }
        }
    }

    /// `media rm`.
    pub fn removed(self, id: &MediaId, removed: &[String]) {
        match self {
            Printer::Json => Self::json(&serde_json::json!({"id": id, "removed": removed})),
            Printer::Human => line(format_args!("removed {id} from {}", removed.join(", "))),
        }
    }

    /// `media takedown`.
    pub fn taken_down(self, done: &serde_json::Value) {
        match self {
            Printer::Json => Self::json(done),
            Printer::Human => {
                let stores: Vec<&str> = done["removed_from"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
                    .unwrap_or_default();
                line(format_args!(
                    "taken down {} from {}; tombstone {}",
                    done["id"].as_str().unwrap_or("?"),
                    if stores.is_empty() {
                        "no store of this node".to_owned()
                    } else {
                        stores.join(", ")
                    },
                    if done["published"].as_bool() == Some(true) {
                        "published to the shared catalog"
                    } else {
                        "kept here"
                    }
                ))
            }
        }
    }

    /// `media reports`.
    pub fn reports(self, reports: &[media_facade::media_safety::Report]) {
        match self {
            Printer::Json => Self::json(&reports),
            Printer::Human => {
                if reports.is_empty() {
                    line(format_args!("no reports"));
                }
                for r in reports {
                    for m in &r.media {
                        line(format_args!(
                            "{} {} reported as {} by {}: {}",
                            r.received_at,
                            m.id,
                            m.kind,
                            r.reporter,
                            r.content
                                .chars()
                                .filter(|c| !c.is_control())
                                .take(200)
                                .collect::<String>()
                        ));
                    }
                }
            }
        }
    }

    /// `media serve`: one of its services.
    pub fn service(self, name: &str, url: &str) {
        match self {
            Printer::Json => Self::json(&serde_json::json!({"service": name, "url": url})),
            Printer::Human => line(format_args!("{name} {url}")),
        }
    }

    /// `media serve`: ready.
    pub fn serving(self, media: usize, data: &Path) {
        if self == Printer::Human {
            line(format_args!(
                "serving {media} media from {} until Ctrl-C",
                data.display()
            ));
        }
    }
}

/// One line a person reads about a record.
fn describe(f: &MediaFile) -> String {
    let mut lines = vec![format!(
        "{}  {}  {} bytes  {}",
        f.id, f.name, f.size, f.mime
    )];
    for l in &f.locations {
        lines.push(format!("  {l}"));
    }
    if let Some(t) = &f.thumbnail {
        lines.push(format!("  thumbnail {}x{} {}", t.width, t.height, t.mime));
    }
    if let Some(d) = &f.display {
        lines.push(format!(
            "  display {}x{} {} {}",
            d.width, d.height, d.mime, d.id
        ));
    }
    if let Some(v) = &f.video {
        let poster = v.no_poster.as_deref().unwrap_or("poster");
        lines.push(format!(
            "  video {} {}x{} {} ms ({poster})",
            v.codec, v.width, v.height, v.duration_ms
        ));
    }
    if !f.metadata_removed.is_empty() {
        lines.push(format!("  removed {}", f.metadata_removed.join(", ")));
    }
    lines.join("\n")
}
