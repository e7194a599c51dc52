//! `keyward key ...`: the vault's key slots.

pub(super) mod import;
mod kms;
mod passphrase;
mod recovery;
mod rotate;
mod status;
mod token;
mod upgrade;

pub(super) use token::removal_note;

use crate::Outcome;
use crate::cli::{KeyCommand, KmsCommand, TokenCommand};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::vault::Vault;
use crate::vault::format::SlotKind;

pub(super) fn run(command: KeyCommand, ctx: &Context) -> Result<Outcome> {
    match command {
        KeyCommand::Status => status::run(ctx),
        KeyCommand::Token(TokenCommand::Add(args)) => token::add(args, ctx),
        KeyCommand::Token(TokenCommand::List) => token::list(ctx),
        KeyCommand::Token(TokenCommand::Rm(args)) => token::rm(args, ctx),
        KeyCommand::Kms(KmsCommand::Add(args)) => kms::add(args, ctx),
        KeyCommand::Kms(KmsCommand::Rm(args)) => kms::rm(args, ctx),
        KeyCommand::Passphrase(args) => passphrase::run(args, ctx),
        KeyCommand::Recovery(args) => recovery::run(args, ctx),
        KeyCommand::Import(args) => import::run(args, ctx),
        KeyCommand::Rotate(args) => rotate::run(args, ctx),
        KeyCommand::Upgrade(args) => upgrade::run(args, ctx),
    }
}

/// Refuses a change that would leave no slot able to open the vault on another machine or after
/// the keyring is gone.
pub(crate) fn keep_a_way_in(vault: &Vault, what: &str) -> Result<()> {
    if vault.slots().iter().any(|s| s.kind != SlotKind::Keyring && s.access == crate::vault::slots::Access::All) {
        return Ok(());
    }
    Err(Error::Refused(
        format!("{what} would leave only keyring slots, and the vault would be lost with the keyring"),
        "add a passphrase (`keyward key passphrase`), a recovery key (`keyward key recovery`) or a token first",
    ))
}

/// A slot's access for `--json`: "all", or the environments it holds.
pub(super) fn access_json(access: &crate::vault::slots::Access) -> serde_json::Value {
    match access {
        crate::vault::slots::Access::All => serde_json::json!("all"),
        crate::vault::slots::Access::Domains(d) => serde_json::json!(d),
    }
}

/// A slot's access in a table: "all", or the environments it holds and `(no environment)`.
pub(super) fn access_text(access: &crate::vault::slots::Access) -> String {
    match access {
        crate::vault::slots::Access::All => "all".into(),
        crate::vault::slots::Access::Domains(d) => {
            d.iter().map(String::as_str).chain(["(no environment)"]).collect::<Vec<_>>().join(", ")
        }
    }
}
