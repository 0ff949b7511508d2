//! Transport security end to end: a node serving TLS with a bearer token,
//! reached over https:// with the CA and the token; every way of getting one
//! of them wrong is refused with a message that says which, and writes
//! nothing. Certificates are made for each run with the openssl command.

use std::path::{Path, PathBuf};
use std::process::Command;

use tests::{Node, dffmpeg_in, framemd5, plain_encode};

/// A CA, and a certificate it signed for localhost and 127.0.0.1.
struct Pki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    other_ca: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").current_dir(dir).args(args).output().expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn pki(dir: &Path) -> Pki {
    for (name, subject) in [("ca", "/CN=dffmpeg test CA"), ("other", "/CN=another CA")] {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                subject,
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.pem"),
            ],
        );
    }
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "node.key",
            "-out",
            "node.csr",
        ],
    );
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "node.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "node.pem",
        ],
    );
    Pki {
        ca: dir.join("ca.pem"),
        cert: dir.join("node.pem"),
        key: dir.join("node.key"),
        other_ca: dir.join("other.pem"),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn tls_and_the_token_are_required_and_a_correct_client_gets_the_same_frames() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let token = dir.path().join("token");
    std::fs::write(&token, "correct horse battery staple\n").unwrap();
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "incorrect\n").unwrap();
    let src = tests::small_clip(dir.path());
    let plain = dir.path().join("plain.mkv");
    let encode = ["-c:v", "libx264", "-qp", "0"];
    plain_encode(&[], &src, &encode, &plain);

    let node = Node::start_with_args(
        2,
        &[
            "--tls-cert",
            pki.cert.to_str().unwrap(),
            "--tls-key",
            pki.key.to_str().unwrap(),
            "--token-file",
            token.to_str().unwrap(),
        ],
    );
    let port = node.addr.rsplit(':').next().unwrap().to_string();
    let https = format!("https://127.0.0.1:{port}");
    let run = |nodes: &str, ca: &Path, token: &Path, out: &Path| {
        let temp = tempfile::tempdir().unwrap();
        let mut args = vec!["--nodes", nodes, "--tls-ca", ca.to_str().unwrap()];
        args.extend(["--token-file", token.to_str().unwrap(), "--segment-duration", "0.5"]);
        args.extend(["-y", "-v", "verbose", "-i", src.to_str().unwrap()]);
        args.extend(encode);
        args.push(out.to_str().unwrap());
        let result = dffmpeg_in(&[], &args, Some(temp.path()));
        let left = std::fs::read_dir(temp.path()).unwrap().count();
        (result, left)
    };

    let good = dir.path().join("good.mkv");
    let (result, left) = run(&https, &pki.ca, &token, &good);
    assert!(result.status.success(), "{}", text(&result.stderr));
    assert!(text(&result.stderr).contains("chunks on 1 nodes"), "{}", text(&result.stderr));
    assert_eq!(framemd5(&good, "0:v", false), framemd5(&plain, "0:v", false));
    assert_eq!(left, 0);

    let cases: [(&str, String, &Path, &Path, &str); 3] = [
        ("the wrong token", https.clone(), &pki.ca, &wrong, "wrong bearer token"),
        (
            "a CA that did not sign the node",
            https.clone(),
            &pki.other_ca,
            &token,
            "invalid peer certificate",
        ),
        (
            "clear text to a TLS node",
            format!("http://127.0.0.1:{port}"),
            &pki.ca,
            &token,
            "no node is reachable",
        ),
    ];
    for (what, nodes, ca, token, says) in cases {
        let out = dir.path().join("refused.mkv");
        let (result, left) = run(&nodes, ca, token, &out);
        let stderr = text(&result.stderr);
        assert_eq!(result.status.code(), Some(1), "{what}: {stderr}");
        assert!(stderr.contains(says), "{what}: {stderr}");
        assert!(!out.exists() && left == 0, "{what} left files behind");
    }
    assert!(node.leftovers().is_empty());
}

#[test]
fn a_node_on_an_open_address_in_clear_text_says_so() {
    let out = Command::new(tests::bin("dffmpeg-node"))
        .args(["-n", "0.0.0.0:0", "--slots", "1", "--tls-cert", "/nonexistent.pem"])
        .args(["--tls-key", "/nonexistent.key"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("reading the TLS certificate /nonexistent.pem"));

    let mut child = Command::new(tests::bin("dffmpeg-node"))
        .args(["-n", "0.0.0.0:0", "--slots", "1"])
        .env("DFFMPEG_LOG", "warn")
        .env_remove("DFFMPEG_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(line.starts_with("listening on 0.0.0.0:"), "{line}");
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert!(stderr.contains("listening in clear text on a non-loopback address"), "{stderr}");
    assert!(stderr.contains("no bearer token"), "{stderr}");
}
