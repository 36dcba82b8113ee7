//! `media`: the media store on the command line.
//!
//! Every command works on a data directory (`--data`, default `./media-data`). When
//! `media serve` runs on that directory, the other commands talk to it through its HTTP API
//! (`node.json` in the data directory says where); otherwise they open the directory
//! themselves: `ls`, `show` and `import` only its catalog, `put`, `get`, `rm` and `stat` the
//! whole embedded stack. `media serve` also serves a web page for people (`page.rs`).
//!
//! Exit codes: 0 success · 1 failure · 2 usage error · 3 not found · 4 integrity (bytes or a
//! record failed verification) · 5 unavailable (no store could serve, or the node is down).

mod api;
mod node;
mod output;
mod progress;
mod request;
mod resumable;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use futures::StreamExt;
use media_core::{ErrorKind, MediaError, MediaFile, MediaId, MediaRef, Operation};
use media_facade::{EmbeddedStack, MediaStore, StackConfig};

use crate::api::{Client, NodeFile};
use crate::node::Node;
use crate::output::Printer;
use crate::progress::{Mode, TransferBar};
use crate::request::GetRequest;

const EXIT_CODES: &str = "Exit codes:
  0  success
  1  failure (I/O, a store refused, ...)
  2  usage error
  3  not found (no such media id or file)
  4  integrity: bytes or a record failed verification
  5  unavailable: no store could serve, or the running node is unreachable";

/// Store photos and videos on BitTorrent, IPFS and a CDN at once; get them back verified.
#[derive(Debug, Parser)]
#[command(name = "media", version, after_help = EXIT_CODES)]
struct Cli {
    /// The data directory: catalog, stores, node.json.
    #[arg(long, global = true, default_value = "media-data", env = "MEDIA_DATA")]
    data: PathBuf,
    /// A TOML configuration file (data_dir, [download], one section per store).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Machine-readable JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
    /// No progress on stderr.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Open the data directory even if a `media serve` answers for it.
    #[arg(long, global = true)]
    local: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Store files on every store; prints each record.
    Put {
        /// Files to store.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Remove the media after this many seconds.
        #[arg(long)]
        expires_in: Option<u64>,
        /// Private media: encrypt to this age recipient (`age1…`) before storing; repeat for
        /// several. Stores and peers then hold ciphertext only.
        #[arg(long = "private-to", value_name = "AGE_RECIPIENT")]
        private_to: Vec<String>,
    },
    /// Download media by id, verified chunk by chunk, to a file.
    Get {
        /// The media id (64 hex characters).
        id: String,
        /// Where to write (written through a temporary file; nothing is left on failure).
        #[arg(long, short)]
        out: PathBuf,
        #[command(flatten)]
        request: GetRequest,
        /// Private media: decrypt with the age identity in this file (as `age-keygen` writes
        /// it). Without it, private media is refused.
        #[arg(long, value_name = "FILE")]
        identity: Option<PathBuf>,
    },
    /// List stored media.
    Ls,
    /// Print a record (the JSON peers hand each other) and its reference.
    Show {
        /// The media id.
        id: String,
        /// Print only the reference to share through a trusted channel:
        /// media:<sha256>?size=<bytes>&root=<chunk root>.
        #[arg(long = "ref")]
        reference: bool,
    },
    /// Import a record a peer handed over (a file, or - for stdin), after checking it.
    /// Without --ref the record's chunk list is not trusted until one whole read proved it
    /// (see SECURITY.md).
    Import {
        /// The record's JSON file, or -.
        file: PathBuf,
        /// The reference the sender shared (media:…): the record must match it, and range
        /// reads are verified from the first byte.
        #[arg(long = "ref")]
        reference: Option<String>,
    },
    /// Statistics and each store's health.
    Stat,
    /// Delete media from every store and the catalog.
    Rm {
        /// The media id.
        id: String,
    },
    /// Take media down: from every store this node wrote it to (S3 object, IPFS blob,
    /// torrent and its .torrent, Blossom), the cache and the catalogs, leaving a tombstone
    /// that refuses it again (and its picture's near copies) and that the nodes sharing the
    /// catalog bucket apply too.
    Takedown {
        /// The media id.
        id: String,
        /// Why, in a few words (kept in the tombstone).
        #[arg(long, default_value = "takedown")]
        reason: String,
    },
    /// The reports strangers filed through Blossom (BUD-09), newest first.
    Reports,
    /// Seed, serve the gateway, the node API and its web page until Ctrl-C.
    Serve {
        /// Address of the node API (default: a free port on 127.0.0.1).
        #[arg(long, default_value = "127.0.0.1:0")]
        api_listen: std::net::SocketAddr,
        /// Address of the Blossom server (default: `[blossom] listen`, else a port kept
        /// across restarts on 127.0.0.1).
        #[arg(long)]
        blossom_listen: Option<std::net::SocketAddr>,
    },
}

