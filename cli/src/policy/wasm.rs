//! The one module that owns wasmtime: loads an ABI 1 policy module,
//! validates it, and runs each call in a fresh sandbox.
//!
//! At load, nothing of the guest runs before its imports and exports are
//! checked: only `dffmpeg.log` may be imported (no WASI, no clock, no
//! randomness), and the marker, memory and call exports must be there with
//! their ABI 1 types. Every call then gets a new store from the
//! pre-instantiated module, with fuel (deterministic), an epoch deadline
//! (a wall-clock backstop), 64 MiB of memory, one table and instance, and
//! bounded input, output and logs. The store is dropped after the call, so a
//! trap leaves nothing behind for the next one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use policy_sdk::abi::{self, Level, Reply};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasmtime::{
    Caller, Config, Engine, ExternType, InstancePre, Linker, Module, Store, StoreLimits,
    StoreLimitsBuilder, Trap, ValType,
};

/// The largest module accepted.
const MAX_MODULE_BYTES: usize = 16 << 20;
/// Memory a call may grow to.
const MAX_MEMORY_BYTES: usize = 64 << 20;
/// The largest input handed to a call.
const MAX_INPUT_BYTES: usize = 4 << 20;
/// The largest reply read back, checked before it is copied.
const MAX_OUTPUT_BYTES: u32 = 1 << 20;
/// Log bytes kept per call; the rest is counted and dropped.
const MAX_LOG_BYTES: usize = 64 << 10;
/// Log lines kept per call.
const MAX_LOG_LINES: usize = 200;
/// Bytes kept of one log line.
const MAX_LOG_LINE_BYTES: usize = 4096;
/// Guest log lines quoted in a failure.
const QUOTED_LOG_LINES: usize = 20;
/// How often the epoch advances.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// What each call may spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Fuel (about one unit per wasm instruction).
    pub fuel: u64,
    /// Wall-clock backstop.
    pub deadline: Duration,
}

/// A plan runs once per job; decisions run once per scheduling round.
pub const PLAN_BUDGET: Budget = Budget { fuel: 1_000_000_000, deadline: Duration::from_secs(2) };
/// See [`PLAN_BUDGET`].
pub const DECISION_BUDGET: Budget =
    Budget { fuel: 200_000_000, deadline: Duration::from_millis(500) };

/// Why a module was refused at load.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Too large to be a policy.
    #[error("the module is {0} bytes; policies may be at most {MAX_MODULE_BYTES}")]
    TooLarge(usize),
    /// Not WebAssembly, or invalid.
    #[error("not a valid WebAssembly module: {0}")]
    Invalid(String),
    /// An import other than `dffmpeg.log`.
    #[error(
        "imports {0}, but a policy may import only dffmpeg.log(i32, i32, i32) (no WASI: build for wasm32-unknown-unknown)"
    )]
    Import(String),
    /// Built for another ABI, or for none.
    #[error(
        "has no export {marker}: not a dffmpeg policy for ABI 1{other} (use policy_sdk::export_policy!)",
        marker = abi::MARKER
    )]
    Marker {
        /// ` (it is for ABI N)` when another marker is there.
        other: String,
    },
    /// A required export is missing or has the wrong type.
    #[error("export {name} is missing or is not {expected}")]
    Export {
        /// The export's name.
        name: &'static str,
        /// Its ABI 1 signature.
        expected: &'static str,
    },
    /// wasmtime could not prepare it.
    #[error("cannot instantiate it: {0}")]
    Instantiate(String),
    /// `dffmpeg_describe` failed.
    #[error("dffmpeg_describe failed: {0}")]
    Describe(CallError),
}

/// How one call failed. Whatever the class, the store is gone and the host
/// decides with its built-in default.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind} ({}{wall_ms} ms){}", fuel_spent(.kind, *.fuel_used), logs_suffix(.logs))]
pub struct CallError {
    /// What went wrong.
    pub kind: CallErrorKind,
    /// Fuel spent before it went wrong. Not a measure after the deadline:
    /// compiled code keeps the fuel counter in a register and the epoch
    /// trap leaves before writing it back, so the store reads a stale count.
    pub fuel_used: u64,
    /// Wall time of the call.
    pub wall_ms: u64,
    /// The guest's last log lines (a panic's message among them).
    pub logs: Vec<String>,
}

