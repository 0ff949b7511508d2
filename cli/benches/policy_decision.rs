//! The cost of a policy decision through the wasm sandbox (DESIGN section 8:
//! under 50 microseconds at the median for 16 nodes and 100 pending chunks),
//! and of one plan for a two-hour input. Each call is what a job pays: a
//! fresh store and instance, the JSON both ways, fuel and limits.
//! Run: `cargo bench -p cli --bench policy_decision`.

use std::time::{Duration, Instant};

use cli::policy::check::{cluster, pending, two_hour_plan};
use cli::policy::wasm::WasmPolicy;
use cli::policy::{DEFAULT_WASM, Native, SchedulingPolicy};
use policy_sdk::AssignRequest;

fn summary(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{name}: median {:.1} us, min {:.1} us, max {:.1} us over {} calls",
        us(times[times.len() / 2]),
        us(times[0]),
        us(times[times.len() - 1]),
        times.len()
    );
}

fn measure(calls: usize, mut f: impl FnMut()) -> Vec<Duration> {
    f(); // warm up
    (0..calls)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect()
}

fn main() {
    // DFFMPEG_BENCH_POLICY=FILE times another build of the default (it must
    // decide as the default does: the native side is the default's).
    let (bytes, what) = match std::env::var_os("DFFMPEG_BENCH_POLICY") {
        Some(path) => (std::fs::read(&path).expect("reading the policy"), "the given policy"),
        None => (DEFAULT_WASM.to_vec(), "the embedded default"),
    };
    let started = Instant::now();
    let wasm = WasmPolicy::load(&bytes).expect("the policy loads");
    println!("compile and describe {what}: {:.1} ms", started.elapsed().as_secs_f64() * 1e3);
    let nodes = cluster(16);
    let assign = AssignRequest { pending: pending(100, &nodes), nodes: nodes.clone(), seed: 1 };
    let plan = two_hour_plan(cluster(4));
    let mut native = Native(default_policy::SlotWeightedRoundRobin);

    let empty = measure(500, || {
        wasm.describe().unwrap();
    });
    let request_bytes = serde_json::to_vec(&assign).unwrap();
    let to_json = measure(500, || {
        serde_json::to_vec(&assign).unwrap();
    });
    let from_json = measure(500, || {
        let _: AssignRequest = serde_json::from_slice(&request_bytes).unwrap();
    });
    let wasm_assign = measure(500, || {
        wasm.assign(&assign).unwrap();
    });
    let native_assign = measure(500, || {
        native.assign(&assign).unwrap();
    });
    let wasm_plan = measure(20, || {
        wasm.plan(&plan).unwrap();
    });
    let native_plan = measure(20, || {
        native.plan(&plan).unwrap();
    });
    let median = |t: &Vec<Duration>| {
        let mut t = t.clone();
        t.sort();
        t[t.len() / 2].as_secs_f64()
    };
    let ratio = median(&wasm_assign) / median(&native_assign);
    summary("an empty call (describe): the sandbox alone", empty);
    println!("the assign request is {} bytes of JSON", request_bytes.len());
    summary("assign request to JSON, natively", to_json);
    summary("assign request from JSON, natively", from_json);
    summary("assign, 16 nodes, 100 pending, wasm", wasm_assign);
    summary("assign, 16 nodes, 100 pending, native", native_assign);
    println!("assign: wasm / native = {ratio:.1}x; target: wasm median under 50 us");
    summary("plan, two hours at 25 fps, wasm", wasm_plan);
    summary("plan, two hours at 25 fps, native", native_plan);
}
