//! keyward: API keys in an encrypted local vault, unlocked through the OS keyring.
//!
//! The binary is a thin shell around [`run`]. Modules, from the bottom up:
//! [`sensitive`] (types that hold secrets), [`vault`] (the file format, crypto and storage),
//! [`unlock`] (where the vault key comes from), [`commands`] (one module per subcommand),
//! [`cli`] (the clap definitions), [`error`] (the error type and exit codes).

pub mod audit;
pub mod cli;
pub mod commands;
pub mod complete;
pub mod config;
pub mod context;
pub mod docs;
pub mod dotenv;
pub mod error;
pub mod hardening;
pub mod input;
pub mod mask;
pub mod notify;
pub mod output;
pub mod parse;
pub mod paths;
pub mod providers;
pub mod rotation;
pub mod scan;
pub mod sensitive;
pub mod template;
pub mod tty;
pub mod unlock;
pub mod vault;

pub use error::{Error, Result};

use clap::{CommandFactory, Parser};

/// Parses the command line, runs the command, and returns the process exit code.
pub fn run() -> i32 {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return report_usage_error(&e),
    };
    let ctx = context::Context::new(&cli.global);
    let Some(command) = cli.command else {
        // No subcommand: a short overview, not an error.
        ctx.out.write(cli::Cli::command().render_help().to_string().as_bytes());
        return error::exit::OK;
    };
    match commands::dispatch(command, &ctx) {
        Ok(code) => code,
        Err(e) => {
            let what = output::sanitize(&e.to_string());
            let hint = output::sanitize(&e.hint());
            eprintln!("{} {what} — {hint}", ctx.out.error_prefix());
            e.exit_code()
        }
    }
}

/// clap's own errors are several lines long; keyward prints one, in its own format.
fn report_usage_error(e: &clap::Error) -> i32 {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return error::exit::OK;
    }
    let text = e.to_string();
    // The first paragraph says what is wrong (it may continue on indented lines); the usage line
    // says what was expected.
    let what: Vec<&str> = text.lines().take_while(|l| !l.trim().is_empty()).map(str::trim).collect();
    let what = what.join(" ");
    let what = what.trim_start_matches("error: ");
    let usage = text.lines().find_map(|l| l.strip_prefix("Usage: ")).unwrap_or("keyward --help");
    eprintln!("keyward: {} — usage: {}", output::sanitize(what), output::sanitize(usage.trim()));
    error::exit::USAGE
}
