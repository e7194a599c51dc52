//! `keyward list`: the secrets, never their values.

use super::secret_json;
use crate::Outcome;
use crate::cli::ListArgs;
use crate::context::Context;
use crate::error::Result;
use crate::metadata_flags as metadata;
use crate::output::sanitize;
use crate::parse;
use crate::rotation::rotated_at;

pub(super) fn run(args: ListArgs, ctx: &Context) -> Result<Outcome> {
    let env = args.env.as_deref().map(metadata::env).transpose()?;
    let provider = args.provider.as_deref().map(str::to_ascii_lowercase);
    let vault = ctx.open()?;
    let mut secrets = vault.secrets()?;
    secrets.retain(|s| {
        env.as_ref().is_none_or(|e| s.env.as_ref() == Some(e))
            && provider.as_ref().is_none_or(|p| s.body.meta.provider.as_ref() == Some(p))
            && args.tag.as_ref().is_none_or(|t| s.body.meta.tags.contains(t))
    });
    secrets.sort_by(|a, b| a.name.cmp(&b.name));

    let header = ["NAME", "VARIABLE", "ENV", "PROVIDER", "VERSION", "ROTATED", "EXPIRES", "TAGS"];
    let json = || {
        let usage = super::usage(&vault);
        let list: Vec<_> = secrets
            .iter()
            .map(|s| {
                let mut json = secret_json(s, false);
                super::add_usage(&mut json, usage.get(&s.name));
                json
            })
            .collect();
        list
    };
    ctx.out.listing(json, &header, "no secrets match", |table| {
        for s in &secrets {
            let meta = &s.body.meta;
            let day = |t: i64| parse::time(t)[..10].to_string();
            table.add_row(vec![
                sanitize(&s.name),
                s.var.clone(),
                s.env.clone().unwrap_or_else(|| "-".into()),
                meta.provider.as_deref().map_or("-".into(), sanitize),
                s.current().map_or("-".into(), |v| v.id.to_string()),
                day(rotated_at(s)),
                meta.expires.map_or("-".into(), day),
                if meta.tags.is_empty() { "-".into() } else { sanitize(&meta.tags.join(",")) },
            ]);
        }
    });
    Ok(Outcome::Success)
}