/// The classes of [`CallError`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallErrorKind {
    /// The fuel budget ran out: an endless or far too slow loop.
    #[error("ran out of fuel")]
    OutOfFuel,
    /// The wall-clock deadline passed.
    #[error("ran past its deadline")]
    Deadline,
    /// Any other trap: a panic, an out-of-bounds access, a failed grow.
    #[error("trapped: {0}")]
    Trap(String),
    /// The reply lies outside the guest's memory.
    #[error("returned a reply outside its memory (ptr {ptr}, len {len})")]
    OutOfBounds {
        /// The returned pointer.
        ptr: u32,
        /// The returned length.
        len: u32,
    },
    /// The reply is larger than the host reads.
    #[error("returned {0} bytes; replies may be at most {MAX_OUTPUT_BYTES}")]
    OutputTooLarge(u32),
    /// The input would be larger than the host hands over.
    #[error("would get {0} bytes of input; at most {MAX_INPUT_BYTES}")]
    InputTooLarge(usize),
    /// The reply is not the JSON the ABI says.
    #[error("returned invalid JSON: {0}")]
    BadReply(String),
    /// The policy answered with an error of its own.
    #[error("refused: {0}")]
    Refused(String),
    /// The host failed around the call.
    #[error("{0}")]
    Host(String),
}

/// `fuel used N, ` for the message, unless the deadline stopped the call
/// (see [`CallError::fuel_used`]).
fn fuel_spent(kind: &CallErrorKind, fuel_used: u64) -> String {
    if *kind == CallErrorKind::Deadline {
        String::new()
    } else {
        format!("fuel used {fuel_used}, ")
    }
}

fn logs_suffix(logs: &[String]) -> String {
    if logs.is_empty() { String::new() } else { format!("; last log lines: {}", logs.join(" | ")) }
}

/// The state of one call's store.
struct Call {
    limits: StoreLimits,
    logs: Vec<String>,
    log_bytes: usize,
    dropped_logs: usize,
}

/// A loaded, validated policy module, ready for calls.
pub struct WasmPolicy {
    engine: Engine,
    pre: InstancePre<Call>,
    has_on_failure: bool,
    /// What `dffmpeg_describe` said.
    pub info: policy_sdk::PolicyInfo,
    /// Stops the epoch ticker when the policy is dropped.
    ticking: Arc<AtomicBool>,
}

impl std::fmt::Debug for WasmPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmPolicy").field("info", &self.info).finish_non_exhaustive()
    }
}

impl Drop for WasmPolicy {
    fn drop(&mut self) {
        self.ticking.store(false, Ordering::Relaxed);
    }
}

