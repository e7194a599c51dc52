//! `keyward key recovery`: issue a new recovery key; the old one stops working.

use serde_json::json;

use crate::Outcome;
use crate::cli::KeyRecoveryArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::recovery_key::{self as recovery, Destination};
use crate::sensitive::Key32;
use crate::unlock::RandomSecret;
use crate::vault::format::SlotKind;

pub(super) fn run(args: KeyRecoveryArgs, ctx: &Context) -> Result<Outcome> {
    let dest = recovery::destination(args.recovery.recovery_key_file.as_deref(), ctx);
    if matches!(dest, Destination::Nowhere) {
        return Err(Error::NeedsTerminal {
            what: "showing a recovery key",
            hint: "use --recovery-key-file PATH (or - for standard output)",
        });
    }
    recovery::check_stdout(&dest, ctx)?;
    let locked = ctx.read_locked()?;
    if locked.slots().iter().any(|s| s.kind == SlotKind::Recovery)
        && !crate::input::confirm_or_refuse(
            args.yes,
            "replacing the recovery key",
            "Replace the recovery key? The old one will no longer open the vault",
            "add --yes to replace it without asking; nothing was changed",
        )?
    {
        ctx.out.notice("nothing changed");
        return Ok(Outcome::Declined);
    }
    let (mut credential, _) = ctx.unlock(&locked)?;
    let key = Key32::random();
    let rekeyed = ctx.modify_with(locked, &mut credential, |vault, _| {
        vault.add_slot(&RandomSecret { kind: SlotKind::Recovery, label: String::new(), secret: &key }, ctx.now)?;
        // Deliver before the vault is saved: a failure here leaves the old recovery key working.
        recovery::deliver(&dest, &key, ctx)?;
        Ok(vault.rekeyed_domains())
    })?;
    ctx.audit(crate::audit::Event::new("key.recovery").details(json!({"rekeyed": rekeyed})), true)?;
    if ctx.out.json && !matches!(dest, Destination::Stdout) {
        ctx.out.json(&json!({"recovery_key": "replaced", "rekeyed": rekeyed}));
    } else {
        ctx.out.notice("new recovery key issued; the old one no longer opens this file as it is now");
        super::token::removal_note(ctx, &rekeyed);
    }
    Ok(Outcome::Success)
}
