//! Progress on stderr: indicatif bars on a terminal, a few plain lines otherwise (logs, CI,
//! pipes), nothing with `--quiet`.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Animated bars (stderr is a terminal).
    Bars,
    /// A line when something starts and ends.
    Lines,
    /// Nothing.
    Quiet,
}

impl Mode {
    pub fn detect(quiet: bool) -> Mode {
        if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Lines
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// One bar per store for an upload.
pub struct UploadBars {
    mode: Mode,
    multi: MultiProgress,
    bars: HashMap<String, ProgressBar>,
    name: String,
    total: u64,
}

impl UploadBars {
    pub fn new(mode: Mode, name: &str) -> Self {
        let multi = MultiProgress::with_draw_target(match mode {
            Mode::Bars => ProgressDrawTarget::stderr(),
            _ => ProgressDrawTarget::hidden(),
        });
        UploadBars {
            mode,
            multi,
            bars: HashMap::new(),
            name: name.to_owned(),
            total: 0,
        }
    }

    /// The file is staged and hashed; the stores start.
    pub fn ingested(&mut self, size: u64, stores: &[String]) {
        self.total = size;
        if self.mode == Mode::Lines {
            eprintln!(
                "put {}: {size} bytes hashed, storing on {}",
                self.name,
                stores.join(", ")
            );
        }
        for store in stores {
            let bar = self.multi.add(ProgressBar::new(size.max(1)));
            bar.set_style(style(
                "{prefix:>8} [{bar:30}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} {msg}",
            ));
            bar.set_prefix(store.clone());
            bar.enable_steady_tick(Duration::from_millis(200));
            self.bars.insert(store.clone(), bar);
        }
    }

    pub fn progress(&self, store: &str, bytes: u64) {
        if let Some(bar) = self.bars.get(store) {
            bar.set_position(bytes);
        }
    }

    pub fn stored(&self, store: &str) {
        if let Some(bar) = self.bars.get(store) {
            bar.set_position(self.total.max(1));
            bar.finish_with_message("stored");
        }
        if self.mode == Mode::Lines {
            eprintln!("put {}: {store} stored", self.name);
        }
    }

    pub fn failed(&self, store: &str, why: &str) {
        if let Some(bar) = self.bars.get(store) {
            bar.abandon_with_message(format!("failed: {why}"));
        }
        if self.mode == Mode::Lines {
            eprintln!("put {}: {store} failed: {why}", self.name);
        }
    }

    pub fn finish(self) {
        for bar in self.bars.values() {
            if !bar.is_finished() {
                bar.abandon();
            }
        }
    }
}

/// A byte bar for one transfer (download, or an upload to a running node).
pub struct TransferBar {
    mode: Mode,
    bar: ProgressBar,
    what: String,
}

impl TransferBar {
    pub fn new(mode: Mode, what: &str, total: Option<u64>) -> Self {
        let bar = match (mode, total) {
            (Mode::Bars, Some(total)) => {
                let bar = ProgressBar::new(total);
                bar.set_style(style(
                    "{msg} [{bar:30}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} ETA {eta}",
                ));
                bar
            }
            (Mode::Bars, None) => {
                let bar = ProgressBar::new_spinner();
                bar.set_style(style("{msg} {spinner} {bytes:>10} {bytes_per_sec:>12}"));
                bar
            }
            _ => ProgressBar::hidden(),
        };
        bar.set_message(what.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        if mode == Mode::Lines {
            match total {
                Some(t) => eprintln!("{what}: {t} bytes ..."),
                None => eprintln!("{what} ..."),
            }
        }
        TransferBar {
            mode,
            bar,
            what: what.to_owned(),
        }
    }

    pub fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    /// Back (or forward) to `bytes` done: a resumed upload goes on from the node's offset.
    pub fn set_position(&self, bytes: u64) {
        self.bar.set_position(bytes);
    }

    pub fn finish(&self, message: &str) {
        self.bar.finish_and_clear();
        if self.mode != Mode::Quiet {
            eprintln!("{}: {message}", self.what);
        }
    }

    pub fn abandon(&self) {
        self.bar.abandon();
    }
}
