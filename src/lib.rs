//! keyward: API keys in an encrypted local vault, unlocked through the OS keyring.
//!
//! Two layers (see `docs/architecture.md`). The **core** does the work and can be called from a
//! test or another program; it never prints, never exits and knows nothing of clap:
//! [`sensitive`] (types that hold secrets), [`vault`] (the file format, crypto and the store),
//! [`unlock`] (where the vault key comes from), [`providers`], [`mask`], [`scan`], [`audit`],
//! [`config`], [`rotation`], [`notify`], and small helpers ([`clock`], [`host`], [`paths`],
//! [`sanitize`], [`parse`], [`dotenv`], [`template`], [`hardening`]). The **command-line
//! layer** turns arguments into calls and results into text: `cli` (the clap definitions),
//! `commands` (one module per subcommand), `context`, `output`, `input` and `tty` (prompts),
//! `metadata_flags` and `recovery_key` (what several commands share), `complete` and `docs`. It is private; [`run`] is its entry point, and `main` turns what
//! `run` returns into the process exit code.

// The core.
pub mod audit;
pub mod clipboard;
pub mod clock;
pub mod config;
pub mod dotenv;
pub mod error;
pub mod files;
pub mod hardening;
pub mod host;
pub mod interop;
pub mod mask;
pub mod notify;
pub mod parse;
pub mod paths;
pub mod providers;
pub mod remote;
pub mod rotation;
pub mod sanitize;
pub mod scan;
pub mod selection;
pub mod sensitive;
pub mod suggest;
pub mod template;
pub mod unlock;
pub mod vault;

// The command-line layer.
mod cli;
mod commands;
mod complete;
mod context;
mod docs;
mod input;
mod metadata_flags;
mod output;
mod recovery_key;
mod run;
mod tty;

pub use error::{Error, Result};
pub use run::{Ending, Outcome, run};

/// The command line's definition: the single source of `--help`, the man pages and the shell
/// completions (the help snapshot test walks it).
pub fn command() -> clap::Command {
    <cli::Cli as clap::CommandFactory>::command()
}

/// The generated files (`completions/`, `man/`) as `(path, bytes)`, as `keyward generate-docs`
/// writes them: a test compares them with the committed ones.
pub fn generated_docs() -> Vec<(String, Vec<u8>)> {
    docs::files()
}

/// The shells `keyward completions` knows, and the file each one's script is committed as under
/// `completions/`.
pub const COMPLETION_SHELLS: [(&str, &str); 6] = docs::SHELLS;
