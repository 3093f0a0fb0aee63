//! The `planbase` binary: everything lives in the library; this only dispatches.

/// mimalloc instead of glibc's malloc: the request path allocates small buffers on many
/// threads, and glibc's arena locking and consolidation took ~13% of the CPU of an append
/// under load (perf, `bench/run`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    planbase::cli::run()
}
