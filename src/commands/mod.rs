//! One module per subcommand, each exposing `run(args, &Context) -> Result<Outcome>` (the exit code).

pub(crate) mod add;
mod audit;
mod backup;
mod completions;
mod doctor;
mod exec;
mod export;
mod get;
mod git;
mod identity;
mod import;
mod info;
mod init;
mod inject;
mod key;
mod list;
mod lock;
mod mask;
pub(crate) mod member;
mod providers;
mod pull;
mod push;
mod remote;
mod rename;
mod revoke;
mod rm;
mod rotate;
mod scan;
mod set;
mod update;
mod validate;

use serde_json::{Value, json};

use crate::Outcome;
use crate::cli::Command;
use crate::context::Context;
use crate::error::Result;
use crate::parse;
use crate::vault::secret::{Secret, Stage, ext};

/// Says which domains a command over the whole vault skipped (format 2: this key does not
/// hold them).
pub(crate) fn note_skipped(ctx: &Context, vault: &crate::vault::Vault) {
    let skipped = vault.skipped_domains();
    if !skipped.is_empty() {
        ctx.out.notice(&format!("skipped {}: {}", skipped.join(", "), vault.no_access(&skipped.join(", "))));
    }
}

/// The command's name as audit entries record it.
pub(crate) fn name(command: &Command) -> &'static str {
    use crate::cli::{GitCommand, IdentityCommand, KeyCommand, MemberCommand, TokenCommand};
    match command {
        Command::Init(_) => "init",
        Command::Add(_) => "add",
        Command::Set(_) => "set",
        Command::Get(_) => "get",
        Command::List(_) => "list",
        Command::Info(_) => "info",
        Command::Update(_) => "update",
        Command::Rename(_) => "rename",
        Command::Rm(_) => "rm",
        Command::Key(KeyCommand::Status) => "key status",
        Command::Key(KeyCommand::Token(TokenCommand::Add(_))) => "key token add",
        Command::Key(KeyCommand::Token(TokenCommand::List)) => "key token list",
        Command::Key(KeyCommand::Token(TokenCommand::Rm(_))) => "key token rm",
        Command::Key(KeyCommand::Kms(crate::cli::KmsCommand::Add(_))) => "key kms add",
        Command::Key(KeyCommand::Kms(crate::cli::KmsCommand::Rm(_))) => "key kms rm",
        Command::Key(KeyCommand::Passphrase(_)) => "key passphrase",
        Command::Key(KeyCommand::Recovery(_)) => "key recovery",
        Command::Key(KeyCommand::Import(_)) => "key import",
        Command::Key(KeyCommand::Rotate(_)) => "key rotate",
        Command::Key(KeyCommand::Upgrade(_)) => "key upgrade",
        Command::Git(GitCommand::Setup(_)) => "git setup",
        Command::Git(GitCommand::Textconv { .. }) => "git textconv",
        Command::Git(GitCommand::MergeDriver { .. }) => "git merge-driver",
        Command::Git(GitCommand::Resolve(_)) => "git resolve",
        Command::Identity(IdentityCommand::New(_)) => "identity new",
        Command::Identity(IdentityCommand::Show) => "identity show",
        Command::Identity(IdentityCommand::Import(_)) => "identity import",
        Command::Member(MemberCommand::Add(_)) => "member add",
        Command::Member(MemberCommand::List(_)) => "member list",
        Command::Member(MemberCommand::Accept(_)) => "member accept",
        Command::Member(MemberCommand::Rm(_)) => "member rm",
        Command::Member(MemberCommand::Grant(_)) => "member grant",
        Command::Member(MemberCommand::Revoke(_)) => "member revoke",
        Command::Remote(crate::cli::RemoteCommand::Add(_)) => "remote add",
        Command::Remote(crate::cli::RemoteCommand::List) => "remote list",
        Command::Remote(crate::cli::RemoteCommand::Rm(_)) => "remote rm",
        Command::Remote(crate::cli::RemoteCommand::Trust(_)) => "remote trust",
        Command::Remote(crate::cli::RemoteCommand::Status(_)) => "remote status",
        Command::Push(_) => "push",
        Command::Pull(_) => "pull",
        Command::Lock => "lock",
        Command::Unlock(_) => "unlock",
        Command::Validate(_) => "validate",
        Command::Rotate(_) => "rotate",
        Command::Providers => "providers",
        Command::Mask(_) => "mask",
        Command::Scan(_) => "scan",
        Command::Exec(_) => "exec",
        Command::Completions(_) => "completions",
        Command::Doctor => "doctor",
        Command::GenerateDocs { .. } => "generate-docs",
        Command::ClipClear { .. } => "__clip-clear",
        Command::Inject(_) => "inject",
        Command::Export(_) => "export",
        Command::Import(_) => "import",
        Command::Audit(_) => "audit",
        Command::Revoke(_) => "revoke",
        Command::Backup(_) => "backup",
        Command::Restore(_) => "restore",
    }
}

