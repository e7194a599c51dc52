//! `keyward key rotate`: re-key after a leak. A new data key; a new keyring slot for this machine;
//! the passphrase asked again (or dropped); a new recovery key; every token dropped.

use serde_json::json;

use crate::Outcome;
use crate::cli::RotateKeyArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::input;
use crate::recovery_key::{self as recovery, Destination};
use crate::sensitive::Key32;
use crate::unlock::PASSPHRASE_FILE_VAR;
use crate::unlock::RandomSecret;
use crate::unlock::keyring::{self, Backend};
use crate::unlock::passphrase::PassphraseRecipient;
use crate::vault::crypto::Argon2Params;
use crate::vault::format::SlotKind;

pub(super) fn run(args: RotateKeyArgs, ctx: &Context) -> Result<Outcome> {
    let dest = if args.no_recovery {
        Destination::Nowhere
    } else {
        recovery::destination(args.recovery.recovery_key_file.as_deref(), ctx)
    };
    recovery::check_stdout(&dest, ctx)?;
    if !input::confirm_or_refuse(
        args.yes,
        "re-keying the vault",
        "Re-key the vault? Every token, the recovery key and other machines' keyring slots stop working",
        "add --yes to re-key without asking; nothing was changed",
    )? {
        ctx.out.notice("nothing changed");
        return Ok(Outcome::Declined);
    }
    let locked = ctx.read_locked()?;
    let (mut credential, _) = ctx.unlock(&locked)?;
    let slots = locked.slots();
    let format2 = locked.version() >= 2;

    // Everything that may ask the user happens before the lock is taken.
    let had_passphrase = slots.iter().any(|s| s.kind == SlotKind::Passphrase);
    let passphrase = if had_passphrase && (std::env::var_os(PASSPHRASE_FILE_VAR).is_some() || input::can_prompt()) {
        Some(input::new_passphrase()?)
    } else {
        None
    };
    let this_machine = Backend::of_slots(&slots, true);
    let recovery_key = (!matches!(dest, Destination::Nowhere)).then(Key32::random);
    if this_machine.is_empty() && passphrase.is_none() && recovery_key.is_none() {
        return Err(Error::Usage(
            "after re-keying nothing would open the vault: give --recovery-key-file PATH or a new passphrase (KEYWARD_PASSPHRASE_FILE)".into(),
        ));
    }
    // As for init: a keyring slot alone is no way back.
    if passphrase.is_none() && recovery_key.is_none() && !args.no_recovery {
        return Err(Error::Usage(
            "no recovery key can be shown without a terminal, and after re-keying only this machine's keyring would open the vault: give --recovery-key-file PATH, a new passphrase (KEYWARD_PASSPHRASE_FILE), or --no-recovery to accept that risk; nothing was changed".into(),
        ));
    }
    let keyring_secret = Key32::random();

    let (dropped, entry) = ctx.modify_with(locked, &mut credential, |vault, _| {
        // The audit secret too (before the data key, from which a legacy vault's is derived):
        // whoever once decrypted the payload can no longer write authenticated audit entries.
        crate::audit::rotate_secret(vault)?;
        let old = vault.rekey()?;
        for backend in &this_machine {
            let recipient =
                RandomSecret { kind: SlotKind::Keyring, label: backend.slot_label(), secret: &keyring_secret };
            vault.add_slot(&recipient, ctx.now)?;
        }
        if let Some(pass) = &passphrase {
            let recipient = PassphraseRecipient { passphrase: pass.expose(), params: Argon2Params::DEFAULT };
            vault.add_slot(&recipient, ctx.now)?;
        }
        if let Some(key) = &recovery_key {
            vault.add_slot(&RandomSecret { kind: SlotKind::Recovery, label: String::new(), secret: key }, ctx.now)?;
            recovery::deliver(&dest, key, ctx)?;
        }
        // Members keep their place: only their public keys are in the file, so a leak of the
        // vault's secrets does not touch them; the new domain keys are wrapped to them.
        for m in old.iter().filter(|s| s.kind == SlotKind::Member) {
            if let Some(recipient) = &m.recipient {
                vault.add_member(&m.label, recipient.clone(), m.ssh.clone(), m.created, m.access.clone())?;
            }
        }
        Ok((old, vault.keyring_name()))
    })?;
    for backend in &this_machine {
        if let Err(e) = keyring::set(*backend, &entry, &keyring_secret) {
            ctx.out.warn(&format!("{e}; unlock with the recovery key or passphrase, then run `keyward key import`"));
        }
    }

    let tokens: Vec<&str> = dropped.iter().filter(|s| s.kind == SlotKind::Token).map(|s| s.label.as_str()).collect();
    let members: Vec<&str> = dropped.iter().filter(|s| s.kind == SlotKind::Member).map(|s| s.label.as_str()).collect();
    let machines: Vec<&str> = dropped
        .iter()
        .filter(|s| s.kind == SlotKind::Keyring && !this_machine.iter().any(|b| b.slot_label() == s.label))
        .map(|s| s.label.as_str())
        .collect();
    if had_passphrase && passphrase.is_none() {
        ctx.out.notice("the passphrase slot was dropped (no terminal and no KEYWARD_PASSPHRASE_FILE); set one with `keyward key passphrase`");
    }
    if recovery_key.is_none() && passphrase.is_none() {
        ctx.out.warn("no recovery key was issued (--no-recovery): only this machine's keyring opens the vault now; make one with `keyward key recovery --recovery-key-file PATH`");
    }
    ctx.audit(
        crate::audit::Event::new("key.rotate")
            .details(json!({"dropped_tokens": tokens, "dropped_keyring_slots": machines})),
        true,
    )?;
    let report =
        json!({"rekeyed": true, "dropped_tokens": tokens, "dropped_keyring_slots": machines, "kept_members": members});
    recovery::report(&dest, ctx, &report, || {
        let mut lines = vec!["vault re-keyed: old tokens, recovery key and passphrase no longer open it".to_owned()];
        if !tokens.is_empty() {
            lines.push(format!("re-issue these tokens with `keyward key token add LABEL`: {}", tokens.join(", ")));
        }
        if !machines.is_empty() {
            lines.push(format!("run `keyward key import` again on: {}", machines.join(", ")));
        }
        if !members.is_empty() {
            lines.push(format!("members kept (the new keys are wrapped to their public keys): {}", members.join(", ")));
        }
        lines.push(if format2 {
            "note: older copies of the vault file (backups, git history) still open with the old secrets, but nothing written from now on does".into()
        } else {
            "note: older copies of the vault file (backups, git history) still open with the old secrets".into()
        });
        lines.join("\n")
    });
    Ok(Outcome::Success)
}
