//! `keyward remote add|list|rm|status`: remote stores recorded in the vault (see
//! [`crate::remote`]), and how the vault compares with one.

use std::collections::BTreeMap;

use serde_json::json;

use crate::Outcome;
use crate::cli::{RemoteAddArgs, RemoteCommand, RemoteStatusArgs};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::remote::sync::{self, Compared, State};
use crate::remote::{self, Backend, Entry, Location, Remote};
use crate::vault::Vault;

pub(super) fn run(command: RemoteCommand, ctx: &Context) -> Result<Outcome> {
    match command {
        RemoteCommand::Add(args) => add(args, ctx),
        RemoteCommand::List => list(ctx),
        RemoteCommand::Rm(args) => rm(&args.remote, ctx),
        RemoteCommand::Trust(args) => trust(&args.remote, ctx),
        RemoteCommand::Status(args) => status(args, ctx),
    }
}

fn add(args: RemoteAddArgs, ctx: &Context) -> Result<Outcome> {
    let name = crate::parse::label(&args.name).map_err(|r| Error::invalid("remote name", &args.name, r))?;
    let location =
        Location::parse(&args.url, args.prefix.as_deref()).map_err(|r| Error::invalid("remote", &args.url, r))?;
    let env = args.env.as_deref().map(crate::metadata_flags::env).transpose()?;
    let remote = Remote { name: name.clone(), env: env.clone(), location };
    let (path, id) = ctx.modify(|vault, _| {
        if let Some(old) = remote::remotes(vault)?.into_iter().find(|r| r.name == name)
            && old.env != remote.env
        {
            return Err(Error::Refused(
                format!("a remote {name} exists for {}", describe_env(old.env.as_deref())),
                "pick another name, or `keyward remote rm` it first",
            ));
        }
        remote::save(vault, &remote)?;
        Ok((vault.path.clone(), vault.id()))
    })?;
    // This machine added it: it trusts it (nowhere to remember it: `remote trust` says so).
    remember(&path, &id, &remote);
    ctx.audit(
        crate::audit::Event::new("remote.add")
            .details(json!({"remote": name, "url": remote.location.url(), "env": env})),
        true,
    )?;
    ctx.out.report(&json!({"added_remote": name, "url": remote.location.url(), "env": env}), || {
        format!(
            "added remote {name} ({}) for {}; commit the vault to share it",
            remote.location.url(),
            describe_env(env.as_deref())
        )
    });
    Ok(Outcome::Success)
}

fn describe_env(env: Option<&str>) -> String {
    env.map_or_else(|| "secrets with no environment".to_owned(), |e| format!("environment {e}"))
}

fn list(ctx: &Context) -> Result<Outcome> {
    let vault = ctx.open()?;
    let remotes = remote::remotes(&vault)?;
    super::note_skipped(ctx, &vault);
    ctx.out.listing(
        || remotes.iter().map(|r| json!({"name": r.name, "url": r.location.url(), "env": r.env})).collect::<Vec<_>>(),
        &["REMOTE", "URL", "ENV"],
        "no remotes (add one with `keyward remote add`)",
        |table| {
            for r in &remotes {
                table.add_row([r.name.as_str(), &r.location.url(), r.env.as_deref().unwrap_or("-")]);
            }
        },
    );
    Ok(Outcome::Success)
}

/// Removes every remote of that name this key sees (two of one name are how a vault writer
/// would shadow one: both go, and the owner adds theirs again).
fn rm(name: &str, ctx: &Context) -> Result<Outcome> {
    let removed = ctx.modify(|vault, _| {
        let found: Vec<Remote> = remote::remotes(vault)?.into_iter().filter(|r| r.name == name).collect();
        if found.is_empty() {
            return remote::find(vault, name).map(|_| Vec::new());
        }
        for r in &found {
            remote::remove(vault, r)?;
        }
        Ok(found)
    })?;
    let envs: Vec<Option<&str>> = removed.iter().map(|r| r.env.as_deref()).collect();
    ctx.audit(crate::audit::Event::new("remote.rm").details(json!({"remote": name, "env": envs})), true)?;
    ctx.out.report(&json!({"removed_remote": name}), || {
        format!("removed remote {name} from the vault (the store keeps its secrets)")
    });
    Ok(Outcome::Success)
}