pub(crate) fn dispatch(command: Command, ctx: &Context) -> Result<Outcome> {
    ctx.command.set(name(&command));
    // age plugins the user named may run, except under git's drivers, which run on whatever a
    // branch holds and never prompt (completion never gets here).
    if !matches!(name(&command), "git textconv" | "git merge-driver") {
        enable_plugins();
    }
    match command {
        Command::Init(args) => init::run(args, ctx),
        Command::Add(args) => add::run(args, ctx),
        Command::Set(args) => set::run(args, ctx),
        Command::Get(args) => get::run(args, ctx),
        Command::List(args) => list::run(args, ctx),
        Command::Info(args) => info::run(args, ctx),
        Command::Update(args) => update::run(args, ctx),
        Command::Rename(args) => rename::run(args, ctx),
        Command::Rm(args) => rm::run(args, ctx),
        Command::Key(command) => key::run(command, ctx),
        Command::Git(command) => git::run(command, ctx),
        Command::Identity(command) => identity::run(command, ctx),
        Command::Member(command) => member::run(command, ctx),
        Command::Remote(command) => remote::run(command, ctx),
        Command::Push(args) => push::run(args, ctx),
        Command::Pull(args) => pull::run(args, ctx),
        Command::Lock => lock::lock(ctx),
        Command::Unlock(args) => key::import::run(args, ctx),
        Command::Validate(args) => validate::run(args, ctx),
        Command::Rotate(args) => rotate::run(args, ctx),
        Command::Providers => providers::run(ctx),
        Command::Mask(args) => mask::run(args, ctx),
        Command::Scan(args) => scan::run(args, ctx),
        Command::Exec(args) => exec::run(args, ctx),
        Command::Completions(args) => completions::run(args, ctx),
        Command::Doctor => doctor::run(ctx),
        Command::GenerateDocs { dir } => completions::generate(&dir, ctx),
        Command::ClipClear { after_ms } => get::clear_clipboard_later(after_ms),
        Command::Inject(args) => inject::run(args, ctx),
        Command::Export(args) => export::run(args, ctx),
        Command::Import(args) => import::run(args, ctx),
        Command::Audit(args) => audit::run(args, ctx),
        Command::Revoke(args) => revoke::run(args, ctx),
        Command::Backup(args) => backup::backup(args, ctx),
        Command::Restore(args) => backup::restore(args, ctx),
    }
}

/// Uses of each secret (count, last time), from the vault's audit log; empty when there is none.
pub(crate) fn usage(vault: &crate::vault::Vault) -> std::collections::BTreeMap<String, (usize, i64)> {
    let Ok(log) = crate::audit::Log::for_vault(&crate::audit::log_name(&vault.id_hex(), &vault.path)) else {
        return Default::default();
    };
    let Ok(keys) = crate::audit::key_chain(vault) else { return Default::default() };
    crate::audit::read_authenticated(&log, &keys)
        .map(|entries| crate::audit::report::usage(&entries))
        .unwrap_or_default()
}

/// The verdicts this machine keeps for a committed vault (see [`crate::vault::verdicts`]).
pub(crate) fn local_verdicts(vault: &crate::vault::Vault) -> crate::vault::verdicts::Verdicts {
    crate::vault::verdicts::file(&vault.path, &vault.id()).map(|f| crate::vault::verdicts::load(&f)).unwrap_or_default()
}

/// A secret's `last_check`: this machine's verdict when it is newer than the vault's.
pub(crate) fn apply_local_verdict(json: &mut Value, verdicts: &crate::vault::verdicts::Verdicts) {
    let Some(name) = json["name"].as_str() else { return };
    let Some(v) = verdicts.get(name) else { return };
    let vault_at = json["last_check"]["at"].as_str().map(str::to_owned);
    if vault_at.is_none_or(|at| at < parse::time(v.at)) {
        json["last_check"] =
            json!({"verdict": v.verdict, "at": parse::time(v.at), "detail": v.detail, "kept": "on this machine"});
    }
}

/// Adds the usage figures to a secret's JSON.
pub(crate) fn add_usage(json: &mut Value, usage: Option<&(usize, i64)>) {
    json["uses"] = json!(usage.map_or(0, |u| u.0));
    json["last_used"] = json!(usage.map(|u| parse::time(u.1)));
}