impl WasmPolicy {
    /// Compiles and validates `bytes` (a binary module, or WAT text).
    pub fn load(bytes: &[u8]) -> Result<Self, LoadError> {
        if bytes.len() > MAX_MODULE_BYTES {
            return Err(LoadError::TooLarge(bytes.len()));
        }
        let mut config = Config::new();
        config.consume_fuel(true).epoch_interruption(true);
        let engine = Engine::new(&config).map_err(|e| LoadError::Instantiate(format!("{e:#}")))?;
        let module = super::compiled::load(&engine, bytes, super::compiled::dir().as_deref())
            .map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
        check_imports(&module)?;
        let has_on_failure = check_exports(&module)?;
        let mut linker = Linker::<Call>::new(&engine);
        linker
            .func_wrap(abi::IMPORT_MODULE, abi::LOG, guest_log)
            .map_err(|e| LoadError::Instantiate(format!("{e:#}")))?;
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|e| LoadError::Instantiate(format!("{e:#}")))?;
        let ticking = Arc::new(AtomicBool::new(true));
        spawn_ticker(engine.clone(), ticking.clone());
        let mut policy =
            Self { engine, pre, has_on_failure, info: policy_sdk::PolicyInfo::default(), ticking };
        policy.info = policy
            .call(abi::DESCRIBE, None::<&()>, DECISION_BUDGET)
            .map_err(LoadError::Describe)?;
        Ok(policy)
    }

    /// `dffmpeg_describe` again: the smallest call there is, so its cost is
    /// that of the sandbox itself (a store, an instance, the limits).
    pub fn describe(&self) -> Result<policy_sdk::PolicyInfo, CallError> {
        self.call(abi::DESCRIBE, None::<&()>, DECISION_BUDGET)
    }

    /// `dffmpeg_plan_chunks`.
    pub fn plan(
        &self,
        request: &policy_sdk::PlanRequest,
    ) -> Result<policy_sdk::ChunkPlan, CallError> {
        self.call(abi::PLAN_CHUNKS, Some(request), PLAN_BUDGET)
    }

    /// `dffmpeg_assign`.
    pub fn assign(
        &self,
        request: &policy_sdk::AssignRequest,
    ) -> Result<Vec<policy_sdk::Assignment>, CallError> {
        self.call(abi::ASSIGN, Some(request), DECISION_BUDGET)
    }

    /// `dffmpeg_on_failure`, when the module exports it.
    pub fn on_failure(
        &self,
        request: &policy_sdk::FailureRequest,
    ) -> Option<Result<policy_sdk::FailureDecision, CallError>> {
        self.has_on_failure.then(|| self.call(abi::ON_FAILURE, Some(request), DECISION_BUDGET))
    }

    /// One call in a fresh store: input (if any) through `dffmpeg_alloc`,
    /// the export, then the bounds-checked, size-checked JSON reply.
    fn call<I: Serialize, O: DeserializeOwned>(
        &self,
        export: &str,
        input: Option<&I>,
        budget: Budget,
    ) -> Result<O, CallError> {
        let started = Instant::now();
        let limits = StoreLimitsBuilder::new()
            .memory_size(MAX_MEMORY_BYTES)
            .memories(1)
            .tables(1)
            .instances(1)
            .table_elements(10_000)
            .trap_on_grow_failure(true)
            .build();
        let mut store = Store::new(
            &self.engine,
            Call { limits, logs: Vec::new(), log_bytes: 0, dropped_logs: 0 },
        );
        store.limiter(|call| &mut call.limits);
        let ticks = (budget.deadline.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        let result = store
            .set_fuel(budget.fuel)
            .map_err(|e| CallErrorKind::Host(format!("{e:#}")))
            .and_then(|()| self.run(&mut store, export, input));
        let fuel_used = budget.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        let call = store.into_data();
        let mut logs: Vec<String> =
            call.logs.iter().rev().take(QUOTED_LOG_LINES).rev().cloned().collect();
        if call.dropped_logs > 0 {
            logs.push(format!("({} more log lines dropped)", call.dropped_logs));
        }
        for line in &call.logs {
            tracing::debug!(policy = %self.info.name, "{line}");
        }
        let wall_ms = started.elapsed().as_millis() as u64;
        let bytes =
            result.map_err(|kind| CallError { kind, fuel_used, wall_ms, logs: logs.clone() })?;
        let fail = |kind| CallError { kind, fuel_used, wall_ms, logs: logs.clone() };
        match serde_json::from_slice::<Reply<O>>(&bytes) {
            Ok(Reply::Ok(value)) => Ok(value),
            Ok(Reply::Err(error)) => Err(fail(CallErrorKind::Refused(error.to_string()))),
            Err(error) => Err(fail(CallErrorKind::BadReply(error.to_string()))),
        }
    }

    fn run<I: Serialize>(
        &self,
        store: &mut Store<Call>,
        export: &str,
        input: Option<&I>,
    ) -> Result<Vec<u8>, CallErrorKind> {
        let instance = self.pre.instantiate(&mut *store).map_err(trap)?;
        let memory = instance
            .get_memory(&mut *store, "memory")
            .ok_or_else(|| CallErrorKind::Host("no memory export".into()))?;
        let packed = match input {
            None => {
                let f = instance.get_typed_func::<(), i64>(&mut *store, export).map_err(trap)?;
                f.call(&mut *store, ()).map_err(trap)?
            }
            Some(input) => {
                let bytes =
                    serde_json::to_vec(input).map_err(|e| CallErrorKind::Host(e.to_string()))?;
                if bytes.len() > MAX_INPUT_BYTES {
                    return Err(CallErrorKind::InputTooLarge(bytes.len()));
                }
                let alloc =
                    instance.get_typed_func::<i32, i32>(&mut *store, abi::ALLOC).map_err(trap)?;
                let len = bytes.len() as i32;
                let ptr = alloc.call(&mut *store, len).map_err(trap)?;
                memory
                    .write(&mut *store, ptr as u32 as usize, &bytes)
                    .map_err(|_| CallErrorKind::OutOfBounds { ptr: ptr as u32, len: len as u32 })?;
                let f = instance
                    .get_typed_func::<(i32, i32), i64>(&mut *store, export)
                    .map_err(trap)?;
                f.call(&mut *store, (ptr, len)).map_err(trap)?
            }
        };
        let (ptr, len) = abi::unpack(packed);
        if len > MAX_OUTPUT_BYTES {
            return Err(CallErrorKind::OutputTooLarge(len));
        }
        let mut out = vec![0; len as usize];
        memory
            .read(&*store, ptr as usize, &mut out)
            .map_err(|_| CallErrorKind::OutOfBounds { ptr, len })?;
        Ok(out)
    }
}

