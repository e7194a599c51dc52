//! `keyward pull REMOTE [NAME…]`: reads new and changed secrets from a remote store into the
//! vault. A changed value becomes current with the old one kept as previous, as a rotation
//! without verification; a new secret is checked as `add` checks one.

use serde_json::json;

use crate::Outcome;
use crate::cli::PullArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::remote::sync::{self, Compared, State};
use crate::remote::{CONCURRENCY, Entry, RemoteError, parallel};
use crate::rotation;
use crate::sensitive::SecretValue;
use crate::vault::payload::Record;
use crate::vault::secret::{Stage, ext};

/// The values read for one secret.
struct Fetched {
    previous: Option<SecretValue>,
    current: SecretValue,
    pending: Option<SecretValue>,
}

pub(super) fn run(args: PullArgs, ctx: &Context) -> Result<Outcome> {
    let vault = ctx.open()?;
    let (remote, backend) = super::remote::connect(&vault, &args.remote.remote)?;
    let rows = super::remote::compare(ctx, &vault, &remote, backend.as_ref(), &args.names)?;
    super::remote::refuse_diverged(&rows, args.force, "pull")?;
    let to_pull: Vec<&Compared> = rows
        .iter()
        .filter(|r| match r.state {
            State::OnlyThere | State::RemoteNewer => true,
            State::Diverged => args.force,
            _ => false,
        })
        .collect();
    let ahead: Vec<&str> = rows.iter().filter(|r| r.state == State::LocalNewer).map(|r| r.name.as_str()).collect();
    if args.dry_run {
        let names: Vec<&str> = to_pull.iter().map(|r| r.name.as_str()).collect();
        ctx.out.report(&json!({"would_pull": names, "local_newer": ahead}), || {
            format!("would pull {} from {}: {}", names.len(), remote.name, names.join(", "))
        });
        return Ok(Outcome::Success);
    }

    let bar = ctx.out.progress(to_pull.len(), "{bar:30} {pos}/{len} pulled");
    let fetched = parallel(&to_pull, CONCURRENCY, |row| {
        let entry = row.entry.as_ref().expect("a pulled secret is there");
        let result = (|| -> std::result::Result<Fetched, RemoteError> {
            let current = backend
                .fetch(entry, Stage::Current)?
                .ok_or_else(|| RemoteError::Refused(format!("{} has no current value", entry.name)))?;
            let previous = if row.local.is_none() { backend.fetch(entry, Stage::Previous)? } else { None };
            let pending = backend.fetch(entry, Stage::Pending)?;
            Ok(Fetched { previous, current, pending })
        })();
        if let Some(b) = &bar {
            b.inc(1);
        }
        result
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }

    let config = crate::config::Config::load()?;
    let mut failed: Vec<(String, String)> = Vec::new();
    let mut ready: Vec<(&Compared, Fetched)> = Vec::new();
    for (row, result) in to_pull.iter().zip(fetched) {
        match result {
            Ok(f) => ready.push((row, f)),
            // The whole remote out of reach: nothing was read, nothing is written.
            Err(e) if e.is_fatal() => return Err(Error::Remote { remote: remote.name.clone(), error: e }),
            Err(e) => failed.push((row.name.clone(), e.to_string())),
        }
    }
    let (pulled, rejected) = ctx.modify(|vault, _| {
        let mut records = vault.records()?;
        let mut pulled: Vec<String> = Vec::new();
        let mut rejected: Vec<(String, String)> = Vec::new();
        for (row, values) in &ready {
            let entry = row.entry.as_ref().expect("a pulled secret is there");
            match take(&mut records, row, entry, values, &remote, &config, ctx.now) {
                Ok(()) => pulled.push(row.name.clone()),
                Err(reason) => rejected.push((row.name.clone(), reason)),
            }
        }
        vault.set_records(records);
        Ok((pulled, rejected))
    })?;
    let in_sync = sync::unrecorded(&rows, &remote);
    super::remote::record_sync(ctx, &remote, in_sync.iter())?;

    let audit: Vec<serde_json::Value> = ready
        .iter()
        .filter(|(row, _)| pulled.contains(&row.name))
        .map(|(row, values)| json!({"name": row.name, "fingerprint": ctx.fingerprint(values.current.expose())}))
        .collect();
    ctx.audit(
        crate::audit::Event::new("pull").details(json!({
            "remote": remote.name,
            "pulled": audit,
            "rejected": rejected.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            "failed": failed.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        })),
        true,
    )?;
    for (name, why) in rejected.iter().chain(&failed) {
        ctx.out.warn(&format!("{name}: {why}"));
    }
    if !ahead.is_empty() {
        ctx.out.notice(&format!("newer here (left for `keyward push`): {}", ahead.join(", ")));
    }
    let names: Vec<&str> = pulled.iter().map(String::as_str).collect();
    let problems = rejected.len() + failed.len();
    ctx.out.report(
        &json!({
            "pulled": names,
            "local_newer": ahead,
            "rejected": rejected.iter().map(|(n, r)| json!({"name": n, "reason": r})).collect::<Vec<_>>(),
            "failed": failed.iter().map(|(n, r)| json!({"name": n, "error": r})).collect::<Vec<_>>(),
        }),
        || format!("pulled {} from {} ({} rejected or failed)", names.len(), remote.name, problems),
    );
    Ok(if problems == 0 { Outcome::Success } else { Outcome::ChecksFailed })
}

/// Takes one remote secret into `records`, or says why it is rejected.
fn take(
    records: &mut crate::vault::payload::Records,
    row: &Compared,
    entry: &Entry,
    values: &Fetched,
    remote: &crate::remote::Remote,
    config: &crate::config::Config,
    now: i64,
) -> std::result::Result<(), String> {
    let env = remote.env.as_deref();
    if row.local.is_some() {
        return take_changed(records, &row.name, entry, values, remote, config.grace, now);
    }
    if records.position(&row.name).is_some() {
        return Err("a secret of that name is in an environment this remote does not hold".into());
    }
    let first = values.previous.clone().unwrap_or_else(|| values.current.clone());
    let mut secret = sync::new_secret(entry, env, first, now)?;
    config.check_startup_var(&secret.var, &[], "store").map_err(|e| e.to_string())?;
    records.check_var_conflict(&secret.name, &secret.var, env).map_err(|e| e.to_string())?;
    if secret.body.meta.provider.is_none() {
        secret.body.meta.provider = config.registry().detect(values.current.expose()).map(|(p, _)| p.id.clone());
    }
    if values.previous.is_some() {
        let id = rotation::stage(&mut secret, values.current.clone(), now).map_err(|e| e.to_string())?;
        rotation::promote(&mut secret, Some(id), now, config.grace).map_err(|e| e.to_string())?;
    }
    stage_pending(&mut secret, values, now)?;
    sync::set_record(&mut secret, remote, entry);
    records.records.push(Record::encode(&secret));
    records.records.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(())
}

/// A secret the remote changed: its value becomes current here, the old one previous.
fn take_changed(
    records: &mut crate::vault::payload::Records,
    name: &str,
    entry: &Entry,
    values: &Fetched,
    remote: &crate::remote::Remote,
    grace: u64,
    now: i64,
) -> std::result::Result<(), String> {
    let mut deadline = None;
    records
        .update(name, |secret, _| -> crate::error::Result<()> {
            if secret.current().map(|v| &v.value) != Some(&values.current) {
                // The remote promoted what is pending here: promote it. Another pending value
                // (only --force gets here with one the remote never saw) is kept, revoked.
                let id = match rotation::pending(secret) {
                    Some(p) if p.value == values.current => p.id,
                    _ => {
                        rotation::set_aside(secret, now);
                        rotation::stage(secret, values.current.clone(), now)?
                    }
                };
                let promoted = rotation::promote(secret, Some(id), now, rotation::grace_of(secret, grace))?;
                secret.body.meta.ext.insert(ext::verified(id), "not verified (pull)".into());
                deadline = promoted.previous.map(|(_, d)| d);
            }
            stage_pending(secret, values, now).map_err(|r| Error::Refused(r, "see `keyward info`"))?;
            sync::set_record(secret, remote, entry);
            Ok(())
        })
        .map_err(|e| e.to_string())?;
    if let Some(d) = deadline {
        rotation::note_deadline(records, d);
    }
    Ok(())
}

/// The remote's pending value, staged here too (unless it is what is pending already).
fn stage_pending(
    secret: &mut crate::vault::secret::Secret,
    values: &Fetched,
    now: i64,
) -> std::result::Result<(), String> {
    let Some(pending) = &values.pending else { return Ok(()) };
    if rotation::pending(secret).is_some_and(|v| &v.value == pending) {
        return Ok(());
    }
    rotation::set_aside(secret, now);
    rotation::stage(secret, pending.clone(), now).map(drop).map_err(|e| e.to_string())
}