/// The JSON shape of a secret's metadata (never its value), shared by `list` and `info`.
pub(crate) fn secret_json(secret: &Secret, with_versions: bool) -> Value {
    let meta = &secret.body.meta;
    let rotated = crate::rotation::rotated_at(secret);
    let mut value = json!({
        "name": secret.name,
        "var": secret.var,
        "env": secret.env,
        "provider": meta.provider,
        "current_version": secret.current().map(|v| v.id),
        "created": parse::time(meta.created),
        "updated": parse::time(meta.updated),
        "rotated": parse::time(rotated),
        "rotate_every": meta.rotate_every.map(parse::short_duration),
        "rotation_due": crate::rotation::due_at(secret).map(parse::time),
        "expires": meta.expires.map(parse::time),
        "scopes": meta.scopes,
        "allow_ips": meta.allow_ips,
        "allow_origins": meta.allow_origins,
        "rate_limit": meta.rate_limit.as_ref().map(parse::format_rate_limit),
        "tags": meta.tags,
        "note": meta.note,
        "paired_with": meta.ext.get(ext::PAIRED_WITH),
        "last_check": meta.ext.get(ext::CHECK_VERDICT).map(|verdict| json!({
            "verdict": verdict,
            "at": meta.ext.get(ext::CHECK_AT).and_then(|t| t.parse().ok()).map(parse::time),
            "detail": meta.ext.get(ext::CHECK_DETAIL),
        })),
        "grace": meta.ext.get(ext::GRACE).and_then(|g| g.parse().ok()).map(parse::short_duration),
        "merge_conflict": crate::vault::v2::merge::secret::Conflict::of(secret).map(|c| c.describe()),
    });
    if with_versions {
        value["versions"] = secret
            .body
            .versions
            .iter()
            .map(|v| {
                json!({
                    "id": v.id,
                    "stage": v.stage.as_str(),
                    "created": parse::time(v.created),
                    "stage_since": parse::time(v.stage_since),
                    "grace_until": v.grace_until.map(parse::time),
                    "verified": meta.ext.get(&ext::verified(v.id)),
                })
            })
            .collect();
    }
    value
}

fn stage_order(stage: Stage) -> u8 {
    match stage {
        Stage::Pending => 0,
        Stage::Current => 1,
        Stage::Previous => 2,
        Stage::Revoked => 3,
    }
}

/// Shows the grace-period notice of `secret` (its previous value stops being served soon) at most
/// once a day per secret: a job that reads it a thousand times a day needs it once. When it was
/// last shown is kept in `$XDG_STATE_HOME/keyward/notices.json`; if that cannot be read or
/// written, the notice is shown every time rather than never.
pub(crate) fn grace_notice(secret: &Secret, ctx: &Context) {
    let Some(text) = crate::rotation::grace_notice(secret, ctx.now) else { return };
    let day = ctx.now.div_euclid(86_400);
    let key = secret.name.clone();
    let file = crate::paths::state_dir().map(|d| d.join("notices.json"));
    let mut shown: std::collections::BTreeMap<String, i64> = file
        .as_ref()
        .ok()
        .and_then(|f| crate::files::read_nofollow(f).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    if shown.get(&key) == Some(&day) {
        return;
    }
    ctx.out.notice(&text);
    // Forget the days past, so the file stays as small as the set of secrets in grace.
    shown.retain(|_, d| *d == day);
    shown.insert(key, day);
    if let Ok(file) = file
        && let Some(dir) = file.parent()
        && crate::files::create_private_dir(dir).is_ok()
        && crate::paths::check_own(dir).is_ok()
    {
        let _ = crate::files::write_atomic(&file, &serde_json::to_vec(&shown).unwrap_or_default());
    }
}

/// Sends the grace-deadline notification for `secret` once per deadline window (7 days, 1 day),
/// when notifications are configured. Which ones were sent is kept in the audit directory, so
/// reads never write the vault.
pub(crate) fn notify_grace(secret: &Secret, ctx: &Context) {
    let Some(deadline) = crate::rotation::grace_deadline(secret) else { return };
    let Ok(config) = crate::config::Config::load() else { return };
    if config.notify.is_empty() {
        return;
    }
    let window = if deadline - ctx.now <= 86_400 { "1d" } else { "7d" };
    let key = format!("{}|{}|{deadline}|{window}", secret.name, secret.body.versions.len());
    let Ok(dir) = crate::audit::dir() else { return };
    let state = dir.join("notified.json");
    let mut sent: Vec<String> =
        std::fs::read(&state).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    if sent.contains(&key) {
        return;
    }
    let text = crate::rotation::grace_notice(secret, ctx.now).unwrap_or_default();
    let notice = crate::notify::Notice {
        event: format!("grace.{window}"),
        secret: Some(secret.name.clone()),
        text,
        details: json!({"grace_until": parse::time(deadline)}),
        time: parse::time(ctx.now),
    };
    ctx.notify(&config.notify, &notice);
    sent.push(key);
    if crate::files::create_private_dir(state.parent().expect("a parent")).is_ok() {
        let _ = crate::files::write_atomic(&state, &serde_json::to_vec(&sent).unwrap_or_default());
    }
}

/// The age plugins this user allows (`KEYWARD_AGE_PLUGINS`, comma-separated, and `[members]
/// plugins` in the config), enabled for this process; read only if a plugin is wanted.
fn enable_plugins() {
    let configured = || {
        let mut allowed: Vec<String> = std::env::var("KEYWARD_AGE_PLUGINS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        if let Ok(config) = crate::config::Config::load() {
            allowed.extend(config.plugins);
        }
        allowed
    };
    crate::vault::v2::plugin::enable(Box::new(configured), std::sync::Arc::new(crate::input::PluginPrompts));
}
