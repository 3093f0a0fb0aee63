//! The `planbase` binary: everything lives in the library; this only dispatches.

fn main() -> std::process::ExitCode {
    planbase::cli::run()
}
