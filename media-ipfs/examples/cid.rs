//! `cargo run --release -p media-ipfs --example cid -- FILE`
//!
//! Prints only the CID that Helia's `@helia/unixfs` `addBytes` gives FILE's bytes.

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: cid FILE");
        return ExitCode::from(2);
    };
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("cid: {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match media_ipfs::FileDag::of_reader(std::io::BufReader::with_capacity(1 << 20, file)) {
        Ok(dag) => {
            println!("{}", dag.root);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cid: {path}: {e}");
            ExitCode::FAILURE
        }
    }
}
