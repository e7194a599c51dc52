//! `keyward key upgrade`: convert a format 1 vault to format 2 in one atomic write.
//!
//! Format 1 slots wrap a symmetric data key; format 2 slots are age recipients. A slot's secret
//! cannot be carried over (keyward never learns a token's or another machine's secret), so every
//! slot is made anew: this machine's keyring entry, a recovery key, the passphrase if it is given
//! again, and tokens re-issued on request. The audit secret is replaced as by `key rotate`: the old
//! slots' holders read it. Everything else — secrets, versions, metadata, the audit chain — is kept.

use serde_json::json;

use crate::Outcome;
use crate::cli::UpgradeArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::input;
use crate::recovery_key::{self as recovery, Destination};
use crate::sensitive::Key32;
use crate::unlock::codes::{self, CodeKind};
use crate::unlock::keyring::{self, Backend};
use crate::unlock::passphrase::PassphraseRecipient;
use crate::unlock::{PASSPHRASE_FILE_VAR, RandomSecret};
use crate::vault::crypto::Argon2Params;
use crate::vault::format::SlotKind;

pub(super) fn run(args: UpgradeArgs, ctx: &Context) -> Result<Outcome> {
    let locked = ctx.read_locked()?;
    if locked.version() >= 2 {
        ctx.out.report(&json!({"upgraded": false, "format_version": locked.version()}), || {
            format!("{} is already in format {}; nothing to do", locked.path.display(), locked.version())
        });
        return Ok(Outcome::Success);
    }
    if !crate::input::confirm_or_refuse(
        args.yes,
        "upgrading the vault",
        "Upgrade the vault to format 2? Its tokens and recovery key stop working (new ones are issued)",
        "add --yes to upgrade without asking; nothing was changed",
    )? {
        ctx.out.notice("nothing changed");
        return Ok(Outcome::Declined);
    }
    let (mut credential, _) = ctx.unlock(&locked)?;
    let slots = locked.slots();
    let old_entry = locked.keyring_name();

    // Everything that may ask the user happens before the lock is taken.
    let dest = recovery::destination(args.recovery_key_file.as_deref(), ctx);
    if matches!(dest, Destination::Nowhere) {
        return Err(Error::NeedsTerminal {
            what: "showing the new recovery key",
            hint: "use --recovery-key-file PATH (or - for standard output)",
        });
    }
    recovery::check_stdout(&dest, ctx)?;
    let had_passphrase = slots.iter().any(|s| s.kind == SlotKind::Passphrase);
    let passphrase = if had_passphrase && !args.drop_passphrase {
        if std::env::var_os(PASSPHRASE_FILE_VAR).is_none() && !input::can_prompt() {
            return Err(Error::Usage(
                "the vault has a passphrase: give it again (KEYWARD_PASSPHRASE_FILE or a terminal) or pass --drop-passphrase".into(),
            ));
        }
        Some(input::new_passphrase()?)
    } else {
        None
    };
    let this_machine = Backend::of_slots(&slots, true);
    let keyring_secret = Key32::random();
    let recovery_key = Key32::random();
    let tokens: Vec<String> = slots.iter().filter(|s| s.kind == SlotKind::Token).map(|s| s.label.clone()).collect();
    let new_tokens: Vec<(String, Key32)> =
        if args.reissue_tokens { tokens.iter().map(|l| (l.clone(), Key32::random())).collect() } else { Vec::new() };

    let entry = ctx.modify_with(locked, &mut credential, |vault, _| {
        let mut upgraded = vault.to_format2()?;
        // The old slots' holders read the audit secret: a new one, the chain going on.
        crate::audit::rotate_secret(&mut upgraded)?;
        for backend in &this_machine {
            let recipient =
                RandomSecret { kind: SlotKind::Keyring, label: backend.slot_label(), secret: &keyring_secret };
            upgraded.add_slot(&recipient, ctx.now)?;
        }
        if let Some(pass) = &passphrase {
            upgraded
                .add_slot(&PassphraseRecipient { passphrase: pass.expose(), params: Argon2Params::DEFAULT }, ctx.now)?;
        }
        upgraded.add_slot(
            &RandomSecret { kind: SlotKind::Recovery, label: String::new(), secret: &recovery_key },
            ctx.now,
        )?;
        for (label, secret) in &new_tokens {
            upgraded.add_slot(&RandomSecret { kind: SlotKind::Token, label: label.clone(), secret }, ctx.now)?;
        }
        // Deliver before the vault is saved: a failure here leaves the format 1 vault as it was.
        recovery::deliver(&dest, &recovery_key, ctx)?;
        *vault = upgraded;
        Ok(vault.keyring_name())
    })?;
    for backend in &this_machine {
        match keyring::set(*backend, &entry, &keyring_secret) {
            // The format 1 entry opens nothing now.
            Ok(()) => drop(keyring::delete(*backend, &old_entry)),
            Err(e) => ctx.out.warn(&format!("{e}; unlock with the recovery key, then run `keyward key import`")),
        }
    }

    let machines: Vec<&str> = slots
        .iter()
        .filter(|s| s.kind == SlotKind::Keyring && !this_machine.iter().any(|b| b.slot_label() == s.label))
        .map(|s| s.label.as_str())
        .collect();
    let passphrase_state = match (had_passphrase, passphrase.is_some()) {
        (false, _) => "none",
        (true, true) => "kept",
        (true, false) => "dropped",
    };
    ctx.audit(
        crate::audit::Event::new("key.upgrade").details(json!({
            "format_version": 2,
            "tokens": tokens,
            "reissued_tokens": args.reissue_tokens,
            "passphrase": passphrase_state,
            "dropped_keyring_slots": machines,
        })),
        true,
    )?;
    let issued: Vec<(String, zeroize::Zeroizing<String>)> =
        new_tokens.iter().map(|(label, secret)| (label.clone(), codes::encode(CodeKind::Token, secret))).collect();
    if ctx.out.json {
        let tokens_json: serde_json::Map<String, serde_json::Value> =
            issued.iter().map(|(l, t)| (l.clone(), json!(t.as_str()))).collect();
        ctx.out.json(&json!({
            "upgraded": true,
            "format_version": 2,
            "passphrase": passphrase_state,
            "tokens_to_reissue": if args.reissue_tokens { Vec::new() } else { tokens.clone() },
            "reissued_tokens": tokens_json,
            "dropped_keyring_slots": machines,
        }));
        return Ok(Outcome::Success);
    }
    // Re-issued tokens are printed once, even with --quiet: they are part of what was asked for.
    for (label, token) in &issued {
        let mut line = zeroize::Zeroizing::new(String::with_capacity(label.len() + token.len() + 2));
        line.push_str(label);
        line.push(' ');
        line.push_str(token);
        line.push('\n');
        ctx.out.write(line.as_bytes());
    }
    let done =
        "upgraded the vault to format 2: every secret kept; this machine's keyring slot and the recovery key are new";
    // With `-`, standard output carries the key and the re-issued tokens only.
    if matches!(dest, Destination::Stdout) {
        ctx.out.notice(done);
    } else {
        ctx.out.done(done);
    }
    if !issued.is_empty() {
        ctx.out.notice("the tokens above replace the old ones (same labels): store each where its old one was; they are not shown again");
    } else if !tokens.is_empty() {
        ctx.out.notice(&format!("re-issue these tokens with `keyward key token add LABEL`: {}", tokens.join(", ")));
    }
    if passphrase_state == "dropped" {
        ctx.out.notice("the passphrase slot was dropped; set one with `keyward key passphrase`");
    }
    if !machines.is_empty() {
        ctx.out.notice(&format!("run `keyward key import` again on: {}", machines.join(", ")));
    }
    Ok(Outcome::Success)
}
