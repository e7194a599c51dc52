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
    if let Some(env) = &env {
        crate::selection::check_env_known(&vault, env)?;
    }
    let pattern = args.pattern.as_deref().map(Pattern::new).transpose()?;
    let matches = |fields: &[&str]| pattern.as_ref().is_none_or(|p| fields.iter().any(|f| p.matches(f)));
    let mut secrets = vault.secrets()?;
    secrets.retain(|s| {
        let mut fields = vec![s.name.as_str(), s.var.as_str()];
        fields.extend(s.body.meta.tags.iter().map(String::as_str));
        fields.extend(s.body.meta.provider.as_deref());
        matches(&fields)
    });
    // --env E: E's secrets and those with no environment, as everywhere.
    let in_env = |secret_env: Option<&str>| env.as_deref().is_none_or(|e| crate::selection::in_env(secret_env, e));
    secrets.retain(|s| {
        in_env(s.env.as_deref())
            && provider.as_ref().is_none_or(|p| s.body.meta.provider.as_ref() == Some(p))
            && args.tag.as_ref().is_none_or(|t| s.body.meta.tags.contains(t))
    });
    secrets.sort_by(|a, b| a.name.cmp(&b.name));
    // Format 2 keeps names in the clear: those of domains this key cannot open are listed too,
    // marked, unless a filter needs what only their bodies say.
    let skipped = vault.skipped_domains();
    let mut sealed: Vec<(String, String, Option<String>)> = Vec::new();
    if !skipped.is_empty() && provider.is_none() && args.tag.is_none() {
        for r in &vault.records()?.records {
            let domain = r.env.as_deref().unwrap_or("@default");
            if skipped.iter().any(|d| d == domain) && in_env(r.env.as_deref()) && matches(&[&r.name, &r.var]) {
                sealed.push((r.name.clone(), r.var.clone(), r.env.clone()));
            }
        }
    }

    let header = ["NAME", "VARIABLE", "ENV", "PROVIDER", "VERSION", "ROTATED", "EXPIRES", "TAGS"];
    let json = || {
        let usage = super::usage(&vault);
        let verdicts = super::local_verdicts(&vault);
        let list: Vec<_> = secrets
            .iter()
            .map(|s| {
                let mut json = secret_json(s, false);
                super::add_usage(&mut json, usage.get(&s.name));
                super::apply_local_verdict(&mut json, &verdicts);
                json
            })
            .chain(
                sealed
                    .iter()
                    .map(|(name, var, env)| serde_json::json!({"name": name, "var": var, "env": env, "access": false})),
            )
            .collect();
        list
    };
    // On a terminal, say which vault this is: a project vault is chosen by the directory, and
    // `cd project/sub; keyward list` should not look like the personal vault.
    if ctx.out.stdout_tty && !ctx.out.json && !ctx.out.quiet {
        let location = ctx.location()?;
        let line =
            crate::sanitize::sanitize(&format!("vault {}: {}", location.path.display(), location.reason.describe()));
        ctx.out.write(format!("{line}\n").as_bytes());
    }
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
        for (name, var, env) in &sealed {
            let hidden = "(no access)".to_owned();
            table.add_row(vec![
                sanitize(name),
                var.clone(),
                env.clone().unwrap_or_else(|| "-".into()),
                hidden.clone(),
                hidden.clone(),
                hidden.clone(),
                hidden.clone(),
                hidden,
            ]);
        }
    });
    if !skipped.is_empty() {
        ctx.out.notice(&format!(
            "{}: the secrets of {} are listed by name only",
            vault.no_access(&skipped.join(", ")),
            skipped.join(", ")
        ));
    }
    Ok(Outcome::Success)
}

/// `list PATTERN`: a glob when it has `*`, `?` or `[`, else text to find; case is ignored.
enum Pattern {
    Text(String),
    Glob(globset::GlobMatcher),
}

impl Pattern {
    fn new(pattern: &str) -> Result<Pattern> {
        if pattern.contains(['*', '?', '[']) {
            let glob = globset::GlobBuilder::new(pattern)
                .case_insensitive(true)
                .literal_separator(false)
                .build()
                .map_err(|e| crate::error::Error::invalid("pattern", pattern, e.kind().to_string()))?;
            Ok(Pattern::Glob(glob.compile_matcher()))
        } else {
            Ok(Pattern::Text(pattern.to_lowercase()))
        }
    }

    fn matches(&self, field: &str) -> bool {
        match self {
            Pattern::Text(text) => field.to_lowercase().contains(text.as_str()),
            Pattern::Glob(glob) => glob.is_match(field),
        }
    }
}
