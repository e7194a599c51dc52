//! One module per subcommand, each exposing `run(args, &Context) -> Result<i32>` (the exit code).

pub(crate) mod add;
mod completions;
mod doctor;
mod exec;
mod export;
mod get;
mod import;
mod info;
mod init;
mod inject;
mod key;
mod list;
mod lock;
mod mask;
mod metadata;
mod providers;
mod recovery;
mod rename;
mod rm;
mod rotate;
mod selection;
mod update;
mod validate;

use serde_json::{Value, json};

use crate::cli::Command;
use crate::context::Context;
use crate::error::Result;
use crate::parse;
use crate::vault::secret::{Secret, Stage, ext};

pub fn dispatch(command: Command, ctx: &Context) -> Result<i32> {
    match command {
        Command::Init(args) => init::run(args, ctx),
        Command::Add(args) => add::run(args, ctx),
        Command::Get(args) => get::run(args, ctx),
        Command::List(args) => list::run(args, ctx),
        Command::Info(args) => info::run(args, ctx),
        Command::Update(args) => update::run(args, ctx),
        Command::Rename(args) => rename::run(args, ctx),
        Command::Rm(args) => rm::run(args, ctx),
        Command::Key(command) => key::run(command, ctx),
        Command::Lock => lock::lock(ctx),
        Command::Unlock(args) => key::import::run(args, ctx),
        Command::Validate(args) => validate::run(args, ctx),
        Command::Rotate(args) => rotate::run(args, ctx),
        Command::Providers => providers::run(ctx),
        Command::Mask(args) => mask::run(args, ctx),
        Command::Exec(args) => exec::run(args, ctx),
        Command::Completions(args) => completions::run(args, ctx),
        Command::Doctor => doctor::run(ctx),
        Command::GenerateDocs { dir } => completions::generate(&dir, ctx),
        Command::Inject(args) => inject::run(args, ctx),
        Command::Export(args) => export::run(args, ctx),
        Command::Import(args) => import::run(args, ctx),
    }
}

/// When the current version was made: the secret's last rotation.
fn rotated_at(secret: &Secret) -> i64 {
    secret.current().map_or(secret.body.meta.created, |v| v.created)
}

/// The JSON shape of a secret's metadata (never its value), shared by `list` and `info`.
pub fn secret_json(secret: &Secret, with_versions: bool) -> Value {
    let meta = &secret.body.meta;
    let rotated = rotated_at(secret);
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
