//! `media`: the media store on the command line, over the embedded stack in a data directory.
//!
//! ```text
//! media [--data DIR] put FILE...
//! media [--data DIR] get ID --out FILE [--prefer p2p|cdn|hedged|fastest] [--range A-B]
//! media [--data DIR] ls
//! media [--data DIR] stat
//! media [--data DIR] rm ID
//! media [--data DIR] serve          # keep seeding and serving the gateway until Ctrl-C
//! ```
//!
//! `--config FILE.toml` reads the configuration file (see `StackConfig::from_toml`): an
//! external S3 and CDN, trackers and DHT, gateways, the download policy.
//!
//! The data directory (default `./media-data`) holds the catalog and every store; its
//! services keep their ports across runs (`addrs.json`), so URLs, magnets and tickets printed
//! once stay valid.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use media_core::{
    ByteRange, DownloadPolicy, Fastest, Hedged, MediaEvent, MediaId, PreferCdn, PreferP2p,
};
use media_facade::{EmbeddedStack, ReadOptions, StackConfig, UploadRequest};

const USAGE: &str = "usage: media [--data DIR] [--config FILE.toml] <command>
  put FILE...                                   store files on every store
  get ID --out FILE [--prefer p2p|cdn|hedged|fastest] [--range A-B]
  ls                                            list stored media
  stat                                          statistics and store health
  rm ID                                         delete from every store
  serve                                         seed and serve until Ctrl-C";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut data = PathBuf::from("media-data");
    let mut config_file = None;
    for (name, slot) in [("--data", 0), ("--config", 1)] {
        if let Some(i) = args.iter().position(|a| a == name) {
            if i + 1 >= args.len() {
                eprintln!("media: {name} needs a path\n{USAGE}");
                return ExitCode::from(2);
            }
            let value = PathBuf::from(args.remove(i + 1));
            args.remove(i);
            if slot == 0 {
                data = value;
            } else {
                config_file = Some(value);
            }
        }
    }
    if args.is_empty() || args[0] == "-h" || args[0] == "--help" {
        println!("{USAGE}");
        return if args.is_empty() {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        };
    }
    match run(data, config_file, &args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("media: {e}");
            ExitCode::FAILURE
        }
    }
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn parse_id(s: &str) -> Result<MediaId, String> {
    s.parse::<MediaId>()
        .map_err(|e| format!("{s:?} is not a media id (64 hex characters): {e}"))
}

