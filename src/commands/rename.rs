//! `keyward rename`: give a secret a new name; its variable and history stay.

use serde_json::json;

use crate::Outcome;
use crate::cli::RenameArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::vault::secret::check_name;

pub(super) fn run(args: RenameArgs, ctx: &Context) -> Result<Outcome> {
    check_name(&args.old)?;
    check_name(&args.new)?;
    let var = ctx.modify(|vault, _| {
        let mut records = vault.records()?;
        let index = records
            .position(&args.old)
            .ok_or_else(|| Error::SecretNotFound { name: args.old.clone(), suggestion: None })?;
        if records.position(&args.new).is_some() {
            return Err(Error::SecretExists { name: args.new.clone() });
        }
        records.records[index].name = args.new.clone();
        let var = records.records[index].var.clone();
        vault.set_records(records);
        Ok(var)
    })?;
    ctx.audit(crate::audit::Event::new("rename").secret(&args.new).details(json!({"from": args.old})), true)?;
    ctx.out.report(&json!({"renamed": args.old, "to": args.new, "var": var}), || {
        format!(
            "renamed {} to {} (variable stays {var}; change it with `keyward update {} --var NEW`)",
            args.old, args.new, args.new
        )
    });
    Ok(Outcome::Success)
}