/// The remote `name` of `vault` and a connection to it, once this machine trusts it.
pub(super) fn connect(vault: &Vault, name: &str) -> Result<(Remote, Box<dyn Backend>)> {
    let remote = remote::find(vault, name)?;
    check_trusted(vault, &remote)?;
    let backend = remote::connect(&remote).map_err(|error| Error::Remote { remote: remote.name.clone(), error })?;
    Ok((remote, backend))
}

fn status(args: RemoteStatusArgs, ctx: &Context) -> Result<Outcome> {
    let vault = ctx.open()?;
    let (remote, backend) = connect(&vault, &args.remote.remote)?;
    let rows = compare(ctx, &vault, &remote, backend.as_ref(), &args.names)?;
    let json = || {
        rows.iter()
            .map(|r| {
                json!({
                    "name": r.name,
                    "state": r.state.as_str(),
                    "local_version": r.local.as_ref().and_then(|s| s.current()).map(|v| v.id),
                    "remote_version": r.entry.as_ref().and_then(|e| e.current()),
                })
            })
            .collect::<Vec<_>>()
    };
    ctx.out.listing(
        json,
        &["NAME", "STATE", "LOCAL", "REMOTE"],
        &format!("nothing in {} or here for it", remote.name),
        |t| {
            for r in &rows {
                let local = r.local.as_ref().and_then(|s| s.current()).map_or("-".to_owned(), |v| format!("v{}", v.id));
                let there = r.entry.as_ref().and_then(|e| e.current()).map_or("-".to_owned(), short_id);
                t.add_row([r.name.as_str(), r.state.as_str(), &local, &there]);
            }
        },
    );
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &rows {
        *counts.entry(r.state.as_str()).or_default() += 1;
    }
    ctx.out.notice(&counts.iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", "));
    Ok(if rows.iter().all(|r| r.state == State::InSync) { Outcome::Success } else { Outcome::ChecksFailed })
}

/// An AWS version id (a UUID) shortened; a KV version number as it is.
fn short_id(id: &str) -> String {
    if id.chars().count() > 12 { format!("{}…", id.chars().take(8).collect::<String>()) } else { id.to_owned() }
}

/// Every secret of the remote's environment this key opens, judged against the remote.
pub(super) fn compare(
    ctx: &Context,
    vault: &Vault,
    remote: &Remote,
    backend: &dyn Backend,
    names: &[String],
) -> Result<Vec<Compared>> {
    vault.check_holds(remote.env.as_deref())?;
    let spinner = ctx.out.progress(0, "{spinner} comparing with the remote…");
    let key = remote::TokenKey::of(vault)?;
    let rows = sync::compare(&key, remote, backend, vault.secrets()?, names)
        .map_err(|error| Error::Remote { remote: remote.name.clone(), error });
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    rows
}

/// The remotes this machine trusts for a vault: name → "URL ENV".
fn seen_remotes(vault: &std::path::Path, id: &[u8; 16]) -> Option<(std::path::PathBuf, BTreeMap<String, String>)> {
    let file = crate::paths::vault_state_file("remotes", vault, id)?;
    let seen =
        crate::files::read_nofollow(&file).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    Some((file, seen))
}

fn remember_remotes(file: &std::path::Path, seen: &BTreeMap<String, String>) -> bool {
    if let Some(dir) = file.parent()
        && crate::files::create_private_dir(dir).is_err()
    {
        return false;
    }
    crate::files::write_atomic(file, &serde_json::to_vec(seen).unwrap_or_default()).is_ok()
}

fn seen_as(remote: &Remote) -> String {
    format!("{} {}", remote.location.url(), remote.env.as_deref().unwrap_or("-"))
}

/// The environment variable that lists the remotes (`NAME=URL`) a machine with no memory (a CI
/// runner) trusts.
const TRUSTED_VAR: &str = "KEYWARD_TRUSTED_REMOTES";

