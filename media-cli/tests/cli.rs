//! The `media` command line over a data directory: put, ls, get (whole and ranged), stat, rm,
//! and clear errors.

mod common;
use common::{media, media_code, serve, serve_with};

#[test]
fn put_ls_get_stat_rm_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let input = dir.path().join("clip one.bin");
    let bytes: Vec<u8> = (0..2_500_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&input, &bytes).unwrap();

    let (ok, out, err) = media(&data, &["put", input.to_str().unwrap()]);
    assert!(ok, "{err}");
    let id = media_core::MediaId::for_bytes(&bytes).to_string();
    assert!(
        out.contains(&id) && out.contains("magnet:?xt=urn:btih:") && out.contains("bafy"),
        "{out}"
    );

    let (ok, out, _) = media(&data, &["ls"]);
    assert!(
        ok && out.contains(&id) && out.contains("cdn,ipfs,torrent"),
        "{out}"
    );

    for prefer in ["p2p", "cdn", "hedged", "fastest"] {
        let target = dir.path().join(format!("out-{prefer}"));
        let (ok, _, err) = media(
            &data,
            &[
                "get",
                &id,
                "--out",
                target.to_str().unwrap(),
                "--prefer",
                prefer,
            ],
        );
        assert!(ok, "{prefer}: {err}");
        assert_eq!(std::fs::read(&target).unwrap(), bytes, "{prefer}");
    }
    let part = dir.path().join("part");
    let (ok, _, err) = media(
        &data,
        &[
            "get",
            &id,
            "--out",
            part.to_str().unwrap(),
            "--range",
            "1000-1999",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(std::fs::read(&part).unwrap(), bytes[1000..2000]);

    let (ok, out, _) = media(&data, &["stat"]);
    assert!(
        ok && out.contains("cdn: ok") && out.contains("ipfs: ok") && out.contains("torrent: ok"),
        "{out}"
    );

    let (ok, _, err) = media(&data, &["get", "nothex", "--out", "x"]);
    assert!(!ok && err.contains("not a media id"), "{err}");
    let (ok, _, err) = media(&data, &["get", &id, "--out", "x", "--prefer", "fast"]);
    assert!(!ok && err.contains("--policy"), "{err}");
    // The help and the error list every policy the parser accepts, from its one list.
    for name in media_core::download_policy_names() {
        assert!(err.contains(&name), "{name} missing from: {err}");
        let (_, help, _) = media(&data, &["get", "--help"]);
        assert!(help.contains(&name), "{name} missing from the help");
    }

    // `media ls | head`: a reader gone before the first line is not an error.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let closed = std::process::Command::new(common::media_bin())
        .arg("--data")
        .arg(&data)
        .arg("ls")
        .stdout(writer)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&closed.stderr);
    assert!(closed.status.success(), "{:?}: {err}", closed.status);
    assert!(!err.contains("panicked"), "{err}");
    let (ok, _, err) = media(&data, &["frobnicate"]);
    assert!(!ok && err.contains("unrecognized subcommand"), "{err}");

    let (ok, out, err) = media(&data, &["rm", &id]);
    assert!(
        ok && out.contains("cdn") && out.contains("ipfs") && out.contains("torrent"),
        "{out}{err}"
    );
    let (ok, out, _) = media(&data, &["ls"]);
    assert!(ok && !out.contains(&id));
    let missing = dir.path().join("missing");
    let (ok, _, err) = media(&data, &["get", &id, "--out", missing.to_str().unwrap()]);
    assert!(!ok && err.contains("no media with id"), "{err}");
    assert!(!missing.exists());
}

