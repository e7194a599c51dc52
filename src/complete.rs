//! Dynamic shell completion: secret names, provider ids and environments, through
//! `clap_complete`'s `COMPLETE=<shell> keyward` protocol.
//!
//! Completing a name needs the vault open without interaction: completion never prompts, never
//! writes anything, and when it cannot unlock it offers nothing and prints nothing (an error in
//! the middle of the user's command line would be worse than no candidates).

use clap_complete::engine::CompletionCandidate;

use crate::unlock::{self, Policy};
use crate::vault::Locked;

/// The completion protocol's engine: answers when the shell set `COMPLETE`.
pub(crate) fn engine() -> clap_complete::CompleteEnv<'static, fn() -> clap::Command> {
    use clap::CommandFactory;
    clap_complete::CompleteEnv::with_factory(crate::cli::Cli::command as fn() -> clap::Command)
        .bin("keyward")
        .completer("keyward")
}

/// The secrets' names and environments: from the clear text of a format 2 vault without
/// unlocking it, else from the vault opened without interaction.
fn index() -> Option<Vec<(String, Option<String>)>> {
    let global = crate::cli::GlobalArgs { vault: None, json: false, quiet: true, no_color: true };
    let path = crate::context::Context::new(&global).vault_path().ok()?;
    let locked = Locked::read(&path).ok()?;
    if let Some(index) = locked.clear_index() {
        return Some(index.into_iter().map(|(n, e)| (n.to_owned(), e.map(str::to_owned))).collect());
    }
    let (_, opened) = unlock::unlock(&locked, Policy { passphrase: false }, &mut unlock::NoOne).ok()?;
    locked.open(opened.key).ok()?.index().ok()
}

pub(crate) fn secret_names() -> Vec<CompletionCandidate> {
    let Some(index) = index() else { return Vec::new() };
    let mut names: Vec<String> = index.into_iter().map(|(n, _)| n).collect();
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
    for env in index().unwrap_or_default().into_iter().filter_map(|(_, e)| e) {
        if !envs.contains(&env) {
            envs.push(env);
        }
    }
    envs.into_iter().map(CompletionCandidate::new).collect()
}
