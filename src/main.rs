//! The `planbase` binary: everything lives in the library; this only dispatches.

/// mimalloc instead of glibc's malloc: the request path allocates small buffers on many
/// threads, and glibc's arena locking and consolidation took ~13% of the CPU of an append
/// under load (perf, `bench/run`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    disable_transparent_huge_pages();
    planbase::cli::run()
}

/// mimalloc asks for transparent huge pages on its arenas and gives freed memory back in
/// 64 KiB pieces after a second; touching such a piece again faulted in and cleared a whole
/// 2 MiB page. Under appends over 1,000 sessions that clearing was ~5-8% of the server's CPU
/// (perf: `clear_page_erms` 4.6% → 0.04% with THP off). The flag covers the whole process,
/// including memory mapped before `main`, and is only a hint: an old kernel refuses it and
/// nothing changes.
fn disable_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments only and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
