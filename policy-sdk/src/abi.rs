//! ABI 1 as both sides see it: export names, the packed result, the reply
//! envelope and the log levels. The guest side lives in `guest`; the host
//! (in `cli`) reads the same definitions, so the two cannot drift.

use serde::{Deserialize, Serialize};

use crate::PolicyError;

/// The marker export whose presence says "ABI 1"; it is never called.
pub const MARKER: &str = "dffmpeg_policy_abi_1";
/// `(len: i32) -> i32`: room for the host to write a call's input.
pub const ALLOC: &str = "dffmpeg_alloc";
/// `() -> i64`: the policy's [`crate::PolicyInfo`].
pub const DESCRIBE: &str = "dffmpeg_describe";
/// `(ptr: i32, len: i32) -> i64`: a [`crate::PlanRequest`] to a [`crate::ChunkPlan`].
pub const PLAN_CHUNKS: &str = "dffmpeg_plan_chunks";
/// `(ptr: i32, len: i32) -> i64`: an [`crate::AssignRequest`] to assignments.
pub const ASSIGN: &str = "dffmpeg_assign";
/// Optional, `(ptr: i32, len: i32) -> i64`: a [`crate::FailureRequest`] to a
/// [`crate::FailureDecision`].
pub const ON_FAILURE: &str = "dffmpeg_on_failure";
/// The module of the one import a policy may have.
pub const IMPORT_MODULE: &str = "dffmpeg";
/// `(level: i32, ptr: i32, len: i32)`: a UTF-8 log line for the host.
pub const LOG: &str = "log";
/// The minor version of ABI 1 this SDK speaks: fields and optional exports
/// are only ever added within ABI 1.
pub const ABI_MINOR: u32 = 1;

/// A call's result: `(ptr << 32) | len` of the UTF-8 JSON reply.
pub fn pack(ptr: u32, len: u32) -> i64 {
    ((u64::from(ptr) << 32) | u64::from(len)) as i64
}

/// The inverse of [`pack`]: `(ptr, len)`.
pub fn unpack(packed: i64) -> (u32, u32) {
    let bits = packed as u64;
    ((bits >> 32) as u32, bits as u32)
}

/// The JSON every export answers with: `{"ok": ...}` or `{"err": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reply<T> {
    /// The answer.
    Ok(T),
    /// The policy's refusal.
    Err(PolicyError),
}

impl<T> From<Result<T, PolicyError>> for Reply<T> {
    fn from(result: Result<T, PolicyError>) -> Self {
        match result {
            Ok(value) => Self::Ok(value),
            Err(error) => Self::Err(error),
        }
    }
}

/// Severity of a guest log line, as the `log` import's first argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(i32)]
pub enum Level {
    /// Details for policy authors.
    Trace = 0,
    /// Details for policy authors.
    Debug = 1,
    /// Decisions worth knowing.
    Info = 2,
    /// Something looks wrong.
    Warn = 3,
    /// Something is wrong.
    Error = 4,
    /// The policy panicked: the message and location, sent before the trap.
    Panic = 5,
}

impl Level {
    /// The level for the import's number; out-of-range numbers are errors.
    pub fn from_i32(level: i32) -> Self {
        match level {
            0 => Self::Trace,
            1 => Self::Debug,
            2 => Self::Info,
            3 => Self::Warn,
            5 => Self::Panic,
            _ => Self::Error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_pointer_and_length() {
        assert_eq!(unpack(pack(0x0010_0000, 42)), (0x0010_0000, 42));
        assert_eq!(unpack(pack(u32::MAX, u32::MAX)), (u32::MAX, u32::MAX));
    }

    #[test]
    fn replies_are_ok_or_err() {
        let ok: Reply<u32> = Ok(7).into();
        assert_eq!(serde_json::to_string(&ok).unwrap(), r#"{"ok":7}"#);
        let err: Reply<u32> =
            Err(PolicyError { code: "empty".into(), message: "no frames".into() }).into();
        assert_eq!(
            serde_json::to_string(&err).unwrap(),
            r#"{"err":{"code":"empty","message":"no frames"}}"#
        );
    }
}
