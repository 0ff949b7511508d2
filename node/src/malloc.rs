//! A bound on glibc's malloc arenas, set by both binaries before any thread
//! starts.
//!
//! glibc gives each thread that allocates an arena of its own, up to eight
//! per core, and keeps what each arena once held. dffmpeg and the node start
//! a blocking thread per chunk file they stream (`pieces`), so their resident
//! memory grew with the number of chunks: `bench/memory.sh` measured a
//! coordinator at 16 MB for 10 s of input and 33 MB for 600 s, and 46 MB
//! against 24 MB for 300 s with `MALLOC_ARENA_MAX=1`. Two arenas keep
//! memory flat without making every thread queue on one lock.

/// The most arenas glibc may create.
const ARENAS: i32 = 2;

/// Applies the bound, unless `MALLOC_ARENA_MAX` says otherwise (glibc reads
/// it itself). Without glibc there is nothing to do.
pub fn bound_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: mallopt only sets a malloc parameter; it is called before the
    // program starts other threads.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, ARENAS);
    }
}