async fn run(data: PathBuf, config_file: Option<PathBuf>, args: &[String]) -> Result<(), String> {
    let command = args[0].as_str();
    if !matches!(command, "put" | "get" | "ls" | "stat" | "rm" | "serve") {
        return Err(format!("unknown command {command:?}\n{USAGE}"));
    }
    let config = match &config_file {
        Some(path) => StackConfig::from_file(path, &data).map_err(|e| e.to_string())?,
        None => StackConfig::new(&data),
    };
    let data = config.data_dir.clone();
    let stack = EmbeddedStack::start(config)
        .await
        .map_err(|e| e.to_string())?;
    let store = stack.store.clone();
    let result = match command {
        "put" => {
            let files = &args[1..];
            if files.is_empty() {
                return Err("put needs at least one FILE".into());
            }
            let mut events = store.subscribe();
            let progress = tokio::spawn(async move {
                while let Ok(e) = events.recv().await {
                    if let MediaEvent::UploadProgress {
                        backend,
                        bytes,
                        total,
                        ..
                    } = e
                    {
                        eprintln!(
                            "  {backend:<8} {:>5.1}% of {total} bytes",
                            100.0 * bytes as f64 / total.max(1) as f64
                        );
                    }
                }
            });
            let mut out = Ok(());
            for path in files {
                match store.upload(UploadRequest::path(path)).await {
                    Ok(file) => println!(
                        "{}",
                        serde_json::to_string_pretty(&serde_json::json!({
                            "id": file.id, "name": file.name, "size": file.size, "mime": file.mime,
                            "url": file.cdn_url(), "cid": file.cid(), "magnet": file.magnet(),
                            "thumbnail": file.thumbnail.as_ref().map(|t| format!("{}×{} {}", t.width, t.height, t.mime)),
                        }))
                        .unwrap_or_default()
                    ),
                    Err(e) => {
                        out = Err(format!("{path}: {e}"));
                        break;
                    }
                }
            }
            progress.abort();
            out
        }
        "get" => {
            let id = parse_id(args.get(1).ok_or("get needs an ID")?)?;
            let out = flag(args, "--out").ok_or("get needs --out FILE")?;
            let mut opts = ReadOptions::new();
            if let Some(p) = flag(args, "--prefer") {
                let policy: Arc<dyn DownloadPolicy> = match p {
                    "p2p" => Arc::new(PreferP2p::default()),
                    "cdn" => Arc::new(PreferCdn::default()),
                    "hedged" => Arc::new(Hedged::after(Duration::from_millis(300))),
                    "fastest" => Arc::new(Fastest::default()),
                    other => {
                        return Err(format!("--prefer {other:?}: p2p, cdn, hedged or fastest"))
                    }
                };
                opts = opts.policy(policy);
            }
            if let Some(r) = flag(args, "--range") {
                let (a, b) = r.split_once('-').ok_or("--range A-B (inclusive)")?;
                let a: u64 = a.parse().map_err(|_| "--range A-B (inclusive)")?;
                let b: u64 = b.parse().map_err(|_| "--range A-B (inclusive)")?;
                if b < a {
                    return Err("--range A-B needs A <= B".into());
                }
                opts = opts.range(ByteRange::new(a, b + 1));
            }
            let file = store
                .get(&id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no media with id {id} in {}", data.display()))?;
            let reader = store
                .open_file(&file, opts)
                .await
                .map_err(|e| e.to_string())?;
            eprintln!("  downloading {} bytes of {} ...", reader.len(), file.name);
            // Written through a temporary file: a failed download leaves nothing at --out.
            let written = reader
                .write_to(std::path::Path::new(out))
                .await
                .map_err(|e| e.to_string())?;
            println!("{out}: {written} bytes of {} verified", file.name);
            Ok(())
        }
        "ls" => {
            let mut files = store.list().await.map_err(|e| e.to_string())?;
            files.sort_by(|a, b| a.name.cmp(&b.name));
            for f in files {
                let stores: Vec<&str> = f.locations.iter().map(|l| l.kind().as_str()).collect();
                println!(
                    "{}  {:>12}  {:<24} {}",
                    f.id,
                    f.size,
                    f.name,
                    stores.join(",")
                );
            }
            Ok(())
        }
        "stat" => {
            println!(
                "{}",
                serde_json::to_string_pretty(&store.stats()).unwrap_or_default()
            );
            for (name, health) in store.health().await {
                match health {
                    Ok(()) => println!("{name}: ok"),
                    Err(e) => println!("{name}: {e}"),
                }
            }
            Ok(())
        }
        "rm" => {
            let id = parse_id(args.get(1).ok_or("rm needs an ID")?)?;
            let removed = store.delete(&id).await.map_err(|e| e.to_string())?;
            println!("removed {id} from {}", removed.join(", "));
            Ok(())
        }
        _ => {
            let n = store.list().await.map_err(|e| e.to_string())?.len();
            #[cfg(feature = "ipfs")]
            if let Some(node) = &stack.ipfs {
                println!("gateway {}", node.gateway_url().unwrap_or_default());
            }
            #[cfg(feature = "torrent")]
            if let Some(node) = &stack.torrent {
                println!(
                    "seeding {} torrents on {}",
                    node.seeding().len(),
                    node.peer_addr()
                );
            }
            println!("serving {n} media from {} until Ctrl-C", data.display());
            tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
            Ok(())
        }
    };
    stack.shutdown().await;
    result
}
