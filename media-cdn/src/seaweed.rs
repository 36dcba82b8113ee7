//! A SeaweedFS cluster on loopback for tests and benchmarks (feature `test-support`): one
//! master, volume servers with replication `001` (every object on two servers), a filer and
//! the S3 gateway, each a `weed` process on ports the OS picks, killed on drop.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::S3Config;

/// Access key of the cluster's S3 identity.
pub const CLUSTER_KEY: &str = "media-test";
/// Secret key of the cluster's S3 identity.
pub const CLUSTER_SECRET: &str = "media-test-secret";

/// `weed`: `MEDIA_WEED_BIN` (set by `cargo xtask test` and `bench`), else on `PATH`.
pub fn weed_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MEDIA_WEED_BIN") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("weed"))
            .find(|p| p.is_file())
    })
}

/// A running cluster. Volume servers are named `volume1`, `volume2`, ….
#[derive(Debug)]
pub struct SeaweedCluster {
    dir: PathBuf,
    processes: Vec<(String, Child)>,
    s3_port: u16,
}

impl Drop for SeaweedCluster {
    fn drop(&mut self) {
        for (_, child) in &mut self.processes {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl SeaweedCluster {
    /// Start a cluster of `volumes` volume servers under `dir` with bucket `media`, and wait
    /// (at most a minute) until its filer answers.
    pub async fn start(weed: &Path, dir: &Path, volumes: usize) -> Result<Self, String> {
        let port = || free_port().map_err(|e| format!("no free port: {e}"));
        let mut cluster = SeaweedCluster {
            dir: dir.to_owned(),
            processes: Vec::new(),
            s3_port: port()?,
        };
        // Peers are named `ip:port.grpcPort`: without the suffix, weed assumes port + 10000.
        let (master_port, master_grpc) = (port()?, port()?);
        let (filer_port, filer_grpc) = (port()?, port()?);
        let master = format!("127.0.0.1:{master_port}.{master_grpc}");
        let filer = format!("127.0.0.1:{filer_port}.{filer_grpc}");
        cluster.spawn(
            weed,
            "master",
            "master",
            &[
                format!("-port={master_port}"),
                format!("-port.grpc={master_grpc}"),
                format!("-mdir={}", cluster.folder("master")?),
                "-defaultReplication=001".into(),
                "-volumeSizeLimitMB=64".into(),
            ],
        )?;
        for i in 1..=volumes {
            let name = format!("volume{i}");
            let folder = cluster.folder(&name)?;
            cluster.spawn(
                weed,
                "volume",
                &name,
                &[
                    format!("-port={}", port()?),
                    format!("-port.grpc={}", port()?),
                    format!("-dir={folder}"),
                    format!("-mserver={master}"),
                    "-max=16".into(),
                ],
            )?;
        }
        cluster.spawn(
            weed,
            "filer",
            "filer",
            &[
                format!("-port={filer_port}"),
                format!("-port.grpc={filer_grpc}"),
                format!("-master={master}"),
            ],
        )?;
        let identities = dir.join("s3.json");
        std::fs::write(
            &identities,
            format!(
                r#"{{"identities":[{{"name":"media","credentials":[{{"accessKey":"{CLUSTER_KEY}","secretKey":"{CLUSTER_SECRET}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
            ),
        )
        .map_err(|e| format!("writing {}: {e}", identities.display()))?;
        let s3_port = cluster.s3_port;
        cluster.spawn(
            weed,
            "s3",
            "s3",
            &[
                format!("-port={s3_port}"),
                format!("-port.grpc={}", port()?),
                format!("-filer={filer}"),
                format!("-config={}", identities.display()),
            ],
        )?;
        // A bucket is a folder under /buckets on the filer.
        let filer_url = format!("http://127.0.0.1:{filer_port}");
        let http = media_http::ClientOptions::new(media_core::Reach::public_only())
            .trust_url(&filer_url)
            .with_total_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| e.to_string())?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let made = http
                .post(&format!("{filer_url}/buckets/media/"))
                .map_err(|e| e.to_string())?
                .send()
                .await
                // 409: an earlier attempt made it before its answer was lost.
                .is_ok_and(|r| r.status().is_success() || r.status().as_u16() == 409);
            if made {
                return Ok(cluster);
            }
            if Instant::now() > deadline {
                return Err(format!("the filer did not start:\n{}", cluster.logs()));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn folder(&self, name: &str) -> Result<String, String> {
        let p = self.dir.join(name);
        std::fs::create_dir_all(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(p.display().to_string())
    }

    fn spawn(
        &mut self,
        weed: &Path,
        command: &str,
        role: &str,
        args: &[String],
    ) -> Result<(), String> {
        let log_path = self.dir.join(format!("{role}.log"));
        let log =
            std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        // Each process works in its own folder: the filer keeps its metadata store in the
        // working directory.
        let home = self.folder(role)?;
        let child = Command::new(weed)
            .current_dir(home)
            .arg(command)
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", weed.display()))?;
        self.processes.push((role.to_owned(), child));
        Ok(())
    }

    /// Kill the process named `name` (`volume1`, `filer`, …) at once.
    pub fn kill(&mut self, name: &str) {
        for (n, child) in &mut self.processes {
            if n == name {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    /// The S3 gateway's endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    /// A configuration for bucket `media` on the cluster (private bucket: presigned reads).
    pub fn s3_config(&self) -> S3Config {
        S3Config::new("media", CLUSTER_KEY, CLUSTER_SECRET)
            .with_endpoint(self.endpoint())
            .with_presigned_reads(Duration::from_secs(3600))
    }

    /// The last lines of every process's log (for failure messages).
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for (name, _) in &self.processes {
            let log =
                std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            out.push_str(&format!("--- {name}\n{}\n", tail.join("\n")));
        }
        out
    }
}
