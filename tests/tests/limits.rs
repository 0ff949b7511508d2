//! A node bounds what it admits and how long a client may stall: a chunk
//! over its size limit goes to another node, and a client that opens an
//! encode and then sends nothing loses its chunk after the idle timeout,
//! leaving the slot to the next job.

use std::time::{Duration, Instant};

use proto::v1::encode_request::Msg;
use proto::v1::node_client::NodeClient;
use proto::v1::{EncodeHeader, EncodeRequest, ReportRequest};
use tests::{Node, dffmpeg, framemd5, plain_encode};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_chunk_over_a_nodes_size_limit_goes_elsewhere_or_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let src = tests::small_clip(dir.path());
    let plain = dir.path().join("plain.mkv");
    let encode = ["-c:v", "libx264", "-qp", "0"];
    plain_encode(&[], &src, &encode, &plain);
    let small = Node::start_with_args(1, &["--max-chunk-bytes", "1000"]);
    let big = Node::start(1);
    let out = dir.path().join("out.mkv");
    let mut args = vec!["--segment-duration", "0.5", "-y", "-v", "verbose"];
    args.extend(["-i", src.to_str().unwrap()]);
    args.extend(encode);
    args.push(out.to_str().unwrap());
    let both = dffmpeg(&[&small, &big], &args);
    let stderr = text(&both.stderr);
    assert!(both.status.success(), "{stderr}");
    assert!(!stderr.contains(&format!("on {} in", small.addr)), "{stderr}");
    assert_eq!(framemd5(&out, "0:v", false), framemd5(&plain, "0:v", false));

    std::fs::remove_file(&out).unwrap();
    let alone = dffmpeg(&[&small], &args);
    let stderr = text(&alone.stderr);
    assert_eq!(alone.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("exceeds this node's limit of 1000 (--max-chunk-bytes)"), "{stderr}");
    assert!(!out.exists());
    assert!(small.leftovers().is_empty() && big.leftovers().is_empty());
}

#[test]
fn a_stalled_client_loses_its_chunk_and_frees_the_node() {
    // One admission: the second stall is admitted only if the first one's
    // share came back.
    let node = Node::start_with_args(1, &["--idle-timeout", "1", "--max-admitted", "1"]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for _ in 0..2 {
        runtime.block_on(async {
            let mut client = NodeClient::connect(format!("http://{}", node.addr)).await.unwrap();
            let (tx, rx) = tokio::sync::mpsc::channel(4);
            let header = EncodeHeader {
                job_id: "stalled".into(),
                chunk_index: 0,
                input_size: 1 << 20,
                spec: Some(tests::ten_frame_spec((1, 25))),
            };
            tx.send(EncodeRequest { msg: Some(Msg::Header(header)) }).await.unwrap();
            let started = Instant::now();
            let mut replies = client
                .encode(tokio_stream::wrappers::ReceiverStream::new(rx))
                .await
                .unwrap()
                .into_inner();
            // The header came, then nothing: the stream stays open but idle.
            let ended = tokio::time::timeout(Duration::from_secs(20), replies.message())
                .await
                .expect("the node gave up on the stalled upload");
            let status = ended.expect_err("an error, not a reply");
            assert!(status.message().contains("sent nothing for 1 s"), "{status:?}");
            assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
            drop(tx);
            let report = client.report(ReportRequest {}).await.unwrap().into_inner();
            assert_eq!(report.slots_busy, 0, "{report:?}");
        });
    }
    assert!(node.leftovers().is_empty(), "{:?}", node.leftovers());
}
