//! Vault format version 2: a text file of age-wrapped key domains and per-secret sealed bodies
//! (see `docs/vault-format.md`, "Version 2").

pub mod keys;
pub mod members;
pub mod merge;
pub mod plugin;
pub mod seen;
pub mod text;
pub mod vault;
