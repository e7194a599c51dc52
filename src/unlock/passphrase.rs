//! The passphrase slot: a key-encryption key derived with Argon2id from the passphrase and the
//! slot's salt, with the slot's parameters (bounded by the parser; and a process derives at most
//! twice with parameters from a file, see [`crypto::argon2_kek_from_file`]).

use super::{Identity, Recipient};
use crate::sensitive::{Key32, Passphrase};
use crate::vault::crypto::{self, Argon2Params, SALT_LEN};
use crate::vault::format::{Kdf, Slot, SlotKind};

/// A passphrase, as a way in. Argon2 is slow on purpose: the key derived for a slot's salt and
/// parameters is kept, so opening the vault again (under the write lock) derives nothing.
#[derive(Clone)]
pub struct PassphraseIdentity {
    passphrase: Passphrase,
    cached: Option<([u8; SALT_LEN], Argon2Params, Key32)>,
}

impl PassphraseIdentity {
    pub fn new(passphrase: Passphrase) -> PassphraseIdentity {
        PassphraseIdentity { passphrase, cached: None }
    }
}

impl Identity for PassphraseIdentity {
    fn fits(&self, slot: &Slot) -> bool {
        slot.kind == SlotKind::Passphrase
    }

    fn kek(&mut self, slot: &Slot) -> Option<Key32> {
        let Kdf::Argon2id(params) = slot.kdf else { return None };
        if let Some((salt, p, kek)) = &self.cached
            && *salt == slot.salt
            && *p == params
        {
            return Some(kek.clone());
        }
        // Parameters from the file: counted, so a hostile vault cannot make a process derive
        // again and again.
        let kek = crypto::argon2_kek_from_file(self.passphrase.expose().as_bytes(), &slot.salt, params).ok()?;
        self.cached = Some((slot.salt, params, kek.clone()));
        Some(kek)
    }

    fn describe(&self) -> &'static str {
        "passphrase"
    }

    fn boxed(&self) -> Box<dyn Identity> {
        Box::new(self.clone())
    }
}

/// A new passphrase slot (one per vault: it replaces the old one).
pub struct PassphraseRecipient<'a> {
    pub passphrase: &'a str,
    pub params: Argon2Params,
}

impl Recipient for PassphraseRecipient<'_> {
    fn kind(&self) -> SlotKind {
        SlotKind::Passphrase
    }
    fn label(&self) -> String {
        String::new()
    }
    fn kek(&self, salt: &[u8; SALT_LEN]) -> (Kdf, Key32) {
        (Kdf::Argon2id(self.params), crypto::argon2_kek(self.passphrase.as_bytes(), salt, self.params))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unlock::Credential;
    use crate::vault::Vault;

    const CHEAP: Argon2Params = Argon2Params { m_kib: 8, t: 1, p: 1 };

    #[test]
    fn a_passphrase_is_derived_once_per_salt_and_parameters() {
        let mut vault = Vault::create(std::path::Path::new("/nonexistent/vault"), 0);
        vault.add_slot(&PassphraseRecipient { passphrase: "correct horse", params: CHEAP }, 0);
        let slot = vault.header.slots[0].clone();
        let pass = || Passphrase::new("correct horse".into());
        let mut identity = PassphraseIdentity::new(pass());
        assert!(identity.kek(&slot).is_some());
        let Some((salt, params, _)) = &identity.cached else { panic!("the derived key is cached") };
        assert_eq!((*salt, *params), (slot.salt, CHEAP));
        let opens = |identity: PassphraseIdentity| {
            Credential::new(identity).open(&vault.header.vault_id, &vault.header.slots).is_some()
        };

        // The cache is what is used for the same salt and parameters: poison it and the slot no
        // longer opens; with other parameters, the passphrase is derived again and opens it.
        let poisoned = PassphraseIdentity { passphrase: pass(), cached: Some((slot.salt, CHEAP, Key32::random())) };
        assert!(!opens(poisoned));
        let other_params = Argon2Params { m_kib: 16, ..CHEAP };
        let other = PassphraseIdentity { passphrase: pass(), cached: Some((slot.salt, other_params, Key32::random())) };
        assert!(opens(other));
        // That was this thread's second derivation with parameters from a file: a third, with
        // another salt in the cache, is refused whatever the passphrase.
        let third = PassphraseIdentity { passphrase: pass(), cached: Some(([7; 16], CHEAP, Key32::random())) };
        assert!(!opens(third));
    }

    #[test]
    fn a_new_passphrase_slot_replaces_the_old_one() {
        let mut vault = Vault::create(std::path::Path::new("/nonexistent/vault"), 0);
        vault.add_slot(&PassphraseRecipient { passphrase: "first one", params: CHEAP }, 0);
        vault.add_slot(&PassphraseRecipient { passphrase: "second one", params: CHEAP }, 1);
        assert_eq!(vault.header.slots.len(), 1);
        assert_eq!(vault.header.slots[0].created, 1);
    }
}
