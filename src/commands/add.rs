//! `keyward add`: store a new secret. The value comes from standard input, a hidden prompt, or
//! `--generate`; never from the command line.

use serde_json::json;

use crate::Outcome;
use crate::cli::AddArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::input;
use crate::metadata_flags as metadata;
use crate::sensitive::SecretValue;
use crate::vault::secret::{Metadata, Secret, check_name, default_var};

pub(crate) fn run(args: AddArgs, ctx: &Context) -> Result<Outcome> {
    check_name(&args.name)?;
    let mut meta = Metadata::new(ctx.now);
    metadata::apply(&args.meta, &mut meta, ctx.now)?;
    let var = match &args.meta.var {
        Some(v) => metadata::var(v)?,
        None => default_var(&args.name),
    };
    let env = args.meta.env.as_deref().map(metadata::env).transpose()?;
    let config = crate::config::Config::load()?;
    config.check_startup_var(&var, &args.meta.allow_vars, "store")?;
    if args.generate && meta.provider.is_none() {
        meta.provider = Some("internal".into());
    }

    // Unlock (which may prompt) and read the value (which may prompt) before taking the lock.
    let locked = ctx.read_locked()?;
    let (mut credential, _) = ctx.unlock(&locked)?;
    let value = if args.generate {
        SecretValue::generate(args.length.into(), args.prefix.as_deref())?
    } else {
        input::read_value()?
    };
    describe_provider(&mut meta, value.expose(), config.registry(), ctx)?;

    let secret = Secret::new(args.name.clone(), var, env, meta, value, ctx.now);
    ctx.modify_with(locked, &mut credential, |vault, _| vault.add_new(&secret))?;

    let fp = ctx.fingerprint(secret.current().map_or("", |v| v.value.expose()));
    let mut event = crate::audit::Event::new("add").secret(&secret.name);
    event.fingerprint = fp;
    ctx.audit(event.details(json!({"provider": secret.body.meta.provider, "env": secret.env})), true)?;
    ctx.out.report(&json!({"added": secret.name, "var": secret.var, "env": secret.env, "version": 1}), || {
        format!("added {} (variable {})", secret.name, secret.var)
    });
    Ok(Outcome::Success)
}

/// Fills in the provider from the value's shape when none was given, and warns when a given
/// provider's formats do not fit the value.
fn describe_provider(
    meta: &mut Metadata,
    value: &str,
    registry: &crate::providers::Registry,
    ctx: &Context,
) -> Result<()> {
    match &meta.provider {
        None => {
            if let Some((provider, pattern)) = registry.detect(value) {
                ctx.out.notice(&format!("detected provider {} ({} {})", provider.id, provider.name, pattern.kind));
                meta.provider = Some(provider.id.clone());
            }
        }
        Some(id) => {
            let provider = registry.get(id).ok_or_else(|| Error::UnknownProvider { id: id.clone() })?;
            if !provider.patterns.is_empty() && provider.pattern_for(value).is_none() {
                ctx.out.warn(&format!(
                    "the value does not look like {} {} key; check it with `keyward validate`",
                    crate::sanitize::article(&provider.name),
                    provider.name
                ));
            }
        }
    }
    Ok(())
}