#[test]
fn show_and_import_move_a_record_between_nodes_with_json_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    // Node A keeps running, so B can read from its stores; commands on A go through its API.
    let (_a_node, _) = serve(&a);
    let input = dir.path().join("photo.bin");
    let bytes: Vec<u8> = (0..1_500_000u32).map(|i| (i * 13 % 253) as u8).collect();
    std::fs::write(&input, &bytes).unwrap();

    let (code, out, err) = media_code(&a, &["put", "--json", input.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let put: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let id = put["id"].as_str().unwrap().to_owned();
    assert_eq!(id, media_core::MediaId::for_bytes(&bytes).to_string());

    // show --json prints exactly the record peers hand each other; --ref its reference.
    let (code, record, _) = media_code(&a, &["show", &id, "--json"]);
    assert_eq!(code, 0);
    let parsed: media_core::MediaFile = serde_json::from_str(record.trim()).unwrap();
    assert_eq!(parsed.id.to_string(), id);
    let (_, reference, _) = media_code(&a, &["show", &id, "--ref"]);
    let reference = reference.trim().to_owned();
    assert!(
        reference.starts_with(&format!("media:{id}?size=")),
        "{reference}"
    );

    // A forged copy of the record (one chunk digest changed) is refused against the reference.
    let mut forged = parsed.clone();
    forged.chunks[0] = media_core::Digest32::sha256(b"forged");
    let forged_path = dir.path().join("forged.json");
    std::fs::write(&forged_path, serde_json::to_vec(&forged).unwrap()).unwrap();
    let (code, _, err) = media_code(
        &b,
        &["import", forged_path.to_str().unwrap(), "--ref", &reference],
    );
    assert_eq!(code, 4, "integrity failures exit 4: {err}");

    // The honest record imports on node B (no stack is started for it) and reads back.
    let record_path = dir.path().join("record.json");
    std::fs::write(&record_path, record.trim()).unwrap();
    let (code, out, err) = media_code(
        &b,
        &["import", record_path.to_str().unwrap(), "--ref", &reference],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("imported"), "{out}");
    assert!(!b.join("torrent").exists(), "import started the P2P stack");
    let (code, out, _) = media_code(&b, &["ls", "--json"]);
    assert_eq!(code, 0);
    let listed: Vec<media_core::MediaFile> = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(listed.len(), 1);
    let target = dir.path().join("out.bin");
    // Node A's stores are on 127.0.0.1: B may reach them only when configured to.
    let (code, _, err) = media_code(&b, &["get", &id, "--out", target.to_str().unwrap()]);
    assert_ne!(
        code, 0,
        "B reached loopback addresses named by a record: {err}"
    );
    let config = dir.path().join("b.toml");
    std::fs::write(&config, "[net]\nallow_private = true\n").unwrap();
    let (code, out, err) = media_code(
        &b,
        &[
            "--config",
            config.to_str().unwrap(),
            "get",
            &id,
            "--out",
            target.to_str().unwrap(),
            "--range",
            "10-19",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(&target).unwrap(), bytes[10..20]);
    let got: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(got["bytes"], 10);

    // Exit codes: not found 3, usage 2.
    let unknown = media_core::MediaId::for_bytes(b"unknown").to_string();
    assert_eq!(media_code(&b, &["show", &unknown]).0, 3);
    assert_eq!(media_code(&b, &["show", "zz"]).0, 2);
    assert_eq!(media_code(&b, &["import", "/nonexistent.json"]).0, 3);
    assert_eq!(media_code(&b, &["frobnicate"]).0, 2);
    let (code, out, _) = media_code(&b, &["--help"]);
    assert_eq!(code, 0);
    for command in [
        "put",
        "get",
        "ls",
        "show",
        "import",
        "stat",
        "rm",
        "serve",
        "Exit codes",
    ] {
        assert!(out.contains(command), "--help lacks {command}: {out}");
    }
}

#[test]
fn commands_talk_to_a_running_serve_instead_of_failing_on_its_lock() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (serve, seen) = serve(&data);
    for service in [
        "s3 http://127.0.0.1:",
        "gateway http://127.0.0.1:",
        "blossom http://127.0.0.1:",
        "api http://127.0.0.1:",
    ] {
        assert!(seen.iter().any(|l| l.starts_with(service)), "{seen:?}");
    }
    let node: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("node.json")).unwrap()).unwrap();
    assert!(node["token"].as_str().unwrap().len() >= 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("node.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "node.json is readable by others: {mode:o}");
    }

    let input = dir.path().join("clip.bin");
    let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i * 31 % 241) as u8).collect();
    std::fs::write(&input, &bytes).unwrap();
    let (code, out, err) = media_code(&data, &["put", "--json", input.to_str().unwrap()]);
    assert_eq!(code, 0, "put through the running node: {err}");
    let put: media_core::MediaFile = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(put.id, media_core::MediaId::for_bytes(&bytes));
    let id = put.id.to_string();
    let (code, out, _) = media_code(&data, &["ls"]);
    assert!(code == 0 && out.contains(&id), "{out}");
    let (code, out, _) = media_code(&data, &["show", &id, "--ref"]);
    assert!(code == 0 && out.starts_with("media:"), "{out}");
    let target = dir.path().join("back.bin");
    let (code, _, err) = media_code(
        &data,
        &[
            "get",
            &id,
            "--out",
            target.to_str().unwrap(),
            "--policy",
            "cdn",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(&target).unwrap(), bytes);
    let (code, out, _) = media_code(&data, &["stat", "--json"]);
    assert_eq!(code, 0);
    let stat: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(stat["stats"]["uploads_completed"], 1, "{stat}");
    assert_eq!(stat["health"]["cdn"], "ok");
    let (code, out, _) = media_code(&data, &["rm", &id]);
    assert!(code == 0 && out.contains("cdn"), "{out}");
    let unknown = media_core::MediaId::for_bytes(b"none").to_string();
    assert_eq!(media_code(&data, &["show", &unknown]).0, 3);

    // A wrong token is refused by the API itself.
    let api = node["api"].as_str().unwrap().trim_start_matches("http://");
    for auth in ["", "Authorization: Bearer wrong\r\n"] {
        use std::io::{Read, Write};
        let mut conn = std::net::TcpStream::connect(api).unwrap();
        write!(
            conn,
            "GET /api/v1/media HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        conn.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    }
    drop(serve);
}

#[test]
fn serve_puts_blossom_where_it_is_told() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (_serve, seen) = serve_with(
        &dir.path().join("data"),
        &["--blossom-listen", &addr.to_string()],
    );
    assert!(
        seen.iter().any(|l| l == &format!("blossom http://{addr}")),
        "{seen:?}"
    );
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer
        .to_ascii_lowercase()
        .contains("access-control-allow-origin: *"));
}

