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

/// `println!` for results: a reader that went away (`media ls | head -1`) ends the command
/// quietly, as Unix tools do, instead of a panic on the closed pipe.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}

mod api;
mod output;
mod progress;
mod request;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use futures::StreamExt;
use media_core::{ErrorKind, MediaError, MediaEvent, MediaFile, MediaId, MediaRef, Operation};
use media_facade::{EmbeddedStack, MediaStore, StackConfig, UploadRequest};
use sha2::Digest as _;
use tokio::io::AsyncWriteExt;

use crate::api::{Client, NodeFile};
use crate::progress::{Mode, TransferBar, UploadBars};
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

fn print_json(value: &impl serde::Serialize) {
    say!("{}", serde_json::to_string(value).unwrap_or_default());
}

fn print_put(file: &MediaFile, json: bool) {
    if json {
        print_json(file);
    } else {
        say!("{}", describe(file));
    }
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
    lines.join("\n")
}

async fn run(cli: Cli) -> CliResult<()> {
    let mut config = match &cli.config {
        Some(path) => StackConfig::from_file(path, &cli.data)?,
        None => StackConfig::new(&cli.data),
    };
    if let Command::Serve {
        blossom_listen: Some(addr),
        ..
    } = &cli.command
    {
        let mut section = config
            .section("blossom")
            .cloned()
            .unwrap_or_else(|| serde_json::json!({}));
        section["listen"] = serde_json::json!(addr.to_string());
        config = config.with_section("blossom", section)?;
    }
    let data = config.data_dir.clone();
    let mode = Mode::detect(cli.quiet);
    if !cli.local && !matches!(cli.command, Command::Serve { .. }) {
        if let Some(client) = Client::find(&data).await {
            return remote(&client, cli.command, cli.json, mode).await;
        }
    }
    match cli.command {
        Command::Ls | Command::Show { .. } | Command::Import { .. } => {
            // Reading or adding a record needs no store: no P2P stack is started.
            let store = MediaStore::open_catalog(&data).await?;
            catalog_command(&store, cli.command, cli.json).await
        }
        command => {
            let stack = EmbeddedStack::start(config).await?;
            let result = stack_command(&stack, command, cli.json, mode).await;
            stack.shutdown().await;
            result
        }
    }
}

async fn catalog_command(store: &MediaStore, command: Command, json: bool) -> CliResult<()> {
    match command {
        Command::Ls => {
            let mut files = store.list().await?;
            files.sort_by(|a, b| a.name.cmp(&b.name));
            print_list(&files, json);
        }
        Command::Show { id, reference } => {
            let id = parse_id(&id)?;
            let file = store.get(&id).await?.ok_or_else(|| {
                MediaError::not_found(Operation::Catalog, format!("no media with id {id}"))
            })?;
            print_record(&file, reference, json);
        }
        Command::Import { file, reference } => {
            let record = read_record(&file).await?;
            match parse_ref(reference.as_deref())? {
                Some(r) => store.import_ref(&record, &r).await?,
                None => store.import(&record).await?,
            }
            print_imported(&record, json);
        }
        _ => unreachable_command()?,
    }
    Ok(())
}

fn unreachable_command() -> CliResult<()> {
    Err(Failure {
        code: 1,
        message: "internal: command routed to the wrong handler".into(),
    })
}

fn print_list(files: &[MediaFile], json: bool) {
    if json {
        print_json(&files);
        return;
    }
    for f in files {
        let stores: Vec<&str> = f.locations.iter().map(|l| l.kind().as_str()).collect();
        say!(
            "{}  {:>12}  {:<24} {}",
            f.id,
            f.size,
            f.name,
            stores.join(",")
        );
    }
}

fn print_record(file: &MediaFile, only_reference: bool, json: bool) {
    match (only_reference, json) {
        (true, true) => print_json(&serde_json::json!({"reference": file.reference().to_string()})),
        (true, false) => say!("{}", file.reference()),
        (false, true) => print_json(file),
        (false, false) => say!(
            "{}\nreference: {}",
            serde_json::to_string_pretty(file).unwrap_or_default(),
            file.reference()
        ),
    }
}

