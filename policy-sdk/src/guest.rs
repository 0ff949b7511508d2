//! The guest half of ABI 1, used by [`crate::export_policy!`]: input in,
//! JSON reply out, logs and panics through the host's `dffmpeg.log`.
//!
//! Every call runs in a fresh instance, so nothing here frees memory: the
//! instance and all it allocated are dropped after the call.

#![allow(unsafe_code)]

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::PolicyError;
use crate::abi::{Level, Reply, pack};

#[link(wasm_import_module = "dffmpeg")]
unsafe extern "C" {
    #[link_name = "log"]
    fn host_log(level: i32, ptr: *const u8, len: usize);
}

/// Sends one log line to the host.
pub fn log(level: Level, message: &str) {
    // SAFETY: the host reads `len` bytes at `ptr` from this instance's
    // memory and checks the range itself.
    unsafe { host_log(level as i32, message.as_ptr(), message.len()) }
}

/// `dffmpeg_alloc`: room for `len` bytes, which the host fills.
pub fn alloc(len: i32) -> i32 {
    let mut buffer = Vec::<u8>::with_capacity(usize::try_from(len).unwrap_or(0));
    let ptr = buffer.as_mut_ptr();
    std::mem::forget(buffer);
    ptr as i32
}

/// Runs `f` on the JSON input at `ptr`/`len` and packs its reply.
pub fn handle<I, O>(ptr: i32, len: i32, f: impl FnOnce(&I) -> Result<O, PolicyError>) -> i64
where
    I: DeserializeOwned,
    O: Serialize,
{
    install_panic_hook();
    // SAFETY: the host wrote `len` bytes at `ptr`, inside a buffer from
    // `alloc(len)`; a bad pair from a broken host fails to parse or traps.
    let input = unsafe { std::slice::from_raw_parts(ptr as *const u8, len as usize) };
    let result = serde_json::from_slice::<I>(input)
        .map_err(|e| PolicyError { code: "bad_input".into(), message: e.to_string() })
        .and_then(|request| f(&request));
    reply(result)
}

/// Packs `result` as the `{"ok"|"err": ...}` JSON the host reads.
pub fn reply<T: Serialize>(result: Result<T, PolicyError>) -> i64 {
    let bytes = serde_json::to_vec(&Reply::from(result)).unwrap_or_else(|e| {
        let error = PolicyError { code: "serialize".into(), message: e.to_string() };
        serde_json::to_vec(&Reply::<()>::Err(error)).unwrap_or_default()
    });
    let (ptr, len) = (bytes.as_ptr() as u32, bytes.len() as u32);
    std::mem::forget(bytes);
    pack(ptr, len)
}

/// Sends a panic's message and location to the host before the trap, which
/// alone would only say "unreachable".
fn install_panic_hook() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| std::panic::set_hook(Box::new(|info| log(Level::Panic, &info.to_string()))));
}