/// A failure with its exit code.
struct Failure {
    code: u8,
    message: String,
}

impl From<MediaError> for Failure {
    fn from(e: MediaError) -> Self {
        let code = match e.kind {
            ErrorKind::NotFound => 3,
            ErrorKind::Integrity => 4,
            ErrorKind::Unavailable | ErrorKind::PolicyUnsatisfied | ErrorKind::Timeout => 5,
            ErrorKind::InvalidInput => 2,
            _ => 1,
        };
        Failure {
            code,
            message: e.to_string(),
        }
    }
}

type CliResult<T> = Result<T, Failure>;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MEDIA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("media: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn parse_id(s: &str) -> CliResult<MediaId> {
    s.parse::<MediaId>().map_err(|e| Failure {
        code: 2,
        message: format!("{s:?} is not a media id (64 hex characters): {e}"),
    })
}

/// `--private-to` values as age recipients.
fn parse_recipients(values: &[String]) -> CliResult<Vec<media_facade::media_privacy::Recipient>> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .filter(|v| !v.trim().is_empty())
        .map(|v| {
            v.parse()
                .map_err(|e: media_facade::media_privacy::SealError| {
                    MediaError::invalid_input(Operation::Upload, format!("--private-to: {e}"))
                        .into()
                })
        })
        .collect()
}

/// The identity in an `--identity` file.
fn read_identity(path: &std::path::Path) -> CliResult<media_facade::media_privacy::Identity> {
    media_facade::media_privacy::Identity::from_file(path).map_err(|e| {
        MediaError::invalid_input(
            Operation::Download,
            format!("--identity {}: {e}", path.display()),
        )
        .into()
    })
}

async fn run(cli: Cli) -> CliResult<()> {
    let mut config = match &cli.config {
        Some(path) => StackConfig::from_file(path, &cli.data)?,
        None => StackConfig::new(&cli.data),
    };
    if let Command::Serve {
        api_listen,
        blossom_listen,
    } = &cli.command
    {
        if let Some(addr) = blossom_listen {
            let mut section = config
                .section("blossom")
                .cloned()
                .unwrap_or_else(|| serde_json::json!({}));
            section["listen"] = serde_json::json!(addr.to_string());
            config = config.with_section("blossom", section)?;
        }
        // The API and page are a frontend of the stack, started from its section.
        let mut section = config
            .section("api")
            .cloned()
            .unwrap_or_else(|| serde_json::json!({}));
        section["listen"] = serde_json::json!(api_listen.to_string());
        config = config.with_section("api", section)?;
    }
    let data = config.data_dir.clone();
    let mode = Mode::detect(cli.quiet);
    let printer = Printer::new(cli.json);
    if let Command::Serve { .. } = cli.command {
        let stack = EmbeddedStack::start(config).await?;
        let result = serve(&stack, printer).await;
        stack.shutdown().await;
        return result;
    }
    let running = if cli.local {
        None
    } else {
        Client::find(&data).await
    };
    let node = match (running, &cli.command) {
        (Some(client), _) => Node::Remote(client),
        // Reading or adding a record needs no store: no P2P stack is started.
        (None, Command::Ls | Command::Show { .. } | Command::Import { .. } | Command::Reports) => {
            Node::Catalog(MediaStore::open_catalog(&data).await?)
        }
        (None, _) => Node::Local(EmbeddedStack::start(config).await?),
    };
    let result = command(&node, cli.command, printer, mode).await;
    node.shutdown().await;
    result
}

/// One command, the same whether the node runs here or in a `media serve`.
async fn command(node: &Node, command: Command, printer: Printer, mode: Mode) -> CliResult<()> {
    match command {
        Command::Put {
            files,
            expires_in,
            private_to,
        } => {
            for path in files {
                printer.put(&node.put(&path, expires_in, &private_to, mode).await?);
            }
        }
        Command::Get {
            id,
            out,
            request,
            identity,
        } => {
            let id = parse_id(&id)?;
            let download = node.get(&id, &request, identity.as_deref()).await?;
            let bar = TransferBar::new(mode, &download.label, download.len);
            let stream = download
                .stream
                .map(|p| p.inspect(|b| bar.advance(b.len() as u64)));
            let written = write_stream(&out, stream, download.expect.as_ref()).await;
            finish_get(&bar, &out, &id, written, printer)?;
        }
        Command::Ls => printer.list(&node.list().await?),
        Command::Show { id, reference } => {
            printer.record(&node.show(&parse_id(&id)?).await?, reference)
        }
        Command::Import { file, reference } => {
            let record = read_record(&file).await?;
            let reference = parse_ref(reference.as_deref())?;
            printer.imported(&node.import(record, reference).await?);
        }
        Command::Stat => printer.stat(&node.stat().await?),
        Command::Rm { id } => {
            let id = parse_id(&id)?;
            printer.removed(&id, &node.rm(&id).await?);
        }
        Command::Takedown { id, reason } => {
            let id = parse_id(&id)?;
            printer.taken_down(&node.takedown(&id, &reason).await?);
        }
        Command::Reports => printer.reports(&node.reports().await?),
        Command::Serve { .. } => unreachable_command()?,
    }
    Ok(())
}

