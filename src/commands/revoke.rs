//! `keyward revoke`: the seed's compromise handler as one command. Every live version (current
//! and previous) is revoked, so `get`, `exec` and `export` refuse the secret; the event is
//! logged; `--compromised` also blocks rollbacks, offers to report the key to a provider with a
//! public revocation endpoint, and notifies; `--rotate` goes on to a replacement.

use serde_json::json;

use crate::Outcome;
use crate::audit::Event;
use crate::cli::{RevokeArgs, RotateArgs};
use crate::config::Config;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::input;
use crate::output::sanitize;
use crate::parse;
use crate::vault::secret::{Stage, check_name, ext};

pub(super) fn run(args: RevokeArgs, ctx: &Context) -> Result<Outcome> {
    check_name(&args.name)?;
    let reason =
        args.reason.as_deref().map(|r| parse::text(r, 500).map_err(|e| Error::invalid("reason", r, e))).transpose()?;
    let config = Config::load()?;
    let registry = config.registry();
    let before = ctx.open()?.get(&args.name)?;
    if !args.yes {
        if !input::can_prompt() {
            return Err(Error::NeedsTerminal {
                what: "revoking a secret",
                hint: "add --yes to revoke it without asking; nothing was changed",
            });
        }
        let question = format!("Revoke {}? get, exec and export will refuse it.", sanitize(&args.name));
        if !input::confirm(&question)? {
            ctx.out.notice("nothing changed");
            return Ok(Outcome::Declined);
        }
    }
    let kind = if args.compromised { "compromised" } else { "revoke" };
    let now = ctx.now;
    let revoked = ctx.modify(|vault, _| {
        vault.update_secret(&args.name, |secret, _| {
            let mut ids = Vec::new();
            for v in secret.body.versions.iter_mut().filter(|v| matches!(v.stage, Stage::Current | Stage::Previous)) {
                v.stage = Stage::Revoked;
                v.stage_since = now;
                v.grace_until = None;
                ids.push(v.id);
            }
            if args.compromised {
                secret
                    .body
                    .meta
                    .ext
                    .insert(ext::COMPROMISED.into(), reason.clone().unwrap_or_else(|| "compromised".into()));
            }
            secret.body.meta.updated = now;
            Ok(ids)
        })
    })?;
    let mut event = Event::new(kind).secret(&args.name).details(json!({"reason": reason, "versions": revoked}));
    event.fingerprint = before.current().and_then(|v| ctx.fingerprint(v.value.expose()));
    ctx.audit(event, true)?;
    let versions: Vec<String> = revoked.iter().map(ToString::to_string).collect();
    ctx.out.done(&format!(
        "revoked {} ({} {}): get, exec and export now refuse it",
        sanitize(&args.name),
        if versions.len() == 1 { "version" } else { "versions" },
        versions.join(", ")
    ));

    let provider = before.body.meta.provider.as_deref().and_then(|id| registry.get(id));
    if args.compromised
        && let (Some(p), Some(path), Some(current)) =
            (provider, provider.and_then(|p| p.revoke_path.as_deref()), before.current())
    {
        let report = args.yes
            || (input::can_prompt()
                && input::confirm(&format!("Report the leaked key to {} so it is revoked there?", p.name))?);
        if report {
            report_leak(p, path, current.value.expose(), ctx);
        }
    }
    let text = format!(
        "{} was revoked{}{}",
        args.name,
        if args.compromised { " as compromised" } else { "" },
        reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
    );
    let notice = crate::notify::Notice {
        event: kind.into(),
        secret: Some(args.name.clone()),
        text,
        details: json!({"reason": reason, "provider": before.body.meta.provider}),
        time: parse::time(now),
    };
    ctx.notify(&config.notify, &notice);

    let mut outcome = Outcome::Success;
    if args.rotate {
        let generate = provider.is_none_or(|p| p.generate);
        let rotate = RotateArgs { generate, yes: true, ..RotateArgs::new_value(args.name.clone()) };
        outcome = super::rotate::run(rotate, ctx)?;
    }
    match provider.and_then(|p| p.rotation_hint.as_deref().map(|h| (p, h))) {
        Some((p, hint)) => ctx.out.notice(&format!("left to do: revoke the old key at {} too — {hint}", p.name)),
        None => ctx.out.notice("left to do: revoke the old key wherever it was issued"),
    }
    if !args.rotate {
        ctx.out.notice(&format!("then store a replacement with `keyward rotate {}`", args.name));
    }
    Ok(outcome)
}

/// Sends a leaked key to the provider's public revocation endpoint (GitHub's
/// `POST /credentials/revoke`). The outcome is reported; a failure does not undo the revocation.
fn report_leak(provider: &crate::providers::Provider, path: &str, value: &str, ctx: &Context) {
    let Some(base) = provider.base_url() else { return };
    let url = match crate::providers::check::endpoint(&base, path) {
        Ok(u) => u,
        Err(reason) => return ctx.out.warn(&format!("not reported to {}: {reason}", provider.name)),
    };
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .user_agent(concat!("keyward/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client builds with static settings");
    let body = zeroize::Zeroizing::new(json!({"credentials": [value]}).to_string());
    match client.post(url).header("content-type", "application/json").body(body.to_string()).send() {
        Ok(r) if r.status().is_success() => {
            ctx.out.done(&format!("reported the key to {} for revocation", provider.name));
        }
        Ok(r) => {
            ctx.out.warn(&format!("{} answered HTTP {} to the revocation report", provider.name, r.status().as_u16()));
        }
        Err(_) => ctx.out.warn(&format!("could not reach {} to report the key", provider.name)),
    }
}
