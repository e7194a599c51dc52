//! `keyward rotate`: staged rotation with verify-before-promote.
//!
//! Each step is its own atomic save, so a crash between steps leaves the vault with the current
//! value untouched and any pending value kept. Network checks run with no lock held.

use serde_json::json;

use crate::Outcome;
use crate::audit::Event;
use crate::cli::RotateArgs;
use crate::config::Config;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::input;
use crate::output::sanitize;
use crate::parse;
use crate::providers::check::{Checker, Verdict};
use crate::providers::{Provider, Registry};
use crate::remote::sync::{self, Judged, State};
use crate::rotation;
use crate::sensitive::SecretValue;
use crate::vault::Vault;
use crate::vault::payload::Records;
use crate::vault::secret::{Secret, Stage, VersionSelector, check_name, ext};

pub(super) fn run(args: RotateArgs, ctx: &Context) -> Result<Outcome> {
    let config = Config::load()?;
    if args.due {
        return due(&args, ctx);
    }
    let name = args.name.clone().expect("clap requires NAME unless --due");
    check_name(&name)?;
    let grace = args.grace.as_deref().map(|g| parse::duration(g).map_err(|r| Error::invalid("grace period", g, r)));
    let grace = grace.transpose()?;
    let registry = config.registry();
    let step = Step { name: &name, ctx, config: &config, registry, grace };
    if args.abort {
        step.abort(args.yes)
    } else if args.rollback {
        step.rollback()
    } else if args.finish {
        step.finish(args.online)
    } else if args.promote {
        step.promote_pending(args.force)
    } else {
        step.create(&args)
    }
}

struct Step<'a> {
    name: &'a str,
    ctx: &'a Context,
    config: &'a Config,
    registry: &'a Registry,
    /// `--grace`, kept for this secret.
    grace: Option<u64>,
}

/// The outcome of checking a pending value before promotion.
enum Check {
    Passed(String),
    Failed(String),
    /// The value is not a key of its provider at all: the fix is another value, not the provider.
    WrongFormat(String),
}

