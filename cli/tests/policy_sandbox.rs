//! The policy sandbox against hostile modules, written as WAT: each is
//! refused at load with a precise message, or contained at call time with
//! the class of its failure. And the embedded default, run through the same
//! sandbox, decides exactly as its native build does.

use cli::policy::wasm::{CallErrorKind, LoadError, WasmPolicy};
use cli::policy::{DEFAULT_WASM, Native, SchedulingPolicy};
use policy_sdk::{
    AssignRequest, ChunkBounds, FailureRequest, JobInfo, NodeView, PendingChunk, PlanRequest,
};

/// Data the fixtures point their replies at: (offset, bytes).
const DESCRIBE: (u32, &str) = (0, r#"{"ok":{"name":"hostile"}}"#);
const PLAN: (u32, &str) = (64, r#"{"ok":{"starts":[0]}}"#);
const ASSIGN: (u32, &str) = (128, r#"{"ok":[]}"#);
const PANIC: (u32, &str) = (192, "boom at policy.rs:7");
const NOT_JSON: (u32, &str) = (256, "not json");

/// `(ptr << 32) | len` as a WAT constant.
fn packed((ptr, text): (u32, &str)) -> String {
    format!("(i64.const {})", policy_sdk::abi::pack(ptr, text.len() as u32))
}

/// An ABI 1 module whose exports answer well, with `plan` as the body of
/// `dffmpeg_plan_chunks`.
fn module(plan: &str) -> String {
    let data = [DESCRIBE, PLAN, ASSIGN, PANIC, NOT_JSON]
        .iter()
        .map(|(at, text)| format!("(data (i32.const {at}) \"{}\")", text.replace('"', "\\\"")))
        .collect::<Vec<_>>()
        .join("\n");
    format!(
        r#"(module
          (import "dffmpeg" "log" (func $log (param i32 i32 i32)))
          (memory (export "memory") 1)
          {data}
          (func (export "dffmpeg_policy_abi_1"))
          (func (export "dffmpeg_alloc") (param i32) (result i32) (i32.const 4096))
          (func (export "dffmpeg_describe") (result i64) {describe})
          (func (export "dffmpeg_plan_chunks") (param i32 i32) (result i64) {plan})
          (func (export "dffmpeg_assign") (param i32 i32) (result i64) {assign}))"#,
        describe = packed(DESCRIBE),
        assign = packed(ASSIGN),
    )
}

fn request() -> PlanRequest {
    PlanRequest {
        job: JobInfo { frame_count: 500, fps: 25.0, ..JobInfo::default() },
        nodes: vec![node("a", 2, 2), node("b", 1, 1)],
        bounds: ChunkBounds { target_seconds: 2.0, min_frames: 1, max_frames: u64::MAX },
        ..PlanRequest::default()
    }
}

fn node(id: &str, total: u32, free: u32) -> NodeView {
    NodeView { id: id.into(), slots_total: total, slots_free: free, ..NodeView::default() }
}

fn load(wat: &str) -> Result<WasmPolicy, LoadError> {
    WasmPolicy::load(wat.as_bytes())
}

fn plan_error(wat: &str) -> cli::policy::wasm::CallError {
    load(wat).expect("loads").plan(&request()).expect_err("is contained")
}

#[test]
fn a_well_formed_module_answers() {
    let policy = load(&module(&packed(PLAN))).unwrap();
    assert_eq!(policy.info.name, "hostile");
    assert_eq!(policy.plan(&request()).unwrap().starts, vec![0]);
}

#[test]
fn an_endless_loop_is_stopped_by_fuel_or_deadline() {
    let error = plan_error(&module("(loop (br 0)) unreachable"));
    // Fuel runs out first on an idle machine; on a loaded one the
    // wall-clock deadline can come first. Either way the loop is stopped.
    assert!(matches!(error.kind, CallErrorKind::OutOfFuel | CallErrorKind::Deadline), "{error}");
}

#[test]
fn a_memory_bomb_hits_the_memory_limit() {
    let grow = "(loop (drop (memory.grow (i32.const 16))) (br 0)) unreachable";
    let error = plan_error(&module(grow));
    assert!(matches!(error.kind, CallErrorKind::Trap(_)), "{error}");
}

#[test]
fn a_huge_reply_is_refused_before_it_is_read() {
    let huge = format!("(i64.const {})", policy_sdk::abi::pack(0, 8 << 20));
    let error = plan_error(&module(&huge));
    assert_eq!(error.kind, CallErrorKind::OutputTooLarge(8 << 20), "{error}");
}

#[test]
fn a_panic_traps_and_its_message_is_kept() {
    let (at, text) = PANIC;
    let body = format!(
        "(call $log (i32.const 5) (i32.const {at}) (i32.const {})) unreachable",
        text.len()
    );
    let error = plan_error(&module(&body));
    assert!(matches!(error.kind, CallErrorKind::Trap(_)), "{error}");
    assert_eq!(error.logs, vec![format!("panic: {text}")]);
    assert!(error.to_string().contains("boom at policy.rs:7"), "{error}");
}

#[test]
fn a_reply_outside_memory_is_refused() {
    let outside = format!("(i64.const {})", policy_sdk::abi::pack(0xffff_0000, 16));
    let error = plan_error(&module(&outside));
    assert_eq!(error.kind, CallErrorKind::OutOfBounds { ptr: 0xffff_0000, len: 16 }, "{error}");
}

#[test]
fn invalid_json_is_refused() {
    let error = plan_error(&module(&packed(NOT_JSON)));
    assert!(matches!(error.kind, CallErrorKind::BadReply(_)), "{error}");
}

#[test]
fn a_wasi_import_is_refused_at_load() {
    // Imports come first in a module, before the memory and functions.
    let wasi = module(&packed(PLAN)).replacen(
        "(module",
        r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))"#,
        1,
    );
    let error = load(&wasi).unwrap_err();
    assert!(matches!(&error, LoadError::Import(name) if name == "wasi_snapshot_preview1.fd_write"));
    assert!(error.to_string().contains("wasm32-unknown-unknown"), "{error}");
}

