//! The `media` command line over a data directory: put, ls, get (whole and ranged), stat, rm,
//! and clear errors.

use std::process::Command;

fn media(data: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_media"))
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

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
