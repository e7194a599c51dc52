//! `keyward rm`: remove a secret and every version of it.

use serde_json::json;

use crate::Outcome;
use crate::cli::RmArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::input;

pub(super) fn run(args: RmArgs, ctx: &Context) -> Result<Outcome> {
    crate::vault::secret::check_name(&args.name)?;
    if !args.yes {
        if !input::can_prompt() {
            return Err(Error::NeedsTerminal {
                what: "removing a secret",
                hint: "add --yes to remove it without asking; nothing was removed",
            });
        }
        // Check it exists before asking, so the question is never about nothing.
        ctx.open()?.get(&args.name)?;
        if !input::confirm(&format!("Remove {} and all its versions?", args.name))? {
            ctx.out.notice("nothing removed");
            return Ok(Outcome::Declined);
        }
    }
    let versions = ctx.modify(|vault, _| {
        let mut records = vault.records()?;
        let index = records
            .position(&args.name)
            .ok_or_else(|| Error::SecretNotFound { name: args.name.clone(), suggestion: None })?;
        let removed = records.records.remove(index);
        vault.set_records(records);
        Ok(removed.decode().map_or(0, |s| s.body.versions.len()))
    })?;
    ctx.audit(crate::audit::Event::new("rm").secret(&args.name).details(json!({"versions": versions})), true)?;
    ctx.out.report(&json!({"removed": args.name, "versions": versions}), || {
        format!("removed {} ({versions} version{})", args.name, if versions == 1 { "" } else { "s" })
    });
    Ok(Outcome::Success)
}
