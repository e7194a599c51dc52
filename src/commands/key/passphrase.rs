//! `keyward key passphrase [--remove]`: the passphrase slot.

use serde_json::json;

use crate::Outcome;
use crate::cli::PassphraseArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::input;
use crate::unlock::passphrase::PassphraseRecipient;
use crate::vault::crypto::Argon2Params;
use crate::vault::format::SlotKind;

pub(super) fn run(args: PassphraseArgs, ctx: &Context) -> Result<Outcome> {
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
    let replaced = ctx.modify_with(&mut credential, |vault, _| {
        let replaced = vault.header.slots.iter().any(|s| s.kind == SlotKind::Passphrase);
        vault
            .add_slot(&PassphraseRecipient { passphrase: passphrase.expose(), params: Argon2Params::DEFAULT }, ctx.now);
        Ok(replaced)
    })?;
    report(ctx, if replaced { "replaced" } else { "set" })
}

fn report(ctx: &Context, what: &str) -> Result<Outcome> {
    ctx.audit(crate::audit::Event::new("key.passphrase").details(json!({"passphrase": what})), true)?;
    ctx.out.report(&json!({"passphrase": what}), || format!("passphrase {what}"));
    // A replaced or removed passphrase still works on older copies.
    if what != "set" {
        ctx.out.notice(super::token::UNCHANGED_DATA_KEY);
    }
    Ok(Outcome::Success)
}