/// Refuses a remote this machine has not trusted as it is now: one new to it, or one that points
/// elsewhere than when it was trusted. Anyone who can write the vault can add or re-point a
/// vault-wide remote; a push would then send values, and a pull bring in whatever the new place
/// holds, with this machine's credentials. Trusted: added or `remote trust`ed here, or its URL
/// listed in `KEYWARD_TRUSTED_REMOTES`.
fn check_trusted(vault: &Vault, remote: &Remote) -> Result<()> {
    let url = remote.location.url();
    // `NAME=URL` pairs: a trusted place under another name (a vault-wide remote added at the
    // URL of an environment's store) is not trusted.
    let listed = std::env::var(TRUSTED_VAR).unwrap_or_default();
    let wanted = format!("{}={url}", remote.name);
    if listed.split([',', ' ', '\n']).any(|u| u.trim() == wanted) {
        return Ok(());
    }
    let seen = seen_remotes(&vault.path, &vault.id()).map(|(_, s)| s).unwrap_or_default();
    let was = seen.get(&remote.name);
    if was == Some(&seen_as(remote)) {
        return Ok(());
    }
    let what = match was {
        Some(was) => format!(
            "changed since this machine trusted it: it was {}, it is now {url} ({})",
            was.split(' ').next().unwrap_or(""),
            describe_env(remote.env.as_deref())
        ),
        None => format!("new to this machine: {url} ({})", describe_env(remote.env.as_deref())),
    };
    Err(Error::Refused(
        format!("remote {} is {what}", remote.name),
        "check it (`keyward remote list`, the vault's history), then `keyward remote trust NAME`; on a CI runner, list NAME=URL in KEYWARD_TRUSTED_REMOTES",
    ))
}

fn trust(name: &str, ctx: &Context) -> Result<Outcome> {
    let vault = ctx.open()?;
    let remote = remote::find(&vault, name)?;
    if !remember(&vault.path, &vault.id(), &remote) {
        return Err(Error::Refused(
            "this machine has nowhere to remember it (no state directory)".into(),
            "set HOME or XDG_STATE_HOME, or list the URL in KEYWARD_TRUSTED_REMOTES",
        ));
    }
    ctx.out.report(&json!({"trusted_remote": name, "url": remote.location.url()}), || {
        format!("trusted remote {name} ({}) on this machine", remote.location.url())
    });
    Ok(Outcome::Success)
}

/// This machine trusts `remote` as it is now (it added it, or `remote trust`); false when there
/// is nowhere to remember it.
fn remember(vault: &std::path::Path, id: &[u8; 16], remote: &Remote) -> bool {
    let Some((file, mut seen)) = seen_remotes(vault, id) else { return false };
    seen.insert(remote.name.clone(), seen_as(remote));
    remember_remotes(&file, &seen)
}

/// Secrets changed on both sides stop a push or pull before anything is written, unless
/// `--force`.
pub(super) fn refuse_diverged(rows: &[Compared], force: bool, what: &str) -> Result<()> {
    let diverged: Vec<&str> = rows.iter().filter(|r| r.state == State::Diverged).map(|r| r.name.as_str()).collect();
    if diverged.is_empty() || force {
        return Ok(());
    }
    Err(Error::Refused(
        format!("changed both here and in the remote: {}; nothing was written", diverged.join(", ")),
        if what == "push" {
            "pull to take the remote's value, or push --force to replace it"
        } else {
            "push to replace the remote's value, or pull --force to take it"
        },
    ))
}

/// Records, in each secret whose current version is still the one synced, the versions both
/// sides now hold.
pub(super) fn record_sync<'a>(
    ctx: &Context,
    remote: &crate::remote::Remote,
    synced: impl Iterator<Item = &'a (String, u32, Entry)>,
) -> Result<()> {
    let synced: Vec<&(String, u32, Entry)> = synced.filter(|(_, _, e)| e.current().is_some()).collect();
    if synced.is_empty() {
        return Ok(());
    }
    ctx.modify(|vault, _| {
        let mut records = vault.records()?;
        for (name, local, entry) in &synced {
            records
                .update(name, |secret, _| {
                    if secret.current().map(|v| v.id) == Some(*local) {
                        sync::set_record(secret, remote, entry);
                    }
                    Ok::<_, Error>(())
                })
                .map_err(|e| vault.locate(e))?;
        }
        vault.set_records(records);
        Ok(())
    })
}