#[test]
fn private_media_needs_its_identity() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let input = dir.path().join("selfie.bin");
    let bytes: Vec<u8> = (0..1_500_000u32).map(|i| (i * 13 % 251) as u8).collect();
    std::fs::write(&input, &bytes).unwrap();
    let identity = media_facade::media_privacy::Identity::generate();
    let key = dir.path().join("key.txt");
    std::fs::write(
        &key,
        format!("# test key\n{}\n", identity.to_secret_string()),
    )
    .unwrap();
    let recipient = identity.recipient().to_string();

    let (ok, out, err) = media(
        &data,
        &[
            "put",
            input.to_str().unwrap(),
            "--private-to",
            &recipient,
            "--json",
        ],
    );
    assert!(ok, "{err}");
    let record: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(record["encryption"], "age");
    assert_eq!(record["name"], "private");
    let id = record["id"].as_str().unwrap().to_owned();

    let copy = dir.path().join("copy.bin");
    let (ok, _, err) = media(&data, &["get", &id, "--out", copy.to_str().unwrap()]);
    assert!(!ok, "a private file was handed out without an identity");
    assert!(err.contains("encrypted"), "{err}");
    assert!(!copy.exists());

    let (ok, _, err) = media(
        &data,
        &[
            "get",
            &id,
            "--out",
            copy.to_str().unwrap(),
            "--identity",
            key.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(std::fs::read(&copy).unwrap(), bytes);
    let (ok, _, err) = media(
        &data,
        &[
            "get",
            &id,
            "--out",
            copy.to_str().unwrap(),
            "--identity",
            key.to_str().unwrap(),
            "--range",
            "1000000-1099999",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(std::fs::read(&copy).unwrap(), bytes[1_000_000..1_100_000]);

    let (ok, _, err) = media(
        &data,
        &["put", input.to_str().unwrap(), "--private-to", "age1nope"],
    );
    assert!(!ok);
    assert!(err.contains("--private-to"), "{err}");

    // The same through a running node: the identity travels in the request body.
    let (node, _) = serve(&data);
    let via_node = dir.path().join("via-node.bin");
    let (ok, _, err) = media(
        &data,
        &[
            "get",
            &id,
            "--out",
            via_node.to_str().unwrap(),
            "--identity",
            key.to_str().unwrap(),
            "--range",
            "1000000-1099999",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(
        std::fs::read(&via_node).unwrap(),
        bytes[1_000_000..1_100_000]
    );
    let (ok, _, err) = media(
        &data,
        &[
            "get",
            &id,
            "--out",
            via_node.to_str().unwrap(),
            "--identity",
            key.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(std::fs::read(&via_node).unwrap(), bytes);
    // Another identity is refused, and nothing is written.
    let other = dir.path().join("other.txt");
    std::fs::write(
        &other,
        media_facade::media_privacy::Identity::generate().to_secret_string(),
    )
    .unwrap();
    let refused = dir.path().join("refused.bin");
    let (code, _, err) = media_code(
        &data,
        &[
            "get",
            &id,
            "--out",
            refused.to_str().unwrap(),
            "--identity",
            other.to_str().unwrap(),
        ],
    );
    assert_ne!(code, 0);
    assert!(!refused.exists(), "{err}");
    assert!(
        !err.contains("AGE-SECRET-KEY"),
        "the key leaked into an error: {err}"
    );
    drop(node);
}
