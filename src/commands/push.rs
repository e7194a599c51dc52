//! `keyward push REMOTE [NAME…]`: writes new and changed secrets to a remote store, concurrently,
//! then records in each secret what the remote now holds.

use serde_json::json;

use crate::Outcome;
use crate::cli::PushArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::remote::sync::{self, Compared, State};
use crate::remote::{CONCURRENCY, Entry, RemoteError, parallel};

pub(super) fn run(args: PushArgs, ctx: &Context) -> Result<Outcome> {
    let vault = ctx.open()?;
    let (remote, backend) = super::remote::connect(&vault, &args.remote.remote)?;
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
    super::remote::refuse_diverged(&rows, args.force, "push")?;
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
        let result = sync::push_secret(&key, &remote, backend.as_ref(), secret, row.entry.as_ref());
        if let Some(b) = &bar {
            b.inc(1);
        }
        result
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }

    // What each side now holds, for the sync records; failures reported each.
    let mut pushed: Vec<(String, u32, Entry)> = Vec::new();
    let mut failed: Vec<(String, RemoteError)> = Vec::new();
    for (row, result) in to_push.iter().zip(results) {
        let current = row.local.as_ref().and_then(crate::vault::secret::Secret::current).map_or(0, |v| v.id);
        match result {
            Ok(entry) => pushed.push((row.name.clone(), current, entry)),
            Err(e) => failed.push((row.name.clone(), e)),
        }
    }
    // The whole remote out of reach (credentials, network): what was written is still recorded
    // and audited before the error.
    let fatal = failed.iter().position(|(_, e)| e.is_fatal()).map(|i| failed.remove(i).1);
    let in_sync = sync::unrecorded(&rows, &remote);
    super::remote::record_sync(ctx, &remote, pushed.iter().chain(&in_sync))?;

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