fn print_imported(record: &MediaFile, json: bool) {
    if json {
        print_json(record);
    } else {
        say!("imported {} ({})", record.id, record.name);
    }
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

async fn stack_command(
    stack: &EmbeddedStack,
    command: Command,
    json: bool,
    mode: Mode,
) -> CliResult<()> {
    let store = &stack.store;
    match command {
        Command::Put {
            files,
            expires_in,
            private_to,
        } => {
            let recipients = parse_recipients(&private_to)?;
            for path in files {
                let file = put_local(store, &path, expires_in, &recipients, mode).await?;
                print_put(&file, json);
            }
        }
        Command::Get {
            id,
            out,
            request,
            identity: Some(identity),
        } => {
            let id = parse_id(&id)?;
            let identity = read_identity(&identity)?;
            let stream = store
                .open_private(&id, request.byte_range()?, &identity)
                .await?;
            let bar = TransferBar::new(mode, &format!("get {id} (private)"), None);
            let stream = stream.map(|p| p.inspect(|b| bar.advance(b.len() as u64)));
            let written = write_stream(&out, stream, None).await;
            finish_get(&bar, &out, &id, written, json)?;
        }
        Command::Get {
            id, out, request, ..
        } => {
            let id = parse_id(&id)?;
            let options = request.options()?;
            let file = store.get(&id).await?.ok_or_else(|| {
                MediaError::not_found(Operation::Download, format!("no media with id {id}"))
            })?;
            let reader = store.open_file(&file, options).await?;
            let bar = TransferBar::new(mode, &format!("get {}", file.name), Some(reader.len()));
            let stream = reader.map(|p| p.inspect(|b| bar.advance(b.len() as u64)));
            let written = write_stream(&out, stream, None).await;
            finish_get(&bar, &out, &file.id, written, json)?;
        }
        Command::Stat => {
            let report = media_facade::api::stat_report(store).await;
            print_stat(&report, json);
        }
        Command::Rm { id } => {
            let id = parse_id(&id)?;
            let removed = store.delete(&id).await?;
            print_removed(&id, &removed, json);
        }
        Command::Serve { api_listen, .. } => serve(stack, api_listen, json).await?,
        Command::Ls | Command::Show { .. } | Command::Import { .. } => {
            catalog_command(store, command, json).await?
        }
    }
    Ok(())
}

fn finish_get(
    bar: &TransferBar,
    out: &Path,
    id: &MediaId,
    written: CliResult<u64>,
    json: bool,
) -> CliResult<()> {
    match written {
        Ok(n) => {
            bar.finish(&format!("{n} bytes verified → {}", out.display()));
            if json {
                print_json(
                    &serde_json::json!({"id": id, "path": out, "bytes": n, "verified": true}),
                );
            }
            Ok(())
        }
        Err(e) => {
            bar.abandon();
            Err(e)
        }
    }
}

fn print_stat(report: &serde_json::Value, json: bool) {
    if json {
        print_json(report);
        return;
    }
    say!(
        "{}",
        serde_json::to_string_pretty(&report["stats"]).unwrap_or_default()
    );
    if let Some(health) = report["health"].as_object() {
        for (name, h) in health {
            say!("{name}: {}", h.as_str().unwrap_or("?"));
        }
    }
}

fn print_removed(id: &MediaId, removed: &[String], json: bool) {
    if json {
        print_json(&serde_json::json!({"id": id, "removed": removed}));
    } else {
        say!("removed {id} from {}", removed.join(", "));
    }
}

async fn put_local(
    store: &MediaStore,
    path: &Path,
    expires_in: Option<u64>,
    recipients: &[media_facade::media_privacy::Recipient],
    mode: Mode,
) -> CliResult<MediaFile> {
    if !path.is_file() {
        return Err(MediaError::not_found(
            Operation::Upload,
            format!("{}: no such file", path.display()),
        )
        .into());
    }
    let mut request = UploadRequest::path(path);
    if let Some(secs) = expires_in {
        request = request.expires_in(Duration::from_secs(secs));
    }
    if !recipients.is_empty() {
        request = request.encrypt_to(recipients.to_vec());
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stores: Vec<String> = store
        .backends()
        .iter()
        .map(|b| b.name().to_owned())
        .collect();
    let mut handle = store.upload(request);
    let mut bars = UploadBars::new(mode, &name);
    while let Some(event) = handle.next_event().await {
        match event {
            MediaEvent::Ingested { size, .. } => bars.ingested(size, &stores),
            MediaEvent::UploadProgress { backend, bytes, .. } => bars.progress(&backend, bytes),
            MediaEvent::Stored { backend, .. } => bars.stored(&backend),
            MediaEvent::StoreFailed { backend, error, .. } => bars.failed(&backend, &error.message),
            _ => {}
        }
    }
    bars.finish();
    Ok(handle.finish().await?)
}

/// Write a verified stream to `out` through a temporary file; with `expect`, also check the
/// whole file's SHA-256 (a download from a running node is verified again here).
async fn write_stream(
    out: &Path,
    mut stream: impl futures::Stream<Item = Result<bytes::Bytes, MediaError>> + Unpin,
    expect: Option<&MediaId>,
) -> CliResult<u64> {
    let io = |e| MediaError::io(Operation::Download, format!("writing {}", out.display()), e);
    let tmp = out.with_extension(format!("part{}", std::process::id()));
    let mut file = tokio::fs::File::create(&tmp).await.map_err(io)?;
    let mut check = sha2::Sha256::new();
    let mut written = 0u64;
    let result: Result<(), MediaError> = async {
        while let Some(piece) = stream.next().await {
            let piece = piece?;
            check.update(&piece);
            file.write_all(&piece).await.map_err(io)?;
            written += piece.len() as u64;
        }
        if let Some(id) = expect {
            if MediaId::from_sha256(media_core::Digest32(check.finalize().into())) != *id {
                return Err(MediaError::integrity(
                    Operation::Download,
                    format!("the bytes received do not hash to {id}"),
                ));
            }
        }
        file.sync_all().await.map_err(io)
    }
    .await;
    match result {
        Ok(()) => {
            tokio::fs::rename(&tmp, out).await.map_err(io)?;
            Ok(written)
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            Err(e.into())
        }
    }
}

async fn serve(
    stack: &EmbeddedStack,
    api_listen: std::net::SocketAddr,
    json: bool,
) -> CliResult<()> {
    let data = stack.data_dir().to_path_buf();
    let token = media_facade::api::new_token()?;
    let server = media_facade::api::ApiServer::start(
        stack.store.clone(),
        token.clone(),
        api_listen,
        stack.endpoints(),
    )
    .await?;
    let addr = server.addr();
    let node = NodeFile {
        api: format!("http://{addr}"),
        token,
        pid: std::process::id(),
    };
    node.write(&data)
        .map_err(|e| MediaError::io(Operation::Configure, "writing node.json", e))?;
    let mut endpoints = stack.endpoints();
    endpoints.push(("api".to_owned(), node.api.clone()));
    // The token rides in the fragment, which browsers never send to the server.
    endpoints.push((
        "page".to_owned(),
        format!("{}/#token={}", node.api, node.token),
    ));
    for (name, url) in &endpoints {
        if json {
            print_json(&serde_json::json!({"service": name, "url": url}));
        } else {
            say!("{name} {url}");
        }
    }
    let n = stack.store.list().await.map(|l| l.len()).unwrap_or(0);
    if !json {
        say!("serving {n} media from {} until Ctrl-C", data.display());
    }
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
    server.shutdown();
    let _ = std::fs::remove_file(NodeFile::path(&data));
    Ok(result?)
}

async fn remote(client: &Client, command: Command, json: bool, mode: Mode) -> CliResult<()> {
    use reqwest::Method;
    match command {
        Command::Ls => {
            let files: Vec<MediaFile> = client.json(client.request(Method::GET, "media")?).await?;
            print_list(&files, json);
        }
        Command::Show { id, reference } => {
            let id = parse_id(&id)?;
            let file: MediaFile = client
                .json(client.request(Method::GET, &format!("media/{id}"))?)
                .await?;
            print_record(&file, reference, json);
        }
        Command::Import { file, reference } => {
            let record = read_record(&file).await?;
            let mut request = client
                .request(Method::POST, "import")?
                .body(serde_json::to_vec(&record).unwrap_or_default());
            if let Some(r) = parse_ref(reference.as_deref())? {
                request = request.query(&[("ref", r.to_string())]);
            }
            let record: MediaFile = client.json(request).await?;
            print_imported(&record, json);
        }
        Command::Put {
            files,
            expires_in,
            private_to,
        } => {
            parse_recipients(&private_to)?;
            for path in files {
                let source = tokio::fs::File::open(&path).await.map_err(|e| {
                    MediaError::io(Operation::Upload, format!("{}", path.display()), e)
                })?;
                let size = source.metadata().await.ok().map(|m| m.len());
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let bar = std::sync::Arc::new(TransferBar::new(
                    mode,
                    &format!("put {name} → node"),
                    size,
                ));
                let counted = bar.clone();
                let body = tokio_util::io::ReaderStream::new(source).inspect(move |r| {
                    if let Ok(b) = r {
                        counted.advance(b.len() as u64);
                    }
                });
                let mut query = vec![("name", name.clone())];
                if let Some(secs) = expires_in {
                    query.push(("expires_in", secs.to_string()));
                }
                if !private_to.is_empty() {
                    query.push(("private_to", private_to.join(",")));
                }
                let request = client
                    .request(Method::PUT, "media")?
                    .query(&query)
                    .body(reqwest::Body::wrap_stream(body));
                let file: MediaFile = match client.json(request).await {
                    Ok(f) => f,
                    Err(e) => {
                        bar.abandon();
                        return Err(e.into());
                    }
                };
                bar.finish("stored by the running node");
                print_put(&file, json);
            }
        }
        Command::Get {
            id,
            out,
            request,
            identity: Some(identity),
        } => {
            let id = parse_id(&id)?;
            request.byte_range()?;
            // Checked here for a clear error; the node gets the file's text in the body.
            read_identity(&identity)?;
            let text = tokio::fs::read_to_string(&identity).await.map_err(|e| {
                MediaError::io(
                    Operation::Download,
                    format!("--identity {}", identity.display()),
                    e,
                )
            })?;
            let mut query = Vec::new();
            if let Some(r) = &request.range {
                query.push(("range", r.clone()));
            }
            let (_, stream) = client
                .stream(
                    client
                        .request(Method::POST, &format!("media/{id}/private"))?
                        .query(&query)
                        .body(text),
                )
                .await?;
            let bar = TransferBar::new(mode, &format!("get {id} (private, via node)"), None);
            let stream = Box::pin(stream.map(|p| p.inspect(|b| bar.advance(b.len() as u64))));
            let written = write_stream(&out, stream, None).await;
            finish_get(&bar, &out, &id, written, json)?;
        }
        Command::Get {
            id, out, request, ..
        } => {
            let id = parse_id(&id)?;
            request.byte_range()?;
            let whole = request.range.is_none();
            let (len, stream) = client
                .stream(
                    client
                        .request(Method::GET, &format!("media/{id}/content"))?
                        .query(&request.query()),
                )
                .await?;
            let bar = TransferBar::new(mode, &format!("get {id}"), len);
            let stream = Box::pin(stream.map(|p| p.inspect(|b| bar.advance(b.len() as u64))));
            let written = write_stream(&out, stream, whole.then_some(&id)).await;
            finish_get(&bar, &out, &id, written, json)?;
        }
        Command::Stat => {
            let report: serde_json::Value =
                client.json(client.request(Method::GET, "stats")?).await?;
            print_stat(&report, json);
        }
        Command::Rm { id } => {
            let id = parse_id(&id)?;
            let answer: serde_json::Value = client
                .json(client.request(Method::DELETE, &format!("media/{id}"))?)
                .await?;
            let removed: Vec<String> =
                serde_json::from_value(answer["removed"].clone()).unwrap_or_default();
            print_removed(&id, &removed, json);
        }
        Command::Serve { .. } => unreachable_command()?,
    }
    Ok(())
}
