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
    // Read once: whether there is a passphrase to ask about, then unlocked and reused under the
    // lock (see Context::modify_with).
    let locked = ctx.read_locked()?;
    let has_passphrase = locked.slots().iter().any(|s| s.kind == SlotKind::Passphrase);
    if has_passphrase
        && !input::confirm_or_refuse(
            args.yes,
            if args.remove { "removing the passphrase" } else { "replacing the passphrase" },
            if args.remove {
                "Remove the passphrase? It will no longer open the vault"
            } else {
                "Replace the passphrase? The old one will no longer open the vault"
            },
            "add --yes to go ahead without asking; nothing was changed",
        )?
    {
        ctx.out.notice("nothing changed");
        return Ok(Outcome::Declined);
    }
    let (mut credential, _) = ctx.unlock(&locked)?;
    if args.remove {
        let rekeyed = ctx.modify_with(locked, &mut credential, |vault, _| {
            if vault.remove_slots(|s| s.kind == SlotKind::Passphrase)?.is_empty() {
                return Err(Error::Refused("the vault has no passphrase slot".into(), "nothing to remove"));
            }
            super::keep_a_way_in(vault, "removing the passphrase")?;
            Ok(vault.rekeyed_domains())
        })?;
        return report(ctx, "removed", &rekeyed);
    }
    let passphrase = input::new_passphrase()?;
    let (replaced, rekeyed) = ctx.modify_with(locked, &mut credential, |vault, _| {
        let replaced = vault.slots().iter().any(|s| s.kind == SlotKind::Passphrase);
        let recipient = PassphraseRecipient { passphrase: passphrase.expose(), params: Argon2Params::DEFAULT };
        vault.add_slot(&recipient, ctx.now)?;
        Ok((replaced, vault.rekeyed_domains()))
    })?;
    report(ctx, if replaced { "replaced" } else { "set" }, &rekeyed)
}

fn report(ctx: &Context, what: &str, rekeyed: &[String]) -> Result<Outcome> {
    let details = json!({"passphrase": what, "rekeyed": rekeyed});
    ctx.audit(crate::audit::Event::new("key.passphrase").details(details.clone()), true)?;
    ctx.out.report(&details, || format!("passphrase {what}"));
    // A replaced or removed passphrase: what it still opens, and what it no longer does.
    if what != "set" {
        super::token::removal_note(ctx, rekeyed);
    }
    Ok(Outcome::Success)
}