fn unreachable_command() -> CliResult<()> {
    Err(Failure {
        code: 1,
        message: "internal: command routed to the wrong handler".into(),
    })
}

fn parse_ref(reference: Option<&str>) -> CliResult<Option<MediaRef>> {
    reference
        .map(|r| {
            r.parse::<MediaRef>().map_err(|e| Failure {
                code: 2,
                message: format!("--ref: {}", e.message),
            })
        })
        .transpose()
}

async fn read_record(path: &Path) -> CliResult<MediaFile> {
    let bytes = if path == Path::new("-") {
        let mut buf = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut tokio::io::stdin(), &mut buf)
            .await
            .map_err(|e| MediaError::io(Operation::Catalog, "reading stdin", e))?;
        buf
    } else {
        tokio::fs::read(path).await.map_err(|e| {
            MediaError::io(Operation::Catalog, format!("reading {}", path.display()), e)
        })?
    };
    Ok(serde_json::from_slice(&bytes).map_err(|e| {
        MediaError::invalid_input(Operation::Catalog, format!("not a media record: {e}"))
    })?)
}

fn finish_get(
    bar: &TransferBar,
    out: &Path,
    id: &MediaId,
    written: CliResult<u64>,
    printer: Printer,
) -> CliResult<()> {
    match written {
        Ok(n) => {
            bar.finish(&format!("{n} bytes verified → {}", out.display()));
            printer.got(id, out, n);
            Ok(())
        }
        Err(e) => {
            bar.abandon();
            Err(e)
        }
    }
}

/// Write a verified stream to `out` through a temporary file; with `expect`, also check the
/// whole file's SHA-256 (a download from a running node is verified again here).
async fn write_stream(
    out: &Path,
    stream: impl futures::Stream<Item = Result<bytes::Bytes, MediaError>> + Unpin,
    expect: Option<&MediaId>,
) -> CliResult<u64> {
    Ok(media_facade::write_file(out, stream, expect).await?)
}

async fn serve(stack: &EmbeddedStack, printer: Printer) -> CliResult<()> {
    let data = stack.data_dir().to_path_buf();
    let server = stack
        .service::<media_facade::api::ApiServer>()
        .ok_or_else(|| MediaError::internal(Operation::Configure, "the stack started no API"))?;
    let token = server.token().to_owned();
    // The CLI reaches the API on loopback even when it listens on every address.
    let mut addr = server.addr();
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let node = NodeFile {
        api: format!("http://{addr}"),
        token,
        pid: std::process::id(),
    };
    node.write(&data)
        .map_err(|e| MediaError::io(Operation::Configure, "writing node.json", e))?;
    let mut endpoints: Vec<(String, String)> = stack
        .endpoints()
        .into_iter()
        .filter(|(name, _)| name != "api" && name != "uploads")
        .collect();
    endpoints.push(("api".to_owned(), node.api.clone()));
    // Resumable uploads (tus 1.0 and the IETF draft), with the API's token.
    endpoints.push((
        "uploads".to_owned(),
        format!("{}{}", node.api, media_facade::api::resumable::UPLOADS_PATH),
    ));
    // The token rides in the fragment, which browsers never send to the server.
    endpoints.push((
        "page".to_owned(),
        format!("{}/#token={}", node.api, node.token),
    ));
    for (name, url) in &endpoints {
        printer.service(name, url);
    }
    let n = stack.store.list().await.map(|l| l.len()).unwrap_or(0);
    printer.serving(n, &data);
    let stop = async {
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .map_err(|e| MediaError::io(Operation::Configure, "signal handler", e))?;
            tokio::select! {
                r = tokio::signal::ctrl_c() => r.map_err(|e| MediaError::io(Operation::Configure, "Ctrl-C handler", e)),
                _ = term.recv() => Ok(()),
            }
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c()
            .await
            .map_err(|e| MediaError::io(Operation::Configure, "Ctrl-C handler", e))
    };
    let result = stop.await;
    let _ = std::fs::remove_file(NodeFile::path(&data));
    Ok(result?)
}
