//! keyward's binary: the library's command-line program, and the process exit code.

fn main() -> std::process::ExitCode {
    keyward::hardening::harden_process();
    keyward::hardening::catch_shrunk_files();
    let ending = keyward::run(std::env::args_os());
    ending.report();
    // Exit codes are 0-255 (exec passes 128+N for a child killed by signal N).
    std::process::ExitCode::from(u8::try_from(ending.code()).unwrap_or(u8::MAX))
}
