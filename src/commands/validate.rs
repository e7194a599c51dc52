//! `keyward validate`: format, environment, expiry and rotation age offline; with `--online`, the
//! provider's own answer. Online checks run concurrently over one keep-alive client; the vault is
//! saved once at the end with each secret's last verdict.

use serde::Serialize;

use crate::cli::ValidateArgs;
use crate::config::Config;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::input;
use crate::metadata_flags as metadata;
use crate::output::sanitize;
use crate::parse;
use crate::providers::check::{Checker, Outcome, Verdict};
use crate::providers::{Class, Registry};
use crate::sensitive::SecretValue;
use crate::vault::secret::{check_name, ext};

/// Days before expiry when a secret starts to warn.
const EXPIRY_WARNING_DAYS: i64 = 14;

/// One value to check.
struct Target {
    pub name: String,
    pub env: Option<String>,
    pub provider: Option<String>,
    pub value: SecretValue,
    pub paired: Option<SecretValue>,
    pub expires: Option<i64>,
    pub rotate_every: Option<u64>,
    pub rotated: i64,
    /// From the vault (its verdict is recorded), or from standard input.
    pub stored: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Status {
    Skip,
    Ok,
    Warn,
    Fail,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Skip => "skip",
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct Item {
    pub check: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    pub detail: String,
}

fn item(check: &str, status: Status, detail: impl Into<String>) -> Item {
    Item { check: check.into(), status, verdict: None, detail: detail.into() }
}

#[derive(Debug, Serialize)]
pub(super) struct Report {
    pub name: String,
    pub provider: Option<String>,
    pub env: Option<String>,
    pub status: Status,
    pub checks: Vec<Item>,
}

pub(super) fn run(args: ValidateArgs, ctx: &Context) -> Result<crate::Outcome> {
    let env = args.env.as_deref().map(metadata::env).transpose()?;
    if !args.stdin && !args.all && args.names.is_empty() && env.is_none() {
        return Err(Error::Usage("name the secrets to check, or give --all, --env ENV or --stdin".into()));
    }
    for name in &args.names {
        check_name(name)?;
    }
    let config = Config::load()?;
    let registry = config.registry();
    let timeout = match &args.timeout {
        Some(t) => std::time::Duration::from_secs(parse::duration(t).map_err(|r| Error::invalid("timeout", t, r))?),
        None => config.timeout,
    };
    let concurrency = args.concurrency.map_or(config.concurrency, usize::from);

    let targets = if args.stdin { vec![stdin_target(&args, env, registry)?] } else { stored_targets(&args, env, ctx)? };
    let mut reports: Vec<Report> =
        targets.iter().map(|t| offline(t, registry, ctx.now, args.strict, !t.stored)).collect();
    if args.online {
        let outcomes =
            online(&targets, registry, Checker::new(timeout, concurrency, crate::clock::unix_now), concurrency, ctx);
        for (i, outcome) in &outcomes {
            reports[*i].checks.push(online_item(outcome, args.fail_on_unknown));
        }
        let checked: std::collections::HashSet<usize> = outcomes.iter().map(|(i, _)| *i).collect();
        for (i, (target, report)) in targets.iter().zip(&mut reports).enumerate() {
            if !checked.contains(&i) {
                report.checks.push(no_online_check(target, registry));
            }
        }
        record(&targets, &outcomes, ctx)?;
    }
    for report in &mut reports {
        report.status = report.checks.iter().map(|c| c.status).max().unwrap_or(Status::Skip);
    }
    if !args.stdin {
        let results: serde_json::Map<String, serde_json::Value> =
            reports.iter().map(|r| (r.name.clone(), serde_json::json!(r.status))).collect();
        let online: serde_json::Map<String, serde_json::Value> = reports
            .iter()
            .filter_map(|r| {
                let worst = r.checks.iter().filter_map(|c| c.verdict).max_by_key(|v| v.severity())?;
                Some((r.name.clone(), serde_json::json!(worst)))
            })
            .collect();
        let event =
            crate::audit::Event::new("validate").details(serde_json::json!({"results": results, "online": online}));
        ctx.audit(event, args.online)?;
    }
    print(&reports, ctx);
    let failed = reports.iter().any(|r| r.status == Status::Fail);
    Ok(if failed { crate::Outcome::ChecksFailed } else { crate::Outcome::Success })
}

fn stdin_target(args: &ValidateArgs, env: Option<String>, registry: &Registry) -> Result<Target> {
    let value = input::read_value()?;
    let provider = match &args.provider {
        Some(id) => {
            registry.get(id).ok_or_else(|| Error::UnknownProvider { id: id.clone() })?;
            Some(id.clone())
        }
        None => registry.detect(value.expose()).map(|(p, _)| p.id.clone()),
    };
    Ok(Target {
        name: "(stdin)".into(),
        env,
        provider,
        value,
        paired: None,
        expires: None,
        rotate_every: None,
        rotated: 0,
        stored: false,
    })
}

fn stored_targets(args: &ValidateArgs, env: Option<String>, ctx: &Context) -> Result<Vec<Target>> {
    let vault = ctx.open()?;
    let mut secrets = if args.names.is_empty() {
        super::note_skipped(ctx, &vault);
        vault.secrets()?
    } else {
        args.names.iter().map(|n| vault.get(n)).collect::<Result<Vec<_>>>()?
    };
    if args.names.is_empty() {
        secrets.sort_by(|a, b| a.name.cmp(&b.name));
    }
    if let Some(env) = &env {
        crate::selection::check_env_known(&vault, env)?;
        // The one selection: env's secrets and those with no environment.
        secrets.retain(|s| crate::selection::in_env(s.env.as_deref(), env));
    }
    let mut targets = Vec::with_capacity(secrets.len());
    for s in secrets {
        let Some(current) = s.current() else { continue };
        let paired = match s.body.meta.ext.get(ext::PAIRED_WITH) {
            Some(other) => vault.find(other)?.and_then(|o| o.current().map(|v| v.value.clone())),
            None => None,
        };
        targets.push(Target {
            value: current.value.clone(),
            rotated: current.created,
            paired,
            expires: s.body.meta.expires,
            rotate_every: s.body.meta.rotate_every,
            provider: s.body.meta.provider.clone(),
            env: s.env.clone(),
            name: s.name,
            stored: true,
        });
    }
    Ok(targets)
}

/// The offline checks: format, environment, expiry, rotation age.
fn offline(t: &Target, registry: &Registry, now: i64, strict: bool, value_only: bool) -> Report {
    let provider = t.provider.as_deref().and_then(|id| registry.get(id));
    let mut checks = Vec::new();
    checks.push(match (&t.provider, provider) {
        (None, _) => item("format", Status::Skip, "no provider set"),
        (Some(id), None) => item("format", Status::Warn, format!("provider {id:?} is not in the registry")),
        (_, Some(p)) if p.patterns.is_empty() => {
            item("format", Status::Skip, format!("{} has no format rules", p.name))
        }
        (_, Some(p)) => match p.pattern_for(t.value.expose()) {
            Some(pat) => {
                item("format", Status::Ok, format!("{} {} {}", crate::sanitize::article(&p.name), p.name, pat.kind))
            }
            None => item("format", Status::Fail, format!("does not match any {} key format", p.name)),
        },
    });
    checks.push(match (&t.env, provider) {
        (None, _) => item("environment", Status::Skip, "no environment set"),
        (Some(_), None) => item("environment", Status::Skip, "no provider to tell live from test keys"),
        (Some(env), Some(p)) => match p.classify(t.value.expose()) {
            Class::Live if env != "prod" => item("environment", Status::Fail, format!("a live key in a {env} secret")),
            Class::Test if env == "prod" => item("environment", Status::Fail, "a test key in a prod secret"),
            Class::Live => item("environment", Status::Ok, "a live key in prod"),
            Class::Test => item("environment", Status::Ok, format!("a test key in {env}")),
            Class::Unmarked => item("environment", Status::Skip, format!("{} keys carry no live/test marker", p.name)),
        },
    });
    if !value_only {
        checks.push(match t.expires {
            None => item("expiry", Status::Skip, "no expiry set"),
            Some(at) if at <= now => item("expiry", Status::Fail, format!("expired at {}", parse::time(at))),
            Some(at) if at - now <= EXPIRY_WARNING_DAYS * 86_400 => item(
                "expiry",
                Status::Warn,
                format!("expires at {} (in {} days)", parse::time(at), (at - now + 86_399) / 86_400),
            ),
            Some(at) => item("expiry", Status::Ok, format!("expires at {}", parse::time(at))),
        });
        checks.push(match t.rotate_every {
            None => item("rotation", Status::Skip, "no rotation policy"),
            Some(every) => {
                let age_days = (now - t.rotated).max(0) / 86_400;
                let policy = parse::short_duration(every);
                if now - t.rotated > every as i64 {
                    let status = if strict { Status::Fail } else { Status::Warn };
                    item("rotation", status, format!("rotated {age_days} days ago; the policy is every {policy}"))
                } else {
                    item("rotation", Status::Ok, format!("rotated {age_days} days ago; the policy is every {policy}"))
                }
            }
        });
    }
    Report { name: t.name.clone(), provider: t.provider.clone(), env: t.env.clone(), status: Status::Skip, checks }
}

fn online_item(outcome: &Outcome, fail_on_unknown: bool) -> Item {
    let status = match outcome.verdict {
        Verdict::Valid => Status::Ok,
        Verdict::Invalid => Status::Fail,
        Verdict::Unknown if fail_on_unknown => Status::Fail,
        Verdict::Unknown => Status::Warn,
    };
    Item {
        check: format!("online: {}", outcome.check),
        status,
        verdict: Some(outcome.verdict),
        detail: format!("{}: {}", outcome.verdict.as_str(), outcome.detail),
    }
}

fn no_online_check(t: &Target, registry: &Registry) -> Item {
    match t.provider.as_deref().and_then(|id| registry.get(id)) {
        None => item("online", Status::Skip, "no provider to ask"),
        Some(p) => item("online", Status::Skip, format!("{} has no online check for this key", p.name)),
    }
}

/// Runs every applicable check of every target. Returns (target index, outcome) pairs in
/// target order.
fn online(
    targets: &[Target],
    registry: &Registry,
    checker: Checker,
    concurrency: usize,
    ctx: &Context,
) -> Vec<(usize, Outcome)> {
    let keys: Vec<(&str, &str, Option<&str>)> = targets
        .iter()
        .map(|t| (t.provider.as_deref().unwrap_or(""), t.value.expose(), t.paired.as_ref().map(SecretValue::expose)))
        .collect();
    ctx.check_online(&checker, registry, &keys, concurrency)
}

/// Saves each stored secret's verdict (the worst of its checks) and what the provider reported.
fn record(targets: &[Target], outcomes: &[(usize, Outcome)], ctx: &Context) -> Result<()> {
    let stored: Vec<usize> = targets.iter().enumerate().filter(|(_, t)| t.stored).map(|(i, _)| i).collect();
    if outcomes.iter().all(|(i, _)| !stored.contains(i)) {
        return Ok(());
    }
    // A committed vault is everyone's file: CI checking it must not rewrite it. The verdicts
    // stay on this machine instead (`info` shows them), and what the provider reported about
    // scopes and expiry is left for a person to `keyward update`.
    let locked = ctx.read_locked()?;
    if crate::files::in_git_work_tree(&locked.path) {
        let Some(file) = crate::vault::verdicts::file(&locked.path, &locked.id()) else { return Ok(()) };
        let mut verdicts = crate::vault::verdicts::load(&file);
        for &i in &stored {
            let mine: Vec<&Outcome> = outcomes.iter().filter(|(j, _)| *j == i).map(|(_, o)| o).collect();
            let Some(worst) = mine.iter().max_by_key(|o| o.verdict.severity()) else { continue };
            verdicts.insert(
                targets[i].name.clone(),
                crate::vault::verdicts::Verdict {
                    verdict: worst.verdict.as_str().into(),
                    at: ctx.now,
                    detail: format!("{}: {}", worst.check, worst.detail),
                },
            );
        }
        crate::vault::verdicts::save(&file, &verdicts)?;
        ctx.out.notice(&format!(
            "verdicts kept on this machine ({}): {} is committed to git and is not rewritten by a check",
            file.display(),
            locked.path.display()
        ));
        return Ok(());
    }
    ctx.modify(|vault, _| {
        let mut records = vault.records()?;
        for &i in &stored {
            let mine: Vec<&Outcome> = outcomes.iter().filter(|(j, _)| *j == i).map(|(_, o)| o).collect();
            let Some(worst) = mine.iter().max_by_key(|o| o.verdict.severity()) else { continue };
            records
                .update(&targets[i].name, |secret, _| -> Result<()> {
                    let meta = &mut secret.body.meta;
                    meta.ext.insert(ext::CHECK_VERDICT.into(), worst.verdict.as_str().into());
                    meta.ext.insert(ext::CHECK_AT.into(), ctx.now.to_string());
                    meta.ext.insert(ext::CHECK_DETAIL.into(), format!("{}: {}", worst.check, worst.detail));
                    for o in &mine {
                        if let Some(scopes) = &o.scopes {
                            meta.scopes = scopes.clone();
                        }
                        if let Some(expires) = o.expires {
                            meta.expires = Some(expires);
                        }
                    }
                    Ok(())
                })
                .map_err(|e| vault.locate(e))?;
        }
        vault.set_records(records);
        Ok(())
    })
}

fn print(reports: &[Report], ctx: &Context) {
    if ctx.out.json {
        ctx.out.json(reports);
        return;
    }
    let mut table = ctx.out.table(&["NAME", "CHECK", "RESULT", "DETAIL"]);
    for r in reports {
        for (n, c) in r.checks.iter().enumerate() {
            let name = if n == 0 { sanitize(&r.name) } else { String::new() };
            table.add_row(vec![name, c.check.clone(), c.status.as_str().into(), sanitize(&c.detail)]);
        }
    }
    if !reports.is_empty() {
        ctx.out.print_table(&table);
    }
    let count = |s: Status| reports.iter().filter(|r| r.status == s).count();
    ctx.out.done(&format!(
        "{} checked: {} ok, {} with warnings, {} failed",
        reports.len(),
        count(Status::Ok) + count(Status::Skip),
        count(Status::Warn),
        count(Status::Fail)
    ));
}