/// `dffmpeg.log(level, ptr, len)`: keeps the line, within the call's bounds.
fn guest_log(mut caller: Caller<'_, Call>, level: i32, ptr: i32, len: i32) {
    let call = caller.data_mut();
    if call.logs.len() >= MAX_LOG_LINES || call.log_bytes >= MAX_LOG_BYTES {
        call.dropped_logs += 1;
        return;
    }
    let Some(memory) = caller.get_export("memory").and_then(|e| e.into_memory()) else { return };
    let len = (len as u32 as usize).min(MAX_LOG_LINE_BYTES);
    let mut bytes = vec![0; len];
    let text: String = match memory.read(&caller, ptr as u32 as usize, &mut bytes) {
        // Control characters could drive the user's terminal: not printed.
        Ok(()) => String::from_utf8_lossy(&bytes)
            .chars()
            .map(|c| if c.is_control() { '\u{fffd}' } else { c })
            .collect(),
        Err(_) => format!("(a log line outside memory: ptr {ptr}, len {len})"),
    };
    let call = caller.data_mut();
    call.log_bytes += text.len();
    let level = match Level::from_i32(level) {
        Level::Trace => "trace",
        Level::Debug => "debug",
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
        Level::Panic => "panic",
    };
    call.logs.push(format!("{level}: {text}"));
}

fn trap(error: wasmtime::Error) -> CallErrorKind {
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => CallErrorKind::OutOfFuel,
        Some(Trap::Interrupt) => CallErrorKind::Deadline,
        Some(trap) => CallErrorKind::Trap(trap.to_string()),
        None => CallErrorKind::Trap(format!("{error:#}")),
    }
}

/// Only `dffmpeg.log(i32, i32, i32)` may be imported.
fn check_imports(module: &Module) -> Result<(), LoadError> {
    for import in module.imports() {
        let name = format!("{}.{}", import.module(), import.name());
        let log_type = match import.ty() {
            ExternType::Func(f) => signature(&f) == (vec!["i32", "i32", "i32"], vec![]),
            _ => false,
        };
        if import.module() != abi::IMPORT_MODULE || import.name() != abi::LOG || !log_type {
            return Err(LoadError::Import(name));
        }
    }
    Ok(())
}

/// The marker, `memory` and the call exports with their ABI 1 types; returns
/// whether the optional `dffmpeg_on_failure` is there.
fn check_exports(module: &Module) -> Result<bool, LoadError> {
    let export = |name: &str| module.exports().find(|e| e.name() == name).map(|e| e.ty());
    if export(abi::MARKER).is_none() {
        let other = module
            .exports()
            .find_map(|e| e.name().strip_prefix("dffmpeg_policy_abi_").map(str::to_string))
            .map(|n| format!(" (it is for ABI {n})"))
            .unwrap_or_default();
        return Err(LoadError::Marker { other });
    }
    if !matches!(export("memory"), Some(ExternType::Memory(_))) {
        return Err(LoadError::Export { name: "memory", expected: "a memory" });
    }
    let func = |name: &'static str, params: &[&str], results: &[&str], expected| {
        let ok = matches!(export(name), Some(ExternType::Func(f))
            if signature(&f) == (params.to_vec(), results.to_vec()));
        if ok { Ok(()) } else { Err(LoadError::Export { name, expected }) }
    };
    func(abi::ALLOC, &["i32"], &["i32"], "(i32) -> i32")?;
    func(abi::DESCRIBE, &[], &["i64"], "() -> i64")?;
    func(abi::PLAN_CHUNKS, &["i32", "i32"], &["i64"], "(i32, i32) -> i64")?;
    func(abi::ASSIGN, &["i32", "i32"], &["i64"], "(i32, i32) -> i64")?;
    match export(abi::ON_FAILURE) {
        None => Ok(false),
        Some(_) => {
            func(abi::ON_FAILURE, &["i32", "i32"], &["i64"], "(i32, i32) -> i64").map(|()| true)
        }
    }
}

/// A function type as value-type names, for comparison and messages.
fn signature(f: &wasmtime::FuncType) -> (Vec<&'static str>, Vec<&'static str>) {
    let name = |t: ValType| match t {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
        ValType::F32 => "f32",
        ValType::F64 => "f64",
        _ => "other",
    };
    (f.params().map(name).collect(), f.results().map(name).collect())
}

/// Advances the engine's epoch every [`EPOCH_TICK`] while `ticking` holds.
fn spawn_ticker(engine: Engine, ticking: Arc<AtomicBool>) {
    let spawned = std::thread::Builder::new().name("policy-epoch".into()).spawn(move || {
        while ticking.load(Ordering::Relaxed) {
            std::thread::sleep(EPOCH_TICK);
            engine.increment_epoch();
        }
    });
    if let Err(error) = spawned {
        tracing::warn!(%error, "no epoch ticker: policy calls are bounded by fuel only");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_does_not_quote_a_stale_fuel_count() {
        let error = |kind| CallError { kind, fuel_used: 7, wall_ms: 2001, logs: Vec::new() };
        assert_eq!(error(CallErrorKind::Deadline).to_string(), "ran past its deadline (2001 ms)");
        assert_eq!(
            error(CallErrorKind::OutOfFuel).to_string(),
            "ran out of fuel (fuel used 7, 2001 ms)"
        );
    }
}
