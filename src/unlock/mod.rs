//! Where the vault key comes from: the unlock chain.
//!
//! Order, on every command: `KEYWARD_VAULT_KEY` (a token or the recovery key; when set and wrong,
//! no fall-through) → this machine's keyring slot → the passphrase slot (from
//! `KEYWARD_PASSPHRASE_FILE`, else a prompt on a terminal) → a clear error naming every way in.

pub mod codes;
pub mod keyring;

use self::codes::{Code, CodeKind};
use self::keyring::Backend;
use crate::error::{Error, Result};
use crate::input;
use crate::sensitive::{Key32, Passphrase};
use crate::vault::crypto::{self, Argon2Params};
use crate::vault::format::{Kdf, Slot, SlotKind};
use crate::vault::{Locked, unwrap_slot};

pub const VAULT_KEY_VAR: &str = "KEYWARD_VAULT_KEY";
pub const PASSPHRASE_FILE_VAR: &str = "KEYWARD_PASSPHRASE_FILE";

/// Something that can open a slot, kept after the first unlock so a writer can re-open the vault
/// under its lock without asking again.
pub enum Credential {
    Code(Code),
    Keyring { backend: Backend, secret: Key32 },
    Passphrase { passphrase: Passphrase, cached: Option<([u8; 16], Argon2Params, Key32)> },
}

/// How the vault was opened, for messages and `key status`.
#[derive(Debug, Clone)]
pub struct Opened {
    pub data_key: Key32,
    pub slot: Slot,
}

impl Credential {
    fn matches(&self, slot: &Slot) -> bool {
        match self {
            Credential::Code(code) => match code.kind {
                CodeKind::Recovery => slot.kind == SlotKind::Recovery,
                CodeKind::Token => slot.kind == SlotKind::Token,
            },
            Credential::Keyring { backend, .. } => {
                slot.kind == SlotKind::Keyring && Backend::of_label(&slot.label) == Some(*backend)
            }
            Credential::Passphrase { .. } => slot.kind == SlotKind::Passphrase,
        }
    }

    fn kek(&mut self, slot: &Slot) -> Option<Key32> {
        match (self, slot.kdf) {
            (Credential::Code(code), Kdf::HkdfSha256) => Some(crypto::hkdf_kek(code.secret.expose(), &slot.salt)),
            (Credential::Keyring { secret, .. }, Kdf::HkdfSha256) => {
                Some(crypto::hkdf_kek(secret.expose(), &slot.salt))
            }
            (Credential::Passphrase { passphrase, cached }, Kdf::Argon2id(params)) => {
                // Argon2 is slow on purpose: derive once per (salt, parameters) and reuse.
                if let Some((salt, p, kek)) = cached
                    && *salt == slot.salt
                    && *p == params
                {
                    return Some(kek.clone());
                }
                let kek = crypto::argon2_kek(passphrase.expose().as_bytes(), &slot.salt, params);
                *cached = Some((slot.salt, params, kek.clone()));
                Some(kek)
            }
            _ => None,
        }
    }

    /// Tries every slot of the matching kind; returns the data key and the slot that opened.
    pub fn open(&mut self, vault_id: &[u8; 16], slots: &[Slot]) -> Option<Opened> {
        let candidates: Vec<&Slot> = slots.iter().filter(|s| self.matches(s)).collect();
        for slot in candidates {
            let kek = self.kek(slot)?;
            if let Some(data_key) = unwrap_slot(vault_id, slot, &kek) {
                return Some(Opened { data_key, slot: slot.clone() });
            }
        }
        None
    }

    pub fn describe(&self) -> &'static str {
        match self {
            Credential::Code(Code { kind: CodeKind::Recovery, .. }) => "recovery key",
            Credential::Code(Code { kind: CodeKind::Token, .. }) => "token",
            Credential::Keyring { .. } => "keyring",
            Credential::Passphrase { .. } => "passphrase",
        }
    }
}

/// What the unlock chain may do in this process.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Prompt for a passphrase on the terminal.
    pub prompt: bool,
}

/// Runs the unlock chain against a vault's header.
pub fn unlock(locked: &Locked, policy: Policy) -> Result<(Credential, Opened)> {
    let header = &locked.header;
    let path = &locked.path;

    if let Some(text) = std::env::var_os(VAULT_KEY_VAR) {
        let text = zeroize::Zeroizing::new(text.to_string_lossy().into_owned());
        let code = codes::parse(&text).map_err(|reason| Error::MalformedVaultKey { reason })?;
        let mut credential = Credential::Code(code);
        return match credential.open(&header.vault_id, &header.slots) {
            Some(opened) => Ok((credential, opened)),
            None => Err(Error::WrongVaultKey { path: path.clone() }),
        };
    }

    let mut notes = Vec::new();
    let mut backends: Vec<Backend> = header
        .slots
        .iter()
        .filter(|s| s.kind == SlotKind::Keyring)
        .filter_map(|s| Backend::of_label(&s.label))
        .collect();
    backends.dedup();
    for backend in backends {
        match keyring::get(backend, &header.vault_id_hex()) {
            Ok(Some(secret)) => {
                let mut credential = Credential::Keyring { backend, secret };
                if let Some(opened) = credential.open(&header.vault_id, &header.slots) {
                    return Ok((credential, opened));
                }
                notes.push(format!("the {} entry does not open this vault", backend.name()));
            }
            Ok(None) => notes.push(format!("no {} entry on this machine", backend.name())),
            Err(e) => notes.push(e.to_string()),
        }
    }
    if !header.slots.iter().any(|s| s.kind == SlotKind::Keyring) {
        notes.push("no keyring slot".into());
    }

    if header.slots.iter().any(|s| s.kind == SlotKind::Passphrase) {
        if let Some(file) = std::env::var_os(PASSPHRASE_FILE_VAR) {
            let passphrase = input::read_passphrase_file(std::path::Path::new(&file))?;
            let mut credential = Credential::Passphrase { passphrase, cached: None };
            return match credential.open(&header.vault_id, &header.slots) {
                Some(opened) => Ok((credential, opened)),
                None => {
                    Err(Error::WrongSecret { what: "passphrase (from KEYWARD_PASSPHRASE_FILE)", path: path.clone() })
                }
            };
        }
        if policy.prompt && input::can_prompt() {
            for attempt in 1..=3 {
                let passphrase = input::prompt_secret(&format!("Passphrase for {}: ", path.display()))?;
                let mut credential = Credential::Passphrase { passphrase, cached: None };
                if let Some(opened) = credential.open(&header.vault_id, &header.slots) {
                    return Ok((credential, opened));
                }
                if attempt < 3 {
                    eprintln!("keyward: that passphrase does not open the vault; try again");
                }
            }
            return Err(Error::WrongSecret { what: "passphrase", path: path.clone() });
        }
        notes.push("a passphrase slot, but no KEYWARD_PASSPHRASE_FILE and no terminal to ask on".into());
    } else {
        notes.push("no passphrase slot".into());
    }

    Err(Error::CannotUnlock {
        path: path.clone(),
        reason: notes.join("; "),
        hint: "set KEYWARD_VAULT_KEY to a token or the recovery key, run `keyward unlock` to restore this machine's keyring entry, or give the passphrase (KEYWARD_PASSPHRASE_FILE or a terminal)".into(),
    })
}
