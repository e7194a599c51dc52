//! `keyward key import` (and `keyward unlock`): put a fresh keyring slot on this machine, proven
//! by the recovery key, a token or the passphrase.

use serde_json::json;

use crate::Outcome;
use crate::cli::ImportArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::input;
use crate::sensitive::Key32;
use crate::unlock::RandomSecret;
use crate::unlock::keyring::{self, Backend};
use crate::unlock::{self, Credential, codes};
use crate::vault::Locked;
use crate::vault::format::SlotKind;

pub(crate) fn run(args: ImportArgs, ctx: &Context) -> Result<Outcome> {
    let locked = ctx.read_locked()?;
    let backend = keyring::choose(args.keyring.into())?
        .ok_or_else(|| Error::Usage("importing puts the vault key in a keyring: pick one with --keyring".into()))?;
    let mut credential = credential(&locked)?;

    let label = backend.slot_label();
    let secret = Key32::random();
    let entry = ctx.modify_with(locked, &mut credential, |vault, _| {
        vault.add_slot(&RandomSecret { kind: SlotKind::Keyring, label: label.clone(), secret: &secret }, ctx.now)?;
        Ok(vault.keyring_name())
    })?;
    keyring::set(backend, &entry, &secret)?;

    if backend == Backend::Keyutils {
        ctx.out.warn(&format!("the kernel keyring keeps the vault key in {}", Backend::Keyutils.persistence()));
    }
    ctx.audit(crate::audit::Event::new("key.import").details(json!({"keyring": backend.name(), "slot": label})), true)?;
    ctx.out.report(&json!({"keyring": backend.name(), "slot": label}), || {
        format!("this machine now unlocks the vault through the {} keyring", backend.name())
    });
    Ok(Outcome::Success)
}

/// The proof of access: a recovery key or token piped on standard input, else
/// `KEYWARD_VAULT_KEY`, else the passphrase (file or prompt).
fn credential(locked: &Locked) -> Result<Credential> {
    let from_stdin = if input::can_prompt() { None } else { Some(input::read_code("")?) };
    let code_text = match from_stdin.filter(|t| !t.trim().is_empty()) {
        Some(text) => Some(text),
        None => {
            std::env::var_os(unlock::VAULT_KEY_VAR).map(|v| zeroize::Zeroizing::new(v.to_string_lossy().into_owned()))
        }
    };
    let code_text = match code_text {
        Some(text) => Some(text),
        None if input::can_prompt() && std::env::var_os(unlock::PASSPHRASE_FILE_VAR).is_none() => {
            Some(input::read_code("Recovery key or token (leave empty to use the passphrase): ")?)
                .filter(|t| !t.trim().is_empty())
        }
        None => None,
    };
    if let Some(text) = code_text {
        let code = codes::parse(&text).map_err(|reason| Error::invalid("recovery key or token", "(hidden)", reason))?;
        let mut credential = Credential::new(code);
        return match credential.open(locked) {
            Some(_) => Ok(credential),
            None => Err(Error::WrongSecret { what: credential.describe(), path: locked.path.clone() }),
        };
    }
    if !locked.slots().iter().any(|s| s.kind == SlotKind::Passphrase) {
        return Err(Error::CannotUnlock {
            path: locked.path.clone(),
            reason: "no recovery key or token was given and the vault has no passphrase slot".into(),
            hint: "pipe the recovery key or a token on standard input".into(),
        });
    }
    let passphrase = match std::env::var_os(unlock::PASSPHRASE_FILE_VAR) {
        Some(file) => crate::sensitive::read_passphrase_file(std::path::Path::new(&file))?,
        None if input::can_prompt() => input::prompt_secret(&format!("Passphrase for {}: ", locked.path.display()))?,
        None => {
            return Err(Error::NeedsTerminal {
                what: "asking for the passphrase",
                hint: "pipe the recovery key or a token on standard input, or set KEYWARD_PASSPHRASE_FILE",
            });
        }
    };
    let mut credential = Credential::new(crate::unlock::passphrase::PassphraseIdentity::new(passphrase));
    match credential.open(locked) {
        Some(_) => Ok(credential),
        None => Err(Error::WrongSecret { what: "passphrase", path: locked.path.clone() }),
    }
}