#[test]
fn another_abi_is_refused_at_load() {
    let other = module(&packed(PLAN)).replace("dffmpeg_policy_abi_1", "dffmpeg_policy_abi_2");
    let error = load(&other).unwrap_err();
    assert!(error.to_string().contains("(it is for ABI 2)"), "{error}");
}

#[test]
fn a_missing_or_mistyped_export_is_refused_at_load() {
    let missing = module(&packed(PLAN)).replace("\"dffmpeg_assign\"", "\"assign\"");
    let error = load(&missing).unwrap_err();
    assert_eq!(error.to_string(), "export dffmpeg_assign is missing or is not (i32, i32) -> i64");
    let mistyped = module(&packed(PLAN)).replace(
        "(func (export \"dffmpeg_alloc\") (param i32) (result i32) (i32.const 4096))",
        "(func (export \"dffmpeg_alloc\") (param i64) (result i32) (i32.const 4096))",
    );
    assert!(matches!(
        load(&mistyped).unwrap_err(),
        LoadError::Export { name: "dffmpeg_alloc", .. }
    ));
    assert!(matches!(load("not wasm").unwrap_err(), LoadError::Invalid(_)));
}

#[test]
fn the_default_decides_as_its_native_build() {
    let wasm = WasmPolicy::load(DEFAULT_WASM).unwrap();
    assert_eq!(wasm.info.name, "slot-weighted-round-robin");
    let mut native = Native(default_policy::SlotWeightedRoundRobin);
    for (frames, fps, target, nodes) in [
        (500, 25.0, 2.0, vec![node("a", 2, 2), node("b", 1, 1)]),
        (1, 25.0, 10.0, vec![node("a", 4, 4)]),
        (10_000, 29.97, 10.0, vec![node("a", 1, 1)]),
        (90, 60.0, 0.5, vec![node("a", 3, 1), node("b", 8, 8), node("c", 1, 0)]),
    ] {
        let mut plan = request();
        plan.job.frame_count = frames;
        plan.job.fps = fps;
        plan.bounds.target_seconds = target;
        plan.nodes = nodes.clone();
        assert_eq!(wasm.plan(&plan).unwrap(), native.plan(&plan).unwrap());
        let pending = (0..7)
            .map(|i| PendingChunk {
                index: i,
                frames: 10,
                attempts: i % 2,
                failed_on: if i == 3 { vec!["a".into()] } else { vec![] },
            })
            .collect();
        let assign = AssignRequest { pending, nodes, seed: 7 };
        assert_eq!(wasm.assign(&assign).unwrap(), native.assign(&assign).unwrap());
    }
    let failure = FailureRequest { node: "a".into(), ..FailureRequest::default() };
    let decision = wasm.on_failure(&failure).expect("exported").unwrap();
    assert_eq!(decision, policy_sdk::FailureDecision::Retry { avoid: vec!["a".into()] });
}
