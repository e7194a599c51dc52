//! `keyward key passphrase [--remove]`: the passphrase slot.

use serde_json::json;

use crate::cli::PassphraseArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::input;
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
        return report(ctx, "removed");
    }
    let locked = ctx.read_locked()?;
    let (mut credential, _) = ctx.unlock(&locked)?;
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
    report(ctx, "set")
}

fn report(ctx: &Context, what: &str) -> Result<i32> {
    ctx.audit(crate::audit::Event::new("key.passphrase").details(json!({"passphrase": what})), true)?;
    if ctx.out.json {
        ctx.out.json(&json!({"passphrase": what}));
    } else {
        ctx.out.done(&format!("passphrase {what}"));
    }
    Ok(0)
}
