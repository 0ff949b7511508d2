//! The node over real gRPC on loopback: health, reports, and refusal of
//! hostile specs before anything runs.

use node::NodeConfig;
use proto::v1::encode_request::Msg;
use proto::v1::node_client::NodeClient;
use proto::v1::{
    CodecOption, EncodeHeader, EncodeRequest, EncodeSpec, Filter, Rational, ReportRequest,
};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

fn spec() -> EncodeSpec {
    EncodeSpec {
        encoder: "libx264".into(),
        keep_start_pts: 0,
        keep_end_pts: 10,
        expected_frames: 10,
        time_base: Some(Rational { num: 1, den: 25 }),
        frame_rate: Some(Rational { num: 25, den: 1 }),
        ..EncodeSpec::default()
    }
}

#[tokio::test]
async fn serves_health_reports_and_refuses_hostile_specs() {
    let temp = tempfile::tempdir().unwrap();
    let node = node::serve(NodeConfig::local(2, temp.path().to_path_buf())).await.unwrap();
    let url = format!("http://{}", node.addr);

    let channel =
        tonic::transport::Channel::from_shared(url.clone()).unwrap().connect().await.unwrap();
    let mut health = HealthClient::new(channel);
    let status = health
        .check(HealthCheckRequest { service: "dffmpeg.v1.Node".into() })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, 1, "SERVING");

    let mut client = NodeClient::connect(url).await.unwrap();
    let report = client.report(ReportRequest {}).await.unwrap().into_inner();
    assert!(report.cpu_count >= 1 && report.memory_total > 0);
    assert_eq!((report.slots_total, report.slots_busy), (2, 0));
    assert!(report.ffmpeg_version.starts_with("ffmpeg version"), "{}", report.ffmpeg_version);
    assert!(report.encoders.iter().any(|e| e == "libx264"));

    type Mutation = Box<dyn Fn(&mut EncodeSpec)>;
    let hostile: Vec<(&str, Mutation)> = vec![
        (
            "movie filter",
            Box::new(|s| {
                s.filters.push(Filter {
                    name: "movie".into(),
                    args: "x.mkv".into(),
                    ..Default::default()
                })
            }),
        ),
        (
            "stats file",
            Box::new(|s| {
                s.options
                    .push(CodecOption { name: "x264-params".into(), value: "stats=/tmp/x".into() })
            }),
        ),
        (
            "url",
            Box::new(|s| {
                s.options
                    .push(CodecOption { name: "preset".into(), value: "http://example".into() })
            }),
        ),
        (
            "passlogfile",
            Box::new(|s| {
                s.options.push(CodecOption { name: "passlogfile".into(), value: "x".into() })
            }),
        ),
        ("hardware encoder", Box::new(|s| s.encoder = "h264_vaapi".into())),
    ];
    for (what, mutate) in hostile {
        let mut spec = spec();
        mutate(&mut spec);
        let header =
            EncodeHeader { job_id: "j".into(), chunk_index: 0, input_size: 0, spec: Some(spec) };
        let request = tokio_stream::iter(vec![EncodeRequest { msg: Some(Msg::Header(header)) }]);
        let status = client.encode(request).await.expect_err(what);
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{what}: {status}");
    }
    // Only the node's own work directory, holding its lock and nothing else.
    let entries: Vec<std::path::PathBuf> =
        std::fs::read_dir(temp.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let inside: Vec<_> =
        std::fs::read_dir(&entries[0]).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(inside, ["lock"], "a refused spec created files");
    node.stop().await.unwrap();
    assert!(std::fs::read_dir(temp.path()).unwrap().next().is_none(), "the work directory stayed");
}