impl Step<'_> {
    /// Reads the secret (and its paired secret's current value) without taking the lock.
    fn read(&self) -> Result<(Secret, Option<SecretValue>)> {
        let vault = self.ctx.open()?;
        let secret = vault.get(self.name)?;
        let paired = paired_value(&vault, &secret)?;
        Ok((secret, paired))
    }

    fn provider(&self, secret: &Secret) -> Option<&Provider> {
        secret.body.meta.provider.as_deref().and_then(|id| self.registry.get(id))
    }

    /// Loads, changes and stores this secret under the vault lock.
    fn change<T>(&self, f: impl FnOnce(&mut Secret, &mut Records) -> Result<T>) -> Result<T> {
        self.ctx.modify(|vault, _| vault.update_secret(self.name, f))
    }

    fn create(&self, args: &RotateArgs) -> Result<Outcome> {
        let (secret, paired) = self.read()?;
        if let Some(p) = rotation::pending(&secret) {
            return Err(Error::PendingExists { name: secret.name.clone(), version: p.id });
        }
        let provider = self.provider(&secret);
        let value = if args.generate {
            if let Some(p) = provider.filter(|p| !p.generate) {
                return Err(Error::Usage(format!(
                    "--generate makes values for internal and generic secrets; {} issues its keys itself ({})",
                    p.name,
                    p.rotation_hint.as_deref().unwrap_or("see its dashboard")
                )));
            }
            SecretValue::generate(args.length.into(), args.prefix.as_deref())?
        } else {
            if let Some(p) = provider
                && let Some(hint) = &p.rotation_hint
            {
                self.ctx.out.notice(&format!("{}: {hint}", p.name));
            }
            input::read_value()?
        };
        if secret.current().is_some_and(|c| c.value == value) {
            return Err(Error::invalid("new value", "(hidden)", "it is the same as the current value"));
        }

        let grace = self.grace;
        let version = self.change(|s, _| {
            let id = rotation::stage(s, value.clone(), self.ctx.now)?;
            if let Some(g) = grace {
                s.body.meta.ext.insert(ext::GRACE.into(), g.to_string());
            }
            Ok(id)
        })?;
        let mut event = Event::new("rotate.created").secret(self.name).details(json!({"version": version}));
        event.fingerprint = self.ctx.fingerprint(value.expose());
        self.ctx.audit(event, true)?;
        self.ctx.out.notice(&format!("stored the new value of {} as pending version {version}", sanitize(self.name)));
        self.reach_remotes("staged");

        let check = if args.no_verify {
            Check::Passed("skipped (--no-verify)".into())
        } else {
            self.verify(&secret, &value, paired.as_ref())
        };
        self.promote_or_keep(version, check)
    }

    fn promote_pending(&self, force: bool) -> Result<Outcome> {
        let (secret, paired) = self.read()?;
        let pending = rotation::pending(&secret)
            .ok_or_else(|| Error::VersionNotFound { name: self.name.into(), version: "pending".into() })?;
        let check = if force {
            Check::Passed("forced (--promote --force)".into())
        } else {
            self.verify(&secret, &pending.value, paired.as_ref())
        };
        if let Some(g) = self.grace {
            self.change(|s, _| {
                s.body.meta.ext.insert(ext::GRACE.into(), g.to_string());
                Ok(())
            })?;
        }
        self.promote_or_keep(pending.id, check)
    }

    /// Carries this step to the remotes the secret is linked to (`--remote`, or pushed or pulled
    /// once): a pending value is staged there (`AWSPENDING`, a new KV version), a promotion moves
    /// the stages there. The local step is done and stays done: a remote out of reach, or one
    /// that changed on its own since the last sync, is a warning naming the fix.
    fn reach_remotes(&self, what: &str) {
        let Ok(vault) = self.ctx.open() else { return };
        let Ok(secret) = vault.get(self.name) else { return };
        for (name, explicit) in sync::linked(&secret) {
            match self.reach_remote(&vault, &secret, &name, explicit, what) {
                Ok(true) => self.ctx.out.notice(&format!("{what} in remote {name} too")),
                Ok(false) => {}
                Err(e) => self.ctx.out.warn(&format!(
                    "remote {name} was not updated ({}): run `keyward push {name}` when it can be",
                    e.to_string().trim_start_matches(&format!("remote {name}: "))
                )),
            }
        }
    }

    /// Takes an aborted pending value off the remotes it was staged in (`secret` as it was before
    /// the abort), so that no one promotes it there and a pull does not bring it back.
    fn abort_in_remotes(&self, secret: &Secret) {
        let Some(pending) = rotation::pending(secret) else { return };
        let Ok(vault) = self.ctx.open() else { return };
        let Ok(key) = crate::remote::TokenKey::of(&vault) else { return };
        let token = crate::remote::version_token(&key, &secret.name, pending.id, &pending.value);
        for (name, _) in sync::linked(secret) {
            let result = (|| -> Result<bool> {
                let (_, backend) = super::remote::connect(&vault, &name)?;
                let failed = |error| Error::Remote { remote: name.clone(), error };
                let Some(entry) = backend.describe(self.name).map_err(failed)? else { return Ok(false) };
                if entry.token_of(Stage::Pending) != Some(token.as_str()) {
                    return Ok(false);
                }
                backend.drop_pending(&entry).map_err(failed)?;
                Ok(true)
            })();
            match result {
                Ok(true) => self.ctx.out.notice(&format!("discarded in remote {name} too")),
                Ok(false) => {}
                Err(e) => self.ctx.out.warn(&format!("the pending value is still staged in remote {name}: {e}")),
            }
        }
    }

    /// Pushes this secret's state to remote `name`; false when it had it already.
    fn reach_remote(&self, vault: &Vault, secret: &Secret, name: &str, explicit: bool, what: &str) -> Result<bool> {
        let remote = crate::remote::find(vault, name)?;
        // A link by sync record holds only for the place it was made with (a remote removed
        // and added elsewhere is not written to unasked).
        if !explicit && sync::record(secret, &remote).is_none() {
            return Ok(false);
        }
        // KV readers of "the latest version" would get an unverified value: KV gets the
        // promotion only. (AWS readers of AWSCURRENT do not see AWSPENDING.)
        if what == "staged" && matches!(remote.location, crate::remote::Location::Kv { .. }) {
            return Ok(false);
        }
        let (remote, backend) = super::remote::connect(vault, name)?;
        if remote.env != secret.env {
            return Err(Error::Refused(
                format!("it holds another environment than {}", self.name),
                "see `keyward remote list`",
            ));
        }
        let failed = |error| Error::Remote { remote: name.to_owned(), error };
        let key = crate::remote::TokenKey::of(vault)?;
        let seen = backend.describe(self.name).map_err(failed)?;
        match sync::judge(&key, Some(secret), seen.as_ref(), &remote) {
            Judged::Known(State::InSync) => return Ok(false),
            Judged::Known(State::LocalNewer | State::OnlyHere) => {}
            _ => {
                return Err(Error::Refused(
                    format!("{} changed there since the last sync", self.name),
                    "run `keyward remote status`",
                ));
            }
        }
        let entry = sync::push_secret(&key, &remote, backend.as_ref(), secret, seen.as_ref()).map_err(failed)?;
        let current = secret.current().map_or(0, |v| v.id);
        super::remote::record_sync(self.ctx, &remote, [(self.name.to_owned(), current, entry)].iter())?;
        self.ctx.audit(
            Event::new("push")
                .secret(self.name)
                .details(json!({"remote": name, "pushed": [self.name], "by": "rotate"})),
            true,
        )?;
        Ok(true)
    }

    /// Checks a pending value: the provider's online checks when it has any, else its formats.
    fn verify(&self, secret: &Secret, value: &SecretValue, paired: Option<&SecretValue>) -> Check {
        let Some(provider) = self.provider(secret) else {
            return Check::Passed("nothing to check (no provider)".into());
        };
        if !provider.patterns.is_empty() && provider.pattern_for(value.expose()).is_none() {
            return Check::WrongFormat(format!("it does not match any {} key format", provider.name));
        }
        let checks = provider.checks_for(value.expose());
        if checks.is_empty() {
            return Check::Passed(if provider.patterns.is_empty() {
                "nothing to check".into()
            } else {
                format!("format ({} has no online check)", provider.name)
            });
        }
        let checker = Checker::new(self.config.timeout, 1, crate::clock::unix_now);
        for check in checks {
            let outcome = checker.run(provider, check, value.expose(), paired.map(SecretValue::expose));
            match outcome.verdict {
                Verdict::Valid => {}
                Verdict::Invalid => {
                    return Check::Failed(format!(
                        "{} rejected it ({}: {})",
                        provider.name, check.name, outcome.detail
                    ));
                }
                Verdict::Unknown => {
                    return Check::Failed(format!(
                        "{}'s answer does not show that it works ({}: {})",
                        provider.name, check.name, outcome.detail
                    ));
                }
            }
        }
        Check::Passed(format!("online ({} accepted it)", provider.name))
    }

    fn promote_or_keep(&self, version: u32, check: Check) -> Result<Outcome> {
        let name = sanitize(self.name);
        let wrong_value = matches!(check, Check::WrongFormat(_));
        let how = match check {
            Check::Passed(how) => how,
            Check::Failed(why) | Check::WrongFormat(why) => {
                self.ctx.audit(
                    Event::new("rotate.failed").secret(self.name).details(json!({"version": version, "reason": why})),
                    true,
                )?;
                let notice = crate::notify::Notice {
                    event: "rotate.failed".into(),
                    secret: Some(self.name.to_owned()),
                    text: format!("rotating {} stopped: {why}", self.name),
                    details: json!({"pending_version": version}),
                    time: parse::time(self.ctx.now),
                };
                self.ctx.notify(&self.config.notify, &notice);
                if self.ctx.out.json {
                    self.ctx
                        .out
                        .json(&json!({"name": self.name, "pending": version, "promoted": false, "reason": why}));
                }
                let why = crate::output::sanitize(&why);
                if wrong_value {
                    eprintln!(
                        "keyward: the new value of {name} was not promoted: {why}. It is kept as pending version {version} \
                         — discard it with `keyward rotate {name} --abort` and pipe the right value to \
                         `keyward rotate {name}` again, or promote it anyway with `--promote --force`"
                    );
                } else {
                    eprintln!(
                        "keyward: the new value of {name} was not promoted: {why}. It is kept as pending version {version} \
                         — fix it at the provider and run `keyward rotate {name} --promote`, promote it anyway with \
                         `--promote --force`, or discard it with `--abort`"
                    );
                }
                return Ok(Outcome::ChecksFailed);
            }
        };
        let default_grace = self.config.grace;
        let now = self.ctx.now;
        let promoted = self.change(|s, records| {
            let grace = rotation::grace_of(s, default_grace);
            let promoted = rotation::promote(s, Some(version), now, grace)?;
            s.body.meta.ext.insert(ext::verified(version), how.clone());
            if let Some((_, deadline)) = promoted.previous {
                rotation::note_deadline(records, deadline);
            }
            Ok(promoted)
        })?;
        if how.starts_with("online") || how.starts_with("format") {
            self.ctx.audit(
                Event::new("rotate.verified").secret(self.name).details(json!({"version": version, "how": how})),
                true,
            )?;
        }
        let details = json!({"current": promoted.current, "previous": promoted.previous.map(|p| p.0), "revoked": promoted.revoked, "verified": how});
        self.ctx.audit(Event::new("rotate.promoted").secret(self.name).details(details), true)?;
        self.reach_remotes("promoted");
        if self.ctx.out.json {
            self.ctx.out.json(&json!({
                "name": self.name,
                "promoted": true,
                "current": promoted.current,
                "verified": how,
                "previous": promoted.previous.map(|(id, until)| json!({"version": id, "grace_until": parse::time(until)})),
                "revoked": promoted.revoked,
            }));
            return Ok(Outcome::Success);
        }
        self.ctx.out.done(&format!("promoted version {} of {name} to current (verified: {how})", promoted.current));
        if let Some((id, until)) = promoted.previous {
            self.ctx.out.done(&format!(
                "version {id} stays usable as previous until {} (`keyward get {name} --version previous`)",
                parse::time(until)
            ));
        }
        if let Some(id) = promoted.revoked {
            self.ctx.out.done(&format!("version {id} is revoked"));
        }
        Ok(Outcome::Success)
    }

    fn abort(&self, yes: bool) -> Result<Outcome> {
        let (secret, _) = self.read()?;
        let pending = rotation::pending(&secret)
            .ok_or_else(|| Error::VersionNotFound { name: self.name.into(), version: "pending".into() })?;
        if !yes {
            if !input::can_prompt() {
                return Err(Error::NeedsTerminal {
                    what: "discarding a pending value",
                    hint: "add --yes to discard it without asking; nothing was changed",
                });
            }
            let question = format!(
                "Discard pending version {} of {}? It may be the only copy of that key.",
                pending.id,
                sanitize(self.name)
            );
            if !input::confirm(&question)? {
                self.ctx.out.notice("nothing changed");
                return Ok(Outcome::Declined);
            }
        }
        let id = self.change(|s, _| rotation::abort(s))?;
        self.ctx.audit(Event::new("rotate.aborted").secret(self.name).details(json!({"version": id})), true)?;
        self.abort_in_remotes(&secret);
        if self.ctx.out.json {
            self.ctx.out.json(&json!({"name": self.name, "discarded": id}));
        } else {
            self.ctx.out.done(&format!("discarded pending version {id} of {}", sanitize(self.name)));
        }
        Ok(Outcome::Success)
    }

    fn rollback(&self) -> Result<Outcome> {
        let now = self.ctx.now;
        let (current, revoked) = self.change(|s, _| rotation::rollback(s, now))?;
        self.ctx.audit(
            Event::new("rotate.rolled_back").secret(self.name).details(json!({"current": current, "revoked": revoked})),
            true,
        )?;
        if self.ctx.out.json {
            self.ctx.out.json(&json!({"name": self.name, "current": current, "revoked": revoked}));
        } else {
            let name = sanitize(self.name);
            self.ctx.out.done(&format!("version {current} of {name} is current again"));
            if let Some(id) = revoked {
                self.ctx.out.done(&format!("version {id} is revoked"));
            }
        }
        Ok(Outcome::Success)
    }

    fn finish(&self, online: bool) -> Result<Outcome> {
        let (secret, paired) = self.read()?;
        let previous = secret
            .version(VersionSelector::Stage(Stage::Previous))
            .ok_or_else(|| Error::VersionNotFound { name: self.name.into(), version: "previous".into() })?;
        // Ask the provider about the old value before revoking it here.
        let mut still_valid = None;
        if online && let Some(provider) = self.provider(&secret) {
            let checker = Checker::new(self.config.timeout, 1, crate::clock::unix_now);
            let outcomes: Vec<_> = provider
                .checks_for(previous.value.expose())
                .into_iter()
                .map(|c| checker.run(provider, c, previous.value.expose(), paired.as_ref().map(SecretValue::expose)))
                .collect();
            if !outcomes.is_empty() {
                still_valid = Some((
                    provider,
                    outcomes.iter().all(|o| o.verdict == Verdict::Valid),
                    outcomes.iter().any(|o| o.verdict == Verdict::Invalid),
                ));
            }
        }
        let now = self.ctx.now;
        let revoked = self.change(|s, _| {
            rotation::finish(s, now)
                .ok_or_else(|| Error::VersionNotFound { name: self.name.into(), version: "previous".into() })
        })?;
        let verdict = still_valid.map(|(_, valid, invalid)| match (valid, invalid) {
            (true, _) => "valid",
            (_, true) => "invalid",
            _ => "unknown",
        });
        let details = json!({"revoked": revoked, "old_value_at_provider": verdict});
        self.ctx.audit(Event::new("rotate.finished").secret(self.name).details(details), true)?;
        if self.ctx.out.json {
            self.ctx.out.json(&json!({"name": self.name, "revoked": revoked, "old_value_at_provider": verdict}));
        } else {
            self.ctx.out.done(&format!("version {revoked} of {} is revoked", sanitize(self.name)));
        }
        match still_valid {
            Some((provider, true, _)) => {
                let hint = provider.rotation_hint.as_deref().unwrap_or("see its dashboard");
                self.ctx.out.warn(&format!(
                    "{} still accepts the old value of {}: revoke it there ({hint})",
                    provider.name,
                    sanitize(self.name)
                ));
                Ok(Outcome::ChecksFailed)
            }
            Some((provider, false, false)) => {
                self.ctx.out.warn(&format!("could not tell whether {} still accepts the old value", provider.name));
                Ok(Outcome::Success)
            }
            _ => Ok(Outcome::Success),
        }
    }
}

