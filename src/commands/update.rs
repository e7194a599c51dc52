//! `keyward update`: change a secret's metadata. The value changes only through rotation.

use serde_json::json;

use crate::Outcome;
use crate::audit::Event;
use crate::cli::{ClearField, UpdateArgs};
use crate::context::Context;
use crate::error::Result;
use crate::metadata_flags as metadata;
use crate::vault::secret::Metadata;

pub(super) fn run(args: UpdateArgs, ctx: &Context) -> Result<Outcome> {
    crate::vault::secret::check_name(&args.name)?;
    let var = args.meta.var.as_deref().map(metadata::var).transpose()?;
    let env = args.meta.env.as_deref().map(metadata::env).transpose()?;
    // Validate every flag before unlocking, so bad input never waits on a prompt.
    let mut probe = Metadata::new(ctx.now);
    metadata::apply(&args.meta, &mut probe, ctx.now)?;
    let config = crate::config::Config::load()?;
    if let Some(var) = &var {
        config.check_startup_var(var, &args.meta.allow_vars, "store")?;
    }
    if args.meta.provider.is_some() {
        metadata::check_provider(config.registry(), &probe)?;
    }

    let changed = ctx.modify(|vault, _| {
        vault.update_secret(&args.name, |secret, records| {
            let before = secret.clone();
            let meta = &mut secret.body.meta;
            for field in &args.clear {
                match field {
                    ClearField::Provider => meta.provider = None,
                    ClearField::Env => secret.env = None,
                    ClearField::Expires => meta.expires = None,
                    ClearField::Scopes => meta.scopes.clear(),
                    ClearField::AllowIp => meta.allow_ips.clear(),
                    ClearField::AllowOrigin => meta.allow_origins.clear(),
                    ClearField::RateLimit => meta.rate_limit = None,
                    ClearField::Tags => meta.tags.clear(),
                    ClearField::Note => meta.note = None,
                    ClearField::PairedWith => {
                        meta.ext.remove(metadata::PAIRED_WITH);
                    }
                }
            }
            meta.tags.retain(|t| !args.untag.contains(t));
            metadata::apply(&args.meta, meta, ctx.now)?;
            if let Some(var) = &var {
                secret.var = var.clone();
            }
            if env.is_some() {
                secret.env = env.clone();
            }
            if *secret == before {
                return Ok(false);
            }
            secret.body.meta.updated = ctx.now;
            records.check_var_conflict(&secret.name, &secret.var, secret.env.as_deref())?;
            records.check_paired(&secret.name, &secret.body.meta)?;
            Ok(true)
        })
    })?;

    ctx.audit(Event::new("update").secret(&args.name).details(json!({"changed": changed})), true)?;
    if ctx.out.json {
        ctx.out.json(&json!({"updated": args.name, "changed": changed}));
    } else if changed {
        ctx.out.done(&format!("updated {}", args.name));
    } else {
        ctx.out.notice(&format!("{} already had that metadata; nothing changed", args.name));
    }
    Ok(Outcome::Success)
}
