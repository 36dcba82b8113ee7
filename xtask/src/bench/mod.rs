//! `cargo xtask bench [ingest|cdn|thumb|ipfs|torrent|e2e|blossom|resumable|node|privacy|strip|heif|swarm|scale|video|all]`: each store's benchmark in
//! its own module, reported as ratios against an established tool run side by side.

mod blossom;
mod cdn;
mod e2e;
mod edge;
mod heif;
mod ingest;
mod ipfs;
mod node;
mod privacy;
mod resumable;
mod safety;
mod scale;
mod strip;
mod swarm;
mod thumb;
mod torrent;
mod video;

use crate::util::{flag, Res};

pub(crate) fn bench(args: &[String]) -> Res {
    let which = args.first().map(String::as_str).unwrap_or("all");
    let size_mib: u64 = flag(args, "--size-mib").unwrap_or(1024);
    match which {
        "ingest" => ingest::bench(size_mib),
        "cdn" => cdn::bench(flag(args, "--size-mib").unwrap_or(256)),
        "thumb" => thumb::bench(flag(args, "--fuzz-seconds").unwrap_or(20)),
        "ipfs" => ipfs::bench(flag(args, "--size-mib").unwrap_or(300)),
        "torrent" => torrent::bench(flag(args, "--size-mib").unwrap_or(256)),
        "e2e" => e2e::bench(flag(args, "--size-mib").unwrap_or(256)),
        "blossom" => blossom::bench(flag(args, "--size-mib").unwrap_or(256)),
        "resumable" => resumable::bench(flag(args, "--size-mib").unwrap_or(256)),
        "node" => node::bench(flag(args, "--size-mib").unwrap_or(256)),
        "edge" => edge::bench(
            flag(args, "--size-mib").unwrap_or(64),
            flag(args, "--strangers").unwrap_or(64),
        ),
        "privacy" => privacy::bench(flag(args, "--size-mib").unwrap_or(256)),
        "scale" => scale::bench(flag(args, "--count").unwrap_or(200)),
        "strip" => strip::bench(),
        "heif" => heif::bench(),
        "safety" => safety::bench(),
        "swarm" => swarm::bench(
            flag(args, "--size-mib").unwrap_or(256),
            flag(args, "--mb-per-s").unwrap_or(20),
        ),
        "video" => video::bench(
            flag(args, "--size-mib").unwrap_or(50),
            flag(args, "--mb-per-s").unwrap_or(4),
        ),
        "all" => {
            ingest::bench(size_mib)?;
            cdn::bench(256)?;
            thumb::bench(20)?;
            ipfs::bench(300)?;
            torrent::bench(256)?;
            e2e::bench(256)?;
            blossom::bench(256)?;
            resumable::bench(256)?;
            node::bench(256)?;
            edge::bench(64, 64)?;
            privacy::bench(256)?;
            swarm::bench(256, 20)?;
            scale::bench(200)?;
            strip::bench()?;
            heif::bench()?;
            video::bench(50, 4)
        }
        other => Err(format!(
            "unknown benchmark {other:?} (known: ingest, cdn, thumb, ipfs, torrent, e2e, blossom, resumable, node, edge, privacy, strip, heif, swarm, scale, video, all)"
        )),
    }
}
