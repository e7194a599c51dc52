//! Dynamic shell completion: secret names, provider ids and environments, through
//! `clap_complete`'s `COMPLETE=<shell> keyward` protocol.
//!
//! Completing a name needs the vault open without interaction: completion never prompts, never
//! writes anything, and when it cannot unlock it offers nothing and prints nothing (an error in
//! the middle of the user's command line would be worse than no candidates).

use clap_complete::engine::CompletionCandidate;

use crate::unlock::{self, Policy};
use crate::vault::{Locked, Vault};

/// The completion protocol's engine: answers when the shell set `COMPLETE`.
pub(crate) fn engine() -> clap_complete::CompleteEnv<'static, fn() -> clap::Command> {
    use clap::CommandFactory;
    clap_complete::CompleteEnv::with_factory(crate::cli::Cli::command as fn() -> clap::Command)
        .bin("keyward")
        .completer("keyward")
}

fn open_quietly() -> Option<Vault> {
    let global = crate::cli::GlobalArgs { vault: None, json: false, quiet: true, no_color: true };
    let path = crate::context::Context::new(&global).vault_path().ok()?;
    let locked = Locked::read(&path).ok()?;
    let (_, opened) = unlock::unlock(&locked, Policy { passphrase: false }, &mut unlock::NoOne).ok()?;
    locked.open(opened.data_key).ok()
}

pub(crate) fn secret_names() -> Vec<CompletionCandidate> {
    let Some(vault) = open_quietly() else { return Vec::new() };
    let Ok(view) = vault.view() else { return Vec::new() };
    // Only names keyward would write: a shell inserts what it is offered into the command line.
    let mut names: Vec<String> =
        view.records.iter().filter_map(super::vault::payload::RecordView::valid_name).map(str::to_owned).collect();
    names.sort();
    names.into_iter().map(CompletionCandidate::new).collect()
}

pub(crate) fn provider_ids() -> Vec<CompletionCandidate> {
    let config = crate::config::Config::load().ok();
    let builtin;
    let registry = if let Some(c) = &config {
        c.registry()
    } else {
        builtin = crate::providers::Registry::builtin();
        &builtin
    };
    registry.providers.iter().map(|p| CompletionCandidate::new(&p.id).help(Some(p.name.clone().into()))).collect()
}

pub(crate) fn environments() -> Vec<CompletionCandidate> {
    let mut envs: Vec<String> = ["dev", "staging", "prod"].iter().map(|s| (*s).to_owned()).collect();
    if let Some(vault) = open_quietly()
        && let Ok(view) = vault.view()
    {
        let valid = |e: &&str| crate::vault::secret::validate_env(e).is_ok();
        for env in view.records.iter().filter_map(|r| r.env).filter_map(|e| std::str::from_utf8(e).ok()).filter(valid) {
            if !envs.iter().any(|x| x == env) {
                envs.push(env.to_owned());
            }
        }
    }
    envs.into_iter().map(CompletionCandidate::new).collect()
}
