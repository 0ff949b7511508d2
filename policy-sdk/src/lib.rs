//! The scheduling policy interface of dffmpeg, ABI 1.
//!
//! A policy decides where chunk boundaries fall and which node encodes which
//! chunk. It is ordinary Rust against [`Policy`], built for
//! `wasm32-unknown-unknown` with [`export_policy!`], and run by dffmpeg in a
//! wasmtime sandbox: fuel, a deadline and a memory limit per call, a fresh
//! instance every time, and one import, `dffmpeg.log`. The types are plain
//! serde data exchanged as JSON; unknown fields are ignored and missing ones
//! take defaults, so the ABI can grow without breaking built policies.
//!
//! ```ignore
//! #[derive(Default)]
//! struct Mine;
//! impl policy_sdk::Policy for Mine { /* plan_chunks, assign */ }
//! policy_sdk::export_policy!(Mine);
//! ```

#![warn(missing_docs)]

pub mod abi;
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod guest;
mod types;

pub use types::*;

/// A scheduling policy.
///
/// The host keeps what a policy cannot break: slot accounting, the retry cap,
/// boundary validation and the end-to-end frame check. A policy only proposes.
/// Policies have no clock, no randomness but the request's `seed`, and no
/// I/O, so their decisions reproduce.
pub trait Policy {
    /// Splits the job into chunks: returns the first frame of every chunk.
    fn plan_chunks(&mut self, request: &PlanRequest) -> Result<ChunkPlan, PolicyError>;

    /// Hands pending chunks to nodes with free slots. Chunks left out stay
    /// pending until the next call.
    fn assign(&mut self, request: &AssignRequest) -> Result<Vec<Assignment>, PolicyError>;

    /// Decides what happens to a chunk that failed. The default retries it
    /// elsewhere.
    fn on_failure(&mut self, request: &FailureRequest) -> Result<FailureDecision, PolicyError> {
        Ok(FailureDecision::Retry { avoid: vec![request.node.clone()] })
    }

    /// Names the policy in dffmpeg's messages.
    fn describe(&self) -> PolicyInfo {
        PolicyInfo {
            name: std::any::type_name::<Self>().rsplit("::").next().unwrap_or("policy").into(),
            version: String::new(),
            abi_minor: abi::ABI_MINOR,
            scene_threshold: None,
        }
    }
}

/// Writes the ABI 1 exports for `$policy` (a [`Policy`] + `Default`, made
/// afresh for every call): the marker, `dffmpeg_alloc`, `dffmpeg_describe`,
/// `dffmpeg_plan_chunks`, `dffmpeg_assign` and `dffmpeg_on_failure`. A panic
/// reaches the host as a log line before the call traps. Only for
/// `wasm32-unknown-unknown`; elsewhere it expands to nothing.
#[macro_export]
macro_rules! export_policy {
    ($policy:ty) => {
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        mod dffmpeg_policy_exports {
            use super::*;

            #[unsafe(no_mangle)]
            pub extern "C" fn dffmpeg_policy_abi_1() {}

            #[unsafe(no_mangle)]
            pub extern "C" fn dffmpeg_alloc(len: i32) -> i32 {
                $crate::guest::alloc(len)
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn dffmpeg_describe() -> i64 {
                $crate::guest::reply(Ok($crate::Policy::describe(&<$policy>::default())))
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn dffmpeg_plan_chunks(ptr: i32, len: i32) -> i64 {
                $crate::guest::handle(ptr, len, |r| {
                    $crate::Policy::plan_chunks(&mut <$policy>::default(), r)
                })
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn dffmpeg_assign(ptr: i32, len: i32) -> i64 {
                $crate::guest::handle(ptr, len, |r| {
                    $crate::Policy::assign(&mut <$policy>::default(), r)
                })
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn dffmpeg_on_failure(ptr: i32, len: i32) -> i64 {
                $crate::guest::handle(ptr, len, |r| {
                    $crate::Policy::on_failure(&mut <$policy>::default(), r)
                })
            }
        }
    };
}

/// Logs a line through the host at `level` ([`abi::Level`]); does nothing
/// outside the sandbox.
#[macro_export]
macro_rules! log {
    ($level:expr, $($arg:tt)*) => {{
        #[cfg(target_arch = "wasm32")]
        $crate::guest::log($level, &format!($($arg)*));
        #[cfg(not(target_arch = "wasm32"))]
        let _ = ($level, format_args!($($arg)*));
    }};
}

/// [`log!`] at info level.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log!($crate::abi::Level::Info, $($arg)*) };
}

/// [`log!`] at warning level.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log!($crate::abi::Level::Warn, $($arg)*) };
}
