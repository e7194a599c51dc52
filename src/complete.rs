//! Dynamic shell completion: secret names, provider ids, environments, token labels, tags,
//! version stages and a secret's version numbers, through
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
    let locked = locked()?;
    if let Some(index) = locked.clear_index() {
        return Some(index.into_iter().map(|(n, e)| (n.to_owned(), e.map(str::to_owned))).collect());
    }
    let (_, opened) = unlock::unlock(&locked, Policy { passphrase: false, kms: false }, &mut unlock::NoOne).ok()?;
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

/// Token labels, from the slot lines or header (no unlocking: labels are in the clear).
pub(crate) fn token_labels() -> Vec<CompletionCandidate> {
    slot_labels(crate::vault::format::SlotKind::Token)
}

/// Member names, from the slot lines (no unlocking: they are in the clear).
pub(crate) fn member_names() -> Vec<CompletionCandidate> {
    slot_labels(crate::vault::format::SlotKind::Member)
}

/// The labels of the slots of one kind, sorted.
fn slot_labels(kind: crate::vault::format::SlotKind) -> Vec<CompletionCandidate> {
    let Some(locked) = locked() else { return Vec::new() };
    let mut labels: Vec<String> = locked.slots().into_iter().filter(|s| s.kind == kind).map(|s| s.label).collect();
    labels.sort();
    labels.into_iter().map(CompletionCandidate::new).collect()
}

/// The tags in use (tags are sealed: only a vault that opens without interaction offers them).
pub(crate) fn tags() -> Vec<CompletionCandidate> {
    let Some(locked) = locked() else { return Vec::new() };
    let Ok((_, opened)) = unlock::unlock(&locked, Policy { passphrase: false, kms: false }, &mut unlock::NoOne) else {
        return Vec::new();
    };
    let Some(secrets) = locked.open(opened.key).ok().and_then(|v| v.secrets().ok()) else { return Vec::new() };
    let mut tags: Vec<String> = secrets.into_iter().flat_map(|s| s.body.meta.tags).collect();
    tags.sort();
    tags.dedup();
    tags.into_iter().map(CompletionCandidate::new).collect()
}

/// What `--version` takes: the stages, then the version numbers of the secret named on the
/// command line (the protocol passes the whole line as arguments after `--`), each with its stage.
pub(crate) fn versions() -> Vec<CompletionCandidate> {
    let mut out: Vec<CompletionCandidate> =
        ["current", "previous", "pending"].into_iter().map(CompletionCandidate::new).collect();
    // After `--`: the program name, the subcommand, then its words (a secret called `get` is not
    // mistaken for the subcommand). Words that are not UTF-8 are no secret's name.
    let words: Vec<String> =
        std::env::args_os().skip_while(|a| a != "--").skip(3).filter_map(|a| a.into_string().ok()).collect();
    out.extend(version_numbers(&words));
    out
}

fn version_numbers(words: &[String]) -> Vec<CompletionCandidate> {
    let Some(index) = index() else { return Vec::new() };
    let Some(name) = words.iter().find(|w| !w.starts_with('-') && index.iter().any(|(n, _)| n == *w)) else {
        return Vec::new();
    };
    let Some(locked) = locked() else { return Vec::new() };
    let Ok((_, opened)) = unlock::unlock(&locked, Policy { passphrase: false, kms: false }, &mut unlock::NoOne) else {
        return Vec::new();
    };
    let Some(secret) = locked.open(opened.key).ok().and_then(|v| v.find(name).ok().flatten()) else {
        return Vec::new();
    };
    secret
        .body
        .versions
        .iter()
        .rev()
        .map(|v| CompletionCandidate::new(v.id.to_string()).help(Some(v.stage.as_str().into())))
        .collect()
}

fn locked() -> Option<Locked> {
    let global = crate::cli::GlobalArgs { vault: None, json: false, quiet: true, no_color: true };
    let path = crate::context::Context::new(&global).vault_path().ok()?;
    Locked::read(&path).ok()
}
