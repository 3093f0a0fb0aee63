//! Process-wide SQLite settings, applied once before the first connection opens:
//! `sqlite3_config` is refused once SQLite has initialized, which its first open does.
//!
//! - Memory statistics off (`SQLITE_CONFIG_MEMSTATUS`): with them on, every SQLite
//!   allocation takes one process-wide mutex to count bytes, and writer, reader and pool
//!   threads all allocate on every statement. Nothing here reads the statistics.
//! - SQLite allocates through mimalloc, like the rest of the process, instead of glibc's
//!   malloc, whose per-thread arenas grew and shrank (an `mprotect` per ~1.4 appends under
//!   load, strace) and showed in profiles as `_int_malloc`/`sysmalloc`.
//!
//! If something opened a connection first (a test that builds files before it starts a
//! server), SQLite keeps its defaults: correct, only slower. `serve` logs which it is.

use std::ffi::{c_int, c_void};
use std::sync::OnceLock;

use rusqlite::ffi;

/// Set by the first [`configure`]: whether SQLite took the settings.
static APPLIED: OnceLock<bool> = OnceLock::new();

/// Whether [`configure`] took effect (logged at start-up, where tracing is set up).
pub fn applied() -> bool {
    APPLIED.get() == Some(&true)
}

/// Applies the settings; later calls do nothing. Call before opening any connection.
pub fn configure() {
    APPLIED.get_or_init(|| {
        // SQLite copies the struct before sqlite3_config returns.
        let methods = ffi::sqlite3_mem_methods {
            xMalloc: Some(sqlite_malloc),
            xFree: Some(sqlite_free),
            xRealloc: Some(sqlite_realloc),
            xSize: Some(sqlite_size),
            xRoundup: Some(sqlite_roundup),
            xInit: Some(sqlite_init),
            xShutdown: Some(sqlite_shutdown),
            pAppData: std::ptr::null_mut(),
        };
        // SAFETY: sqlite3_config is called before any other SQLite use in this process (or
        // refuses with SQLITE_MISUSE, changing nothing), and the functions follow the
        // sqlite3_mem_methods contract (see below).
        let (stats, malloc) = unsafe {
            (
                ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int),
                ffi::sqlite3_config(ffi::SQLITE_CONFIG_MALLOC, &methods as *const ffi::sqlite3_mem_methods),
            )
        };
        stats == ffi::SQLITE_OK && malloc == ffi::SQLITE_OK
    });
}

// SQLite asks for 8-byte alignment; mimalloc returns at least 16. Sizes are never negative
// (SQLite checks before it calls), and xSize must return the usable size of a live block.

unsafe extern "C" fn sqlite_malloc(n: c_int) -> *mut c_void {
    libmimalloc_sys::mi_malloc(n.max(0) as usize)
}

unsafe extern "C" fn sqlite_free(p: *mut c_void) {
    libmimalloc_sys::mi_free(p)
}

unsafe extern "C" fn sqlite_realloc(p: *mut c_void, n: c_int) -> *mut c_void {
    libmimalloc_sys::mi_realloc(p, n.max(0) as usize)
}

unsafe extern "C" fn sqlite_size(p: *mut c_void) -> c_int {
    if p.is_null() {
        return 0;
    }
    libmimalloc_sys::mi_usable_size(p).min(c_int::MAX as usize) as c_int
}

unsafe extern "C" fn sqlite_roundup(n: c_int) -> c_int {
    n.saturating_add(7) & !7
}

unsafe extern "C" fn sqlite_init(_: *mut c_void) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn sqlite_shutdown(_: *mut c_void) {}

#[cfg(test)]
mod tests {
    #[test]
    fn the_allocator_contract_holds() {
        // SAFETY: the functions are called as SQLite would: sizes >= 0, frees of own blocks.
        unsafe {
            let p = super::sqlite_malloc(100);
            assert!(!p.is_null() && (p as usize).is_multiple_of(8));
            assert!(super::sqlite_size(p) >= 100);
            let q = super::sqlite_realloc(p, 5000);
            assert!(super::sqlite_size(q) >= 5000);
            super::sqlite_free(q);
            assert_eq!(super::sqlite_roundup(1), 8);
            assert_eq!(super::sqlite_size(std::ptr::null_mut()), 0);
        }
    }
}
