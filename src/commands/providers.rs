//! `keyward providers`: the registry, as a table or JSON.

use serde_json::json;

use crate::Outcome;
use crate::config::Config;
use crate::context::Context;
use crate::error::Result;
use crate::output::sanitize;

pub(super) fn run(ctx: &Context) -> Result<Outcome> {
    let config = Config::load()?;
    let registry = config.registry();
    if ctx.out.json {
        let list: Vec<_> = registry
            .providers
            .iter()
            .map(|p| {
                json!({
                    "id": p.id,
                    "name": p.name,
                    "keywords": p.keywords,
                    "base_url": p.base_url(),
                    "live": p.live,
                    "test": p.test,
                    "rotation_hint": p.rotation_hint,
                    "generate": p.generate,
                    "patterns": p.patterns.iter().map(|pat| json!({
                        "kind": pat.kind,
                        "regex": pat.source,
                        "max_len": pat.max_len,
                        "near_keyword": pat.near_keyword,
                        "scan_only": pat.scan_only,
                    })).collect::<Vec<_>>(),
                    "checks": p.checks,
                })
            })
            .collect();
        ctx.out.json(&list);
        return Ok(Outcome::Success);
    }
    let mut table = ctx.out.table(&["ID", "NAME", "KEY KINDS", "LIVE/TEST", "ONLINE CHECK"]);
    for p in &registry.providers {
        let kinds: Vec<&str> = p.patterns.iter().map(|pat| pat.kind.as_str()).collect();
        table.add_row(vec![
            p.id.clone(),
            sanitize(&p.name),
            if kinds.is_empty() { "-".into() } else { sanitize(&kinds.join(", ")) },
            if p.live.is_empty() && p.test.is_empty() { "-".into() } else { "yes".into() },
            if p.checks.is_empty() {
                "-".into()
            } else {
                p.checks.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
            },
        ]);
    }
    ctx.out.print_table(&table);
    Ok(Outcome::Success)
}
