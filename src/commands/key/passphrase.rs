//! `keyward key passphrase [--remove]`: the passphrase slot.

use serde_json::json;

use crate::cli::PassphraseArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::input;
use crate::unlock;
use crate::vault::SlotSecret;
use crate::vault::crypto::Argon2Params;
use crate::vault::format::SlotKind;

pub fn run(args: PassphraseArgs, ctx: &Context) -> Result<i32> {
    if args.remove {
        ctx.modify(|vault, _| {
            if vault.remove_slots(|s| s.kind == SlotKind::Passphrase).is_empty() {
                return Err(Error::Refused("the vault has no passphrase slot".into(), "nothing to remove"));
            }
            super::keep_a_way_in(vault, "removing the passphrase")
        })?;
        report(ctx, "removed");
        return Ok(0);
    }
    let locked = ctx.read_locked()?;
    let (mut credential, _) = unlock::unlock(&locked, ctx.policy)?;
    drop(locked);
    let passphrase = input::new_passphrase()?;
    ctx.modify_with(&mut credential, |vault, _| {
        vault.put_slot(
            SlotKind::Passphrase,
            "",
            SlotSecret::Passphrase(passphrase.expose(), Argon2Params::DEFAULT),
            ctx.now,
        );
        Ok(())
    })?;
    report(ctx, "set");
    Ok(0)
}

fn report(ctx: &Context, what: &str) {
    if ctx.out.json {
        ctx.out.json(&json!({"passphrase": what}));
    } else {
        ctx.out.done(&format!("passphrase {what}"));
    }
}
