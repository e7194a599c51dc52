//! keyward: API keys in an encrypted local vault, unlocked through the OS keyring.
//!
//! The binary is a thin shell around [`run`]. Modules, from the bottom up:
//! [`sensitive`] (types that hold secrets), [`vault`] (the file format, crypto and storage),
//! [`unlock`] (where the vault key comes from), [`commands`] (one module per subcommand),
//! [`cli`] (the clap definitions), [`error`] (the error type and exit codes).

pub mod audit;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod complete;
pub mod config;
pub mod context;
pub mod docs;
pub mod dotenv;
pub mod error;
pub mod hardening;
pub mod host;
pub mod input;
pub mod mask;
pub mod notify;
pub mod output;
pub mod parse;
pub mod paths;
pub mod providers;
pub mod rotation;
mod run;
pub mod sanitize;
pub mod scan;
pub mod sensitive;
pub mod template;
pub mod tty;
pub mod unlock;
pub mod vault;

pub use error::{Error, Result};
pub use run::{Ending, Outcome, run};
