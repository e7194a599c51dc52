//! `keyward info`: one secret's metadata and version history, never its values.

use super::{secret_json, stage_order};
use crate::Outcome;
use crate::cli::NameArg;
use crate::context::Context;
use crate::error::Result;
use crate::output::sanitize;
use crate::parse;

pub(super) fn run(args: NameArg, ctx: &Context) -> Result<Outcome> {
    crate::vault::secret::check_name(&args.name)?;
    let vault = ctx.open()?;
    let secret = vault.get(&args.name)?;
    let mut json = secret_json(&secret, true);
    super::add_usage(&mut json, super::usage(&vault).get(&secret.name));
    super::apply_local_verdict(&mut json, &super::local_verdicts(&vault));
    if ctx.out.json {
        ctx.out.json(&json);
        return Ok(Outcome::Success);
    }
    let field = |v: &serde_json::Value| match v {
        serde_json::Value::Null => "-".to_string(),
        serde_json::Value::String(s) => sanitize(s),
        serde_json::Value::Array(items) if items.is_empty() => "-".to_string(),
        serde_json::Value::Array(items) => {
            items.iter().map(|i| i.as_str().map_or_else(|| i.to_string(), sanitize)).collect::<Vec<_>>().join(", ")
        }
        other => other.to_string(),
    };
    let mut text = String::new();
    for key in [
        "name",
        "var",
        "env",
        "provider",
        "created",
        "updated",
        "rotated",
        "rotate_every",
        "rotation_due",
        "expires",
        "scopes",
        "allow_ips",
        "allow_origins",
        "rate_limit",
        "tags",
        "note",
        "paired_with",
        "grace",
        "uses",
        "last_used",
    ] {
        text.push_str(&format!("{:<14} {}\n", format!("{}:", key.replace('_', " ")), field(&json[key])));
    }
    if let Some(check) = json.get("last_check").filter(|c| !c.is_null()) {
        text.push_str(&format!(
            "{:<14} {} at {} ({})\n",
            "last check:",
            field(&check["verdict"]),
            field(&check["at"]),
            field(&check["detail"])
        ));
    }
    if let Some(conflict) = json.get("merge_conflict").filter(|c| !c.is_null()) {
        text.push_str(&format!(
            "{:<14} {} (finish it with `keyward git resolve NAME --ours|--theirs`)\n",
            "conflict:",
            field(conflict)
        ));
    }
    ctx.out.write(text.as_bytes());
    let mut versions = secret.body.versions.clone();
    versions.sort_by_key(|v| (stage_order(v.stage), std::cmp::Reverse(v.id)));
    let mut table = ctx.out.table(&["VERSION", "STAGE", "CREATED", "SINCE", "GRACE UNTIL", "VERIFIED"]);
    for v in &versions {
        let verified = secret.body.meta.ext.get(&crate::vault::secret::ext::verified(v.id));
        table.add_row(vec![
            v.id.to_string(),
            v.stage.as_str().to_string(),
            parse::time(v.created),
            parse::time(v.stage_since),
            v.grace_until.map_or("-".into(), parse::time),
            verified.map_or("-".into(), |s| sanitize(s)),
        ]);
    }
    ctx.out.write(b"\n");
    ctx.out.print_table(&table);
    Ok(Outcome::Success)
}
