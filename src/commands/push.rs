//! `keyward push REMOTE [NAME…]`: writes new and changed secrets to a remote store, concurrently,
//! then records in each secret what the remote now holds.

use serde_json::json;

use crate::Outcome;
use crate::cli::PushArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::remote::sync::{self, Compared, State};
use crate::remote::{CONCURRENCY, Entry, Push, RemoteError, parallel};

pub(super) fn run(args: PushArgs, ctx: &Context) -> Result<Outcome> {
    let vault = ctx.open()?;
    let (remote, backend) = super::remote::connect(ctx, &vault, &args.remote.remote)?;
    if let Some(env) = &args.env {
        let env = crate::metadata_flags::env(env)?;
        if remote.env.as_deref() != Some(env.as_str()) {
            return Err(Error::Usage(format!(
                "remote {} holds {}, not {env}",
                remote.name,
                remote.env.as_deref().map_or("secrets with no environment".to_owned(), |e| format!("environment {e}"))
            )));
        }
    }
    let rows = super::remote::compare(ctx, &vault, &remote, backend.as_ref(), &args.names)?;
    refuse_diverged(&rows, args.force, "push")?;
    let to_push: Vec<&Compared> = rows
        .iter()
        .filter(|r| match r.state {
            State::OnlyHere | State::LocalNewer => true,
            State::Diverged | State::RemoteNewer => args.force,
            State::InSync | State::OnlyThere => false,
        })
        .collect();
    let behind: Vec<&str> =
        rows.iter().filter(|r| r.state == State::RemoteNewer && !args.force).map(|r| r.name.as_str()).collect();
    if args.dry_run {
        let names: Vec<&str> = to_push.iter().map(|r| r.name.as_str()).collect();
        ctx.out.report(&json!({"would_push": names, "remote_newer": behind}), || {
            format!("would push {} to {}: {}", names.len(), remote.name, names.join(", "))
        });
        return Ok(Outcome::Success);
    }

    let key = crate::remote::TokenKey::of(&vault)?;
    let bar = ctx.out.progress(to_push.len(), "{bar:30} {pos}/{len} pushed");
    let results = parallel(&to_push, CONCURRENCY, |row| {
        let secret = row.local.as_ref().expect("a pushed secret is here");
        let push = Push {
            name: &secret.name,
            versions: sync::uploads(&key, secret),
            tags: sync::tags(secret),
            seen: row.entry.as_ref(),
            write_current: writes_current(&key, &remote, secret, row.entry.as_ref()),
        };
        let result = backend.push(&push);
        if let Some(b) = &bar {
            b.inc(1);
        }
        result
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }

    // What each side now holds, for the sync records; failures reported each.
    // A write that is not what the remote now holds as current (someone wrote after it) is
    // not recorded as in sync.
    let mut pushed: Vec<(String, u32, Entry)> = Vec::new();
    let mut failed: Vec<(String, RemoteError)> = Vec::new();
    for (row, result) in to_push.iter().zip(results) {
        let secret = row.local.as_ref().expect("a pushed secret is here");
        let Some(current) = secret.current() else { continue };
        let ours = crate::remote::version_token(&key, &secret.name, current.id, &current.value);
        let wrote_current = writes_current(&key, &remote, secret, row.entry.as_ref());
        let expected = |e: &Entry| {
            if wrote_current {
                e.token_of(crate::vault::secret::Stage::Current) == Some(ours.as_str())
            } else {
                e.current() == row.entry.as_ref().and_then(Entry::current)
            }
        };
        match result {
            Ok(entry) if expected(&entry) => pushed.push((row.name.clone(), current.id, entry)),
            Ok(_) => failed.push((
                row.name.clone(),
                RemoteError::Conflict(format!("{} changed in the remote while it was pushed", row.name)),
            )),
            Err(e) => failed.push((row.name.clone(), e)),
        }
    }
    // The whole remote out of reach (credentials, network): what was written is still recorded
    // and audited before the error.
    let fatal = failed.iter().position(|(_, e)| e.is_fatal()).map(|i| failed.remove(i).1);
    let in_sync = sync::unrecorded(&rows, &remote);
    record_sync(ctx, &remote, pushed.iter().chain(&in_sync))?;

    let fingerprints: Vec<serde_json::Value> = pushed
        .iter()
        .map(|(name, _, _)| {
            let secret = rows.iter().find(|r| &r.name == name).and_then(|r| r.local.as_ref());
            let fp = secret.and_then(|s| s.current()).and_then(|v| ctx.fingerprint(v.value.expose()));
            json!({"name": name, "fingerprint": fp})
        })
        .collect();
    ctx.audit(
        crate::audit::Event::new("push").details(json!({
            "remote": remote.name,
            "pushed": fingerprints,
            "failed": failed.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        })),
        true,
    )?;
    for (name, e) in &failed {
        ctx.out.warn(&format!("{name}: {e}"));
    }
    if let Some(error) = fatal {
        return Err(Error::Remote { remote: remote.name.clone(), error });
    }
    if !behind.is_empty() {
        ctx.out.notice(&format!("newer in {} (left for `keyward pull`): {}", remote.name, behind.join(", ")));
    }
    let names: Vec<&str> = pushed.iter().map(|(n, _, _)| n.as_str()).collect();
    let unchanged = rows.iter().filter(|r| r.state == State::InSync).count();
    ctx.out.report(
        &json!({"pushed": names, "in_sync": unchanged, "remote_newer": behind, "failed": failed.iter().map(|(n, e)| json!({"name": n, "error": e.to_string()})).collect::<Vec<_>>()}),
        || format!("pushed {} to {} ({} already in sync, {} failed)", names.len(), remote.name, unchanged, failed.len()),
    );
    // Someone wrote meanwhile: a conflict (exit 6), the other secrets written all the same.
    if let Some((name, _)) = failed.iter().find(|(_, e)| matches!(e, RemoteError::Conflict(_))) {
        return Err(Error::Remote {
            remote: remote.name.clone(),
            error: RemoteError::Conflict(format!(
                "{name} changed in the remote while this push ran; it was not overwritten"
            )),
        });
    }
    Ok(if failed.is_empty() { Outcome::Success } else { Outcome::ChecksFailed })
}

/// Whether a push writes `secret`'s current version: not when the remote's current already is
/// it (keyward's token, or the sync record says so).
fn writes_current(
    key: &crate::remote::TokenKey,
    remote: &crate::remote::Remote,
    secret: &crate::vault::secret::Secret,
    seen: Option<&Entry>,
) -> bool {
    let (Some(seen), Some(current)) = (seen, secret.current()) else { return true };
    let ours = crate::remote::version_token(key, &secret.name, current.id, &current.value);
    let recorded = sync::record(secret, remote)
        .is_some_and(|r| r.current.0 == current.id && Some(r.current.1.as_str()) == seen.current());
    seen.token_of(crate::vault::secret::Stage::Current) != Some(ours.as_str()) && !recorded
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