fn paired_value(vault: &Vault, secret: &Secret) -> Result<Option<SecretValue>> {
    let Some(other) = secret.body.meta.ext.get(ext::PAIRED_WITH) else { return Ok(None) };
    Ok(vault.find(other)?.and_then(|o| o.current().map(|v| v.value.clone())))
}

/// `rotate --due`: secrets whose rotation policy says they are due within the window.
fn due(args: &RotateArgs, ctx: &Context) -> Result<Outcome> {
    let within = parse::duration(&args.within).map_err(|r| Error::invalid("--within", &args.within, r))?;
    let vault = ctx.open()?;
    super::note_skipped(ctx, &vault);
    let mut rows: Vec<(i64, Secret)> = vault
        .secrets()?
        .into_iter()
        .filter(|s| s.current().is_some())
        .filter_map(|s| rotation::due_at(&s).map(|d| (d, s)))
        .filter(|(d, _)| *d <= ctx.now.saturating_add(within as i64))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
    let overdue = rows.iter().filter(|(d, _)| *d <= ctx.now).count();
    let status = |d: i64| if d <= ctx.now { "overdue" } else { "due" };
    let json = || {
        rows.iter()
            .map(|(d, s)| {
                json!({
                    "name": s.name,
                    "env": s.env,
                    "provider": s.body.meta.provider,
                    "rotated": parse::time(rotation::rotated_at(s)),
                    "due": parse::time(*d),
                    "status": status(*d),
                    "pending": rotation::pending(s).map(|v| v.id),
                    "exposed_to": rotation::exposed(s).map(|(_, who)| who),
                })
            })
            .collect::<Vec<_>>()
    };
    let empty = format!("nothing is due for rotation within {}", parse::short_duration(within));
    ctx.out.listing(json, &["NAME", "ENV", "PROVIDER", "ROTATED", "DUE", "STATUS"], &empty, |table| {
        for (d, s) in &rows {
            let rotated = rotation::rotated_at(s);
            let mut state = status(*d).to_string();
            if let Some((_, who)) = rotation::exposed(s) {
                state.push_str(&format!(" (exposed to removed {})", sanitize(who)));
            }
            if let Some(p) = rotation::pending(s) {
                state.push_str(&format!(" (pending version {})", p.id));
            }
            table.add_row(vec![
                sanitize(&s.name),
                s.env.clone().unwrap_or_else(|| "-".into()),
                s.body.meta.provider.as_deref().map_or("-".into(), sanitize),
                parse::time(rotated)[..10].to_string(),
                parse::time(*d)[..10].to_string(),
                state,
            ]);
        }
    });
    Ok(if overdue > 0 { Outcome::ChecksFailed } else { Outcome::Success })
}
