//! Compiled policy modules kept on disk, so that a run pays cranelift's
//! compile (0.35 s for the default policy in a release build) once per
//! module and machine rather than on every run.
//!
//! Where: `DFFMPEG_CACHE_DIR`, else `$XDG_CACHE_HOME/dffmpeg`, else
//! `~/.cache/dffmpeg`; an empty `DFFMPEG_CACHE_DIR` turns the cache off.
//! A file is named by the SHA-256 of the wasm bytes and of the engine's
//! compatibility hash (wasmtime's version, the compiler's settings, the
//! CPU's features), and starts with the SHA-256 of the compiled code that
//! follows it, so a truncated or damaged file is recompiled, never run.
//!
//! Trust: compiled code is native code. wasmtime cannot check it, so the
//! cache is as trusted as the dffmpeg binary: it lives in the user's own
//! cache directory, made private (0700) when dffmpeg creates it. Nothing
//! here is ever fatal: a cache that cannot be read or written compiles.

use std::hash::{Hash as _, Hasher as _};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use wasmtime::{Engine, Module};

/// The cache directory, when there is one.
pub fn dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DFFMPEG_CACHE_DIR") {
        return (!dir.is_empty()).then(|| PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("dffmpeg"))
}

/// `bytes` compiled for `engine`: from `dir` when a sound copy is there,
/// else compiled and stored there for the next run.
pub fn load(engine: &Engine, bytes: &[u8], dir: Option<&Path>) -> wasmtime::Result<Module> {
    let Some(dir) = dir else { return Module::new(engine, bytes) };
    let path = dir.join(format!("policy-{}.cwasm", key(engine, bytes)));
    if let Some(module) = read(engine, &path) {
        return Ok(module);
    }
    let module = Module::new(engine, bytes)?;
    if let Err(error) = write(&module, dir, &path) {
        tracing::debug!(%error, path = %path.display(), "the compiled policy is not cached");
    }
    Ok(module)
}

/// What names a compiled module: the wasm, and everything about the engine
/// that decides whether compiled code still fits it.
fn key(engine: &Engine, bytes: &[u8]) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let mut sha = Sha256::new();
    sha.update(hasher.finish().to_le_bytes());
    sha.update(bytes);
    hex::encode(sha.finalize())
}

/// The cached module at `path`, if it is there and whole.
fn read(engine: &Engine, path: &Path) -> Option<Module> {
    let data = std::fs::read(path).ok()?;
    let (sum, code) = data.split_at_checked(32)?;
    if Sha256::digest(code).as_slice() != sum {
        tracing::warn!(path = %path.display(), "a damaged compiled policy is compiled again");
        return None;
    }
    #[allow(unsafe_code)]
    // SAFETY: `code` is what `Module::serialize` wrote for an engine with
    // this compatibility hash, unchanged since (its SHA-256 matches), in a
    // directory as trusted as this binary (see the module comment); wasmtime
    // itself refuses code from another version or configuration.
    let module = unsafe { Module::deserialize(engine, code) };
    match module {
        Ok(module) => Some(module),
        Err(error) => {
            tracing::debug!(%error, path = %path.display(), "the cached policy does not load");
            None
        }
    }
}

/// Stores `module` at `path`: a temporary name, then a rename, so that a
/// concurrent run reads either nothing or the whole file.
fn write(module: &Module, dir: &Path, path: &Path) -> anyhow::Result<()> {
    create_private(dir)?;
    let code = module.serialize()?;
    let mut data = Sha256::digest(&code).to_vec();
    data.extend_from_slice(&code);
    let temp = tempfile::NamedTempFile::new_in(dir)?;
    std::fs::write(temp.path(), &data)?;
    temp.persist(path)?;
    sweep(dir, path);
    Ok(())
}

/// How long a compiled module no run has written stays in the cache.
const KEEP: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// Removes compiled modules other than `kept` that are older than [`KEEP`]:
/// a policy being written compiles anew at every change.
fn sweep(dir: &Path, kept: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let ours = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("policy-") && n.ends_with(".cwasm"));
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > KEEP);
        if ours && old && path != kept {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Creates `dir` (and its parents) readable by its owner alone.
fn create_private(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAT: &str = r#"(module (func (export "f") (result i32) i32.const 7))"#;

    fn call(engine: &Engine, module: &Module) -> i32 {
        let mut store = wasmtime::Store::new(engine, ());
        let instance = wasmtime::Instance::new(&mut store, module, &[]).unwrap();
        instance.get_typed_func::<(), i32>(&mut store, "f").unwrap().call(&mut store, ()).unwrap()
    }

    #[test]
    fn a_second_load_reads_what_the_first_compiled() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let first = load(&engine, WAT.as_bytes(), Some(dir.path())).unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(files.len(), 1, "one compiled module, no temporary file left");
        let path = files[0].path();
        assert!(read(&engine, &path).is_some());
        let second = load(&engine, WAT.as_bytes(), Some(dir.path())).unwrap();
        assert_eq!((call(&engine, &first), call(&engine, &second)), (7, 7));
    }

    #[test]
    fn a_damaged_file_is_compiled_again_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        load(&engine, WAT.as_bytes(), Some(dir.path())).unwrap();
        let path = std::fs::read_dir(dir.path()).unwrap().flatten().next().unwrap().path();
        let mut data = std::fs::read(&path).unwrap();
        let last = data.len() - 1;
        data[last] ^= 0xff;
        std::fs::write(&path, &data).unwrap();
        assert!(read(&engine, &path).is_none(), "a flipped byte is caught");
        std::fs::write(&path, &data[..10]).unwrap();
        assert!(read(&engine, &path).is_none(), "a truncated file is caught");
        let module = load(&engine, WAT.as_bytes(), Some(dir.path())).unwrap();
        assert_eq!(call(&engine, &module), 7);
        assert!(read(&engine, &path).is_some(), "the damaged file was replaced");
    }

    #[test]
    fn another_engine_configuration_is_another_file() {
        let plain = Engine::default();
        let mut config = wasmtime::Config::new();
        config.consume_fuel(true);
        let fueled = Engine::new(&config).unwrap();
        assert_ne!(key(&plain, WAT.as_bytes()), key(&fueled, WAT.as_bytes()));
        assert_ne!(key(&plain, WAT.as_bytes()), key(&plain, b"(module)"));
    }
}
