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

    if ctx.out.json {
        let usage = super::usage(&vault);
        let list: Vec<_> = secrets
            .iter()
            .map(|s| {
                let mut json = secret_json(s, false);
                super::add_usage(&mut json, usage.get(&s.name));
                json
            })
            .collect();
        ctx.out.json(&list);
        return Ok(Outcome::Success);
    }
    if secrets.is_empty() {
        ctx.out.notice("no secrets match");
        return Ok(Outcome::Success);
    }
    let mut table = ctx.out.table(&["NAME", "VARIABLE", "ENV", "PROVIDER", "VERSION", "ROTATED", "EXPIRES", "TAGS"]);
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
    ctx.out.print_table(&table);
    Ok(Outcome::Success)
}
